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
  readTraceFile,
  type TraceFileHeader,
} from '../src/index.ts';
import { SAMPLE_EVENTS, STRINGS, concat, encodeAll } from './samples.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
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
    const hex = (b: Uint8Array): string =>
      Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
    expect(hex(committed('records.bin').subarray(32, 64))).toBe(
      '01 01 01 00 01 00 00 00 0a 00 00 00 00 00 00 00 ' +
        '00 00 00 00 00 00 00 00 92 10 00 00 00 00 00 00',
    );
    expect(hex(committed('frame.bin').subarray(0, 16))).toBe(
      '49 4f 43 46 01 00 10 00 ac 04 00 00 07 00 00 00',
    );
    expect(hex(committed('trace.bin').subarray(0, 8))).toBe('89 49 4f 43 50 54 52 0a');
    expect(hex(encodeChunk(new Uint32Array(0)))).toBe('49 4f 43 4b 00 00 00 00 a5 12 5c 47');
  });
});
