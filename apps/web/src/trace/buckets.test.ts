import { RECORD_WORDS } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { randomRecords, rng } from './randomTrace.test-util.ts';
import { WebTrace } from './index.ts';

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
      expect(Array.from(other.buckets.flags)).toEqual(Array.from(lane.buckets.flags));
      expect(other.buckets.openB).toBe(lane.buckets.openB);
      let worst = 0;
      for (let k = 0; k < lane.buckets.frac.length; k++) {
        worst = Math.max(worst, Math.abs(other.buckets.frac[k]! - lane.buckets.frac[k]!));
      }
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
});
