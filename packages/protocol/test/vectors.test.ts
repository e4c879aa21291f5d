// Test vectors for readers in other languages: one small .iocptrace file per
// corner of FORMAT.md §6 that the prose must settle (allowed header values,
// the unit of string limits, which error wins, what a cut-short magic is, ...),
// committed under test/fixtures/vectors/ with vectors.json saying what a
// conforming reader reports for each: the error code and byte offset, or a
// clean read with its event count. `pnpm --filter @iocpscope/protocol
// fixtures:update` rewrites them on purpose.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  EventKind,
  FILE_MAGIC,
  RECORD_WORDS,
  crc32,
  encodeChunk,
  encodeUtf8,
  readTraceFile,
  writeRecord,
} from '../src/index.ts';
import { concat } from './samples.ts';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'vectors');
const UPDATE = process.env['UPDATE_FIXTURES'] === '1';

const META = {
  clock: 'monotonic-ns',
  host: 'vector-host',
  backend: 'emulated',
  portConfig: { workers: 2, concurrency: 0 },
  startWallMs: 1_700_000_000_000,
};

/** A header with any metadata JSON text (the encoder would refuse the bad ones). */
function rawHeader(metaJson: string, version = 2): Uint8Array {
  const meta = encodeUtf8(metaJson);
  const padded = (meta.length + 3) & ~3;
  const out = new Uint8Array(16 + padded + 4);
  out.set(FILE_MAGIC, 0);
  const v = new DataView(out.buffer);
  v.setUint16(8, version, true);
  v.setUint32(12, meta.length, true);
  out.set(meta, 16);
  v.setUint32(16 + padded, crc32(out, 0, 16 + padded), true);
  return out;
}

const header = (patch: object = {}): Uint8Array => rawHeader(JSON.stringify({ ...META, ...patch }));
const H = header().length;

/** A chunk from raw section bytes (CRC computed). */
function rawChunk(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x4b434f49, true);
  v.setUint32(4, body.length, true);
  out.set(body, 8);
  v.setUint32(8 + body.length, crc32(out, 0, 8 + body.length), true);
  return out;
}

const u32s = (...xs: number[]): Uint8Array => new Uint8Array(Uint32Array.from(xs).buffer);

function records(kinds: number[], tid = 3): Uint32Array {
  const w = new Uint32Array(kinds.length * RECORD_WORDS);
  kinds.forEach((k, i) => writeRecord(w, i, k, 0, tid, 0, 100 + i, 0, 0, 0, 0));
  return w;
}

interface Expect {
  /** A conforming reader's result: an error code at an offset, or none. */
  code: string | null;
  offset?: number;
  /** Events read (before the error, if any). */
  events: number;
  why: string;
}

const VECTORS: Record<string, { bytes: () => Uint8Array; expect: Expect }> = {
  'header-clock-not-monotonic': {
    bytes: () => header({ clock: 'wall' }),
    expect: { code: 'BAD_HEADER', offset: 16, events: 0, why: 'clock has one allowed value' },
  },
  'header-backend-unknown': {
    bytes: () => header({ backend: 'gpu' }),
    expect: { code: 'BAD_HEADER', offset: 16, events: 0, why: 'backend is one of three' },
  },
  'header-backend-external': {
    bytes: () => header({ backend: 'external', process: { pid: 1, name: 'a.exe' } }),
    expect: { code: null, events: 0, why: 'a foreign process, v2' },
  },
  'header-startwallms-negative': {
    bytes: () => header({ startWallMs: -1 }),
    expect: { code: 'BAD_HEADER', offset: 16, events: 0, why: 'startWallMs is 0..2^53-1' },
  },
  'header-startwallms-2p53': {
    bytes: () => rawHeader(JSON.stringify(META).replace('1700000000000', '9007199254740992')),
    expect: { code: 'BAD_HEADER', offset: 16, events: 0, why: 'startWallMs is 0..2^53-1' },
  },
  'header-startwallms-max': {
    bytes: () => header({ startWallMs: Number.MAX_SAFE_INTEGER }),
    expect: { code: null, events: 0, why: '2^53-1 is allowed' },
  },
  'header-host-256-code-points': {
    bytes: () => header({ host: '😀'.repeat(256) }),
    expect: {
      code: null,
      events: 0,
      why: 'string limits count code points: 256 of them, though 512 UTF-16 units and 1024 bytes',
    },
  },
  'header-host-257-code-points': {
    bytes: () => header({ host: '😀'.repeat(257) }),
    expect: { code: 'BAD_HEADER', offset: 16, events: 0, why: 'one code point too many' },
  },
  'header-short-with-bad-version': {
    bytes: () => {
      const h = header().slice(0, 12);
      h[8] = 9;
      return h;
    },
    expect: {
      code: 'TRUNCATED',
      offset: 0,
      events: 0,
      why: 'the version is checked only once the 16 fixed bytes are there',
    },
  },
  'header-fixed-with-bad-version': {
    bytes: () => {
      const h = header().slice(0, 16);
      h[8] = 9;
      return h;
    },
    expect: { code: 'UNSUPPORTED_VERSION', offset: 8, events: 0, why: 'all 16 fixed bytes' },
  },
  'chunk-magic-cut-short': {
    bytes: () => concat([header(), Uint8Array.of(0x49, 0x4f)]),
    expect: {
      code: 'TRUNCATED',
      offset: H,
      events: 0,
      why: 'a chunk magic is checked once its 4 bytes are there',
    },
  },
  'chunk-magic-cut-short-wrong': {
    bytes: () => concat([header(), Uint8Array.of(0x00, 0x00, 0x00)]),
    expect: { code: 'TRUNCATED', offset: H, events: 0, why: 'even when the bytes are wrong' },
  },
  'chunk-magic-wrong': {
    bytes: () => concat([header(), Uint8Array.of(0x49, 0x4f, 0x43, 0x58)]),
    expect: { code: 'BAD_MAGIC', offset: H, events: 0, why: '4 bytes, not "IOCK"' },
  },
  'strings-payload-shorter-than-count': {
    bytes: () => concat([header(), rawChunk(concat([u32s(1, 2), Uint8Array.of(1, 0, 0, 0)]))]),
    expect: {
      code: 'BAD_FRAME',
      offset: H + 8 + 8,
      events: 0,
      why: 'a strings payload of 2 bytes cannot hold its count; reported at the payload',
    },
  },
  'chunk-bad-crc-and-bad-record': {
    bytes: () => {
      const w = records([EventKind.Marker, 0]);
      const c = encodeChunk(w);
      c[c.length - 1] = c[c.length - 1]! ^ 0xff;
      return concat([header(), c]);
    },
    expect: { code: 'CHECKSUM_MISMATCH', offset: H, events: 0, why: 'the CRC is checked first' },
  },
  'chunk-bad-record-then-bad-string': {
    bytes: () => {
      const w = records([EventKind.Marker, 0]);
      const recs = new Uint8Array(w.buffer);
      // Records section first, then a strings section whose only entry has id 0.
      const strings = concat([u32s(1, 0, 1), Uint8Array.of(0x61, 0, 0, 0)]);
      const body = concat([u32s(2, recs.length), recs, u32s(1, 13), strings]);
      return concat([header(), rawChunk(body)]);
    },
    expect: {
      code: 'BAD_STRING',
      offset: H + 8 + 8 + 64 + 8 + 4,
      events: 0,
      why: 'sections are parsed before records are checked, whatever their order',
    },
  },
  'chunk-second-bad-after-good': {
    bytes: () =>
      concat([
        header(),
        encodeChunk(records([EventKind.Marker, EventKind.Marker])),
        encodeChunk(records([EventKind.Marker, 99])),
      ]),
    expect: {
      code: 'BAD_RECORD',
      offset: H + (12 + 8 + 64) + 8 + 8 + 32,
      events: 2,
      why: 'the first chunk is kept; the error is at the bad record itself',
    },
  },
  'records-before-threadstart': {
    bytes: () =>
      concat([header(), encodeChunk(records([EventKind.GqcsEnter, EventKind.Marker], 7))]),
    expect: {
      code: null,
      events: 2,
      why: 'a thread need not have a ThreadStart before its other records',
    },
  },
};

function readerResult(bytes: Uint8Array): Expect {
  const r = readTraceFile(bytes);
  const out: Expect = {
    code: r.error?.code ?? null,
    events: r.records.length / RECORD_WORDS,
    why: '',
  };
  if (r.error?.offset !== undefined) out.offset = r.error.offset;
  return out;
}

describe('FORMAT.md test vectors', () => {
  it('match their committed files and manifest', () => {
    if (UPDATE) {
      mkdirSync(DIR, { recursive: true });
      const manifest: Record<string, Expect> = {};
      for (const [name, v] of Object.entries(VECTORS)) {
        writeFileSync(join(DIR, `${name}.iocptrace`), v.bytes());
        manifest[name] = v.expect;
      }
      writeFileSync(join(DIR, 'vectors.json'), JSON.stringify(manifest, null, 2) + '\n');
    }
    const manifest = JSON.parse(readFileSync(join(DIR, 'vectors.json'), 'utf8')) as Record<
      string,
      Expect
    >;
    expect(Object.keys(manifest).sort()).toEqual(Object.keys(VECTORS).sort());
    for (const [name, v] of Object.entries(VECTORS)) {
      const file = join(DIR, `${name}.iocptrace`);
      expect(existsSync(file), `${name}: run fixtures:update`).toBe(true);
      expect(new Uint8Array(readFileSync(file)), name).toEqual(v.bytes());
      expect(manifest[name], name).toEqual(v.expect);
    }
  });

  for (const [name, v] of Object.entries(VECTORS)) {
    it(`${name}: ${v.expect.why}`, () => {
      const got = readerResult(v.bytes());
      const want = { ...v.expect, why: '' };
      if (want.offset === undefined) delete want.offset;
      expect(got).toEqual(want);
    });
  }
});
