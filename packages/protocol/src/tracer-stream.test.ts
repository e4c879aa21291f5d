import { describe, expect, it } from 'vitest';
import { SAMPLE_EVENTS, STRINGS, concat, encodeAll, rng, sameWords } from '../test/samples.ts';
import { RECORD_WORDS } from './events.ts';
import { encodeChunk, encodeFileHeader, type TraceFileHeader } from './file.ts';
import { TracerStreamReader, encodeTracerHandshake } from './tracer-stream.ts';

const HEADER: TraceFileHeader = {
  clock: 'monotonic-ns',
  host: 'win-box',
  backend: 'external',
  portConfig: { workers: 4, concurrency: 0 },
  startWallMs: 1_700_000_000_000,
  process: { pid: 4242, name: 'GameServer.exe' },
  tracer: 'header',
  clockSource: 'tsc',
  ticksPerSecond: 2_999_999_000,
};
const records = encodeAll(SAMPLE_EVENTS);
const chunks = [
  encodeChunk(records.subarray(0, 10 * RECORD_WORDS), STRINGS.slice(0, 2)),
  encodeChunk(records.subarray(10 * RECORD_WORDS), STRINGS.slice(2)),
];
const stream = (token = 's3cret-token'): Uint8Array =>
  concat([encodeTracerHandshake(token), encodeFileHeader(HEADER), ...chunks]);

function readAll(bytes: Uint8Array, piece: number) {
  const got: { token?: string; header?: TraceFileHeader; words: number[]; strings: number } = {
    words: [],
    strings: 0,
  };
  const r = new TracerStreamReader({
    onHandshake: (h) => (got.token = h.token),
    onHeader: (h) => (got.header = h),
    onChunk: (w, s) => {
      got.words.push(...w);
      got.strings += s.length;
    },
  });
  for (let o = 0; o < bytes.length; o += piece) r.push(bytes.subarray(o, o + piece));
  return { got, error: r.finish(), reader: r };
}

describe('the tracer stream', () => {
  it('reads the handshake, the header and every chunk, in pieces of any size', () => {
    const next = rng(9);
    for (let k = 0; k < 40; k++) {
      const piece = 1 + Math.floor(next() * 97);
      const { got, error } = readAll(stream(), piece);
      expect(error).toBeUndefined();
      expect(got.token).toBe('s3cret-token');
      expect(got.header).toEqual(HEADER);
      expect(sameWords(Uint32Array.from(got.words), records)).toBe(true);
      expect(got.strings).toBe(STRINGS.length);
    }
  });

  it('keeps no records itself (a stream of any length in bounded memory)', () => {
    const { reader } = readAll(stream(), 4096);
    expect(reader.chunks).toBe(2);
  });

  it('reads a stream without a token', () => {
    const { got, error } = readAll(stream(''), 7);
    expect(error).toBeUndefined();
    expect(got.token).toBe('');
  });

  it('rejects a wrong magic at once, and a bad version, token length or padding', () => {
    const bad = stream();
    bad[3] = 0;
    expect(readAll(bad.subarray(0, 4), 4).error?.code).toBe('BAD_MAGIC');
    const v = stream();
    v[8] = 9;
    expect(readAll(v, 64).error?.code).toBe('UNSUPPORTED_VERSION');
    const long = stream();
    new DataView(long.buffer).setUint32(12, 100_000, true);
    expect(readAll(long, 64).error?.code).toBe('OVERSIZED');
    const pad = concat([encodeTracerHandshake('abc'), encodeFileHeader(HEADER)]);
    pad[19] = 1;
    expect(readAll(pad, 64).error?.code).toBe('BAD_HEADER');
    const control = concat([encodeTracerHandshake('ab'), encodeFileHeader(HEADER)]);
    control[17] = 0x0a;
    expect(readAll(control, 64).error?.code).toBe('BAD_HEADER');
  });

  it('reports damage with its offset in the stream and keeps the chunks before it', () => {
    const s = stream();
    const at = s.length - chunks[1]!.length + 20; // inside the second chunk's body
    s[at] = s[at]! ^ 0xff;
    const { got, error } = readAll(s, 33);
    expect(error?.code).toBe('CHECKSUM_MISMATCH');
    expect(error?.offset).toBe(s.length - chunks[1]!.length);
    expect(got.words.length).toBe(10 * RECORD_WORDS);
  });

  it('calls a stream cut inside the handshake or a chunk TRUNCATED', () => {
    expect(readAll(stream().subarray(0, 10), 3).error?.code).toBe('TRUNCATED');
    const s = stream();
    expect(readAll(s.subarray(0, s.length - 5), 50).error?.code).toBe('TRUNCATED');
  });
});
