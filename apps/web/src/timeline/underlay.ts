// The summary underlay (issue 15): for a trace the server holds, the browser
// has the records of one window only. Pixel columns outside the time that
// window covers are drawn from the server's zoomed-out summaries (per lane:
// the share of time waiting / running / blocked and the OR of the marks per
// bucket; per counter: min and max per bucket), resampled to columns here, so
// the timeline shows the whole trace at any zoom and switches to the raw
// records where it has them.
//
// A column is "raw" when it overlaps the window's time [windowStartNs,
// windowEndNs]; every other column is filled from the summary (a column that
// no bucket covers stays empty: not fetched yet, or before the trace).

import type { SummarySlice } from '@iocpscope/protocol';
import type { Columns, Scratch } from './drawRaster.ts';

/** What the timeline needs to know about a trace it sees through a window. */
export interface TimelineRemote {
  /** The whole trace's extent (ns). */
  readonly startNs: number;
  readonly endNs: number;
  /** Time the window's records cover; outside it the summaries are drawn. */
  readonly windowStartNs: number;
  readonly windowEndNs: number;
  /** Summary buckets for [t0, t1) at a resolution for nsPerCol, or null (not here yet). */
  summaryFor(nsPerCol: number, t0: number, t1: number): SummarySlice | null;
  /** Bumps when new summaries arrive. */
  readonly version: number;
  /** Events before this time are no longer available (the live spool's limit), or null. */
  readonly availableFromNs: number | null;
}

export interface Underlay {
  readonly slice: SummarySlice;
  readonly width: number;
  /** Columns [rawC0, rawC1) overlap the window: drawn from its records. */
  readonly rawC0: number;
  readonly rawC1: number;
  /** Lane index in the slice by thread index. */
  readonly laneOf: Map<number, number>;
}

/** The underlay for these columns, or null (everything is raw, or no summary yet). */
export function underlayFor(
  remote: TimelineRemote | null | undefined,
  g: Columns,
): Underlay | null {
  if (!remote) return null;
  const t1 = g.t0 + g.cols * g.nsPerCol;
  let rawC0 = Math.floor((remote.windowStartNs - g.t0) / g.nsPerCol);
  let rawC1 = Math.ceil((remote.windowEndNs - g.t0) / g.nsPerCol);
  rawC0 = Math.max(0, Math.min(g.cols, rawC0));
  rawC1 = Math.max(rawC0, Math.min(g.cols, rawC1));
  if (rawC0 === 0 && rawC1 === g.cols) return null;
  const slice = remote.summaryFor(g.nsPerCol, g.t0, t1);
  if (slice === null) return null;
  const laneOf = new Map<number, number>();
  slice.lanes.forEach((l, k) => laneOf.set(l.tid, k));
  return { slice, width: 2 ** slice.shift, rawC0, rawC1, laneOf };
}

/** The bucket range [b0, b1] (inclusive, clamped to the slice) under column c. */
function bucketsOf(u: Underlay, g: Columns, c: number): [number, number, number, number] {
  const ta = g.t0 + c * g.nsPerCol;
  const tb = ta + g.nsPerCol;
  const s = u.slice;
  const b0 = Math.max(s.from, Math.floor(ta / u.width));
  const b1 = Math.min(s.from + s.count - 1, Math.floor((tb - 1e-9) / u.width));
  return [b0, b1, ta, tb];
}

/**
 * Fill a lane's state shares (and mark flags when `flags`) for the columns
 * outside the window from the summary. Returns whether the slice has the lane.
 * `blockedWaits`: the accept thread's lane, whose blocked time (in accept, its
 * idle state) is drawn as waiting, as its records draw it (trace/flags.ts).
 */
export function fillLane(
  u: Underlay,
  tid: number,
  g: Columns,
  s: Scratch,
  withFlags: boolean,
  blockedWaits = false,
): boolean {
  const k = u.laneOf.get(tid);
  if (k === undefined) return false;
  const lane = u.slice.lanes[k]!;
  const frac = lane.frac;
  const fl = lane.flags;
  const from = u.slice.from;
  const w = u.width;
  for (let c = 0; c < g.cols; c++) {
    if (c >= u.rawC0 && c < u.rawC1) {
      c = u.rawC1 - 1;
      continue;
    }
    const [b0, b1, ta, tb] = bucketsOf(u, g, c);
    let aw = 0;
    let ar = 0;
    let ab = 0;
    let f = 0;
    for (let b = b0; b <= b1; b++) {
      const ov = Math.min(tb, (b + 1) * w) - Math.max(ta, b * w);
      if (ov <= 0) continue;
      const o = (b - from) * 3;
      aw += frac[o]! * ov;
      ar += frac[o + 1]! * ov;
      ab += frac[o + 2]! * ov;
      f |= fl[b - from]!;
    }
    const inv = 1 / (255 * g.nsPerCol);
    s.wait[c] = (blockedWaits ? aw + ab : aw) * inv;
    s.run[c] = ar * inv;
    s.block[c] = blockedWaits ? 0 : ab * inv;
    if (withFlags) s.flags[c] = f;
  }
  return true;
}

/** Keep only the summary's mark flags: zero for raw columns, the OR of the buckets elsewhere. */
export function fillLaneFlags(u: Underlay, tid: number, g: Columns, flags: Uint8Array): boolean {
  const k = u.laneOf.get(tid);
  flags.fill(0, 0, g.cols);
  if (k === undefined) return false;
  const fl = u.slice.lanes[k]!.flags;
  const from = u.slice.from;
  let any = false;
  for (let c = 0; c < g.cols; c++) {
    if (c >= u.rawC0 && c < u.rawC1) {
      c = u.rawC1 - 1;
      continue;
    }
    const [b0, b1] = bucketsOf(u, g, c);
    let f = 0;
    for (let b = b0; b <= b1; b++) f |= fl[b - from]!;
    flags[c] = f;
    if (f !== 0) any = true;
  }
  return any;
}

/** Fill a counter's min/max for the columns outside the window (0/0 where no bucket is). */
export function fillCounter(
  u: Underlay,
  which: 'queue' | 'running',
  g: Columns,
  min: Int32Array,
  max: Int32Array,
): void {
  const s = u.slice;
  const mins = which === 'queue' ? s.queueMin : s.runMin;
  const maxs = which === 'queue' ? s.queueMax : s.runMax;
  for (let c = 0; c < g.cols; c++) {
    if (c >= u.rawC0 && c < u.rawC1) {
      c = u.rawC1 - 1;
      continue;
    }
    const [b0, b1] = bucketsOf(u, g, c);
    let mn = Infinity;
    let mx = 0;
    for (let b = b0; b <= b1; b++) {
      const a = mins[b - s.from]!;
      const z = maxs[b - s.from]!;
      if (a < mn) mn = a;
      if (z > mx) mx = z;
    }
    min[c] = mn === Infinity ? 0 : mn;
    max[c] = mx;
  }
}
