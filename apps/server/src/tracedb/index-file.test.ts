import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempFor, writeIndexFile } from './index-file.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-tmp-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The PID of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('temporary files beside a trace', () => {
  it('removes the ones killed processes left behind, and nothing else', async () => {
    const out = path.join(dir, 'run.iocptrace.idx');
    const dead = deadPid();
    const names = [
      `run.iocptrace.idx.${dead}.tmp`, // a killed writer's: removed
      `run.iocptrace.idx.${process.ppid}.tmp`, // a running one's: kept
      'run.iocptrace.idx.notapid.tmp', // not ours: kept
      `other.idx.${dead}.tmp`, // another file's: kept
      'run.iocptrace.idx', // the index itself: kept
    ];
    for (const n of names) await writeFile(path.join(dir, n), '');
    const tmp = await tempFor(out);
    expect(tmp).toBe(`${out}.${process.pid}.tmp`);
    expect((await readdir(dir)).sort()).toEqual(names.slice(1).sort());
  });

  it('writeIndexFile leaves the file and no temporary one', async () => {
    const out = path.join(dir, 'w.idx');
    await writeFile(path.join(dir, `w.idx.${deadPid()}.tmp`), 'stale');
    await writeIndexFile(out, new Uint8Array([1, 2, 3]));
    expect((await readdir(dir)).filter((n) => n.startsWith('w.idx'))).toEqual(['w.idx']);
  });
});
