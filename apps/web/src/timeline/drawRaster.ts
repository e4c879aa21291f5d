// Raster draw functions: thread-state bars, dense mark ticks and the two port
// counter tracks, one pass over pixel columns each. Inputs are the trace
// indexes and a column geometry; outputs are pixels in a Raster whose origin is
// the plot's top-left at device resolution. No objects per item; scratch
// arrays come from the caller and are reused across frames.

import type { EventSeries, Lane, WebTrace } from '../trace/index.ts';
import { MarkFlag } from '../trace/index.ts';
import { ThreadRole } from '@iocpscope/protocol';
import {
  aggregateCounterBuckets,
  aggregateFlags,
  aggregateLaneBuckets,
  aggregateMinMax,
  aggregateStates,
  useBuckets,
} from './aggregate.ts';
import type { Raster } from './raster.ts';
import { fillCounter, fillLane, type Underlay } from './underlay.ts';
import { packRgb, RGB, type Rgb } from './theme.ts';

/** Columns of the visible window: column c covers [t0 + c*nsPerCol, t0 + (c+1)*nsPerCol). */
export interface Columns {
  readonly t0: number;
  readonly nsPerCol: number;
  readonly cols: number;
}

export class Scratch {
  cap = 0;
  wait = new Float32Array(0);
  run = new Float32Array(0);
  block = new Float32Array(0);
  flags = new Uint8Array(0);
  min = new Int32Array(0);
  max = new Int32Array(0);

  ensure(cols: number): void {
    if (cols <= this.cap) return;
    this.cap = cols;
    this.wait = new Float32Array(cols);
    this.run = new Float32Array(cols);
    this.block = new Float32Array(cols);
    this.flags = new Uint8Array(cols);
    this.min = new Int32Array(cols);
    this.max = new Int32Array(cols);
  }
}

const P = {
  waiting: RGB.waiting,
  running: RGB.running,
  blocked: RGB.blocked,
  hatch: packRgb(RGB.blockedHatch),
  recv: packRgb(RGB.recv),
  send: packRgb(RGB.send),
  post: packRgb(RGB.post),
  fail: packRgb(RGB.fail),
  empty: packRgb(RGB.empty),
  queueFill: packRgb(RGB.queueFill),
  queue: packRgb(RGB.queue),
  runFill: packRgb(RGB.runFill),
  runLine: packRgb(RGB.runLine),
  over: packRgb(RGB.overcommit),
};

/** Colour of a column's mark flags: failure first, then send, recv, post, empty. */
export function markColor(flags: number): number {
  if (flags & MarkFlag.Fail) return P.fail;
  if (flags & MarkFlag.Send) return P.send;
  if (flags & MarkFlag.Recv) return P.recv;
  if (flags & MarkFlag.Post) return P.post;
  return P.empty;
}

/**
 * One lane's state bar over [y0, y1) (device px). A column's colour is the mix
 * of the state colours weighted by the time spent in each, faded into the
 * lane background by the part of the column that has any known state; columns
 * where blocked time dominates are hatched. The same pass leaves the lane's
 * mark flags per column in `s.flags`: zoomed out (time buckets) all of its
 * marks, else those of its state entries (the GQCS returns). Returns which:
 * 'all', 'states', or 'none' (a lane without states, zoomed in).
 */
export function drawLaneStates(
  r: Raster,
  trace: WebTrace,
  lane: Lane,
  g: Columns,
  y0: number,
  y1: number,
  bg: Rgb,
  s: Scratch,
  under: Underlay | null = null,
): 'all' | 'states' | 'none' {
  let flags: 'all' | 'states' | 'none';
  const dense = lane.states.length + lane.marks.length > 4 * g.cols;
  const inView = dense
    ? visibleCount(trace, lane.states, g) + visibleCount(trace, lane.marks, g)
    : 0;
  if (useBuckets(trace, g.nsPerCol, inView, g.cols)) {
    aggregateLaneBuckets(trace, lane, g.t0, g.nsPerCol, g.cols, s.wait, s.run, s.block, s.flags);
    flags = 'all';
  } else if (lane.states.length > 0) {
    aggregateStates(trace, lane, g.t0, g.nsPerCol, g.cols, s.wait, s.run, s.block, s.flags);
    flags = 'states';
  } else if (under === null) {
    return 'none';
  } else {
    s.wait.fill(0, 0, g.cols);
    s.run.fill(0, 0, g.cols);
    s.block.fill(0, 0, g.cols);
    flags = 'none';
  }
  // Outside the window of a trace the server holds: its summaries.
  const summarized =
    under !== null &&
    fillLane(under, lane.tid, g, s, false, lane.role === ThreadRole.Accept && !lane.isKernel);
  // The kernel's "running" is the port's own work: drawn in its own muted colour.
  if ((lane.states.length > 0 || summarized) && y1 > y0) {
    paintStates(r, g.cols, y0, y1, bg, s, lane.isKernel ? RGB.kernel : RGB.running);
  }
  return flags;
}

/** How many entries of a series fall in the window (two binary searches). */
export function visibleCount(trace: WebTrace, m: EventSeries, g: Columns): number {
  const k0 = trace.lowerBoundColumnTime(m.idx, g.t0, 0, m.length);
  return trace.lowerBoundColumnTime(m.idx, g.t0 + g.cols * g.nsPerCol, k0, m.length) - k0;
}

function paintStates(
  r: Raster,
  cols: number,
  y0: number,
  y1: number,
  bg: Rgb,
  s: Scratch,
  R: Rgb,
): void {
  const W = P.waiting;
  const B = P.blocked;
  let lastKey = -1;
  let lastColor = 0;
  for (let c = 0; c < cols; c++) {
    const fw = s.wait[c]!;
    const fr = s.run[c]!;
    const fb = s.block[c]!;
    const cov = fw + fr + fb;
    if (cov < 0.02) continue;
    // Quantise so uniform stretches reuse one colour and equal columns stay equal.
    const qw = Math.round((fw / cov) * 32);
    const qr = Math.round((fr / cov) * 32);
    const qc = Math.round(Math.min(1, cov) * 32);
    const key = (qw << 12) | (qr << 6) | qc;
    if (key !== lastKey) {
      const qb = 32 - qw - qr;
      const k = qc / 32;
      const mr = (qw * W.r + qr * R.r + qb * B.r) / 32;
      const mg = (qw * W.g + qr * R.g + qb * B.g) / 32;
      const mb = (qw * W.b + qr * R.b + qb * B.b) / 32;
      const cr = Math.round(bg.r + (mr - bg.r) * k);
      const cg = Math.round(bg.g + (mg - bg.g) * k);
      const cb = Math.round(bg.b + (mb - bg.b) * k);
      lastColor = ((255 << 24) | (cb << 16) | (cg << 8) | cr) >>> 0;
      lastKey = key;
    }
    if (fb > 0.5 * cov) r.hatchColumn(c, y0, y1, lastColor, P.hatch);
    else r.fillColumn(c, y0, y1, lastColor);
  }
}

/**
 * Dense marks of one flag series (a lane's state entries, whose GqcsReturns
 * are the completion marks, or its queued packets) as one tick per column over
 * [y0, y1), coloured by the OR of the column's mark flags. Returns false
 * (drawing nothing) when the series has at most `sparseLimit` entries in view:
 * then the vector glyphs are drawn instead.
 */
export function drawMarksDense(
  r: Raster,
  trace: WebTrace,
  m: EventSeries,
  g: Columns,
  y0: number,
  y1: number,
  sparseLimit: number,
  s: Scratch,
): boolean {
  if (m.length === 0) return true;
  if (visibleCount(trace, m, g) <= sparseLimit) return false;
  aggregateFlags(trace, m, g.t0, g.nsPerCol, g.cols, s.flags);
  paintMarks(r, g.cols, y0, y1, s.flags);
  return true;
}

/** One tick per column with any mark, coloured by its flags. */
export function paintMarks(
  r: Raster,
  cols: number,
  y0: number,
  y1: number,
  flags: Uint8Array,
): void {
  for (let c = 0; c < cols; c++) {
    const f = flags[c]!;
    if (f !== 0) r.fillColumn(c, y0, y1, markColor(f));
  }
}

/**
 * A counter track over [y0, y1): per column, an area up to the column's max
 * and a brighter span from its min to its max (so spikes narrower than a
 * pixel stay visible). `limit` > 0 paints the part above it in the overcommit
 * colour (running threads above the concurrency value). `scaleMax` <= 0 scales
 * to the largest value in view. Returns the scale used.
 */
export function drawCounterTrack(
  r: Raster,
  trace: WebTrace,
  which: 'queue' | 'running',
  g: Columns,
  y0: number,
  y1: number,
  scaleMax: number,
  limit: number,
  s: Scratch,
  under: Underlay | null = null,
): number {
  const series = which === 'queue' ? trace.queueDepth : trace.running;
  if (series.length === 0 && under === null) return scaleMax > 0 ? scaleMax : 1;
  const buckets = which === 'queue' ? trace.queueBuckets : trace.runningBuckets;
  const inView = series.length > 4 * g.cols ? visibleCount(trace, series, g) : 0;
  if (useBuckets(trace, g.nsPerCol, inView, g.cols)) {
    aggregateCounterBuckets(trace, series, buckets, g.t0, g.nsPerCol, g.cols, s.min, s.max);
  } else {
    aggregateMinMax(trace, series, g.t0, g.nsPerCol, g.cols, s.min, s.max);
  }
  if (under !== null) fillCounter(under, which, g, s.min, s.max);
  if (scaleMax <= 0) {
    // Auto scale: the largest value in view, rounded up to 1-2-5.
    let m = 1;
    for (let c = 0; c < g.cols; c++) if (s.max[c]! > m) m = s.max[c]!;
    scaleMax = niceMax(m);
  }
  const h = y1 - y0;
  const fill = which === 'queue' ? P.queueFill : P.runFill;
  const line = which === 'queue' ? P.queue : P.runLine;
  const limitY = limit > 0 ? y1 - Math.round((Math.min(limit, scaleMax) / scaleMax) * h) : y0;
  const endCol =
    under !== null ? g.cols : Math.min(g.cols, Math.ceil((trace.endNs - g.t0) / g.nsPerCol));
  const startCol =
    under !== null ? 0 : Math.max(0, Math.floor((trace.startNs - g.t0) / g.nsPerCol));
  for (let c = startCol; c < endCol; c++) {
    const mx = s.max[c]!;
    const mn = s.min[c]!;
    if (mx <= 0) continue;
    const yMax = y1 - Math.max(1, Math.round((Math.min(mx, scaleMax) / scaleMax) * h));
    const yMin = y1 - Math.round((Math.min(mn, scaleMax) / scaleMax) * h);
    const over = limit > 0 && yMax < limitY;
    if (over) {
      r.fillColumn(c, limitY, y1, fill);
      r.fillColumn(c, yMax, limitY, P.over);
    } else {
      r.fillColumn(c, yMax, y1, fill);
    }
    // The min..max span (at least 1 px) is the bright edge, so sub-pixel spikes stay visible.
    r.fillColumn(c, yMax, Math.max(yMin, yMax + 1), over ? P.over : line);
  }
  return scaleMax;
}

/** A round upper bound for a counter scale (1, 2, 5 x 10^k). */
export function niceMax(v: number): number {
  if (v <= 1) return 1;
  const mag = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * mag >= v) return m * mag;
  return 10 * mag;
}
