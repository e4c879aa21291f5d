import { describe, expect, it } from 'vitest';
import {
  BIG_SESSION,
  STRINGS,
  SAMPLE_EVENTS,
  concat,
  encodeAll,
  rng,
  sameWords,
} from '../test/samples.ts';
import { crc32 } from './crc32.ts';
import { ProtocolError } from './errors.ts';
import {
  CHUNK_MAGIC,
  TraceFileReader,
  encodeChunk,
  encodeFileHeader,
  readTraceFile,
  type TraceFileHeader,
} from './file.ts';
import { sessionAt } from './record.ts';
import { encodeUtf8 } from './strings.ts';

export const HEADER: TraceFileHeader = {
  clock: 'monotonic-ns',
  host: 'test-host',
  backend: 'emulated',
  portConfig: { workers: 4, concurrency: 2 },
  startWallMs: 1_700_000_000_123,
};

const records = encodeAll(SAMPLE_EVENTS);
const file = concat([
  encodeFileHeader(HEADER),
  encodeChunk(records.subarray(0, 8 * 10), STRINGS.slice(0, 3)),
  encodeChunk(records.subarray(8 * 10), STRINGS.slice(3)),
]);

describe('.iocptrace files', () => {
  it('read back header, records and strings', () => {
    const r = readTraceFile(file);
    expect(r.error).toBeUndefined();
    expect(r.header).toEqual(HEADER);
    expect(r.chunks).toBe(2);
    expect(r.records).toEqual(records);
    expect([...r.strings.entries()]).toEqual(STRINGS);
    expect(sessionAt(r.records, 4)).toBe(BIG_SESSION);
    expect(r.validBytes).toBe(file.length);
  });

  it('ignore metadata keys from a later writer, nested ones included', () => {
    const meta = encodeUtf8(
      JSON.stringify({
        ...HEADER,
        portConfig: { workers: 300, concurrency: 8, numa: 2 },
        gpu: 'x',
      }),
    );
    const h = new Uint8Array(16 + ((meta.length + 3) & ~3) + 4);
    h.set(encodeFileHeader(HEADER).subarray(0, 12));
    new DataView(h.buffer).setUint32(12, meta.length, true);
    h.set(meta, 16);
    new DataView(h.buffer).setUint32(h.length - 4, crc32(h, 0, h.length - 4), true);
    const r = readTraceFile(h);
    expect(r.error).toBeUndefined();
    expect(r.header).toEqual({ ...HEADER, portConfig: { workers: 300, concurrency: 8 } });
  });

  it('read a header-only file as an empty trace', () => {
    const r = readTraceFile(encodeFileHeader(HEADER));
    expect(r.error).toBeUndefined();
    expect(r.records.length).toBe(0);
  });

  it('keep the complete chunks of a file cut inside the last chunk', () => {
    const r = readTraceFile(file.subarray(0, file.length - 5));
    expect(r.error?.code).toBe('TRUNCATED');
    expect(r.chunks).toBe(1);
    expect(r.records).toEqual(records.subarray(0, 80));
  });

  it('report a flipped bit in a chunk as CHECKSUM_MISMATCH', () => {
    const bad = file.slice();
    bad[bad.length - 20] ^= 0x10;
    const r = readTraceFile(bad);
    expect(r.error).toBeInstanceOf(ProtocolError);
    expect(r.error?.code).toBe('CHECKSUM_MISMATCH');
    expect(r.chunks).toBe(1);
  });

  it('say in the error message which chunk is damaged, where, and what precedes it', () => {
    const headBytes = encodeFileHeader(HEADER).length;
    const chunk1 = encodeChunk(records.subarray(0, 8 * 10), STRINGS.slice(0, 3)).length;
    const chunk2 = file.length - headBytes - chunk1;

    const flipped = file.slice();
    flipped[flipped.length - 20] ^= 0x10;
    const e = readTraceFile(flipped).error!;
    expect(e.offset).toBe(headBytes + chunk1);
    expect(e.message).toMatch(
      new RegExp(
        `^CHECKSUM_MISMATCH at byte ${headBytes + chunk1}: chunk 2 \\(${chunk2} bytes\\) fails its ` +
          'CRC32 check \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\); ' +
          'the chunk before it, 10 events, is intact$',
      ),
    );

    const first = file.slice();
    first[headBytes + 12] ^= 0x01;
    expect(readTraceFile(first).error!.message).toMatch(
      /: chunk 1 \(\d+ bytes\) fails its CRC32 check .*; it is the first chunk, so no events precede it$/,
    );

    const cut = readTraceFile(file.subarray(0, file.length - 5)).error!;
    expect(cut.message).toBe(
      `TRUNCATED at byte ${headBytes + chunk1}: file ends ${chunk2 - 5} bytes into chunk 2, ` +
        `which declares ${chunk2} bytes; the chunk before it, 10 events, is intact`,
    );
    expect(readTraceFile(new Uint8Array(0)).error!.message).toBe(
      'TRUNCATED at byte 0: file ends 0 bytes into a file header',
    );

    const notChunk = concat([file, Uint8Array.of(1, 2, 3, 4)]);
    expect(readTraceFile(notChunk).error!.message).toBe(
      `BAD_MAGIC at byte ${file.length}: chunk 3 does not start with the chunk magic "IOCK"; ` +
        `the 2 chunks before it, ${records.length / 8} events, are intact`,
    );
  });

  it('stream through TraceFileReader in small pieces', () => {
    const reader = new TraceFileReader();
    for (let i = 0; i < file.length; i += 7) reader.push(file.subarray(i, i + 7));
    const r = reader.finish();
    expect(r.error).toBeUndefined();
    expect(r.records).toEqual(records);
  });

  it('reject a file that is not a trace with BAD_MAGIC', () => {
    expect(readTraceFile(encodeUtf8('{"traceEvents":[]}')).error?.code).toBe('BAD_MAGIC');
  });
});

/** A chunk around an arbitrary body, with a correct CRC: only the body is wrong. */
function rawChunk(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length + 4);
  const v = new DataView(out.buffer);
  v.setUint32(0, CHUNK_MAGIC, true);
  v.setUint32(4, body.length, true);
  out.set(body, 8);
  v.setUint32(8 + body.length, crc32(out, 0, 8 + body.length), true);
  return out;
}

function words(...values: number[]): Uint8Array {
  return new Uint8Array(Uint32Array.from(values).buffer);
}

describe('damaged .iocptrace files', () => {
  const header = encodeFileHeader(HEADER);
  const chunkRecords = [
    records.subarray(0, 8 * 3),
    records.subarray(8 * 3, 8 * 7),
    records.subarray(8 * 7, 8 * 9),
  ];
  const chunks = [
    encodeChunk(chunkRecords[0]!, STRINGS.slice(0, 2)),
    encodeChunk(chunkRecords[1]!),
    encodeChunk(chunkRecords[2]!, STRINGS.slice(2, 3)),
  ];
  const small = concat([header, ...chunks]);
  /** End offset of the header and of each chunk. */
  const ends = [header.length];
  for (const c of chunks) ends.push(ends[ends.length - 1]! + c.length);
  const prefixRecords = (n: number): Uint32Array => concatWords(chunkRecords.slice(0, n));

  it('read back the complete prefix when truncated at every offset', () => {
    for (let cut = 0; cut <= small.length; cut++) {
      const complete = ends.filter((e) => e <= cut).length; // header + chunks
      const r = readTraceFile(small.subarray(0, cut));
      const atBoundary = ends.includes(cut);
      expect(r.error?.code, `cut at ${cut}`).toBe(atBoundary ? undefined : 'TRUNCATED');
      if (!atBoundary) expect(r.error?.offset).toBe(complete === 0 ? 0 : ends[complete - 1]);
      expect(r.header === undefined).toBe(complete === 0);
      const nChunks = Math.max(0, complete - 1);
      expect(r.chunks).toBe(nChunks);
      expect(sameWords(r.records, prefixRecords(nChunks))).toBe(true);
      expect(r.validBytes).toBe(complete === 0 ? 0 : ends[complete - 1]);
    }
  });

  it('give the same result through the streaming reader in random pieces', () => {
    const next = rng(99);
    for (let cut = 0; cut <= small.length; cut += 3) {
      const whole = readTraceFile(small.subarray(0, cut));
      const reader = new TraceFileReader();
      for (let off = 0; off < cut;) {
        const size = Math.floor(next() * 40);
        reader.push(small.subarray(off, Math.min(cut, off + size)));
        off += size;
      }
      const r = reader.finish();
      expect(r.error?.code).toBe(whole.error?.code);
      expect(r.error?.offset).toBe(whole.error?.offset);
      expect(r.chunks).toBe(whole.chunks);
      expect(sameWords(r.records, whole.records)).toBe(true);
    }
  });

  it('detect every flipped bit and keep the chunks before it', () => {
    const allowed = new Set([
      'BAD_MAGIC',
      'UNSUPPORTED_VERSION',
      'CHECKSUM_MISMATCH',
      'TRUNCATED',
      'OVERSIZED',
      'BAD_FRAME',
      'BAD_HEADER',
    ]);
    for (let byte = 0; byte < small.length; byte++) {
      const unit = ends.findIndex((e) => byte < e); // 0 = header, k = chunk k-1
      const unitStart = unit === 0 ? 0 : ends[unit - 1]!;
      for (let bit = 0; bit < 8; bit++) {
        const bad = small.slice();
        bad[byte]! ^= 1 << bit;
        const r = readTraceFile(bad);
        const where = `byte ${byte} bit ${bit}`;
        expect(r.error, where).toBeInstanceOf(ProtocolError);
        expect(allowed.has(r.error!.code), `${where}: ${r.error!.code}`).toBe(true);
        expect(r.error!.offset! >= unitStart && r.error!.offset! <= byte, where).toBe(true);
        if (unit > 0 && byte >= unitStart + 8)
          expect(r.error!.code, where).toBe('CHECKSUM_MISMATCH');
        if (unit > 0 && byte < unitStart + 4) expect(r.error!.code, where).toBe('BAD_MAGIC');
        const nChunks = Math.max(0, unit - 1);
        expect(r.chunks, where).toBe(nChunks);
        expect(sameWords(r.records, prefixRecords(nChunks)), where).toBe(true);
      }
    }
  });

  it('reject absurd chunk, section, string and metadata lengths with a code', () => {
    const read = (...parts: Uint8Array[]) => readTraceFile(concat([header, ...parts]));
    // A chunk declaring 4 GiB: OVERSIZED from its 8-byte header alone.
    expect(read(words(CHUNK_MAGIC, 0xfffffffc)).error?.code).toBe('OVERSIZED');
    // Body length not a multiple of 4.
    expect(read(words(CHUNK_MAGIC, 6)).error?.code).toBe('BAD_FRAME');
    // A section longer than its chunk.
    expect(read(rawChunk(words(2, 0x7fffffff))).error?.code).toBe('BAD_FRAME');
    // Records section not whole records.
    expect(read(rawChunk(words(2, 4, 5))).error?.code).toBe('BAD_FRAME');
    // 4 billion strings declared in a 12-byte section.
    expect(read(rawChunk(words(1, 12, 0xffffffff, 1, 0))).error?.code).toBe('BAD_FRAME');
    // One string declaring 2 GiB of text.
    expect(read(rawChunk(words(1, 12, 1, 1, 0x7fffffff))).error?.code).toBe('OVERSIZED');
    // A string that runs past its section.
    expect(read(rawChunk(words(1, 12, 1, 1, 100))).error?.code).toBe('BAD_FRAME');
    // Two records sections.
    const rec = new Uint8Array(chunkRecords[0]!.buffer, chunkRecords[0]!.byteOffset, 32);
    expect(read(rawChunk(concat([words(2, 32), rec, words(2, 32), rec]))).error?.code).toBe(
      'BAD_FRAME',
    );
    // Metadata length of 4 GiB in the file header.
    const h = header.slice();
    new DataView(h.buffer).setUint32(12, 0xffffffff, true);
    expect(readTraceFile(h).error?.code).toBe('OVERSIZED');
  });

  it('reject bad records, strings and metadata inside checksummed units', () => {
    const read = (...parts: Uint8Array[]) => readTraceFile(concat([header, ...parts]));
    const bad = records.slice(0, 16);
    bad[8] = 0; // record 1: kind 0
    const r = read(chunks[0]!, encodeChunk(bad));
    expect(r.error?.code).toBe('BAD_RECORD');
    expect(r.error?.offset).toBe(header.length + chunks[0]!.length + 8 + 8 + 32);
    expect(r.chunks).toBe(1);
    expect(sameWords(r.records, chunkRecords[0]!)).toBe(true);
    // A string id redefined with another value in a later chunk.
    expect(read(chunks[0]!, encodeChunk(new Uint32Array(0), [[1, 'other']])).error?.code).toBe(
      'BAD_STRING',
    );
    // Invalid UTF-8.
    expect(read(rawChunk(words(1, 16, 1, 9, 4, 0x0000ffff))).error?.code).toBe('BAD_STRING');
    // Metadata that is valid JSON but not a header (CRC recomputed).
    const meta = encodeUtf8('{"clock":"wall"}');
    const hb = new Uint8Array(16 + 16 + 4);
    hb.set(header.subarray(0, 12));
    new DataView(hb.buffer).setUint32(12, meta.length, true);
    hb.set(meta, 16);
    new DataView(hb.buffer).setUint32(32, crc32(hb, 0, 32), true);
    expect(readTraceFile(hb).error?.code).toBe('BAD_HEADER');
    // A version from the future, and version 0.
    const v3 = header.slice();
    v3[8] = 3;
    expect(readTraceFile(v3).error?.code).toBe('UNSUPPORTED_VERSION');
    const v0 = header.slice();
    v0[8] = 0;
    expect(readTraceFile(v0).error?.code).toBe('UNSUPPORTED_VERSION');
  });

  it('ignore pushes after the first error', () => {
    const reader = new TraceFileReader();
    reader.push(Uint8Array.of(1, 2, 3));
    reader.push(small);
    const r = reader.finish();
    expect(r.error?.code).toBe('BAD_MAGIC');
    expect(r.chunks).toBe(0);
  });
});

function concatWords(parts: readonly Uint32Array[]): Uint32Array {
  const out = new Uint32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('a chunk that fails on its strings', () => {
  const h = encodeFileHeader({
    clock: 'monotonic-ns',
    host: 'h',
    backend: 'emulated',
    portConfig: { workers: 1, concurrency: 1 },
    startWallMs: 0,
  });

  it('keeps none of its strings when they overflow the table, even the ones that fit', () => {
    const ok = encodeChunk(new Uint32Array(0), [
      [1, 'one'],
      [2, 'two'],
    ]);
    const over = encodeChunk(new Uint32Array(0), [
      [3, 'three'],
      [4, 'four'],
    ]);
    const r = readTraceFile(concat([h, ok, over]), { maxStrings: 3 });
    expect(r.error?.code).toBe('OVERSIZED');
    expect(r.error?.offset).toBe(h.length + ok.length);
    expect(r.chunks).toBe(1);
    expect([...r.strings.entries()]).toEqual([
      [1, 'one'],
      [2, 'two'],
    ]);
  });

  it('keeps none of its strings when one of them is bad', () => {
    const bad = encodeChunk(new Uint32Array(0), [
      [1, 'first'],
      [2, 'second'],
      [1, 'first, again, but different'],
    ]);
    const r = readTraceFile(concat([h, bad]));
    expect(r.error?.code).toBe('BAD_STRING');
    expect(r.strings.size).toBe(0);
  });
});
