import { RECORD_WORDS, ThreadStateValue } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { randomRecords, rng } from '../trace/randomTrace.test-util.ts';
import { markFlagsAt, stateAt, stepAt, WebTrace, type EventSeries } from '../trace/index.ts';
import { aggregateFlags, aggregateMinMax, aggregateStates } from './aggregate.ts';

const trace = WebTrace.from(randomRecords(21, 6000));

/** Windows from far zoomed out (many entries per column) to deep zoom (many columns per entry). */
function windows(seed: number): { t0: number; nsPerCol: number; cols: number }[] {
  const r = rng(seed);
  const span = trace.endNs - trace.startNs;
  const out = [{ t0: trace.startNs - span * 0.05, nsPerCol: (span * 1.1) / 37, cols: 37 }];
  for (let q = 0; q < 25; q++) {
    const w = span * Math.pow(10, -4 * r());
    out.push({ t0: trace.startNs - span * 0.02 + r() * span, nsPerCol: w / 50, cols: 50 });
  }
  return out;
}

function naiveStates(series: EventSeries, t0: number, nsPerCol: number, cols: number): number[][] {
  const w = trace.words;
  const idx = Array.from(series.idx.view());
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
          for (const e of series.idx.view()) {
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
      const idx = Array.from(series.idx.view());
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
