import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, synthesize } from '@iocpscope/analysis';
import { RECORD_WORDS, readTraceFile, type TraceFileHeader } from '@iocpscope/protocol';
import { TrackingSource } from '../trace/state.test-util.ts';
import { LiveSpool, cleanStaleSpools, spoolPartBytes } from './spool.ts';

const W = RECORD_WORDS;
const HEADER: TraceFileHeader = {
  clock: 'monotonic-ns',
  host: 'test',
  backend: 'emulated',
  portConfig: { workers: 2, concurrency: 0 },
  startWallMs: 0,
};

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'iocpscope-spool-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function until(what: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A pid that ran and exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('the live spool', { timeout: 60_000 }, () => {
  it('keeps the newest parts within its budget, deletes the oldest, and says what it dropped', async () => {
    const source = new TrackingSource();
    const spool = await LiveSpool.start({
      root,
      limitBytes: 256 * 1024,
      partBytes: 64 * 1024,
      source,
      header: () => HEADER,
      checkpointInterval: 1000,
      maxLagMs: 0,
      dropGraceMs: 10,
    });
    const t = synthesize({ events: 40_000, seed: 41, sessions: 32 });
    const strings: Array<[number, string]> = [...t.strings.entries()].filter(([id]) => id !== 0);
    // A source already running: the first part opens on a bracket at a cut,
    // after the records seen before it (counted in the stream, not written).
    source.emit(t.words.subarray(0, 500 * W), strings);
    source.answer();
    const rng = new Rng(2);
    let firsts: number[] = [];
    for (let i = 500; i < t.length;) {
      const k = Math.min(t.length - i, rng.int(50, 900));
      source.emit(t.words.subarray(i * W, (i + k) * W));
      source.answer();
      i += k;
      if (rng.int(0, 2) === 0) await new Promise((r) => setTimeout(r, 2));
      firsts.push(spool.trace.available.firstEvent);
    }
    expect(spool.position).toBe(t.length);
    await until(() => spool.trace.eventOfStream(t.length - 1) >= 0);
    await new Promise((r) => setTimeout(r, 100));
    const st = spool.status();
    // The budget holds (a part is written whole before the next one opens).
    expect(st.bytes).toBeLessThanOrEqual(256 * 1024);
    expect(st.dropped.parts).toBeGreaterThan(3);
    expect(st.firstEvent).toBe(st.dropped.events);
    // The boundary only moves forward.
    firsts = firsts.filter((x, k) => k === 0 || x !== firsts[k - 1]);
    for (let k = 1; k < firsts.length; k++) expect(firsts[k]!).toBeGreaterThan(firsts[k - 1]!);
    // On disk: exactly the parts held; they read back to the events held, numbered on.
    const files = (await readdir(spool.dir)).filter((f) => f.endsWith('.iocptrace')).sort();
    expect(files.length).toBe(st.parts);
    const held = spool.trace.parts();
    let at = st.firstEvent;
    for (const p of held) {
      expect(p.firstEvent).toBe(at);
      const r = readTraceFile(await readFile(p.file));
      expect(r.error).toBeUndefined();
      expect(await spool.trace.records(at, p.events)).toEqual(r.records);
      at += p.events;
    }
    expect(at).toBe(st.head);
    // The stream map covers what is held: the source's records at those numbers.
    for (const s of spool.trace.streamMap) {
      expect(s.event).toBeGreaterThanOrEqual(st.firstEvent);
      const got = await spool.trace.records(s.event, Math.min(s.count, 500));
      expect(got).toEqual(t.words.subarray(s.stream * W, (s.stream + got.length / W) * W));
    }
    const dir = spool.dir;
    await spool.close();
    await expect(stat(dir)).rejects.toThrow();
  });

  it('starts at the first record of a source that holds its start-up batches', async () => {
    const source = new TrackingSource();
    const t = synthesize({ events: 3000, seed: 42, sessions: 8 });
    const spool = await LiveSpool.start({
      root,
      limitBytes: 1024 * 1024,
      source,
      header: () => HEADER,
      fromStart: true,
      maxLagMs: 0,
    });
    source.emit(
      t.words.subarray(0, t.length * W),
      [...t.strings.entries()].filter(([id]) => id !== 0),
    );
    await until(() => spool.trace.head === t.length);
    expect(await spool.trace.records(0, t.length)).toEqual(t.words.subarray(0, t.length * W));
    expect(spool.trace.eventOfStream(0)).toBe(0);
    await spool.close();
  });

  it('cleans the spool directories of servers that no longer run, and no others', async () => {
    const stale = path.join(root, `spool-${deadPid()}-1`);
    const mine = path.join(root, `spool-${process.pid}-99`);
    const parent = path.join(root, `spool-${process.ppid}-1`);
    const other = path.join(root, 'keep-me');
    for (const d of [stale, mine, parent, other]) {
      await mkdir(d, { recursive: true });
      await writeFile(path.join(d, 'part-1.iocptrace'), 'x');
    }
    expect(await cleanStaleSpools(root)).toEqual([stale]);
    await expect(stat(stale)).rejects.toThrow();
    for (const d of [mine, parent, other]) expect((await stat(d)).isDirectory()).toBe(true);
    // Starting a spool does it too.
    const again = path.join(root, `spool-${deadPid()}-3`);
    await mkdir(again);
    const spool = await LiveSpool.start({
      root,
      limitBytes: 1024 * 1024,
      source: new TrackingSource(),
      header: () => HEADER,
    });
    await expect(stat(again)).rejects.toThrow();
    await spool.close();
  });

  it('sizes its parts from the budget and refuses a budget or part size it cannot keep', async () => {
    expect(spoolPartBytes(2 * 1024 ** 3)).toBe(64 * 1024 ** 2);
    expect(spoolPartBytes(4 * 1024 ** 2)).toBe(1024 ** 2);
    expect(spoolPartBytes(4 * 1024 ** 2, 512 * 1024)).toBe(512 * 1024);
    const base = { root, source: new TrackingSource(), header: () => HEADER };
    await expect(LiveSpool.start({ ...base, limitBytes: 0 })).rejects.toThrow(/BAD_OPTIONS/);
    await expect(
      LiveSpool.start({ ...base, limitBytes: 1024 * 1024, partBytes: 2 * 1024 * 1024 }),
    ).rejects.toThrow(/BAD_OPTIONS/);
    await expect(
      LiveSpool.start({ ...base, limitBytes: 1024 * 1024, partBytes: 1000 }),
    ).rejects.toThrow(/BAD_OPTIONS/);
  });
});
