import { RECORD_WORDS, ThreadStateValue } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { randomRecords, rng } from '../trace/randomTrace.test-util.ts';
import {
  BitIndexColumn,
  DeltaIndexColumn,
  IndexColumn,
  markFlagsAt,
  stateAt,
  stepAt,
  WebTrace,
  type EventSeries,
} from '../trace/index.ts';
import {
  aggregateCounterBuckets,
  aggregateFlags,
  aggregateLaneBuckets,
  aggregateMinMax,
  aggregateStates,
  useBuckets,
} from './aggregate.ts';

const trace = WebTrace.from(randomRecords(21, 6000));

/** Windows from far zoomed out (many entries per column) to deep zoom (many columns per entry). */
function windows(seed: number): { t0: number; nsPerCol: number; cols: number }[] {
  const r = rng(seed);
  const span = trace.endNs - trace.startNs;
  const out = [{ t0: trace.startNs - span * 0.05, nsPerCol: (span * 1.1) / 37, cols: 37 }];
  for (let q = 0; q < 10; q++) {
    const w = span * Math.pow(10, -4 * r());
    out.push({ t0: trace.startNs - span * 0.02 + r() * span, nsPerCol: w / 50, cols: 50 });
  }
  return out;
}

function naiveStates(series: EventSeries, t0: number, nsPerCol: number, cols: number): number[][] {
  const w = trace.words;
  const idx = Array.from(series.idx.toArray());
  const res = [0, 1, 2].map(() => new Array<number>(cols).fill(0));
  for (let k = 0; k < idx.length; k++) {
    const s = stateAt(w, idx[k]!);
    if (s >= ThreadStateValue.Exited) continue;
    const a = trace.timeAt(idx[k]!);
    const b = k + 1 < idx.length ? trace.timeAt(idx[k + 1]!) : trace.endNs;
    for (let c = 0; c < cols; c++) {
      const l = t0 + c * nsPerCol;
      const rr = Math.min(t0 + (c + 1) * nsPerCol, trace.endNs);
      const overlap = Math.min(b, rr) - Math.max(a, l);
      if (overlap > 0) res[s]![c]! += overlap / nsPerCol;
    }
  }
  return res;
}

describe('per-column aggregation', () => {
  it('gives each column the fraction of time in each state that integrating the intervals gives', () => {
    const out = [new Float32Array(64), new Float32Array(64), new Float32Array(64)];
    for (const lane of trace.lanesById) {
      for (const g of windows(lane.id + 1)) {
        aggregateStates(trace, lane, g.t0, g.nsPerCol, g.cols, out[0]!, out[1]!, out[2]!);
        const want = naiveStates(lane.states, g.t0, g.nsPerCol, g.cols);
        for (let s = 0; s < 3; s++) {
          for (let c = 0; c < g.cols; c++) expect(out[s]![c]).toBeCloseTo(want[s]![c]!, 4);
        }
      }
    }
  });

  it('ORs the mark flags of exactly the entries inside each column', () => {
    const out = new Uint8Array(64);
    const w = trace.words;
    for (const lane of trace.lanesById) {
      for (const series of [lane.states, lane.marks]) {
        for (const g of windows(99 + lane.id)) {
          const n = aggregateFlags(trace, series, g.t0, g.nsPerCol, g.cols, out);
          const want = new Array<number>(g.cols).fill(0);
          let count = 0;
          for (const e of series.idx.toArray()) {
            const t = trace.timeAt(e);
            if (t < g.t0 || t >= g.t0 + g.cols * g.nsPerCol) continue;
            count++;
            const c = Math.floor((t - g.t0) / g.nsPerCol);
            want[c]! |= markFlagsAt(w, e);
          }
          expect(Array.from(out.subarray(0, g.cols))).toEqual(want);
          expect(n).toBe(count);
        }
      }
    }
  });

  it('gives each column the min and max of the counter in force or set inside it', () => {
    const mn = new Int32Array(64);
    const mx = new Int32Array(64);
    const w = trace.words;
    for (const series of [trace.queueDepth, trace.running]) {
      const idx = Array.from(series.idx.toArray());
      const vals: number[] = [];
      let v = 0;
      for (const e of idx) vals.push((v += stepAt(series.kind, w, e)));
      for (const g of windows(5)) {
        aggregateMinMax(trace, series, g.t0, g.nsPerCol, g.cols, mn, mx);
        for (let c = 0; c < g.cols; c++) {
          const l = g.t0 + c * g.nsPerCol;
          const r = g.t0 + (c + 1) * g.nsPerCol;
          let before = 0;
          let lo = Infinity;
          let hi = -Infinity;
          for (let k = 0; k < idx.length; k++) {
            const t = trace.timeAt(idx[k]!);
            if (t <= l) before = vals[k]!;
            else if (t < r) {
              lo = Math.min(lo, vals[k]!);
              hi = Math.max(hi, vals[k]!);
            }
          }
          expect(mn[c]).toBe(Math.min(before, lo));
          expect(mx[c]).toBe(Math.max(before, hi));
        }
      }
    }
    expect(RECORD_WORDS).toBe(8);
  });
});

describe('per-column aggregation from time buckets', () => {
  const bw = trace.grid.widthNs;

  it('matches the exact state fractions up to the bucket grid at the column edges', () => {
    const ex = [new Float32Array(64), new Float32Array(64), new Float32Array(64)];
    const bk = [new Float32Array(64), new Float32Array(64), new Float32Array(64)];
    const flags = new Uint8Array(64);
    for (const lane of trace.lanesById) {
      for (const per of [8, 32, 200]) {
        const nsPerCol = bw * per;
        const t0 = trace.startNs + bw * 3.3;
        expect(useBuckets(trace, nsPerCol)).toBe(true);
        aggregateStates(trace, lane, t0, nsPerCol, 60, ex[0]!, ex[1]!, ex[2]!);
        aggregateLaneBuckets(trace, lane, t0, nsPerCol, 60, bk[0]!, bk[1]!, bk[2]!, flags);
        for (let s = 0; s < 3; s++) {
          for (let c = 0; c < 60; c++) {
            expect(Math.abs(bk[s]![c]! - ex[s]![c]!)).toBeLessThanOrEqual(2 / per + 0.01);
          }
        }
      }
    }
  });

  it('puts every mark in its own column or a neighbour, and nothing else', () => {
    const ex = new Uint8Array(64);
    const bk = new Uint8Array(64);
    const scratch = new Float32Array(64);
    for (const lane of trace.lanesById) {
      const nsPerCol = bw * 16;
      const t0 = trace.startNs + bw * 7.5;
      aggregateFlags(trace, lane.states, t0, nsPerCol, 60, ex);
      const ex2 = new Uint8Array(64);
      aggregateFlags(trace, lane.marks, t0, nsPerCol, 60, ex2);
      aggregateLaneBuckets(trace, lane, t0, nsPerCol, 60, scratch, scratch, scratch, bk);
      if (lane.states.length > 10) expect(bk.some((f) => f !== 0)).toBe(true);
      for (let c = 1; c < 59; c++) {
        const near = (a: Uint8Array): number => a[c - 1]! | a[c]! | a[c + 1]!;
        expect((ex[c]! | ex2[c]!) & ~near(bk)).toBe(0);
        expect(bk[c]! & ~(near(ex) | near(ex2))).toBe(0);
      }
    }
  });

  it('bounds each column by the exact min and max, within one column either side', () => {
    const emn = new Int32Array(64);
    const emx = new Int32Array(64);
    const bmn = new Int32Array(64);
    const bmx = new Int32Array(64);
    for (const [series, buckets] of [
      [trace.queueDepth, trace.queueBuckets],
      [trace.running, trace.runningBuckets],
    ] as const) {
      for (const per of [4, 50]) {
        const nsPerCol = bw * per;
        const t0 = trace.startNs + bw * 1.7;
        aggregateMinMax(trace, series, t0, nsPerCol, 60, emn, emx);
        aggregateCounterBuckets(trace, series, buckets, t0, nsPerCol, 60, bmn, bmx);
        for (let c = 1; c < 59; c++) {
          expect(bmn[c]).toBeLessThanOrEqual(emn[c]!);
          expect(bmx[c]).toBeGreaterThanOrEqual(emx[c]!);
          expect(bmn[c]).toBeGreaterThanOrEqual(Math.min(emn[c - 1]!, emn[c]!, emn[c + 1]!));
          expect(bmx[c]).toBeLessThanOrEqual(Math.max(emx[c - 1]!, emx[c]!, emx[c + 1]!));
        }
      }
    }
  });
});

describe('time buckets wider than a column', () => {
  it('paints each bucket over every column it covers, so no mark is lost', () => {
    const bw = trace.grid.widthNs;
    const ex = new Uint8Array(64);
    const ex2 = new Uint8Array(64);
    const bk = new Uint8Array(64);
    const scratch = new Float32Array(64);
    for (const lane of trace.lanesById) {
      const nsPerCol = bw / 3;
      const t0 = trace.startNs + bw * 11.2;
      aggregateFlags(trace, lane.states, t0, nsPerCol, 60, ex);
      aggregateFlags(trace, lane.marks, t0, nsPerCol, 60, ex2);
      aggregateLaneBuckets(trace, lane, t0, nsPerCol, 60, scratch, scratch, scratch, bk);
      for (let c = 0; c < 60; c++) {
        expect((ex[c]! | ex2[c]!) & ~bk[c]!).toBe(0);
        let near = 0;
        for (let d = Math.max(0, c - 3); d <= Math.min(59, c + 3); d++) near |= ex[d]! | ex2[d]!;
        expect(bk[c]! & ~near).toBe(0);
      }
    }
  });
});

describe('aggregation over either index column', () => {
  it('gives the same columns whether a series is stored as bits or as 2-byte offsets', () => {
    const words = randomRecords(21, 6000);
    const asBits = WebTrace.from(words);
    const asOffsets = WebTrace.from(words);
    for (const lane of asBits.lanesById) {
      for (const s of [lane.states, lane.marks]) {
        const bits = new BitIndexColumn();
        for (const e of s.idx.toArray()) bits.push(e);
        s.idx = bits;
      }
    }
    for (const lane of asOffsets.lanesById) {
      for (const s of [lane.states, lane.marks]) {
        const offsets = new IndexColumn();
        for (const e of s.idx.toArray()) offsets.push(e);
        // Even lanes as 1-byte steps: all three storages meet the 2-byte one.
        s.idx = lane.id % 2 === 0 ? new DeltaIndexColumn(offsets) : offsets;
      }
    }
    const a = [new Float32Array(64), new Float32Array(64), new Float32Array(64)];
    const b = [new Float32Array(64), new Float32Array(64), new Float32Array(64)];
    const fa = new Uint8Array(64);
    const fb = new Uint8Array(64);
    for (const lane of asBits.lanesById) {
      const other = asOffsets.lanesById[lane.id]!;
      for (const [sa, sb] of [
        [lane.states, other.states],
        [lane.marks, other.marks],
      ] as const) {
        for (const g of windows(7 + lane.id)) {
          const na = aggregateFlags(asBits, sa, g.t0, g.nsPerCol, g.cols, fa);
          const nb = aggregateFlags(asOffsets, sb, g.t0, g.nsPerCol, g.cols, fb);
          expect(na).toBe(nb);
          expect(Array.from(fa.subarray(0, g.cols))).toEqual(Array.from(fb.subarray(0, g.cols)));
        }
      }
      if (lane.states.length === 0) continue;
      for (const g of windows(3 + lane.id)) {
        aggregateStates(asBits, lane, g.t0, g.nsPerCol, g.cols, a[0]!, a[1]!, a[2]!, fa);
        aggregateStates(asOffsets, other, g.t0, g.nsPerCol, g.cols, b[0]!, b[1]!, b[2]!, fb);
        for (let s = 0; s < 3; s++) {
          expect(Array.from(a[s]!.subarray(0, g.cols))).toEqual(
            Array.from(b[s]!.subarray(0, g.cols)),
          );
        }
        expect(Array.from(fa.subarray(0, g.cols))).toEqual(Array.from(fb.subarray(0, g.cols)));
      }
    }
  });

  it('switches a dense flag series to bits when the trace is trimmed, keeping its entries', () => {
    // Every event a GQCS return on one thread: its states are one entry per event.
    const n = 3000;
    const w = new Uint32Array(n * RECORD_WORDS);
    for (let i = 0; i < n; i++) {
      const o = i * RECORD_WORDS;
      w[o] = (i % 2 === 0 ? 5 : 6) | (1 << 16); // GqcsEnter / GqcsReturn, tid 1
      w[o + 2] = i * 10;
    }
    const t = WebTrace.from(w);
    const lane = t.laneOfTid(1)!;
    expect(lane.states.idx).toBeInstanceOf(BitIndexColumn);
    expect(Array.from(lane.states.idx.toArray())).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});
