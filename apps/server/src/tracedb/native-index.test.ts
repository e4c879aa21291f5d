// The native index pass against the JavaScript one, which is its specification:
// the same records in the same chunks must give the same index, every field and
// every summary level, bit for bit. builder.test.ts checks both passes against a
// naive model; this checks the native one where the model is silent (clamped
// times, kinds past 64, lanes past 64, sessions whose events spread over more
// chunk runs than are kept) and on the real recordings in examples/.

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EVENT_KIND_MAX,
  EventKind,
  EVENT_KIND_MAX_V1,
  NO_THREAD,
  RECORD_WORDS,
  TS_HI_MAX,
  crc32,
  findInvalidRecord,
} from '@iocpscope/protocol';
import { synthesize } from '@iocpscope/analysis';
import type { TraceIndex } from './builder.ts';
import { indexBuilder, nativeIndexAddon, type IndexPass } from './native-index.ts';
import { scanFile } from './scan.ts';
import { fastFindInvalidRecord } from './crc.ts';
import { synthFileBytes } from './synth-file.test-util.ts';
import { seededRandom } from '../trace/testing.ts';

const ROOT = join(import.meta.dirname, '../../../..');

/**
 * Index `w` in chunks of random sizes up to `most` records (the same cuts for
 * both passes), finishing mid-way too: small ones (700, many chunk runs per
 * session) and recording-sized ones (12,000).
 */
function build(
  w: Uint32Array,
  n: number,
  shift: number,
  seed: number,
  pass: IndexPass,
  most = 700,
) {
  const b = indexBuilder({ baseShift: shift }, pass);
  const next = seededRandom(seed);
  const mids: TraceIndex[] = [];
  let off = 0;
  for (let i = 0, c = 0; i < n; c++) {
    const k = Math.min(n - i, 1 + Math.floor(next() * most));
    b.addChunk(off, k * 32 + 20, w.subarray(i * RECORD_WORDS, (i + k) * RECORD_WORDS));
    off += k * 32 + 20;
    i += k;
    if (c % 37 === 5) mids.push(b.finish());
  }
  return { whole: b.finish(), mids };
}

/** Random records: any kind (past 64 too), tids from a pool of 200 and NO_THREAD, times that go back. */
function hostile(n: number, seed: number): Uint32Array {
  const next = seededRandom(seed);
  const w = new Uint32Array(n * RECORD_WORDS);
  let t = 5e12 + Math.floor(next() * 1e9);
  const ids = Array.from({ length: 40 }, () => [
    Math.floor(next() * 2 ** 32),
    Math.floor(next() * 4),
  ]);
  for (let i = 0; i < n; i++) {
    const o = i * 8;
    const kind = next() < 0.9 ? 1 + Math.floor(next() * 33) : Math.floor(next() * 256);
    const tid = next() < 0.05 ? NO_THREAD : Math.floor(next() * 120);
    const a = Math.floor(next() * 256);
    w[o] = kind | (a << 8) | (tid << 16);
    w[o + 1] = Math.floor(next() * 2 ** 32);
    // Mostly forward by up to 300 µs; sometimes back (clamped); sometimes a long jump.
    const r = next();
    t +=
      r < 0.05
        ? -Math.floor(next() * 1e6)
        : r < 0.06
          ? Math.floor(next() * 2e7)
          : Math.floor(next() * 3e5);
    w[o + 2] = t % 4294967296;
    w[o + 3] = Math.floor(t / 4294967296) | (Math.floor(next() * 0x7ff) << 21);
    const id = ids[Math.floor(next() * ids.length)]!;
    const zero = next() < 0.1;
    w[o + 4] = zero ? 0 : id[0]!;
    w[o + 5] = zero ? 0 : id[1]!;
    w[o + 6] = next() < 0.5 ? 0 : next() < 0.5 ? 997 : Math.floor(next() * 2 ** 32);
    w[o + 7] = Math.floor(next() * 2 ** 32);
  }
  return w;
}

/** The first place two values differ ("path: a vs b"), or null. Typed arrays compared element-wise. */
function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return `${path}: a typed array and not`;
    if (a.constructor !== b.constructor)
      return `${path}: ${a.constructor.name} vs ${b.constructor.name}`;
    const x = a as unknown as ArrayLike<number>;
    const y = b as unknown as ArrayLike<number>;
    if (x.length !== y.length) return `${path}: length ${x.length} vs ${y.length}`;
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) return `${path}[${i}]: ${x[i]} vs ${y[i]}`;
    }
    return null;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return `${path}: an array and not`;
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d !== null) return d;
    }
    return null;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    if (ka.join() !== kb.join()) return `${path}: keys ${ka.join()} vs ${kb.join()}`;
    for (const k of ka) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        `${path}.${k}`,
      );
      if (d !== null) return d;
    }
    return null;
  }
  return Object.is(a, b) ? null : `${path}: ${String(a)} vs ${String(b)}`;
}

function expectSame(a: TraceIndex, b: TraceIndex, what: string): void {
  expect(b.events, what).toBe(a.events);
  const { sessions: sa, ...ra } = a;
  const { sessions: sb, ...rb } = b;
  expect(firstDifference(ra, rb), what).toBeNull();
  expect(firstDifference([...sa], [...sb], '.sessions'), what).toBeNull();
}

describe('the native index pass gives the JS pass’s index', { timeout: 120_000 }, () => {
  it('is built (setup.sh builds it with the machine’s C compiler and Node’s headers)', () => {
    expect(
      nativeIndexAddon(),
      'not built: bash apps/server/native-index/build.sh (setup.sh runs it)',
    ).not.toBeNull();
  });

  const SYNTH = [
    { seed: 1 },
    { seed: 2, workers: 4, maxEntries: 16 },
    {
      seed: 3,
      workers: 8,
      sessions: 300,
      faults: ['lock-across-send', 'two-sends-in-flight'] as const,
    },
    { seed: 4, workers: 1, sessions: 4, thinkNs: 200_000 },
    { seed: 5, shutdown: false, faults: ['too-few-exit-packets'] as const },
  ];
  for (const o of SYNTH) {
    it(`on a synthesized echo server, ${JSON.stringify(o)}`, () => {
      const t = synthesize({ events: 40_000, ...o, faults: o.faults ? [...o.faults] : [] });
      for (const [shift, most] of [
        [12, 700],
        [16, 700],
        [16, 12_000],
      ] as const) {
        const js = build(t.words, t.length, shift, o.seed, 'js', most);
        const nat = build(t.words, t.length, shift, o.seed, 'native', most);
        const at = `shift ${shift}, chunks up to ${most}`;
        expectSame(js.whole, nat.whole, at);
        expect(nat.mids.length).toBe(js.mids.length);
        js.mids.forEach((m, k) => expectSame(m, nat.mids[k]!, `${at}, finish ${k}`));
      }
    });
  }

  it('on hostile records: times that go back, any kind, 120 lanes, sessions over many chunk runs', () => {
    for (const seed of [11, 13]) {
      const n = 60_000;
      const w = hostile(n, seed);
      const js = build(w, n, 16, seed, 'js');
      const nat = build(w, n, 16, seed, 'native');
      expect(js.whole.clamped).toBeGreaterThan(0);
      expect(js.whole.lanes.length).toBeGreaterThan(64);
      expect(Math.max(...[...js.whole.sessions].map((s) => s.runs.length))).toBe(32);
      expectSame(js.whole, nat.whole, `seed ${seed}`);
      js.mids.forEach((m, k) => expectSame(m, nat.mids[k]!, `seed ${seed}, finish ${k}`));
      // Recording-sized chunks.
      const jsBig = build(w, n, 16, seed, 'js', 12_000);
      const natBig = build(w, n, 16, seed, 'native', 12_000);
      expectSame(jsBig.whole, natBig.whole, `seed ${seed}, big chunks`);
      jsBig.mids.forEach((m, k) =>
        expectSame(m, natBig.mids[k]!, `seed ${seed}, big chunks, finish ${k}`),
      );
    }
  });

  it('keeps sessions apart whose ids share their low word, their high word, or lo ^ hi', () => {
    // The hook's ids are (generation << 32) | handle: a reused handle shares the low
    // word. Pairs like (1, 2) and (2, 1) share lo ^ hi. 6,000 ids: the table rehashes.
    const ids: Array<[number, number]> = [];
    for (let g = 1; g <= 2000; g++) ids.push([0x1234, g]); // one handle, many generations
    for (let h = 1; h <= 2000; h++) ids.push([h * 4, 0x70000]); // one generation, many handles
    for (let k = 1; k <= 1000; k++) ids.push([k, 0x5000 ^ k], [0x5000 ^ k, k]); // equal lo ^ hi
    const next = seededRandom(31);
    const n = 120_000;
    const w = new Uint32Array(n * RECORD_WORDS);
    let t = 1e12;
    for (let i = 0; i < n; i++) {
      const o = i * RECORD_WORDS;
      const [lo, hi] = ids[Math.floor(next() * ids.length)]!;
      w[o] = EventKind.IoCount | (Math.floor(next() * 4) << 16); // on one of 4 threads
      t += Math.floor(next() * 5000);
      w[o + 2] = t % 4294967296;
      w[o + 3] = Math.floor(t / 4294967296);
      w[o + 4] = lo;
      w[o + 5] = hi;
    }
    const js = build(w, n, 16, 31, 'js', 12_000);
    expect(js.whole.sessions.length).toBe(ids.length);
    expectSame(js.whole, build(w, n, 16, 31, 'native', 12_000).whole, 'native');
  });

  const files = [
    ...readdirSync(join(ROOT, 'examples'))
      .filter((f) => f.endsWith('.iocptrace'))
      .map((f) => join(ROOT, 'examples', f)),
    join(ROOT, 'e2e/fixtures/echo-small.iocptrace'),
  ];
  it(`on every recording in examples/ and the e2e fixture (${files.length} real runs)`, async () => {
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const js = await scanFile(f, { pass: 'js', blockBytes: 64 * 1024 });
      const nat = await scanFile(f, { pass: 'native', blockBytes: 64 * 1024 });
      expect(nat.pass).toBe('native');
      expect(js.index.events, f).toBeGreaterThan(0);
      expectSame(js.index, nat.index, f);
    }
  });

  it('computes the protocol’s CRC-32 over every length to 300 and alignment to 16, and long runs', () => {
    const a = nativeIndexAddon()!;
    const next = seededRandom(99);
    const b = new Uint8Array(1 << 20);
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(next() * 256);
    for (let s = 0; s < 16; s++)
      for (let n = 0; n <= 300; n++)
        expect(a.crc32(b, s, s + n), `${s}+${n}`).toBe(crc32(b, s, s + n));
    for (let k = 0; k < 50; k++) {
      const s = Math.floor(next() * 1000);
      const e = s + Math.floor(next() * (b.length - s));
      expect(a.crc32(b, s, e), `${s}..${e}`).toBe(crc32(b, s, e));
    }
    expect(a.crc32(b, 0, b.length)).toBe(crc32(b, 0, b.length));
    expect(a.crc32(new Uint8Array(0), 0, 0)).toBe(0);
  });

  it('refuses what is not a builder or not whole records, with a code', () => {
    const a = nativeIndexAddon()!;
    const b = a.create(16, new Uint8Array(512), new Int32Array(12));
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };
    expect(code(() => a.addChunk(b, 0, 0, new Uint32Array(7)))).toBe('INDEX_BAD_ARGUMENT');
    expect(code(() => a.addChunk({}, 0, 0, new Uint32Array(8)))).toBe('INDEX_BAD_ARGUMENT');
    expect(code(() => a.create(99, new Uint8Array(512), new Int32Array(12)))).toBe(
      'INDEX_BAD_ARGUMENT',
    );
    expect(code(() => a.create(16, new Uint8Array(3), new Int32Array(12)))).toBe(
      'INDEX_BAD_ARGUMENT',
    );
    expect(code(() => a.addChunk(b, 0, 0, new Uint32Array(8)))).toBeUndefined();
    expect(code(() => a.crc32(new Uint8Array(4), 2, 5))).toBe('INDEX_BAD_ARGUMENT');
    expect(code(() => a.crc32(new Uint8Array(4), 3, 1))).toBe('INDEX_BAD_ARGUMENT');
    expect(code(() => a.crc32(new Uint32Array(4) as unknown as Uint8Array, 0, 1))).toBe(
      'INDEX_BAD_ARGUMENT',
    );
    expect(code(() => a.findInvalid(new Uint32Array(8), 0, 2, 26, 0))).toBe('INDEX_BAD_ARGUMENT');
    expect(code(() => a.findInvalid(new Uint32Array(8), 1, 0, 26, 0))).toBe('INDEX_BAD_ARGUMENT');
    expect(code(() => a.findInvalid(new Uint32Array(8), 0, 1, 256, 0))).toBe('INDEX_BAD_ARGUMENT');
    expect(
      code(() => a.findInvalid(new Uint8Array(32) as unknown as Uint32Array, 0, 1, 26, 0)),
    ).toBe('INDEX_BAD_ARGUMENT');
  });

  it('finds the first bad record where the protocol’s findInvalidRecord does, in both versions', () => {
    const a = nativeIndexAddon()!;
    const next = seededRandom(7);
    for (let round = 0; round < 400; round++) {
      const n = 1 + Math.floor(next() * 64);
      const w = new Uint32Array(n * RECORD_WORDS);
      for (let i = 0; i < n; i++) {
        w[i * 8] = (1 + Math.floor(next() * EVENT_KIND_MAX)) | (Math.floor(next() * 65536) << 16);
        w[i * 8 + 3] = Math.floor(next() * TS_HI_MAX);
      }
      // Now and then one bad record: kind 0, a kind past the version's, a stamp past 2^53.
      if (next() < 0.7) {
        const i = Math.floor(next() * n);
        const how = Math.floor(next() * 3);
        if (how === 0) w[i * 8] = w[i * 8]! & ~0xff;
        else if (how === 1)
          w[i * 8] = (w[i * 8]! & ~0xff) | (EVENT_KIND_MAX_V1 + 1 + Math.floor(next() * 200));
        else w[i * 8 + 3] = TS_HI_MAX + 1 + Math.floor(next() * 1000);
      }
      const from = Math.floor(next() * n);
      const to = from + Math.floor(next() * (n - from + 1));
      for (const version of [1, 2]) {
        const want = findInvalidRecord(w, from, to, version);
        const hiMax = version === 1 ? TS_HI_MAX : 0xffffffff;
        const kindMax = version === 1 ? EVENT_KIND_MAX_V1 : EVENT_KIND_MAX;
        expect(a.findInvalid(w, from, to, kindMax, hiMax), `round ${round} v${version}`).toBe(want);
        expect(fastFindInvalidRecord(w, from, to, version), `round ${round} v${version}`).toBe(
          want,
        );
      }
    }
  });

  it('stops a file at its first bad record, at the same offset with either pass', async () => {
    const t = synthesize({ events: 9_000, seed: 21 });
    const dir = mkdtempSync(join(tmpdir(), 'iocpscope-badrec-'));
    try {
      for (const [at, how] of [
        [4_500, 'kind 0'],
        [7_000, 'a kind past the last'],
      ] as const) {
        const w = t.words.slice(0, t.length * RECORD_WORDS);
        if (how === 'kind 0') w[at * 8] = w[at * 8]! & ~0xff;
        else w[at * 8] = (w[at * 8]! & ~0xff) | (EVENT_KIND_MAX + 1);
        const file = join(dir, `bad-${at}.iocptrace`);
        writeFileSync(file, synthFileBytes(w, t.length, t.strings, 3000));
        const js = await scanFile(file, { pass: 'js' });
        const nat = await scanFile(file, { pass: 'native' });
        expect(js.error?.code, how).toBe('BAD_RECORD');
        expect(nat.error?.code, how).toBe('BAD_RECORD');
        expect(nat.error?.offset, how).toBe(js.error?.offset);
        expect(nat.validBytes, how).toBe(js.validBytes);
        // The chunks before the bad one are indexed: 3000 records each.
        expect(nat.index.events, how).toBe(Math.floor(at / 3000) * 3000);
        expectSame(js.index, nat.index, how);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
