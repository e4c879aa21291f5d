// The summary underlay against a naive model: random summary slices resampled
// to pixel columns, checked against point sampling of the buckets (state
// shares), the OR of every bucket a column touches (marks), and the min/max
// of those buckets (counters). Columns over the window stay as the raw pass
// left them.

import { describe, expect, it } from 'vitest';
import type { SummarySlice } from '@iocpscope/protocol';
import { Rng } from '@iocpscope/analysis';
import { Scratch, type Columns } from './drawRaster.ts';
import {
  fillCounter,
  fillLane,
  fillLaneFlags,
  underlayFor,
  type TimelineRemote,
} from './underlay.ts';

function randomSlice(rng: Rng, shift: number, from: number, count: number): SummarySlice {
  const lane = (tid: number) => {
    const frac = new Uint8Array(count * 3);
    const flags = new Uint8Array(count);
    for (let b = 0; b < count; b++) {
      const w = rng.int(0, 255);
      const r = rng.int(0, 255 - w);
      frac[b * 3] = w;
      frac[b * 3 + 1] = r;
      frac[b * 3 + 2] = rng.int(0, 255 - w - r);
      flags[b] = rng.int(0, 3) === 0 ? 1 << rng.int(0, 4) : 0;
    }
    return { tid, frac, flags };
  };
  const qMin = new Int32Array(count);
  const qMax = new Int32Array(count);
  const rMin = new Int32Array(count);
  const rMax = new Int32Array(count);
  for (let b = 0; b < count; b++) {
    qMin[b] = rng.int(0, 5);
    qMax[b] = qMin[b]! + rng.int(0, 9);
    rMin[b] = rng.int(0, 2);
    rMax[b] = rMin[b]! + rng.int(0, 3);
  }
  return {
    shift,
    from,
    count,
    lanes: [lane(2), lane(7)],
    queueMin: qMin,
    queueMax: qMax,
    runMin: rMin,
    runMax: rMax,
  };
}

function remoteOf(slice: SummarySlice, windowStartNs: number, windowEndNs: number): TimelineRemote {
  return {
    startNs: 0,
    endNs: 1e12,
    windowStartNs,
    windowEndNs,
    summaryFor: () => slice,
    version: 0,
    availableFromNs: null,
  };
}

describe('the summary underlay', () => {
  it('resamples buckets to columns like point sampling and a scan of the buckets', () => {
    const rng = new Rng(9);
    for (let round = 0; round < 40; round++) {
      const shift = rng.int(8, 12);
      const w = 2 ** shift;
      const from = rng.int(0, 50);
      const count = rng.int(50, 400);
      const slice = randomSlice(rng, shift, from, count);
      const cols = rng.int(20, 120);
      // Columns narrower and wider than a bucket, starting anywhere.
      const nsPerCol = w * (0.3 + rng.next() * 4);
      const t0 = (from + rng.int(-10, 20)) * w + rng.int(0, w - 1);
      const g: Columns = { t0, nsPerCol, cols };
      // A window over a few columns in the middle (or none).
      const ws = t0 + rng.int(0, cols) * nsPerCol;
      const we = round % 3 === 0 ? ws - 1 : ws + rng.int(0, 10) * nsPerCol;
      const u = underlayFor(remoteOf(slice, ws, we), g);
      if (u === null) continue;
      const s = new Scratch();
      s.ensure(cols);
      s.wait.fill(-1);
      s.flags.fill(255);
      expect(fillLane(u, 7, g, s, true)).toBe(true);
      expect(fillLane(u, 99, g, s, true)).toBe(false);
      const flags = new Uint8Array(cols);
      fillLaneFlags(u, 7, g, flags);
      const min = new Int32Array(cols).fill(-7);
      const max = new Int32Array(cols).fill(-7);
      fillCounter(u, 'queue', g, min, max);
      const lane = slice.lanes[1]!;
      const bucketAt = (t: number): number => {
        const b = Math.floor(t / w);
        return b >= from && b < from + count ? b - from : -1;
      };
      for (let c = 0; c < cols; c++) {
        const ta = t0 + c * nsPerCol;
        const tb = ta + nsPerCol;
        const raw = c >= u.rawC0 && c < u.rawC1;
        if (raw) {
          // Left as the raw pass drew it.
          expect(s.wait[c]).toBe(-1);
          expect(s.flags[c]).toBe(255);
          expect(flags[c]).toBe(0);
          expect(min[c]).toBe(-7);
          continue;
        }
        // Point sampling: the mean share over 2000 points of the column.
        let sw = 0;
        const N = 2000;
        for (let k = 0; k < N; k++) {
          const b = bucketAt(ta + ((k + 0.5) / N) * nsPerCol);
          if (b >= 0) sw += lane.frac[b * 3]! / 255;
        }
        expect(s.wait[c]!).toBeCloseTo(sw / N, 2);
        // Every bucket the column touches.
        let f = 0;
        let mn = Infinity;
        let mx = 0;
        for (let b = from; b < from + count; b++) {
          if ((b + 1) * w <= ta || b * w >= tb) continue;
          f |= lane.flags[b - from]!;
          mn = Math.min(mn, slice.queueMin[b - from]!);
          mx = Math.max(mx, slice.queueMax[b - from]!);
        }
        expect(s.flags[c]).toBe(f);
        expect(flags[c]).toBe(f);
        expect(min[c]).toBe(mn === Infinity ? 0 : mn);
        expect(max[c]).toBe(mx);
      }
    }
  });

  it('draws the accept thread’s blocked time (in accept, its idle state) as waiting, as its records do', () => {
    const slice = randomSlice(new Rng(3), 10, 0, 200);
    const g: Columns = { t0: 0, nsPerCol: 3000, cols: 60 };
    const u = underlayFor(remoteOf(slice, -10, -5), g)!;
    const plain = new Scratch();
    plain.ensure(g.cols);
    const accept = new Scratch();
    accept.ensure(g.cols);
    fillLane(u, 7, g, plain, false);
    fillLane(u, 7, g, accept, false, true);
    let blocked = 0;
    for (let c = 0; c < g.cols; c++) {
      blocked += plain.block[c]!;
      expect(accept.block[c]).toBe(0);
      expect(accept.wait[c]!).toBeCloseTo(plain.wait[c]! + plain.block[c]!, 5);
      expect(accept.run[c]).toBe(plain.run[c]);
    }
    expect(blocked).toBeGreaterThan(0);
  });

  it('is not needed when the window covers every column', () => {
    const slice = randomSlice(new Rng(1), 10, 0, 100);
    const g: Columns = { t0: 1000, nsPerCol: 100, cols: 50 };
    expect(underlayFor(remoteOf(slice, 0, 1e9), g)).toBeNull();
    expect(underlayFor(null, g)).toBeNull();
  });
});
