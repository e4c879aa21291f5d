// Which event is under the mouse. On a lane: the nearest event of that thread
// within a few pixels (scanning at most HIT_SCAN_LIMIT events of the window,
// then only the lane's marks), else the state change in force at that time.
// On a port track: the nearest counter change, else the one in force.

import { RECORD_WORDS, TS_HI_MASK } from '@iocpscope/protocol';
import type { EventIndex, EventSeries, WebTrace } from '../trace/index.ts';
import { laneRowAt, type Layout } from './layout.ts';
import type { Geom } from './drawVector.ts';

export const HIT_TOLERANCE_PX = 5;
const HIT_SCAN_LIMIT = 20000;
const TWO_32 = 4294967296;

function tsOf(w: Uint32Array, i: number): number {
  const o = i * RECORD_WORDS;
  return w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
}

/** Nearest entry of an index column to time t within tol, else the entry in force at t, else -1. */
function nearestInColumn(
  trace: WebTrace,
  col: EventIndex,
  n: number,
  t: number,
  tol: number,
): number {
  if (n === 0) return -1;
  const w = trace.words;
  const k = trace.lowerBoundColumnTime(col, t, 0, n);
  let best = -1;
  let bestD = tol;
  for (let j = Math.max(0, k - 1); j <= Math.min(n - 1, k); j++) {
    const d = Math.abs(tsOf(w, col.get(j)) - t);
    if (d <= bestD) {
      best = col.get(j);
      bestD = d;
    }
  }
  return best;
}

function inForce(trace: WebTrace, col: EventIndex, n: number, t: number): number {
  const k = trace.upperBoundColumnTime(col, t, 0, n) - 1;
  return k >= 0 ? col.get(k) : -1;
}

function seriesHit(trace: WebTrace, s: EventSeries, t: number, tol: number): number {
  const near = nearestInColumn(trace, s.idx, s.length, t, tol);
  return near >= 0 ? near : inForce(trace, s.idx, s.length, t);
}

export function hitTest(trace: WebTrace, g: Geom, x: number, y: number): number {
  const l: Layout = g.layout;
  if (trace.count === 0 || x < l.plotX0 || x >= l.plotX1) return -1;
  const t = g.t0 + (x - l.plotX0) * g.nsPerPx;
  const tol = HIT_TOLERANCE_PX * g.nsPerPx;
  if (y >= l.queueY0 && y < l.queueY1) return seriesHit(trace, trace.queueDepth, t, tol);
  if (y >= l.runY0 && y < l.runY1) return seriesHit(trace, trace.running, t, tol);
  const row = laneRowAt(l, y);
  if (row < 0) return -1;
  const lane = g.lanes[row]!;
  const w = trace.words;
  const i0 = trace.lowerBoundTime(t - tol);
  const i1 = trace.upperBoundTime(t + tol, i0);
  if (i1 - i0 <= HIT_SCAN_LIMIT) {
    let best = -1;
    let bestD = Infinity;
    for (let i = i0; i < i1; i++) {
      if (w[i * RECORD_WORDS]! >>> 16 !== lane.tid) continue;
      const d = Math.abs(tsOf(w, i) - t);
      if (d < bestD) {
        best = i;
        bestD = d;
      }
    }
    if (best >= 0) return best;
  } else {
    const m = nearestInColumn(trace, lane.marks.idx, lane.marks.length, t, tol);
    if (m >= 0) return m;
  }
  return inForce(trace, lane.states.idx, lane.states.length, t);
}
