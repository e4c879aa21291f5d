import { beforeAll, describe, expect, it } from 'vitest';
import { EventKind, NO_THREAD, Op, RECORD_WORDS, ThreadStateValue } from '@iocpscope/protocol';
import {
  STATE_KINDS,
  markFlagsAt,
  stateAt,
  synthesize,
  type SynthFault,
} from '@iocpscope/analysis';
import { SESSION_KINDS, type TraceIndex } from './builder.ts';
import { indexBuilder, nativeIndexAddon, type IndexPass } from './native-index.ts';
import { seededRandom } from '../trace/testing.ts';

/** Every test runs on both index passes: the JS builder and the native addon. */
let pass: IndexPass = 'js';
const newBuilder = (baseShift: number): ReturnType<typeof indexBuilder> =>
  indexBuilder({ baseShift }, pass);

const TWO_32 = 4294967296;
const tsAbs = (w: Uint32Array, i: number): number =>
  w[i * 8 + 2]! + (w[i * 8 + 3]! & 0x1fffff) * TWO_32;

/** Feed the records in chunks of random sizes; returns the index and each event's chunk. */
function build(
  w: Uint32Array,
  n: number,
  shift: number,
  seed: number,
): { idx: TraceIndex; chunkOf: Int32Array } {
  const b = newBuilder(shift);
  const next = seededRandom(seed);
  const chunkOf = new Int32Array(n);
  let off = 0;
  for (let i = 0, c = 0; i < n; c++) {
    const k = Math.min(n - i, 1 + Math.floor(next() * 3000));
    b.addChunk(off, k * 32 + 20, w.subarray(i * RECORD_WORDS, (i + k) * RECORD_WORDS));
    chunkOf.fill(c, i, i + k);
    off += k * 32 + 20;
    i += k;
  }
  return { idx: b.finish(), chunkOf };
}

/** The naive model: every quantity computed directly from the definitions. */
function naive(w: Uint32Array, n: number, shift: number, originBucket = 0) {
  const width = 2 ** shift;
  // Bucket k of this model is bucket originBucket + k of the grid from time 0.
  const o0 = originBucket * width;
  const tsOf = (ww: Uint32Array, i: number): number => tsAbs(ww, i) - o0;
  let end = 0;
  for (let i = 0; i < n; i++) end = Math.max(end, tsOf(w, i));
  const nb = Math.floor(end / width) + 1;
  const tids: number[] = [];
  const laneOf = new Map<number, number>();
  const intervals: Array<Array<[number, number, number]>> = [];
  const flags: Uint8Array[] = [];
  const state: number[] = [];
  const since: number[] = [];
  const isPort: boolean[] = [];
  const qChanges: Array<[number, number]> = [];
  const rChanges: Array<[number, number]> = [];
  let q = 0;
  let running = 0;
  let last = 0;
  for (let i = 0; i < n; i++) {
    const w0 = w[i * 8]!;
    const kind = w0 & 0xff;
    const tid = w0 >>> 16;
    const t = Math.max(last, tsOf(w, i));
    last = t;
    let lane = -1;
    if (tid !== NO_THREAD) {
      if (!laneOf.has(tid)) {
        laneOf.set(tid, tids.length);
        tids.push(tid);
        intervals.push([]);
        flags.push(new Uint8Array(nb));
        state.push(-1);
        since.push(0);
        isPort.push(false);
      }
      lane = laneOf.get(tid)!;
    }
    if (lane >= 0 && STATE_KINDS[kind] === 1) {
      if ((kind === EventKind.GqcsEnter || kind === EventKind.GqcsReturn) && !isPort[lane]) {
        isPort[lane] = true;
        if (state[lane] === ThreadStateValue.Running) rChanges.push([t, ++running]);
      }
      const st = stateAt(w, i);
      if (st !== state[lane]) {
        if (isPort[lane]) {
          if (state[lane] === ThreadStateValue.Running) rChanges.push([t, --running]);
          else if (st === ThreadStateValue.Running) rChanges.push([t, ++running]);
        }
        if (state[lane]! >= 0) intervals[lane]!.push([since[lane]!, t, state[lane]!]);
        state[lane] = st;
        since[lane] = t;
      }
    }
    const f = markFlagsAt(w, i);
    if (lane >= 0 && f !== 0) flags[lane]![Math.floor(t / width)]! |= f;
    const a = (w0 >>> 8) & 0xff;
    if (kind === EventKind.GqcsReturn && (a & 0x30) !== 0 && q > 0) qChanges.push([t, --q]);
    if (kind === EventKind.PacketQueued && (a & 0x0f) !== Op.Post) qChanges.push([t, ++q]);
    if (kind === EventKind.Pqcs) qChanges.push([t, ++q]);
  }
  for (let l = 0; l < tids.length; l++) {
    if (state[l]! >= 0 && end > since[l]!) intervals[l]!.push([since[l]!, end, state[l]!]);
  }
  const frac = intervals.map((list) => {
    const ns = new Float64Array(nb * 3);
    for (const [a, b, s] of list) {
      if (s >= 3) continue;
      for (let k = Math.floor(a / width); k <= Math.floor(b / width) && k < nb; k++) {
        const lo = Math.max(a, k * width);
        const hi = Math.min(b, (k + 1) * width);
        if (hi > lo) ns[k * 3 + s]! += hi - lo;
      }
    }
    return Array.from(ns, (v) => Math.min(255, Math.round((v / width) * 255)));
  });
  const counter = (changes: Array<[number, number]>) => {
    const mn = new Int32Array(nb);
    const mx = new Int32Array(nb);
    let v = 0;
    let c = 0;
    for (let k = 0; k < nb; k++) {
      mn[k] = v;
      mx[k] = v;
      while (c < changes.length && Math.floor(changes[c]![0] / width) === k) {
        v = changes[c]![1];
        mn[k] = Math.min(mn[k]!, v);
        mx[k] = Math.max(mx[k]!, v);
        c++;
      }
    }
    return { mn, mx };
  };
  return { nb, originBucket, tids, frac, flags, queue: counter(qChanges), run: counter(rChanges) };
}

/**
 * A level against the naive model (which counts buckets from time 0): its
 * elements are the naive buckets from its origin on; state shares within
 * `tolerance` 255ths (rounding, and averaging on coarser levels).
 */
function expectLevel(
  lv: TraceIndex['levels'][number],
  m: ReturnType<typeof naive>,
  idx: TraceIndex,
  tolerance: number,
): void {
  const o = lv.origin - m.originBucket;
  expect(o + lv.count).toBe(m.nb);
  expect(idx.lanes.map((l) => l.tid)).toEqual(m.tids);
  for (let l = 0; l < m.tids.length; l++) {
    const want = m.frac[l]!.slice(o * 3);
    const got = Array.from(lv.lanes[l]!.frac);
    const diff = got.reduce((worst, v, k) => Math.max(worst, Math.abs(v - want[k]!)), 0);
    expect(diff, `lane ${m.tids[l]} fractions`).toBeLessThanOrEqual(tolerance);
    expect(Array.from(lv.lanes[l]!.flags), `lane ${m.tids[l]} flags`).toEqual(
      Array.from(m.flags[l]!.slice(o)),
    );
  }
  expect(Array.from(lv.queueMin)).toEqual(Array.from(m.queue.mn.slice(o)));
  expect(Array.from(lv.queueMax)).toEqual(Array.from(m.queue.mx.slice(o)));
  expect(Array.from(lv.runMin)).toEqual(Array.from(m.run.mn.slice(o)));
  expect(Array.from(lv.runMax)).toEqual(Array.from(m.run.mx.slice(o)));
}

const TRACES: Array<[string, { faults?: SynthFault[]; maxEntries?: number; workers?: number }]> = [
  ['clean', {}],
  ['GQCS-Ex batches, 4 workers', { maxEntries: 16, workers: 4 }],
  ['lock across send', { faults: ['lock-across-send'] }],
];

// The naive model is slow by design: give each test room on a loaded machine.
for (const which of ['js', 'native'] as const)
  describe(`the trace index builder (${which} pass)`, { timeout: 60_000 }, () => {
    beforeAll(() => {
      pass = which;
      if (which === 'native')
        expect(
          nativeIndexAddon(),
          'the native index pass is not built: bash apps/server/native-index/build.sh (setup.sh runs it)',
        ).not.toBeNull();
    });
    for (const [name, opts] of TRACES) {
      it(`summarises lanes and counters exactly as the naive model (${name})`, () => {
        const t = synthesize({ events: 30_000, seed: 7, ...opts });
        for (const shift of [10, 14]) {
          const { idx } = build(t.words, t.length, shift, 3);
          expectLevel(idx.levels[0]!, naive(t.words, t.length, shift), idx, 1);
        }
      });
    }

    it('starts its buckets at the first event: a part that begins late holds no empty time', () => {
      const t = synthesize({ events: 20_000, seed: 12, maxEntries: 16 });
      const w = t.words.slice(0, t.length * 8);
      const late = 3_600e9; // an hour into a live run
      for (let i = 0; i < t.length; i++) {
        const ns = w[i * 8 + 2]! + w[i * 8 + 3]! * TWO_32 + late;
        w[i * 8 + 2] = ns % TWO_32;
        w[i * 8 + 3] = Math.floor(ns / TWO_32);
      }
      const { idx } = build(w, t.length, 12, 4);
      const l0 = idx.levels[0]!;
      expect(l0.origin).toBeGreaterThan(late / 2 ** 12 - 1);
      expect(l0.count).toBeLessThan(100_000);
      expectLevel(l0, naive(w, t.length, 12, l0.origin), idx, 1);
      const l3 = idx.levels[3]!;
      expectLevel(l3, naive(w, t.length, 15, l3.origin), idx, 4);
    });

    it('builds coarser levels that agree with a naive summary at that width', () => {
      const t = synthesize({ events: 20_000, seed: 11, maxEntries: 16 });
      const { idx } = build(t.words, t.length, 10, 5);
      const l3 = idx.levels[3]!;
      expect(l3.shift).toBe(13);
      // Averaging 8 rounded bytes: within a few 255ths of the exact share.
      expectLevel(l3, naive(t.words, t.length, 13), idx, 4);
      expect(idx.levels[idx.levels.length - 1]!.count).toBe(1);
    });

    it('knows every session: its events, lifetime and the chunks that hold them', () => {
      const t = synthesize({ events: 30_000, seed: 3 });
      const { idx, chunkOf } = build(t.words, t.length, 14, 9);
      const want = new Map<
        bigint,
        {
          first: number;
          last: number;
          n: number;
          created: number;
          released: number;
          chunks: Set<number>;
        }
      >();
      for (let i = 0; i < t.length; i++) {
        const kind = t.words[i * 8]! & 0xff;
        if (SESSION_KINDS[kind] !== 1) continue;
        const id = (BigInt(t.words[i * 8 + 5]!) << 32n) | BigInt(t.words[i * 8 + 4]!);
        if (id === 0n) continue;
        let s = want.get(id);
        if (!s) {
          s = { first: i, last: i, n: 0, created: -1, released: -1, chunks: new Set() };
          want.set(id, s);
        }
        s.last = i;
        s.n++;
        s.chunks.add(chunkOf[i]!);
        if (kind === EventKind.SessionCreated && s.created < 0) s.created = i;
        if (kind === EventKind.SessionReleased && s.released < 0) s.released = i;
      }
      expect(idx.sessions.length).toBe(want.size);
      for (const s of idx.sessions) {
        const x = want.get(s.id)!;
        expect([s.firstEvent, s.lastEvent, s.events, s.createdEvent, s.releasedEvent]).toEqual([
          x.first,
          x.last,
          x.n,
          x.created,
          x.released,
        ]);
        for (const c of x.chunks) {
          let covered = false;
          for (let k = 0; k < s.runs.length; k += 2)
            covered ||= c >= s.runs[k]! && c <= s.runs[k + 1]!;
          expect(covered, `chunk ${c} of session ${s.id}`).toBe(true);
        }
      }
    });

    it('records each chunk: offset, first event, count, times and the kinds in it', () => {
      const t = synthesize({ events: 10_000, seed: 5 });
      const { idx, chunkOf } = build(t.words, t.length, 14, 2);
      const c = idx.chunks;
      let ev = 0;
      for (let k = 0; k < c.count; k++) {
        expect(c.firstEvent[k]).toBe(ev);
        for (let i = ev; i < ev + c.events[k]!; i++) {
          expect(chunkOf[i]).toBe(k);
          const kind = t.words[i * 8]! & 0xff;
          const bit =
            kind < 32 ? (c.kindsLo[k]! >>> kind) & 1 : (c.kindsHi[k]! >>> (kind - 32)) & 1;
          expect(bit).toBe(1);
        }
        ev += c.events[k]!;
      }
      expect(ev).toBe(t.length);
      expect(idx.events).toBe(t.length);
    });

    it('counts a GQCS timeout as dequeuing nothing', () => {
      const w = new Uint32Array(4 * RECORD_WORDS);
      const rec = (i: number, kind: number, a: number, t: number): void => {
        w[i * 8] = kind | (a << 8) | (1 << 16);
        w[i * 8 + 2] = t;
      };
      rec(0, EventKind.PacketQueued, Op.Recv, 100);
      rec(1, EventKind.GqcsReturn, 0, 200); // FALSE, NULL overlapped: 258, nothing dequeued
      rec(2, EventKind.GqcsReturn, 0x10 | 0x20 | Op.Recv, 300);
      rec(3, EventKind.Marker, 0, 400);
      const b = newBuilder(6);
      b.addChunk(0, 1, w);
      const l = b.finish().levels[0]!;
      const at = (ns: number): [number, number] => {
        const k = Math.floor(ns / 64) - l.origin;
        return [l.queueMin[k]!, l.queueMax[k]!];
      };
      // 1 from 100 until the completion at 300, through the timeout at 200.
      expect([at(150), at(250), at(310), at(399)]).toEqual([
        [1, 1],
        [1, 1],
        [0, 1],
        [0, 0],
      ]);
    });

    it('can be finished and built on (a recording that goes on)', () => {
      const t = synthesize({ events: 8_000, seed: 2 });
      const half = Math.floor(t.length / 2);
      const b = newBuilder(12);
      b.addChunk(0, 1, t.words.subarray(0, half * 8));
      const early = b.finish();
      b.addChunk(1, 1, t.words.subarray(half * 8, t.length * 8));
      const whole = b.finish();
      const once = build(t.words, t.length, 12, 1).idx;
      expect(early.events).toBe(half);
      expect(whole.events).toBe(t.length);
      expect(Array.from(whole.levels[0]!.lanes[0]!.frac)).toEqual(
        Array.from(once.levels[0]!.lanes[0]!.frac),
      );
      expect(Array.from(whole.levels[0]!.queueMax)).toEqual(Array.from(once.levels[0]!.queueMax));
    });
  });
