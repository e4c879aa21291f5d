import { mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORD_WORDS, encodeChunk } from '@iocpscope/protocol';
import { Rng, synthesize } from '@iocpscope/analysis';
import { liveState, replayWords } from '../trace/state.test-util.ts';
import { CheckpointFile, buildCheckpoints } from './checkpoints.ts';
import { stampOf } from './index-file.ts';
import { synthFileBytes } from './synth-file.test-util.ts';
import { IndexedTrace } from './trace.ts';

let dir: string;
let file: string;
let words: Uint32Array;
let n: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-ckp-'));
  const t = synthesize({
    events: 30_000,
    seed: 8,
    maxEntries: 16,
    faults: ['two-sends-in-flight'],
  });
  n = t.length;
  words = t.words.subarray(0, n * RECORD_WORDS);
  file = path.join(dir, 't.iocptrace');
  await writeFile(file, synthFileBytes(words, n, t.strings, 3000));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('state checkpoints', { timeout: 60_000 }, () => {
  it('give, at any event, the state the whole prefix replays to', async () => {
    const ckp = path.join(dir, 't.iocptrace.ckp');
    const written = await buildCheckpoints(file, ckp, { interval: 4096 });
    expect(written).toBe(Math.floor(n / 4096));
    const t = await IndexedTrace.open(file, { cacheDir: path.join(dir, 'cache') });
    t.checkpoints = await CheckpointFile.open(ckp, await stampOf(file));
    expect(t.checkpoints?.count).toBe(written);
    const rng = new Rng(77);
    for (let c = 0; c < 12; c++) {
      const at = c === 0 ? 4095 : c === 1 ? 8192 : rng.int(0, n - 1);
      const st = (await t.stateAt(at))!;
      expect(st.base).toBe(Math.floor((at + 1) / 4096) * 4096);
      const replayed = new Uint32Array(st.bracket.length + st.records.length);
      replayed.set(st.bracket, 0);
      replayed.set(st.records, st.bracket.length);
      const want = liveState(replayWords(words.subarray(0, (at + 1) * RECORD_WORDS)));
      expect(liveState(replayWords(replayed)), `state after event ${at}`).toEqual(want);
    }
    await t.close();
  });

  it('skip checkpoints whose brackets would pass a quarter of the trace, and fold past them', async () => {
    const ckp = path.join(dir, 'small.ckp');
    const written = await buildCheckpoints(file, ckp, { interval: 64 });
    const t = await IndexedTrace.open(file, { cacheDir: path.join(dir, 'cache') });
    t.checkpoints = await CheckpointFile.open(ckp, await stampOf(file));
    const c = t.checkpoints!;
    expect(c.count).toBe(written);
    let skipped = 0;
    for (let k = 0; k < c.count; k++) if (c.skipped(k)) skipped++;
    expect(skipped).toBeGreaterThan(0);
    expect(skipped).toBeLessThan(c.count);
    const rng = new Rng(31);
    for (let q = 0; q < 8; q++) {
      const at = rng.int(0, n - 1);
      const st = (await t.stateAt(at))!;
      const replayed = new Uint32Array(st.bracket.length + st.records.length);
      replayed.set(st.bracket, 0);
      replayed.set(st.records, st.bracket.length);
      const want = liveState(replayWords(words.subarray(0, (at + 1) * RECORD_WORDS)));
      expect(liveState(replayWords(replayed)), `state after event ${at}`).toEqual(want);
    }
    await t.close();
  });

  it('open a window anywhere whose replay agrees with the whole trace', async () => {
    const ckp = path.join(dir, 'w.ckp');
    await buildCheckpoints(file, ckp, { interval: 4096 });
    const t = await IndexedTrace.open(file, { cacheDir: path.join(dir, 'cache') });
    t.checkpoints = await CheckpointFile.open(ckp, await stampOf(file));
    const rng = new Rng(5);
    for (let c = 0; c < 10; c++) {
      const from = c === 0 ? 0 : c === 1 ? 4096 : rng.int(1, n - 200);
      const count = rng.int(1, 3000);
      const w = (await t.window(from, count))!;
      expect(w.from).toBe(from);
      const end = Math.min(n, from + count);
      expect(w.records).toEqual(words.subarray(from * RECORD_WORDS, end * RECORD_WORDS));
      if (from === 0) expect(w.bracket.length).toBe(0);
      // The state after any event of the window, replayed from the window alone.
      const at = rng.int(from, end - 1);
      const held = new Uint32Array(w.bracket.length + (at + 1 - from) * RECORD_WORDS);
      held.set(w.bracket, 0);
      held.set(w.records.subarray(0, (at + 1 - from) * RECORD_WORDS), w.bracket.length);
      const want = liveState(replayWords(words.subarray(0, (at + 1) * RECORD_WORDS)));
      expect(liveState(replayWords(held)), `window at ${from}, state after ${at}`).toEqual(want);
    }
    await t.close();
  });

  it('are not used for another state of the trace', async () => {
    const ckp = path.join(dir, 't2.ckp');
    await buildCheckpoints(file, ckp, { interval: 8192 });
    const before = await stampOf(file);
    expect(await CheckpointFile.open(ckp, before)).not.toBeNull();
    await appendFile(file, new Uint8Array(0));
    const copy = path.join(dir, 'copy.iocptrace');
    const { readFile } = await import('node:fs/promises');
    await writeFile(
      copy,
      Buffer.concat([await readFile(file), Buffer.from(encodeChunk(words.subarray(0, 8)))]),
    );
    expect(await CheckpointFile.open(ckp, await stampOf(copy))).toBeNull();
  });
});
