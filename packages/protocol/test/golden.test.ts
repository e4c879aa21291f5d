// Golden binary fixtures: the committed bytes of a record run, a stream frame,
// a frame from a hypothetical later writer, and a whole .iocptrace file. Any
// change to the encoders shows up here as a byte diff. To change the format on
// purpose: `pnpm --filter @iocpscope/protocol fixtures:update` (sets
// UPDATE_FIXTURES=1), review the diff, and bump PROTOCOL_VERSION if old
// readers can no longer read the new bytes (FORMAT.md, "Versioning").

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  RECORD_WORDS,
  decodeEvent,
  decodeFrame,
  encodeChunk,
  encodeFileHeader,
  encodeFrame,
  findInvalidRecord,
  readTraceFile,
  type TraceFileHeader,
} from '../src/index.ts';
import { SAMPLE_EVENTS, SAMPLE_EVENTS_V1, STRINGS, concat, encodeAll } from './samples.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
/** Written by protocol version 1 and frozen: every later reader must still read them. */
const FIXTURES_V1 = join(FIXTURES, 'v1');
const UPDATE = process.env['UPDATE_FIXTURES'] === '1';

export const GOLDEN_HEADER: TraceFileHeader = {
  clock: 'monotonic-ns',
  host: 'golden-host',
  backend: 'emulated',
  portConfig: { workers: 4, concurrency: 2 },
  startWallMs: 1_700_000_000_000,
  name: 'golden',
  serverVersion: '0.1.0',
};

const records = encodeAll(SAMPLE_EVENTS);

/**
 * A frame as a later protocol revision might write it without a version bump:
 * a 20-byte header (one extra u32 readers skip) and an unknown section type 77.
 */
function futureFrame(): Uint8Array {
  const base = encodeFrame({
    seq: 3,
    records: records.subarray(0, 4 * RECORD_WORDS),
    strings: STRINGS.slice(0, 1),
  });
  const extraSection = new Uint8Array(8 + 8);
  const v = new DataView(extraSection.buffer);
  v.setUint32(0, 77, true);
  v.setUint32(4, 6, true);
  extraSection.set([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02], 8);
  const out = concat([
    base.subarray(0, 16),
    Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd),
    extraSection,
    base.subarray(16),
  ]);
  const ov = new DataView(out.buffer);
  ov.setUint16(6, 20, true);
  ov.setUint32(8, out.length, true);
  return out;
}

const FIXTURE_BYTES: Record<string, () => Uint8Array> = {
  'records.bin': () => new Uint8Array(records.buffer.slice(0)),
  'frame.bin': () => encodeFrame({ seq: 7, records, strings: STRINGS }),
  'frame-future.bin': futureFrame,
  'trace.bin': () =>
    concat([
      encodeFileHeader(GOLDEN_HEADER),
      encodeChunk(records.subarray(0, 12 * RECORD_WORDS), STRINGS.slice(0, 3)),
      encodeChunk(records.subarray(12 * RECORD_WORDS), STRINGS.slice(3)),
      encodeChunk(new Uint32Array(0)),
    ]),
};

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function committed(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, name)));
}

describe('golden fixtures', () => {
  for (const [name, make] of Object.entries(FIXTURE_BYTES)) {
    it(`regenerates ${name} byte for byte`, () => {
      const fresh = make();
      const path = join(FIXTURES, name);
      if (UPDATE) {
        mkdirSync(FIXTURES, { recursive: true });
        writeFileSync(path, fresh);
      }
      expect(existsSync(path), `${name} missing: run fixtures:update`).toBe(true);
      const diff = firstDifference(fresh, committed(name));
      expect(diff, `${name} differs from the committed fixture at byte ${diff}`).toBe(-1);
    });
  }

  it('decodes the committed records to the sample events', () => {
    const bytes = committed('records.bin');
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    expect(SAMPLE_EVENTS.map((_, i) => decodeEvent(w, i))).toEqual(SAMPLE_EVENTS);
  });

  it('decodes the committed frame', () => {
    const f = decodeFrame(committed('frame.bin'));
    expect(f.seq).toBe(7);
    expect(f.records).toEqual(records);
    expect(f.strings).toEqual(STRINGS);
  });

  it('reads a frame with a longer header and an unknown section, skipping both', () => {
    const f = decodeFrame(committed('frame-future.bin'));
    expect(f.seq).toBe(3);
    expect(f.records).toEqual(records.subarray(0, 4 * RECORD_WORDS));
    expect(f.strings).toEqual(STRINGS.slice(0, 1));
  });

  it('reads the committed trace file', () => {
    const r = readTraceFile(committed('trace.bin'));
    expect(r.error).toBeUndefined();
    expect(r.header).toEqual(GOLDEN_HEADER);
    expect(r.chunks).toBe(3);
    expect(r.records).toEqual(records);
    expect([...r.strings.entries()]).toEqual(STRINGS);
  });

  it('matches the worked examples in FORMAT.md', () => {
    expect(hex(committed('records.bin').subarray(32, 64))).toBe(
      '01 01 01 00 01 00 00 00 0a 00 00 00 00 00 00 00 ' +
        '00 00 00 00 00 00 00 00 92 10 00 00 00 00 00 00',
    );
    expect(hex(committed('frame.bin').subarray(0, 16))).toBe(
      '49 4f 43 46 02 00 10 00 ' + hex(committed('frame.bin').subarray(8, 12)) + ' 07 00 00 00',
    );
    expect(hex(committed('trace.bin').subarray(0, 10))).toBe('89 49 4f 43 50 54 52 0a 02 00');
    expect(hex(encodeChunk(new Uint32Array(0)))).toBe('49 4f 43 4b 00 00 00 00 a5 12 5c 47');
    // A v2 record with a call site: IoDetail at 402 ns, site 7 in the top 11 bits of the time.
    const at = SAMPLE_EVENTS.findIndex((e) => e.kind === 21) * 32;
    expect(hex(committed('records.bin').subarray(at, at + 16))).toBe(
      '15 01 01 00 d0 c0 b0 a0 92 01 00 00 00 00 e0 00',
    );
  });
});

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

describe('version 1 fixtures (frozen)', () => {
  const v1 = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES_V1, name)));
  const recordsV1 = encodeAll(SAMPLE_EVENTS_V1);

  it('decode the v1 records to the v1 sample events', () => {
    const bytes = v1('records.bin');
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    expect(SAMPLE_EVENTS_V1.map((_, i) => decodeEvent(w, i))).toEqual(SAMPLE_EVENTS_V1);
  });

  it('read a v1 frame and a v1 frame with a longer header and an unknown section', () => {
    const f = decodeFrame(v1('frame.bin'));
    expect(f.seq).toBe(7);
    expect(f.records).toEqual(recordsV1);
    const g = decodeFrame(v1('frame-future.bin'));
    expect(g.records).toEqual(recordsV1.subarray(0, 4 * RECORD_WORDS));
  });

  it('read a whole v1 trace file', () => {
    const r = readTraceFile(v1('trace.bin'));
    expect(r.error).toBeUndefined();
    expect(r.version).toBe(1);
    expect(r.header).toEqual(GOLDEN_HEADER);
    expect(r.chunks).toBe(3);
    expect(r.records).toEqual(recordsV1);
  });

  it('match the worked examples of FORMAT.md v1', () => {
    expect(hex(v1('frame.bin').subarray(0, 16))).toBe(
      '49 4f 43 46 01 00 10 00 ac 04 00 00 07 00 00 00',
    );
    expect(hex(v1('trace.bin').subarray(0, 10))).toBe('89 49 4f 43 50 54 52 0a 01 00');
  });

  it('reject a v1 record of a v2 kind, or with bits above 2^53 in its time', () => {
    const file = v1('trace.bin').slice();
    const r = readTraceFile(file);
    expect(r.error).toBeUndefined();
    // The same bytes as v2 with a v2 kind are fine; as v1 they are BAD_RECORD.
    const w = new Uint32Array(8);
    w[0] = 21;
    expect(findInvalidRecord(w, 0, 1, 1)).toBe(0);
    expect(findInvalidRecord(w, 0, 1, 2)).toBe(-1);
    w[0] = 1;
    w[3] = 0x00e00000;
    expect(findInvalidRecord(w, 0, 1, 1)).toBe(0);
    expect(findInvalidRecord(w, 0, 1, 2)).toBe(-1);
  });
});
