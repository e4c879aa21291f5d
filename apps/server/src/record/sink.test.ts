import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EventKind,
  GapSource,
  RECORD_WORDS,
  TraceEndReason,
  aAt,
  kindAt,
  readTraceFile,
  tidAt,
  xAt,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { isStreamError } from '../hub/errors.ts';
import { syntheticTrace } from '../hub/synthetic.ts';
import { RecordingSink, defaultPartPath, type ChunkWritten } from './sink.ts';

const W = RECORD_WORDS;
const HEADER: TraceFileHeader = {
  clock: 'monotonic-ns',
  host: 'test',
  backend: 'emulated',
  portConfig: { workers: 4, concurrency: 0 },
  startWallMs: 1_700_000_000_000,
  name: 'sink test',
};

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-sink-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('RecordingSink', () => {
  it('writes a file that reads back with the snapshot first, then every record and string', async () => {
    const t = syntheticTrace({ events: 10_000, workers: 2 });
    const head = t.records.subarray(0, t.headerRecords * W);
    const body = t.records.subarray(t.headerRecords * W);
    const file = path.join(dir, 'a.iocptrace');
    const sink = new RecordingSink({
      path: file,
      header: HEADER,
      snapshot: { records: head, strings: t.strings },
      chunkRecords: 1000,
    });
    await sink.opened();
    for (let off = 0; off < body.length; off += 333 * W)
      sink.write(body.subarray(off, off + 333 * W), []);
    sink.write(new Uint32Array(0), [[99, 'late string']]);
    const summary = await sink.close();
    const r = readTraceFile(await readFile(file));
    expect(r.error).toBeUndefined();
    expect(r.header?.name).toBe('sink test');
    // The snapshot holds the live threads, the port and the latest thread states.
    expect(sameWords(r.records.subarray(0, head.length), head)).toBe(true);
    const n = r.records.length / W;
    expect(sameWords(r.records.subarray(head.length, (n - 1) * W), body)).toBe(true);
    // A file closed as planned ends with TraceEnd, counting the records before it.
    expect(kindAt(r.records, n - 1)).toBe(EventKind.TraceEnd);
    expect(aAt(r.records, n - 1)).toBe(TraceEndReason.Stopped);
    expect(xAt(r.records, n - 1)).toBe(n - 1);
    expect(r.strings.get(2)).toBe('worker-1');
    expect(r.strings.get(99)).toBe('late string');
    expect(summary.events).toBe(10_000);
    expect(summary.files).toHaveLength(1);
    expect(summary.files[0]!.bytes).toBe((await readFile(file)).length);
  });

  it('puts records on disk within flushMs without being closed', async () => {
    const chunks: ChunkWritten[] = [];
    const file = path.join(dir, 'b.iocptrace');
    const sink = new RecordingSink({
      path: file,
      header: HEADER,
      flushMs: 20,
      onChunk: (c) => chunks.push(c),
    });
    const t = syntheticTrace({ events: 10 });
    sink.write(t.records, t.strings);
    const deadline = Date.now() + 5000;
    while (!chunks.some((c) => c.index === 1) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // Chunk 0 is the (empty) snapshot, chunk 1 the records; no TraceEnd while it runs.
    const r = readTraceFile(await readFile(file));
    expect(r.error).toBeUndefined();
    expect(r.records.length / W).toBe(t.records.length / W);
    expect(kindAt(r.records, r.records.length / W - 1)).not.toBe(EventKind.TraceEnd);
    await sink.close();
  });

  it('rotates at maxFileBytes into files that each open on their own with labelled threads', async () => {
    const t = syntheticTrace({ events: 40_000, workers: 3 });
    const file = path.join(dir, 'rot.iocptrace');
    const max = 64 * 1024;
    const chunks: ChunkWritten[] = [];
    const sink = new RecordingSink({
      path: file,
      header: HEADER,
      maxFileBytes: max,
      onChunk: (c) => chunks.push(c),
    });
    for (let off = 0; off < t.records.length; off += 1000 * W) {
      sink.write(t.records.subarray(off, off + 1000 * W), off === 0 ? t.strings : []);
    }
    const summary = await sink.close();
    expect(summary.files.length).toBeGreaterThan(5);
    expect(summary.files[1]!.path).toBe(defaultPartPath(file, 2));
    expect((await readdir(dir)).length).toBe(summary.files.length);
    for (const [i, f] of summary.files.entries()) {
      const bytes = await readFile(f.path);
      expect(bytes.length).toBeLessThanOrEqual(max);
      const r = readTraceFile(bytes);
      expect(r.error).toBeUndefined();
      if (i > 0) expect(r.header?.name).toBe(`sink test (part ${i + 1})`);
      // Every part starts with the four live threads (kernel + 3 workers), named.
      const starts = new Set<number>();
      for (let k = 0; k < r.records.length / W; k++) {
        if (kindAt(r.records, k) === EventKind.ThreadStart) {
          starts.add(tidAt(r.records, k));
          expect(r.strings.has(xAt(r.records, k))).toBe(true);
        }
      }
      expect([...starts].sort()).toEqual([0, 1, 2, 3]);
      // Each part ends with TraceEnd: the size cap, and the last one the stop.
      const last = r.records.length / W - 1;
      expect(kindAt(r.records, last)).toBe(EventKind.TraceEnd);
      expect(aAt(r.records, last)).toBe(
        i < summary.files.length - 1 ? TraceEndReason.SizeCap : TraceEndReason.Stopped,
      );
      expect(xAt(r.records, last)).toBe(last);
    }
    // Chunk 0 of each file is its snapshot; the other chunks hold each record once, and a TraceEnd.
    const bodyRecords = chunks.filter((c) => c.index > 0).reduce((n, c) => n + c.records, 0);
    expect(bodyRecords).toBe(t.records.length / W + summary.files.length);
  });

  it('leaves a file whose every prefix reads back exactly the chunks completed before the cut', async () => {
    const chunks: ChunkWritten[] = [];
    const file = path.join(dir, 'cut.iocptrace');
    const sink = new RecordingSink({
      path: file,
      header: HEADER,
      chunkRecords: 500,
      onChunk: (c) => chunks.push(c),
    });
    const t = syntheticTrace({ events: 5000 });
    sink.write(t.records, t.strings);
    await sink.close();
    const bytes = await readFile(file);
    const headerBytes = chunks[0]!.fileBytes - chunks[0]!.bytes;
    const cuts = [headerBytes, bytes.length];
    for (let s = 1; s < 60; s++) cuts.push(Math.floor((bytes.length * s) / 61) + (s % 7));
    for (const cut of cuts) {
      const r = readTraceFile(bytes.subarray(0, cut));
      const done = chunks.filter((c) => c.fileBytes <= cut);
      expect(r.chunks).toBe(done.length);
      expect(r.records.length / W).toBe(done.reduce((n, c) => n + c.records, 0));
      const atBoundary = cut === headerBytes || chunks.some((c) => c.fileBytes === cut);
      if (atBoundary) expect(r.error).toBeUndefined();
      else expect(r.error?.code).toBe('TRUNCATED');
      const n = r.records.length / W;
      const body = n > 0 && kindAt(r.records, n - 1) === EventKind.TraceEnd ? n - 1 : n;
      expect(sameWords(r.records.subarray(0, body * W), t.records.subarray(0, body * W))).toBe(
        true,
      );
    }
  });

  it('fails with RECORD_IO when the file cannot be created, and never overwrites in exclusive mode', async () => {
    const missing = new RecordingSink({
      path: path.join(dir, 'no', 'such', 'x.iocptrace'),
      header: HEADER,
    });
    const e1 = await missing.opened().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStreamError(e1) && e1.code).toBe('RECORD_IO');
    expect((await missing.close()).error?.code).toBe('RECORD_IO');
    const taken = path.join(dir, 'taken.iocptrace');
    await writeFile(taken, 'precious');
    const again = new RecordingSink({ path: taken, header: HEADER });
    await expect(again.opened()).rejects.toMatchObject({ code: 'RECORD_IO' });
    await again.close();
    expect(await readFile(taken, 'utf8')).toBe('precious');
  });

  it('drops records only past maxQueuedBytes, and writes the loss as a File gap', async () => {
    const file = path.join(dir, 'slow.iocptrace');
    const sink = new RecordingSink({
      path: file,
      header: HEADER,
      chunkRecords: 32768,
      maxQueuedBytes: 1024 * 1024,
    });
    // Three 1 MiB chunks in one synchronous burst: the disk cannot have taken the first yet.
    const t = syntheticTrace({ events: 3 * 32768 });
    sink.write(t.records, t.strings);
    await new Promise((r) => setTimeout(r, 50));
    const tail = syntheticTrace({ events: 10, startTs: 1e9 });
    sink.write(tail.records.subarray(tail.headerRecords * W), []);
    const summary = await sink.close();
    expect(summary.dropped).toBeGreaterThan(0);
    const r = readTraceFile(await readFile(file));
    expect(r.error).toBeUndefined();
    let lost = 0;
    for (let i = 0; i < r.records.length / W; i++) {
      if (kindAt(r.records, i) === EventKind.Gap) {
        expect(aAt(r.records, i)).toBe(GapSource.File);
        lost += xAt(r.records, i);
      }
    }
    expect(lost).toBe(summary.dropped);
    // Records + the lost ones = events received; the Gap and the TraceEnd are the sink's own.
    expect(r.records.length / W - 2 + lost).toBe(summary.events);
  });

  it('reports each chunk with its bytes, offset and which written records it holds, across rotations and drops', async () => {
    const file = path.join(dir, 'follow.iocptrace');
    const chunks: ChunkWritten[] = [];
    const sink = new RecordingSink({
      path: file,
      header: HEADER,
      chunkRecords: 8192,
      maxFileBytes: 1024 * 1024,
      maxQueuedBytes: 1024 * 1024,
      onChunk: (c) => chunks.push(c),
    });
    const t = syntheticTrace({ events: 120_000, workers: 2 });
    // Bursts of 2 MiB: the queue overflows (drops); the files rotate.
    for (let off = 0; off < t.records.length; off += 65536 * W) {
      sink.write(t.records.subarray(off, off + 65536 * W), off === 0 ? t.strings : []);
      await new Promise((r) => setTimeout(r, 30));
    }
    const summary = await sink.close();
    expect(summary.dropped).toBeGreaterThan(0);
    expect(summary.files.length).toBeGreaterThan(2);
    const files = new Map<string, Buffer>();
    for (const f of summary.files) files.set(f.path, await readFile(f.path));
    let given = 0;
    let dropped = 0;
    for (const c of chunks) {
      // The bytes are the file's, at the offset.
      const bytes = files.get(c.file)!;
      expect(Buffer.compare(bytes.subarray(c.offset, c.offset + c.bytes), c.data)).toBe(0);
      expect(c.offset + c.bytes).toBe(c.fileBytes);
      const got = readTraceFile(
        Buffer.concat([bytes.subarray(0, chunks.find((x) => x.file === c.file)!.offset), c.data]),
      );
      expect(got.error).toBeUndefined();
      // Its records [at, at + count) are the written ones [first, first + count).
      const { first, count, at } = c.stream;
      expect(first).toBeGreaterThanOrEqual(given);
      if (first > given) {
        expect(at).toBe(1);
        expect(kindAt(got.records, 0)).toBe(EventKind.Gap);
        expect(xAt(got.records, 0)).toBe(first - given);
        dropped += first - given;
      }
      expect(
        sameWords(
          got.records.subarray(at * W, (at + count) * W),
          t.records.subarray(first * W, (first + count) * W),
        ),
      ).toBe(true);
      given = first + count;
    }
    expect(given).toBe(t.records.length / W);
    expect(dropped).toBe(summary.dropped);
  });

  it('refuses a flush interval above 250 ms', () => {
    expect(
      () => new RecordingSink({ path: path.join(dir, 'x'), header: HEADER, flushMs: 1000 }),
    ).toThrow(/BAD_OPTIONS/);
  });
});
