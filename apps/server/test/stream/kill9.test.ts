// kill -9 during a recording: the server runs as a child process, records a
// steady stream, and is killed with SIGKILL after several chunks completed.
// The file must open with every chunk completed before the kill, the records
// must be an unbroken prefix of the stream, and the only error allowed is a
// cut last chunk (TRUNCATED).

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { EventKind, RECORD_WORDS, kindAt, readTraceFile, zAt } from '@iocpscope/protocol';
import { waitFor } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const serverDir = path.resolve(here, '../..');
let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

interface Chunk {
  index: number;
  records: number;
  fileBytes: number;
}

describe('kill -9 during recording', () => {
  it('leaves a file that opens with every chunk completed before the kill', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-kill9-'));
    const file = path.join(dir, 'crash.iocptrace');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'fixtures/record-child.ts'), file],
      {
        cwd: serverDir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const chunks: Chunk[] = [];
    let stderr = '';
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      buffered += s;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const l of lines) if (l.trim() !== '') chunks.push(JSON.parse(l) as Chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_c, sig) => resolve(sig)),
    );
    try {
      await waitFor(
        'ten completed chunks',
        () => chunks.length >= 10 || child.exitCode !== null,
        30_000,
      );
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited, stderr).toBe('SIGKILL');
    // Everything the child reported complete happened before the kill.
    const completed = [...chunks];
    expect(completed.length).toBeGreaterThanOrEqual(10);

    const bytes = await readFile(file);
    const r = readTraceFile(bytes);
    if (r.error !== undefined) expect(r.error.code).toBe('TRUNCATED');
    expect(r.chunks).toBeGreaterThanOrEqual(completed.length);
    const reportedRecords = completed.reduce((n, c) => n + c.records, 0);
    expect(r.records.length / RECORD_WORDS).toBeGreaterThanOrEqual(reportedRecords);
    expect(r.validBytes).toBeGreaterThanOrEqual(completed.at(-1)!.fileBytes);
    // After the six header records (2 workers + kernel, port, 2 states) the
    // body records are an unbroken prefix of the stream: z = 0, 1, 2, ...
    const HEADER_RECORDS = 6;
    let holes = 0;
    let expected = 0;
    for (let i = HEADER_RECORDS; i < r.records.length / RECORD_WORDS; i++) {
      if (zAt(r.records, i) !== expected) holes++;
      expected = zAt(r.records, i) + 1;
    }
    expect(kindAt(r.records, 0)).toBe(EventKind.ThreadStart);
    expect(holes).toBe(0);
    expect(expected).toBeGreaterThan(0);
  }, 60_000);
});
