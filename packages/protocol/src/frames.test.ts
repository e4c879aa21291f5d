import { describe, expect, it } from 'vitest';
import {
  BIG_SESSION,
  STRINGS,
  SAMPLE_EVENTS,
  concat,
  encodeAll,
  randomRecords,
  rng,
  sameWords,
} from '../test/samples.ts';
import { EventKind, GapSource, RECORD_WORDS } from './events.ts';
import { ProtocolError } from './errors.ts';
import {
  FRAME_HEADER_BYTES,
  FRAME_HEADER_STREAM_BYTES,
  FrameStreamDecoder,
  decodeFrame,
  decodeFrameInto,
  encodeFrame,
} from './frames.ts';
import { encodeEvent, sessionAt } from './record.ts';
import { EventStore } from './store.ts';
import { StringTable } from './strings.ts';

const records = encodeAll(SAMPLE_EVENTS);

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
  return undefined;
}

describe('stream frames', () => {
  it('round-trips records, strings and seq', () => {
    const bytes = encodeFrame({ seq: 0xfffffffe, records, strings: STRINGS });
    const f = decodeFrame(bytes);
    expect(f.seq).toBe(0xfffffffe);
    expect(f.records).toEqual(records);
    expect(f.strings).toEqual(STRINGS);
  });

  it('encodes an empty frame as a bare 16-byte header', () => {
    const bytes = encodeFrame({ seq: 1, records: new Uint32Array(0) });
    expect(bytes.length).toBe(FRAME_HEADER_BYTES);
    expect(decodeFrame(bytes)).toEqual({ seq: 1, records: new Uint32Array(0), strings: [] });
  });

  it('carries the stream position in a 24-byte header that older readers skip', () => {
    const at = 2 ** 40 + 12345;
    const bytes = encodeFrame({ seq: 9, records, strings: STRINGS, stream: at });
    expect(new DataView(bytes.buffer).getUint16(6, true)).toBe(FRAME_HEADER_STREAM_BYTES);
    const f = decodeFrame(bytes);
    expect(f.stream).toBe(at);
    expect(f.records).toEqual(records);
    expect(f.strings).toEqual(STRINGS);
    // Without a position: the 16-byte header, no `stream`.
    expect(decodeFrame(encodeFrame({ seq: 9, records })).stream).toBeUndefined();
    const store = new EventStore();
    expect(decodeFrameInto(bytes, store, new StringTable()).stream).toBe(at);
    const split = new FrameStreamDecoder();
    const got = [...split.push(bytes.subarray(0, 20)), ...split.push(bytes.subarray(20))];
    expect(got.map((x) => x.stream)).toEqual([at]);
    expect(() => encodeFrame({ seq: 0, records, stream: -1 })).toThrow(RangeError);
    const bad = bytes.slice();
    new DataView(bad.buffer).setUint32(20, 0x200000, true);
    expect(codeOf(() => decodeFrame(bad))).toBe('BAD_FRAME');
  });

  it('keeps a 64-bit session above 2^53 exact', () => {
    const f = decodeFrame(encodeFrame({ seq: 0, records }));
    expect(sessionAt(f.records, 4)).toBe(BIG_SESSION);
  });

  it('carries a client-queue gap as an ordinary Gap record', () => {
    const w = new Uint32Array(RECORD_WORDS);
    encodeEvent(w, 0, {
      kind: EventKind.Gap,
      tsNs: 5,
      tid: 0xffff,
      source: GapSource.ClientQueue,
      lost: 17,
    });
    expect(decodeFrame(encodeFrame({ seq: 3, records: w })).records).toEqual(w);
  });

  it('rejects an unknown event kind with BAD_RECORD and its offset', () => {
    const bad = records.slice();
    bad[2 * RECORD_WORDS] = 99;
    const bytes = encodeFrame({ seq: 0, records: bad });
    let err: ProtocolError | undefined;
    try {
      decodeFrame(bytes);
    } catch (e) {
      err = e as ProtocolError;
    }
    expect(err?.code).toBe('BAD_RECORD');
    expect(err?.offset).toBe(FRAME_HEADER_BYTES + 8 + 2 * 32);
  });

  it('reports wrong magic, version, length and truncation with stable codes', () => {
    const good = encodeFrame({ seq: 0, records, strings: STRINGS });
    const m = good.slice();
    m[0] = 0;
    expect(codeOf(() => decodeFrame(m))).toBe('BAD_MAGIC');
    const v = good.slice();
    v[4] = 9;
    expect(codeOf(() => decodeFrame(v))).toBe('UNSUPPORTED_VERSION');
    expect(codeOf(() => decodeFrame(good.subarray(0, good.length - 4)))).toBe('TRUNCATED');
    expect(codeOf(() => decodeFrame(good.subarray(0, 10)))).toBe('TRUNCATED');
    const big = good.slice();
    new DataView(big.buffer).setUint32(8, 0xfffffff0, true);
    expect(codeOf(() => decodeFrame(big))).toBe('OVERSIZED');
  });

  it('skips a section of an unknown type', () => {
    const plain = encodeFrame({ seq: 7, records });
    // Insert a type-99 section of 5 bytes (+3 padding) right after the header.
    const extra = new Uint8Array(16);
    new DataView(extra.buffer).setUint32(0, 99, true);
    new DataView(extra.buffer).setUint32(4, 5, true);
    extra.set([1, 2, 3, 4, 5], 8);
    const bytes = new Uint8Array(plain.length + 16);
    bytes.set(plain.subarray(0, FRAME_HEADER_BYTES));
    bytes.set(extra, FRAME_HEADER_BYTES);
    bytes.set(plain.subarray(FRAME_HEADER_BYTES), FRAME_HEADER_BYTES + 16);
    new DataView(bytes.buffer).setUint32(8, bytes.length, true);
    expect(decodeFrame(bytes).records).toEqual(records);
  });

  it('decodes straight into a store and string table', () => {
    const store = new EventStore(1);
    const table = new StringTable();
    const r = decodeFrameInto(encodeFrame({ seq: 9, records, strings: STRINGS }), store, table);
    expect(r).toEqual({ seq: 9, records: SAMPLE_EVENTS.length });
    expect(store.words).toEqual(records);
    expect(table.get(3)).toBe('127.0.0.1:50123');
  });

  it('leaves the store and table untouched when decodeFrameInto fails', () => {
    const store = new EventStore(1);
    const table = new StringTable();
    const bad = records.slice();
    bad[bad.length - RECORD_WORDS] = 0;
    expect(
      codeOf(() =>
        decodeFrameInto(encodeFrame({ seq: 0, records: bad, strings: STRINGS }), store, table),
      ),
    ).toBe('BAD_RECORD');
    expect(store.length).toBe(0);
    expect(table.size).toBe(0);
  });
});

describe('FrameStreamDecoder', () => {
  it('decodes frames split at every byte boundary', () => {
    const a = encodeFrame({ seq: 1, records, strings: STRINGS });
    const b = encodeFrame({ seq: 2, records: records.subarray(0, 16) });
    const stream = new Uint8Array(a.length + b.length);
    stream.set(a);
    stream.set(b, a.length);
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameStreamDecoder();
      const frames = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(frames.map((f) => f.seq)).toEqual([1, 2]);
      expect(sameWords(frames[0]!.records, records)).toBe(true);
      expect(frames[0]!.strings).toHaveLength(STRINGS.length);
      expect(frames[1]!.strings).toEqual([]);
      d.finish();
    }
  });

  it('fails early on a wrong magic and stays failed', () => {
    const d = new FrameStreamDecoder();
    expect(codeOf(() => d.push(Uint8Array.of(0x49, 0x4f, 0x43, 0x47)))).toBe('BAD_MAGIC');
    expect(codeOf(() => d.push(encodeFrame({ seq: 0, records })))).toBe('BAD_MAGIC');
  });

  it('reports TRUNCATED when the stream ends inside a frame', () => {
    const d = new FrameStreamDecoder();
    const f = encodeFrame({ seq: 0, records });
    d.push(f.subarray(0, 40));
    expect(codeOf(() => d.finish())).toBe('TRUNCATED');
  });

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`decodes 200 frames cut into random-size pieces (seed ${seed})`, () => {
      const next = rng(seed);
      const sent: Array<{ seq: number; records: Uint32Array; strings: Array<[number, string]> }> =
        [];
      let id = 1;
      for (let seq = 0; seq < 200; seq++) {
        const strings: Array<[number, string]> = [];
        if (next() < 0.3) strings.push([id++, `peer-${seq}:${Math.floor(next() * 65536)}`]);
        sent.push({ seq, records: randomRecords(next, Math.floor(next() * 40)), strings });
      }
      const stream = concat(sent.map(encodeFrame));
      // Pieces from 0 bytes (an empty push) to several frames long, so frames are
      // both split across pushes and merged several to a push.
      const d = new FrameStreamDecoder();
      const got = [];
      for (let off = 0; off < stream.length;) {
        const r = next();
        const size =
          r < 0.1 ? 0 : r < 0.5 ? 1 + Math.floor(next() * 16) : Math.floor(next() * 6000);
        got.push(...d.push(stream.subarray(off, off + size)));
        off += size;
      }
      d.finish();
      expect(d.pendingBytes).toBe(0);
      expect(got.map((f) => f.seq)).toEqual(sent.map((f) => f.seq));
      for (let i = 0; i < sent.length; i++) {
        expect(sameWords(got[i]!.records, sent[i]!.records)).toBe(true);
        expect(got[i]!.strings).toEqual(sent[i]!.strings);
      }
    });
  }

  it('reports a bad record with its offset in the stream', () => {
    const a = encodeFrame({ seq: 0, records });
    const bad = records.slice();
    bad[RECORD_WORDS] = 0;
    const b = encodeFrame({ seq: 1, records: bad });
    const d = new FrameStreamDecoder();
    let err: ProtocolError | undefined;
    try {
      d.push(concat([a, b]));
    } catch (e) {
      err = e as ProtocolError;
    }
    expect(err?.code).toBe('BAD_RECORD');
    expect(err?.offset).toBe(a.length + FRAME_HEADER_BYTES + 8 + 32);
  });

  it('rejects a declared frame length above the limit as soon as the header arrives', () => {
    const f = encodeFrame({ seq: 0, records });
    new DataView(f.buffer).setUint32(8, 1 << 30, true);
    const d = new FrameStreamDecoder({ maxFrameBytes: 1 << 20 });
    expect(codeOf(() => d.push(f.subarray(0, FRAME_HEADER_BYTES)))).toBe('OVERSIZED');
  });
});
