import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORD_WORDS } from '@iocpscope/protocol';
import { synthesize } from '@iocpscope/analysis';
import { traceFileBytes } from '../cli/trace-file.test-util.ts';
import { decodeIndex, encodeIndex, stampOf } from './index-file.ts';
import { scanFile } from './scan.ts';
import { TraceService } from './service.ts';

let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-service-'));
  file = path.join(dir, 'svc.iocptrace');
  const t = synthesize({ events: 30_000, seed: 5, maxEntries: 4 });
  await writeFile(file, traceFileBytes(t, { perChunk: 4096 }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('TraceService', () => {
  it('takes the index its thread built as handed over, equal to one built here, then reads it from disk next time', async () => {
    const svc = new TraceService({ findings: false });
    let events: number;
    try {
      const t = await svc.open('a', file);
      // Handed over by the index thread: built (not read back from the file it wrote).
      expect(t.fromCache).toBe(false);
      expect(t.buildMs).toBeGreaterThan(0);
      expect(t.indexPath).toBe(`${file}.idx`);
      const here = (await scanFile(file)).index;
      expect(t.index.events).toBe(here.events);
      events = here.events;
      expect(t.index.sessions).toEqual(here.sessions);
      expect(t.index.lanes).toEqual(here.lanes);
      expect(t.index.chunks.offset).toEqual(here.chunks.offset);
      expect(t.index.levels.length).toBe(here.levels.length);
      for (let k = 0; k < here.levels.length; k++) {
        expect(t.index.levels[k]!.queueMax).toEqual(here.levels[k]!.queueMax);
        expect(t.index.levels[k]!.lanes).toEqual(here.levels[k]!.lanes);
      }
      expect((await t.records(1000, 3)).length).toBe(3 * RECORD_WORDS);
    } finally {
      await svc.close();
    }
    const again = new TraceService({ findings: false });
    try {
      const t = await again.open('a', file);
      expect(t.fromCache).toBe(true);
      expect(t.index.events).toBe(events);
    } finally {
      await again.close();
    }
  }, 60_000);
});

describe('TraceService with prewarm', () => {
  it('hands its waiting index thread to one open, starts its own for another opened at once, and has a spare again after', async () => {
    const files = ['p1', 'p2', 'p3'].map((n) => path.join(dir, `${n}.iocptrace`));
    const bytes = traceFileBytes(synthesize({ events: 20_000, seed: 9 }), { perChunk: 4096 });
    for (const f of files) await writeFile(f, bytes);
    const svc = new TraceService({ findings: false, prewarm: true });
    try {
      await svc.warm();
      expect(svc.sparesTaken).toBe(0);
      // Two at once: one takes the spare, the other must not wait for it (each thread reads one start).
      const [a, b] = await Promise.all([svc.open('p1', files[0]!), svc.open('p2', files[1]!)]);
      expect(svc.sparesTaken).toBe(1);
      expect(a.index.events).toBeGreaterThan(19_000);
      expect(b.index.events).toBe(a.index.events);
      await svc.warm(); // the next spare, started once an index was built
      const c = await svc.open('p3', files[2]!);
      expect(svc.sparesTaken).toBe(2);
      expect(c.index.events).toBe(a.index.events);
      expect(c.index.sessions).toEqual(a.index.sessions);
    } finally {
      await svc.close();
    }
  }, 60_000);
});

describe('scanFile', () => {
  it('indexes alike whatever its read block: chunks straddle blocks, blocks alternate buffers', async () => {
    const whole = (await scanFile(file)).index;
    // Blocks of 1,000 bytes: every chunk (about 128 KiB) straddles 100 or more of them.
    const small = (await scanFile(file, { blockBytes: 1000 })).index;
    expect(small.events).toBe(whole.events);
    expect(small.chunks.offset).toEqual(whole.chunks.offset);
    expect(small.chunks.firstNs).toEqual(whole.chunks.firstNs);
    expect(small.sessions).toEqual(whole.sessions);
    expect(small.levels[0]!.lanes).toEqual(whole.levels[0]!.lanes);
    expect(small.levels[0]!.queueMax).toEqual(whole.levels[0]!.queueMax);
  });
});

describe('decodeIndex', () => {
  it('reads the arrays in place when they sit aligned and from a copy when not, alike; a damaged byte is refused', async () => {
    const r = await scanFile(file);
    const stamp = await stampOf(file);
    const bytes = encodeIndex(r.index, r.strings, stamp, {
      header: r.header,
      version: r.version,
      validBytes: r.validBytes,
      totalBytes: r.totalBytes,
    });
    const aligned = decodeIndex(bytes);
    // The same bytes 4 bytes into a buffer: the arrays are no longer 8-aligned.
    const shifted = new Uint8Array(bytes.length + 4);
    shifted.set(bytes, 4);
    const copied = decodeIndex(shifted.subarray(4));
    expect(aligned.index.chunks.offset.buffer).toBe(bytes.buffer);
    expect(copied.index.chunks.offset.buffer).not.toBe(shifted.buffer);
    for (const d of [aligned, copied]) {
      expect(d.index.sessions).toEqual(r.index.sessions);
      expect(d.index.chunks.firstEvent).toEqual(r.index.chunks.firstEvent);
      expect(d.index.levels[0]!.lanes).toEqual(r.index.levels[0]!.lanes);
      expect(d.index.levels[0]!.runMax).toEqual(r.index.levels[0]!.runMax);
    }
    const bad = bytes.slice();
    bad[bad.length >> 1] ^= 1;
    expect(() => decodeIndex(bad)).toThrow(/CRC mismatch/);
  });
});
