import { RECORD_WORDS } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { randomRecords, rng } from './randomTrace.test-util.ts';
import { WebTrace } from './index.ts';
import { BUCKET_CAP, BucketGrid, CounterBuckets, LaneBuckets } from './buckets.ts';

describe('time buckets', () => {
  it('end up the same whether the grid is sized up front or coarsened while streaming', () => {
    const n = 6000;
    const w = randomRecords(31, n);
    // Stretch time so the stream crosses several grid doublings.
    for (let i = 0; i < n; i++) {
      const o = i * RECORD_WORDS;
      const t = (w[o + 2]! + w[o + 3]! * 4294967296) * 50;
      w[o + 2] = t % 4294967296;
      w[o + 3] = Math.floor(t / 4294967296);
    }
    const bulk = WebTrace.from(w);
    const live = new WebTrace();
    const r = rng(2);
    for (let i = 0; i < n;) {
      const k = Math.min(n - i, 1 + Math.floor(r() * 200));
      live.append(w.slice(i * RECORD_WORDS, (i + k) * RECORD_WORDS));
      i += k;
    }
    expect(live.grid.shift).toBe(bulk.grid.shift);
    expect(live.grid.shift).toBeGreaterThan(6);
    for (const lane of bulk.lanesById) {
      const other = live.laneOfTid(lane.tid)!;
      // The arrays grow with what was written: compare them as if BUCKET_CAP long.
      const padded = (x: Uint8Array, n: number): number[] => {
        const out = new Array<number>(n).fill(0);
        x.forEach((v, k) => (out[k] = v));
        return out;
      };
      expect(padded(other.buckets.flags, BUCKET_CAP)).toEqual(
        padded(lane.buckets.flags, BUCKET_CAP),
      );
      expect(other.buckets.openB).toBe(lane.buckets.openB);
      const fa = padded(lane.buckets.frac, BUCKET_CAP * 3);
      const fb = padded(other.buckets.frac, BUCKET_CAP * 3);
      let worst = 0;
      for (let k = 0; k < fa.length; k++) worst = Math.max(worst, Math.abs(fb[k]! - fa[k]!));
      // Each coarsening averages two u8 fractions: at most one unit of rounding per level.
      expect(worst).toBeLessThanOrEqual(live.grid.shift - 6 + 1);
    }
    for (const [a, b] of [
      [live.queueBuckets, bulk.queueBuckets],
      [live.runningBuckets, bulk.runningBuckets],
    ] as const) {
      expect(a.filledTo).toBe(b.filledTo);
      expect(Array.from(a.min.subarray(0, a.filledTo + 1))).toEqual(
        Array.from(b.min.subarray(0, b.filledTo + 1)),
      );
      expect(Array.from(a.max.subarray(0, a.filledTo + 1))).toEqual(
        Array.from(b.max.subarray(0, b.filledTo + 1)),
      );
    }
  });

  it('give each closed bucket the share of its time spent in each state, like summing the intervals', () => {
    const grid = new BucketGrid();
    grid.shift = 10;
    const w = grid.widthNs;
    const b = new LaneBuckets();
    const exact = new Float64Array(BUCKET_CAP * 3);
    const r = rng(9);
    let t = 0;
    // Intervals from a fraction of a bucket to thousands of buckets, past the grid's end.
    while (t < (BUCKET_CAP + 50) * w) {
      const len = r() < 0.1 ? Math.floor(r() * 3000 * w) : Math.floor(r() * 3 * w) + 1;
      const state = Math.floor(r() * 4); // 3 = Exited: time that counts for no state
      b.addInterval(grid, t, t + len, state);
      for (let x = t; x < t + len;) {
        const k = Math.floor(x / w);
        const to = Math.min(t + len, (k + 1) * w);
        if (k < BUCKET_CAP && state < 3) exact[k * 3 + state]! += to - x;
        x = to;
      }
      t += len;
    }
    // Every bucket before the open one is closed.
    let worst = 0;
    for (let k = 0; k < Math.min(b.openB, BUCKET_CAP); k++) {
      for (let s = 0; s < 3; s++) {
        const want = Math.min(255, Math.round((exact[k * 3 + s]! / w) * 255));
        worst = Math.max(worst, Math.abs(b.frac[k * 3 + s]! - want));
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('keep a counter’s exact min and max per bucket in 16 bits, widening when a value outgrows them', () => {
    const grid = new BucketGrid();
    const c = new CounterBuckets();
    const r = rng(8);
    const want = new Map<number, [number, number]>();
    let v = 0;
    let last = -1;
    for (let ns = 0; ns < 64 * 200; ns += 1 + Math.floor(r() * 40)) {
      const before = v;
      // Small steps at first, then jumps past 65,535 (only a huge queue gets there).
      v = ns < 64 * 100 ? Math.max(0, v + (r() < 0.55 ? 1 : -1)) : Math.floor(r() * 200_000);
      c.step(grid, ns, before, v);
      const b = grid.bucketOf(ns);
      for (let k = last + 1; k < b; k++) want.set(k, [before, before]);
      last = b;
      const m = want.get(b) ?? [before, before];
      want.set(b, [Math.min(m[0], v), Math.max(m[1], v)]);
    }
    expect(c.min).toBeInstanceOf(Int32Array);
    for (const [b, [mn, mx]] of want) {
      expect([c.min[b], c.max[b]]).toEqual([mn, mx]);
    }
  });
});
