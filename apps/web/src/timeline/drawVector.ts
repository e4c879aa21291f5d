// Vector draw functions: everything that is sparse or textual and drawn with
// the 2D API on top of the raster layer: lane labels, the time axis and grid,
// mark glyphs when zoomed in, flows, the selected session, findings, gaps,
// the cursor, the hover ring and its tooltip. Each function batches its items
// into as few paths as possible (one beginPath/fill per colour).

import {
  EVENT_KIND_NAMES,
  EventKind,
  OP_NAMES,
  RECORD_WORDS,
  ThreadRole,
  TS_HI_MASK,
} from '@iocpscope/protocol';
import type { EventKind as EventKindT, Op } from '@iocpscope/protocol';
import type { EventSeries, Lane, WebTrace } from '../trace/index.ts';
import { MarkFlag, markFlagsAt, NONE, ROLE_NAMES } from '../trace/index.ts';
import { computeTicks, formatTick } from './axis.ts';
import { formatDurationNs, formatSessionHalves, formatTimeNs } from '../lib/format.ts';
import { laneParts, laneTop, type Layout } from './layout.ts';
import type { Pen } from './pen.ts';
import { COLORS, FONT, FONT_BOLD, FONT_MONO } from './theme.ts';
import type { TimelineFinding } from './model.ts';

const TWO_32 = 4294967296;

/** Geometry of one frame, CSS px. */
export interface Geom {
  readonly layout: Layout;
  readonly t0: number;
  readonly t1: number;
  readonly nsPerPx: number;
  /** Display row of each lane id, -1 if the lane is not shown. */
  readonly rowOfLane: Int32Array;
  readonly lanes: readonly Lane[];
}

export function xOf(g: Geom, ns: number): number {
  return g.layout.plotX0 + (ns - g.t0) / g.nsPerPx;
}

function tsOf(w: Uint32Array, i: number): number {
  const o = i * RECORD_WORDS;
  return w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
}

/** Vertical centre of an event's lane bar, or NaN if its lane is not shown. */
export function eventY(trace: WebTrace, g: Geom, i: number): number {
  const lane = trace.laneOfTid(trace.words[i * RECORD_WORDS]! >>> 16);
  if (!lane) return NaN;
  const row = g.rowOfLane[lane.id]!;
  if (row < 0) return NaN;
  const p = laneParts(g.layout.laneH);
  return laneTop(g.layout, row) + p.barY + p.barH / 2;
}

function markColorCss(flags: number): string {
  if (flags & MarkFlag.Fail) return COLORS.fail;
  if (flags & MarkFlag.Send) return COLORS.send;
  if (flags & MarkFlag.Recv) return COLORS.recv;
  if (flags & MarkFlag.Post) return COLORS.post;
  return COLORS.empty;
}

const MARK_COLORS = [COLORS.fail, COLORS.send, COLORS.recv, COLORS.post, COLORS.empty] as const;

/**
 * Mark glyphs (small upward triangles under the bar, failures larger) for a
 * flag series with few entries in view. One path per colour; entries that are
 * not marks (plain state changes) are skipped.
 */
export function drawMarksSparse(
  pen: Pen,
  trace: WebTrace,
  g: Geom,
  m: EventSeries,
  row: number,
  marksOnly: boolean,
): void {
  const idx = m.idx;
  const k0 = trace.lowerBoundColumnTime(idx, g.t0, 0, m.length);
  const k1 = trace.upperBoundColumnTime(idx, g.t1, k0, m.length);
  if (k1 <= k0) return;
  const top = laneTop(g.layout, row);
  const p = laneParts(g.layout.laneH);
  const yBase = marksOnly ? top + g.layout.laneH - 3 : top + p.markY + p.markH;
  const h = marksOnly ? g.layout.laneH - 6 : p.markH + 1;
  const ctx = pen.ctx;
  const w = trace.words;
  for (let ci = 0; ci < MARK_COLORS.length; ci++) {
    const color = MARK_COLORS[ci]!;
    let any = false;
    ctx.beginPath();
    let e = -1;
    for (let k = k0; k < k1; k++) {
      e = idx.getAfter(k, e);
      const f = markFlagsAt(w, e);
      if (f === 0 || markColorCss(f) !== color) continue;
      const x = xOf(g, tsOf(w, e));
      const hw = f & MarkFlag.Fail ? 4 : 3;
      const hh = f & MarkFlag.Fail ? h + 1 : h;
      ctx.moveTo(x, yBase - hh);
      ctx.lineTo(x + hw, yBase);
      ctx.lineTo(x - hw, yBase);
      ctx.closePath();
      any = true;
    }
    if (any) {
      pen.fillStyle(color);
      ctx.fill();
    }
  }
}

/** Vertical grid lines at the axis ticks, over the tracks and lanes. */
export function drawGrid(pen: Pen, g: Geom): void {
  const l = g.layout;
  const ticks = computeTicks(g.t0, g.t1, l.plotX1 - l.plotX0);
  const ctx = pen.ctx;
  ctx.beginPath();
  for (let i = 0; i < ticks.count; i++) {
    const x = Math.round(xOf(g, ticks.firstNs + i * ticks.stepNs)) + 0.5;
    ctx.moveTo(x, l.queueY0);
    ctx.lineTo(x, l.plotY1);
  }
  pen.strokeStyle(COLORS.grid);
  pen.lineWidth(1);
  pen.lineDash('');
  ctx.stroke();
}

/**
 * Label extents on the time axis, [x0, x1) pairs in CSS px, registered by the
 * overlays that write on the axis band (gap counts, marker names, the cursor's
 * time flag) so tick labels that would collide with them are left out.
 */
export type AxisReserved = number[];

function reserve(r: AxisReserved | undefined, x0: number, x1: number): void {
  if (r) r.push(x0, x1);
}

function isReserved(r: readonly number[], x0: number, x1: number): boolean {
  for (let k = 0; k < r.length; k += 2) if (x0 < r[k + 1]! && x1 > r[k]!) return true;
  return false;
}

/** The time axis band: background, tick marks, and the gutter's span or base label. */
export function drawAxis(pen: Pen, g: Geom): void {
  const l = g.layout;
  const ctx = pen.ctx;
  pen.fillStyle(COLORS.panel);
  ctx.fillRect(l.plotX0, l.axisY0, l.plotX1 - l.plotX0, l.axisY1 - l.axisY0);
  const ticks = computeTicks(g.t0, g.t1, l.plotX1 - l.plotX0);
  ctx.beginPath();
  for (let i = 0; i < ticks.count; i++) {
    const x = Math.round(xOf(g, ticks.firstNs + i * ticks.stepNs)) + 0.5;
    ctx.moveTo(x, l.axisY1 - 6);
    ctx.lineTo(x, l.axisY1);
  }
  pen.strokeStyle(COLORS.textFaint);
  pen.lineWidth(1);
  pen.lineDash('');
  ctx.stroke();
  const y = axisLabelY(l);
  pen.textAlign('left');
  pen.textBaseline('middle');
  // Gutter: the window span, or the base the offsets count from.
  pen.fillStyle(COLORS.gutter);
  ctx.fillRect(0, l.axisY0, l.plotX0, l.axisY1 - l.axisY0);
  pen.fillStyle(COLORS.textDim);
  pen.font(FONT_MONO);
  const label =
    ticks.baseNs !== null
      ? `@ ${formatTimeNs(ticks.baseNs)}`
      : `view ${formatDurationNs(g.t1 - g.t0)}`;
  ctx.fillText(label, 10, y);
  pen.strokeStyle(COLORS.divider);
  ctx.beginPath();
  ctx.moveTo(0, l.axisY1 - 0.5);
  ctx.lineTo(l.plotX1, l.axisY1 - 0.5);
  ctx.stroke();
}

const ROLE_COLORS: Record<number, string> = {
  [ThreadRole.Main]: '#9aa5b1',
  [ThreadRole.Worker]: COLORS.running,
  [ThreadRole.Accept]: '#f59e0b',
  [ThreadRole.Kernel]: COLORS.kernel,
  [ThreadRole.Other]: '#9aa5b1',
};

function axisLabelY(l: Layout): number {
  return l.axisY0 + (l.axisY1 - l.axisY0) / 2 - 2;
}

/**
 * The tick labels, after everything else that writes on the axis band: a label
 * that would touch a reserved extent (with 6 px to spare) is left out, so the
 * cursor's time flag never sits on half a tick label.
 */
export function drawAxisLabels(pen: Pen, g: Geom, reserved: readonly number[]): void {
  const l = g.layout;
  const ctx = pen.ctx;
  const ticks = computeTicks(g.t0, g.t1, l.plotX1 - l.plotX0);
  pen.font(FONT_MONO);
  pen.fillStyle(COLORS.textDim);
  pen.textAlign('left');
  pen.textBaseline('middle');
  const y = axisLabelY(l);
  for (let i = 0; i < ticks.count; i++) {
    const t = ticks.firstNs + i * ticks.stepNs;
    const x = xOf(g, t);
    if (x + 4 > l.plotX1 - 30) break;
    const label = formatTick(t, ticks);
    if (reserved.length > 0) {
      const w = ctx.measureText(label).width;
      if (isReserved(reserved, x + 4 - 6, x + 4 + w + 6)) continue;
    }
    ctx.fillText(label, x + 4, y);
  }
}

/** Left gutter: track titles and one label per visible lane (role dot, name, role). */
export function drawGutter(
  pen: Pen,
  trace: WebTrace,
  g: Geom,
  queueMax: number,
  runMax: number,
): void {
  const l = g.layout;
  const ctx = pen.ctx;
  pen.fillStyle(COLORS.gutter);
  ctx.fillRect(0, l.queueY0 - 4, l.plotX0, l.heightPx - l.queueY0 + 4);
  pen.textBaseline('middle');
  // Track titles.
  pen.textAlign('left');
  pen.font(FONT_BOLD);
  pen.fillStyle(COLORS.text);
  ctx.fillText('Queue depth', 10, l.queueY0 + 12);
  ctx.fillText('Running', 10, l.runY0 + 12);
  pen.font(FONT_MONO);
  pen.fillStyle(COLORS.textDim);
  ctx.fillText(`0 – ${queueMax}`, 10, l.queueY0 + 27);
  ctx.fillText(
    trace.concurrency > 0 ? `concurrency ${trace.concurrency}` : `0 – ${runMax}`,
    10,
    l.runY0 + 27,
  );
  // Lanes.
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, l.lanesY0, l.plotX0, l.lanesY1 - l.lanesY0);
  ctx.clip();
  pen.invalidate();
  pen.textBaseline('middle');
  const parts = laneParts(l.laneH);
  for (let row = 0; row < g.lanes.length; row++) {
    const top = laneTop(l, row);
    if (top + l.laneH < l.lanesY0 || top > l.lanesY1) continue;
    const lane = g.lanes[row]!;
    const cy = top + parts.barY + parts.barH / 2;
    pen.fillStyle(lane.isKernel ? COLORS.kernel : (ROLE_COLORS[lane.role] ?? COLORS.textDim));
    ctx.beginPath();
    ctx.arc(14, cy, 3, 0, Math.PI * 2);
    ctx.fill();
    pen.font(FONT);
    pen.textAlign('left');
    pen.fillStyle(COLORS.text);
    ctx.fillText(truncate(lane.name, 18), 24, cy);
    pen.textAlign('right');
    pen.font(FONT_MONO);
    pen.fillStyle(COLORS.textFaint);
    const tag = lane.isKernel ? 'kernel' : (ROLE_NAMES[lane.role] ?? '');
    if (l.plotX0 > 140) ctx.fillText(tag, l.plotX0 - 8, cy);
  }
  ctx.restore();
  pen.invalidate();
  // Divider between gutter and plot.
  pen.strokeStyle(COLORS.divider);
  pen.lineWidth(1);
  ctx.beginPath();
  ctx.moveTo(l.plotX0 - 0.5, l.axisY0);
  ctx.lineTo(l.plotX0 - 0.5, l.heightPx);
  ctx.stroke();
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** The concurrency line over the running track (dashed). */
export function drawConcurrencyLine(pen: Pen, trace: WebTrace, g: Geom, runMax: number): void {
  if (trace.concurrency <= 0 || runMax <= 0) return;
  const l = g.layout;
  const y =
    Math.round(l.runY1 - (Math.min(trace.concurrency, runMax) / runMax) * (l.runY1 - l.runY0)) +
    0.5;
  const ctx = pen.ctx;
  pen.strokeStyle(COLORS.concurrency);
  pen.globalAlpha(0.55);
  pen.lineWidth(1);
  pen.lineDash('4,3');
  ctx.beginPath();
  ctx.moveTo(l.plotX0, y);
  ctx.lineTo(l.plotX1, y);
  ctx.stroke();
  pen.lineDash('');
  pen.globalAlpha(1);
}

/**
 * Flow curves: posted (thread) -> queued (kernel) -> dequeued (worker), for
 * the first `count` positions (into `trace.returns`) in `positions`. Returns
 * how many had a flow and were drawn.
 */
export function drawFlows(
  pen: Pen,
  trace: WebTrace,
  g: Geom,
  positions: ArrayLike<number>,
  count: number,
  color: string,
  width: number,
): number {
  const ctx = pen.ctx;
  const w = trace.words;
  const ret = trace.returns.idx;
  const posted = trace.retPosted;
  const queued = trace.retQueued;
  let drawn = 0;
  ctx.beginPath();
  for (let n = 0; n < count; n++) {
    const k = positions[n]!;
    const deq = ret.get(k);
    const a = posted.get(k, deq);
    const q = queued.get(k, deq);
    if (a === NONE && q === NONE) continue;
    let px = NaN;
    let py = NaN;
    for (let s = 0; s < 3; s++) {
      const e = s === 0 ? a : s === 1 ? q : deq;
      if (e === NONE) continue;
      const x = xOf(g, tsOf(w, e));
      const y = eventY(trace, g, e);
      if (Number.isNaN(y)) continue;
      if (Number.isNaN(px)) ctx.moveTo(x, y);
      else {
        const dx = Math.max(6, Math.abs(x - px) * 0.5);
        ctx.bezierCurveTo(px + dx, py, x - dx, y, x, y);
      }
      px = x;
      py = y;
    }
    drawn++;
  }
  pen.strokeStyle(color);
  pen.lineWidth(width);
  pen.lineDash('');
  ctx.stroke();
  return drawn;
}

/** Boxes around events (the selected session's), deduplicated per 3 px per lane. */
export function drawEventRings(
  pen: Pen,
  trace: WebTrace,
  g: Geom,
  list: Uint32Array,
  color: string,
  lastX: Float64Array,
): void {
  const idx = list;
  const k0 = trace.lowerBoundColumnTime(idx, g.t0, 0, idx.length);
  const k1 = trace.upperBoundColumnTime(idx, g.t1, k0, idx.length);
  if (k1 <= k0) return;
  lastX.fill(-1e9);
  const ctx = pen.ctx;
  const w = trace.words;
  ctx.beginPath();
  for (let k = k0; k < k1; k++) {
    const e = idx[k]!;
    const lane = trace.laneOfTid(w[e * RECORD_WORDS]! >>> 16);
    if (!lane) continue;
    const row = g.rowOfLane[lane.id]!;
    if (row < 0) continue;
    const x = Math.round(xOf(g, tsOf(w, e)));
    if (x - lastX[row]! < 3) continue;
    lastX[row] = x;
    const y = eventY(trace, g, e);
    ctx.rect(x - 4.5, y - 4.5, 9, 9);
  }
  pen.fillStyle(color);
  pen.globalAlpha(0.22);
  ctx.fill();
  pen.globalAlpha(1);
  pen.strokeStyle(color);
  pen.lineWidth(1.5);
  pen.lineDash('');
  ctx.stroke();
}

/** The cursor's time flag on the axis: its label and left edge and width (CSS px), or null. */
export function cursorFlag(
  pen: Pen,
  trace: WebTrace,
  g: Geom,
  i: number,
): { label: string; x: number; w: number } | null {
  if (i < 0 || i >= trace.count) return null;
  const l = g.layout;
  const t = trace.timeAt(i);
  if (t < g.t0 || t > g.t1) return null;
  const x = Math.round(xOf(g, t)) + 0.5;
  const label = formatTimeNs(t);
  pen.font(FONT_MONO);
  const w = pen.ctx.measureText(label).width + 10;
  return { label, x: Math.min(Math.max(x - w / 2, l.plotX0), l.plotX1 - w), w };
}

/** A vertical line through tracks and lanes at an event, with a label on the axis. */
export function drawCursor(pen: Pen, trace: WebTrace, g: Geom, i: number): void {
  const flag = cursorFlag(pen, trace, g, i);
  if (!flag) return;
  const l = g.layout;
  const x = Math.round(xOf(g, trace.timeAt(i))) + 0.5;
  const ctx = pen.ctx;
  pen.strokeStyle(COLORS.cursor);
  pen.lineWidth(1);
  pen.lineDash('');
  ctx.beginPath();
  ctx.moveTo(x, l.axisY0 + 2);
  ctx.lineTo(x, l.plotY1);
  ctx.stroke();
  const y = eventY(trace, g, i);
  if (!Number.isNaN(y)) {
    pen.lineWidth(2);
    ctx.strokeRect(x - 5, y - 5, 10, 10);
  }
  // Time flag on the axis (the tick labels next to it were left out for it).
  pen.font(FONT_MONO);
  pen.fillStyle(COLORS.cursor);
  ctx.fillRect(flag.x, l.axisY1 - 13, flag.w, 13);
  pen.fillStyle('#1a1400');
  pen.textAlign('left');
  pen.textBaseline('middle');
  ctx.fillText(flag.label, flag.x + 5, l.axisY1 - 6.5);
}

/** Findings: a red diamond on the axis and a faint line down the lanes at each first event. */
export function drawFindings(
  pen: Pen,
  trace: WebTrace,
  g: Geom,
  findings: readonly TimelineFinding[],
): void {
  const l = g.layout;
  const ctx = pen.ctx;
  ctx.beginPath();
  const diamonds = new Path2D();
  let labels = 0;
  for (const f of findings) {
    let t: number;
    if (f.events.length === 0) {
      // Outside a window: placed by its anchor's time.
      if (f.ns === undefined) continue;
      t = f.ns;
    } else {
      const i = f.events[0]!;
      if (i < 0 || i >= trace.count) continue;
      t = trace.timeAt(i);
    }
    if (t < g.t0 || t > g.t1) continue;
    const x = Math.round(xOf(g, t)) + 0.5;
    ctx.moveTo(x, l.queueY0);
    ctx.lineTo(x, l.plotY1);
    const y = l.axisY1 - 5;
    diamonds.moveTo(x, y - 5);
    diamonds.lineTo(x + 5, y);
    diamonds.lineTo(x, y + 5);
    diamonds.lineTo(x - 5, y);
    diamonds.closePath();
    labels++;
  }
  if (labels === 0) return;
  pen.strokeStyle(COLORS.finding);
  pen.globalAlpha(0.35);
  pen.lineWidth(1);
  pen.lineDash('3,3');
  ctx.stroke();
  pen.globalAlpha(1);
  pen.lineDash('');
  pen.fillStyle(COLORS.finding);
  ctx.fill(diamonds);
}

/**
 * Gaps (lost events) as red dashed lines with the loss count on the axis
 * ("gap" when the size is unknown: a reconnect, missing frames, the history
 * before a live join).
 */
/**
 * The part of a live spool that is gone (issue 15 §3): everything before
 * `fromNs` is shaded over the plot with a label saying why, so a view scrolled
 * back that far says plainly what is no longer available.
 */
export function drawUnavailable(pen: Pen, g: Geom, fromNs: number, why: string): void {
  if (fromNs <= g.t0) return;
  const l = g.layout;
  const ctx = pen.ctx;
  const x1 = Math.min(l.plotX1, xOf(g, fromNs));
  if (x1 <= l.plotX0) return;
  pen.fillStyle(COLORS.viewportShade);
  ctx.fillRect(l.plotX0, l.queueY0, x1 - l.plotX0, l.plotY1 - l.queueY0);
  pen.strokeStyle(COLORS.gap);
  pen.lineWidth(1);
  pen.lineDash('4,3');
  ctx.beginPath();
  ctx.moveTo(Math.round(x1) + 0.5, l.axisY0);
  ctx.lineTo(Math.round(x1) + 0.5, l.plotY1);
  ctx.stroke();
  pen.lineDash('');
  if (x1 - l.plotX0 < 120) return;
  pen.font(FONT_MONO);
  pen.fillStyle(COLORS.gap);
  pen.textAlign('right');
  pen.textBaseline('middle');
  ctx.fillText(why, x1 - 6, l.queueY0 + 10);
}

export function drawGaps(pen: Pen, trace: WebTrace, g: Geom, reserved?: AxisReserved): void {
  const gaps = trace.gaps;
  if (gaps.length === 0) return;
  const l = g.layout;
  const ctx = pen.ctx;
  const w = trace.words;
  const k0 = trace.lowerBoundColumnTime(gaps.data, g.t0, 0, gaps.length);
  const k1 = trace.upperBoundColumnTime(gaps.data, g.t1, k0, gaps.length);
  pen.strokeStyle(COLORS.gap);
  pen.lineWidth(1);
  pen.lineDash('2,2');
  ctx.beginPath();
  for (let k = k0; k < k1; k++) {
    const x = Math.round(xOf(g, tsOf(w, gaps.data[k]!))) + 0.5;
    ctx.moveTo(x, l.axisY0);
    ctx.lineTo(x, l.plotY1);
  }
  ctx.stroke();
  pen.lineDash('');
  if (k1 - k0 > 40) return;
  pen.font(FONT_MONO);
  pen.fillStyle(COLORS.gap);
  pen.textAlign('left');
  pen.textBaseline('middle');
  for (let k = k0; k < k1; k++) {
    const e = gaps.data[k]!;
    const lost = w[e * RECORD_WORDS + 1]! + w[e * RECORD_WORDS + 6]! * TWO_32;
    const x = xOf(g, tsOf(w, e));
    const label = lost > 0 ? `${lost} lost` : 'gap';
    ctx.fillText(label, x + 3, l.axisY0 + 7);
    reserve(reserved, x, x + 3 + ctx.measureText(label).width);
  }
}

/** User markers (Marker events): a small flag on the axis with the marker's label. */
export function drawMarkers(pen: Pen, trace: WebTrace, g: Geom, reserved?: AxisReserved): void {
  const m = trace.markers;
  if (m.length === 0) return;
  const l = g.layout;
  const ctx = pen.ctx;
  const w = trace.words;
  const k0 = trace.lowerBoundColumnTime(m.data, g.t0, 0, m.length);
  const k1 = trace.upperBoundColumnTime(m.data, g.t1, k0, m.length);
  ctx.beginPath();
  for (let k = k0; k < k1; k++) {
    const x = Math.round(xOf(g, tsOf(w, m.data[k]!))) + 0.5;
    ctx.moveTo(x, l.axisY0 + 2);
    ctx.lineTo(x, l.axisY1);
    ctx.moveTo(x, l.axisY0 + 2);
    ctx.lineTo(x + 6, l.axisY0 + 5);
    ctx.lineTo(x, l.axisY0 + 8);
  }
  pen.strokeStyle(COLORS.marker);
  pen.lineWidth(1);
  pen.lineDash('');
  ctx.stroke();
  if (k1 - k0 > 30) return;
  pen.font(FONT_MONO);
  pen.fillStyle(COLORS.marker);
  pen.textAlign('left');
  pen.textBaseline('middle');
  for (let k = k0; k < k1; k++) {
    const e = m.data[k]!;
    const label = trace.string(w[e * RECORD_WORDS + 1]!);
    const x = xOf(g, tsOf(w, e));
    reserve(reserved, x - 1, x + 7);
    if (!label) continue;
    // A label ends before the next marker's flag (markers close together would
    // otherwise print over each other), and is left out when that leaves no room.
    const nextX = k + 1 < k1 ? xOf(g, tsOf(w, m.data[k + 1]!)) - 6 : l.plotX1 - 2;
    const text = fitText(ctx, truncate(label, 24), nextX - (x + 8));
    if (text === '') continue;
    ctx.fillText(text, x + 8, l.axisY0 + 6);
    reserve(reserved, x + 8, x + 8 + ctx.measureText(text).width);
  }
}

/** `text`, or its longest prefix + "…" that is at most `maxPx` wide; '' when not even 3 characters fit. */
function fitText(ctx: CanvasRenderingContext2D, text: string, maxPx: number): string {
  if (ctx.measureText(text).width <= maxPx) return text;
  let lo = 0;
  let hi = text.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= maxPx) lo = mid;
    else hi = mid - 1;
  }
  return lo >= 3 ? `${text.slice(0, lo)}…` : '';
}

/** One line describing an event, for the hover tooltip. */
export function describeEvent(trace: WebTrace, i: number): string {
  const w = trace.words;
  const o = i * RECORD_WORDS;
  const kind = (w[o]! & 0xff) as EventKindT;
  const a = (w[o]! >>> 8) & 0xff;
  const name = EVENT_KIND_NAMES[kind] ?? `kind ${kind}`;
  const sess = w[o + 4]! + w[o + 5]! * TWO_32;
  const parts: string[] = [name];
  if (
    kind === EventKind.GqcsReturn ||
    kind === EventKind.PacketQueued ||
    kind === EventKind.IoPosted ||
    kind === EventKind.Pqcs
  ) {
    parts.push(OP_NAMES[(a & 0x0f) as Op] ?? '');
    if (kind !== EventKind.Pqcs) parts.push(`${w[o + 1]!} B`);
    const f = markFlagsAt(w, i);
    if (f & MarkFlag.Fail)
      parts.push(kind === EventKind.GqcsReturn ? `FAILED ${w[o + 6]!}` : `error ${w[o + 6]!}`);
    if (f & MarkFlag.Empty) parts.push(`nothing dequeued (${w[o + 6]!})`);
  } else if (kind === EventKind.ThreadState) {
    parts.push(['waiting', 'running', 'blocked', 'exited'][a] ?? `state ${a}`);
  } else if (kind === EventKind.IoCount) {
    const delta = w[o + 6]! | 0;
    parts.push(`${delta >= 0 ? '+' : ''}${delta} → ${w[o + 1]! | 0}`);
  }
  if (sess !== 0) parts.push(`session ${formatSessionHalves(w[o + 4]!, w[o + 5]!)}`);
  return parts.filter((p) => p !== '').join(' · ');
}

/** Hover: a white ring on the event and a small tooltip next to it. */
export function drawHover(pen: Pen, trace: WebTrace, g: Geom, i: number): string | null {
  if (i < 0 || i >= trace.count) return null;
  const l = g.layout;
  const t = trace.timeAt(i);
  if (t < g.t0 || t > g.t1) return null;
  const x = xOf(g, t);
  let y = eventY(trace, g, i);
  const ctx = pen.ctx;
  if (Number.isNaN(y)) y = l.queueY0 + 10;
  else {
    pen.strokeStyle(COLORS.hover);
    pen.lineWidth(1.5);
    pen.lineDash('');
    ctx.strokeRect(Math.round(x) - 4.5, y - 4.5, 9, 9);
  }
  const line1 = describeEvent(trace, i);
  const line2 = `#${i} · ${formatTimeNs(t)}`;
  drawTooltip(pen, l, x, y, line1, line2);
  return `${line1}\n${line2}`;
}

/** A two-line tooltip next to (x, y), kept inside the plot. */
export function drawTooltip(
  pen: Pen,
  l: Layout,
  x: number,
  y: number,
  line1: string,
  line2: string,
): void {
  const ctx = pen.ctx;
  pen.font(FONT);
  const w1 = Math.max(ctx.measureText(line1).width, ctx.measureText(line2).width) + 16;
  const h = line2 ? 36 : 22;
  let bx = x + 12;
  if (bx + w1 > l.plotX1 - 4) bx = x - 12 - w1;
  if (bx < l.plotX0 + 2) bx = l.plotX0 + 2;
  let by = y + 10;
  if (by + h > l.plotY1 - 2) by = y - 10 - h;
  if (by < l.queueY0) by = l.queueY0;
  pen.fillStyle('rgba(22,26,33,0.96)');
  ctx.fillRect(bx, by, w1, h);
  pen.strokeStyle(COLORS.divider);
  pen.lineWidth(1);
  pen.lineDash('');
  ctx.strokeRect(bx + 0.5, by + 0.5, w1 - 1, h - 1);
  pen.textAlign('left');
  pen.textBaseline('middle');
  pen.fillStyle(COLORS.text);
  ctx.fillText(line1, bx + 8, by + 11);
  if (line2) {
    pen.font(FONT_MONO);
    pen.fillStyle(COLORS.textDim);
    ctx.fillText(line2, bx + 8, by + 26);
  }
}

/** The placeholder when there is no trace yet. */
export function drawEmpty(pen: Pen, l: Layout, message: string): void {
  const ctx = pen.ctx;
  pen.font(FONT);
  pen.fillStyle(COLORS.textDim);
  pen.textAlign('center');
  pen.textBaseline('middle');
  ctx.fillText(message, (l.plotX0 + l.plotX1) / 2, (l.lanesY0 + l.heightPx) / 2);
}

/** The legend in the gutter of the overview row. */
export function drawLegend(pen: Pen, l: Layout): void {
  const ctx = pen.ctx;
  pen.fillStyle(COLORS.gutter);
  ctx.fillRect(0, l.overviewY0, l.plotX0, l.overviewY1 - l.overviewY0);
  pen.font(FONT_MONO);
  pen.textAlign('left');
  pen.textBaseline('middle');
  const items1: [string, string][] = [
    [COLORS.waiting, 'wait'],
    [COLORS.running, 'run'],
    [COLORS.blocked, 'blocked'],
  ];
  const items2: [string, string][] = [
    [COLORS.recv, 'recv'],
    [COLORS.send, 'send'],
    [COLORS.post, 'post'],
    [COLORS.fail, 'fail'],
  ];
  let x = 10;
  for (const [c, t] of items1) {
    pen.fillStyle(c);
    ctx.fillRect(x, 9, 9, 9);
    pen.fillStyle(COLORS.textDim);
    ctx.fillText(t, x + 12, 14);
    x += 16 + ctx.measureText(t).width;
  }
  x = 10;
  for (const [c, t] of items2) {
    pen.fillStyle(c);
    ctx.beginPath();
    ctx.moveTo(x + 4.5, 24);
    ctx.lineTo(x + 9, 33);
    ctx.lineTo(x, 33);
    ctx.closePath();
    ctx.fill();
    pen.fillStyle(COLORS.textDim);
    ctx.fillText(t, x + 12, 29);
    x += 16 + ctx.measureText(t).width;
  }
}
