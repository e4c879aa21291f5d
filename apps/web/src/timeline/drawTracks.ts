// Vector drawing for what sits on top of the lanes and below them: the
// sessions' IOCount counter tracks (issue 19 §3: a step line with a ▲ per +1
// and a ▼ per -1, red below zero), the selected time range (§2), the search
// matches (§4) and a framed finding's evidence (§1) as rings.
//
// Loops run over the visible slice of each index only (binary search), with
// one path per colour; a track with more changes in view than pixels is drawn
// as a min/max span per pixel column.

import { RECORD_WORDS } from '@iocpscope/protocol';
import type { IoCountTrack, WebTrace } from '../trace/index.ts';
import { formatCount, formatDurationNs, formatSessionId } from '../lib/format.ts';
import { eventY, xOf, type AxisReserved, type Geom } from './drawVector.ts';
import { laneTop, SESSION_TRACK_H, sessionTrackTop } from './layout.ts';
import type { Pen } from './pen.ts';
import { COLORS, FONT, FONT_BOLD, FONT_MONO } from './theme.ts';
import type { TimelineRange } from './model.ts';
import { UNPIN_ZONE_PX } from './hitTest.ts';

/** ±1 marks are drawn when at most this many changes of a track are in view. */
const MARKS_LIMIT = 600;
/** Search matches are ringed when at most this many are in view. */
const SEARCH_RINGS_LIMIT = 2000;

/** Vertical position of an IOCount value on track k. */
function trackY(g: Geom, k: number, v: number, lo: number, hi: number): number {
  const top = sessionTrackTop(g.layout, k);
  const pad = 6;
  return top + SESSION_TRACK_H - pad - ((v - lo) / (hi - lo)) * (SESSION_TRACK_H - 2 * pad);
}

function scaleOf(tr: IoCountTrack): [number, number] {
  return [Math.min(0, tr.min), Math.max(1, tr.max)];
}

/** Vertical position of an IoCount event on its track, or NaN. */
export function trackEventY(
  g: Geom,
  tracks: readonly IoCountTrack[],
  k: number,
  e: number,
): number {
  const tr = tracks[k]!;
  const p = tr.positionAtOrBefore(e);
  if (p < 0 || tr.events.data[p] !== e) return NaN;
  const [lo, hi] = scaleOf(tr);
  return trackY(g, k, tr.values.data[p]!, lo, hi);
}

/** Every IOCount track: band, zero line, step line, ±1 marks. */
export function drawSessionTracks(
  pen: Pen,
  trace: WebTrace,
  g: Geom,
  tracks: readonly IoCountTrack[],
): void {
  const ctx = pen.ctx;
  const l = g.layout;
  const w = trace.words;
  for (let k = 0; k < tracks.length; k++) {
    const tr = tracks[k]!;
    const top = sessionTrackTop(l, k);
    pen.fillStyle(COLORS.laneOdd);
    ctx.fillRect(l.plotX0, top, l.plotX1 - l.plotX0, SESSION_TRACK_H);
    const [lo, hi] = scaleOf(tr);
    const y0 = trackY(g, k, 0, lo, hi);
    if (lo < 0) {
      // Below zero is a bug (IOCount decremented too often): shade it.
      pen.fillStyle('rgba(255,77,79,0.12)');
      ctx.fillRect(l.plotX0, y0, l.plotX1 - l.plotX0, top + SESSION_TRACK_H - y0);
    }
    pen.strokeStyle(COLORS.divider);
    pen.lineWidth(1);
    pen.lineDash('2,3');
    ctx.beginPath();
    ctx.moveTo(l.plotX0, Math.round(y0) + 0.5);
    ctx.lineTo(l.plotX1, Math.round(y0) + 0.5);
    ctx.stroke();
    pen.lineDash('');
    const n = tr.length;
    if (n === 0) continue;
    const ev = tr.events.data.subarray(0, n);
    const vals = tr.values.data;
    const j0 = trace.lowerBoundColumnTime(ev, g.t0, 0, n);
    const j1 = trace.upperBoundColumnTime(ev, g.t1, j0, n);
    // The step line: the value in force at the left edge, then each change.
    let v = j0 > 0 ? vals[j0 - 1]! : 0;
    ctx.save();
    ctx.beginPath();
    ctx.rect(l.plotX0, top, l.plotX1 - l.plotX0, SESSION_TRACK_H);
    ctx.clip();
    pen.invalidate();
    ctx.beginPath();
    let x = l.plotX0;
    ctx.moveTo(x, trackY(g, k, v, lo, hi));
    const dense = j1 - j0 > (l.plotX1 - l.plotX0) * 2;
    let col = -1;
    let cmin = 0;
    let cmax = 0;
    for (let j = j0; j < j1; j++) {
      const xe = xOf(g, trace.timeAt(ev[j]!));
      const nv = vals[j]!;
      if (dense) {
        const c = Math.floor(xe);
        if (c !== col) {
          if (col >= 0) {
            ctx.moveTo(col + 0.5, trackY(g, k, cmin, lo, hi));
            ctx.lineTo(col + 0.5, trackY(g, k, cmax, lo, hi));
          }
          ctx.moveTo(x, trackY(g, k, v, lo, hi));
          ctx.lineTo(xe, trackY(g, k, v, lo, hi));
          col = c;
          cmin = Math.min(v, nv);
          cmax = Math.max(v, nv);
        } else {
          if (nv < cmin) cmin = nv;
          if (nv > cmax) cmax = nv;
        }
      } else {
        ctx.lineTo(xe, trackY(g, k, v, lo, hi));
        ctx.lineTo(xe, trackY(g, k, nv, lo, hi));
      }
      x = xe;
      v = nv;
    }
    if (dense && col >= 0) {
      ctx.moveTo(col + 0.5, trackY(g, k, cmin, lo, hi));
      ctx.lineTo(col + 0.5, trackY(g, k, cmax, lo, hi));
      ctx.moveTo(x, trackY(g, k, v, lo, hi));
    }
    const endX = Math.min(l.plotX1, xOf(g, trace.endNs));
    if (endX > x) ctx.lineTo(endX, trackY(g, k, v, lo, hi));
    pen.strokeStyle(COLORS.ioCount);
    pen.lineWidth(1.5);
    ctx.stroke();
    if (j1 - j0 <= MARKS_LIMIT) {
      for (const up of [true, false]) {
        ctx.beginPath();
        let any = false;
        for (let j = j0; j < j1; j++) {
          const e = ev[j]!;
          const d = w[e * RECORD_WORDS + 6]! | 0;
          if (d === 0 || d > 0 !== up) continue;
          const xe = xOf(g, trace.timeAt(e));
          const ye = trackY(g, k, vals[j]!, lo, hi);
          if (up) {
            ctx.moveTo(xe, ye - 9);
            ctx.lineTo(xe + 4, ye - 3);
            ctx.lineTo(xe - 4, ye - 3);
          } else {
            ctx.moveTo(xe, ye + 9);
            ctx.lineTo(xe + 4, ye + 3);
            ctx.lineTo(xe - 4, ye + 3);
          }
          ctx.closePath();
          any = true;
        }
        if (any) {
          pen.fillStyle(up ? COLORS.ioUp : COLORS.ioDown);
          ctx.fill();
        }
      }
      // Values below zero in red on top.
      ctx.beginPath();
      let neg = false;
      for (let j = j0; j < j1; j++) {
        if (vals[j]! >= 0) continue;
        const xe = xOf(g, trace.timeAt(ev[j]!));
        ctx.rect(xe - 2.5, trackY(g, k, vals[j]!, lo, hi) - 2.5, 5, 5);
        neg = true;
      }
      if (neg) {
        pen.fillStyle(COLORS.ioNegative);
        ctx.fill();
      }
    }
    ctx.restore();
    pen.invalidate();
  }
}

/** The tracks' labels in the gutter: name, session, range, and ✕ (pinned) or "pin" (selected). */
export function drawTrackLabels(
  pen: Pen,
  g: Geom,
  tracks: readonly IoCountTrack[],
  pinned: readonly bigint[],
  selected: bigint | null,
): void {
  const ctx = pen.ctx;
  const l = g.layout;
  pen.textBaseline('middle');
  for (let k = 0; k < tracks.length; k++) {
    const tr = tracks[k]!;
    const top = sessionTrackTop(l, k);
    const isSel = tr.session === selected;
    pen.fillStyle(isSel ? COLORS.ioCount : COLORS.textDim);
    ctx.fillRect(6, top + 6, 3, SESSION_TRACK_H - 12);
    pen.textAlign('left');
    pen.font(FONT_BOLD);
    pen.fillStyle(COLORS.text);
    ctx.fillText('IOCount', 14, top + 11);
    pen.font(FONT_MONO);
    pen.fillStyle(isSel ? COLORS.ioCount : COLORS.textDim);
    ctx.fillText(formatSessionId(tr.session), 14, top + 25);
    pen.fillStyle(COLORS.textFaint);
    pen.textAlign('right');
    const [lo, hi] = scaleOf(tr);
    if (l.plotX0 > 150) ctx.fillText(`${lo} – ${hi}`, l.plotX0 - UNPIN_ZONE_PX - 4, top + 11);
    pen.font(FONT);
    const isPinned = pinned.includes(tr.session);
    pen.fillStyle(isPinned ? COLORS.textDim : COLORS.textFaint);
    pen.textAlign('center');
    ctx.fillText(isPinned ? '✕' : 'pin', l.plotX0 - UNPIN_ZONE_PX / 2 - 1, top + 25);
  }
}

/** The selected range: shaded over every row (more over its lanes), edges, and its span on the axis. */
export function drawRange(
  pen: Pen,
  g: Geom,
  r: TimelineRange,
  dashed: boolean,
  reserved?: AxisReserved,
  events?: number,
): void {
  const l = g.layout;
  const ctx = pen.ctx;
  const xa = Math.max(l.plotX0, Math.min(l.plotX1, xOf(g, r.startNs)));
  const xb = Math.max(l.plotX0, Math.min(l.plotX1, xOf(g, r.endNs)));
  if (xb - xa < 0.5 && (xOf(g, r.endNs) < l.plotX0 || xOf(g, r.startNs) > l.plotX1)) return;
  pen.fillStyle(COLORS.range);
  ctx.fillRect(xa, l.queueY0, xb - xa, l.plotY1 - l.queueY0);
  if (r.tids !== null) {
    pen.fillStyle(COLORS.rangeLanes);
    for (let row = 0; row < g.lanes.length; row++) {
      if (!r.tids.includes(g.lanes[row]!.tid)) continue;
      const top = Math.max(l.lanesY0, laneTop(l, row));
      const bottom = Math.min(l.lanesY1, laneTop(l, row) + l.laneH);
      if (bottom > top) ctx.fillRect(xa, top, xb - xa, bottom - top);
    }
  }
  pen.strokeStyle(COLORS.rangeEdge);
  pen.lineWidth(1);
  pen.lineDash(dashed ? '4,3' : '');
  ctx.beginPath();
  for (const x of [xa, xb]) {
    ctx.moveTo(Math.round(x) + 0.5, l.axisY0);
    ctx.lineTo(Math.round(x) + 0.5, l.plotY1);
  }
  ctx.stroke();
  pen.lineDash('');
  const label = `${formatDurationNs(r.endNs - r.startNs)}${events !== undefined ? ` · ${formatCount(events)} events` : ''}`;
  pen.font(FONT_MONO);
  const tw = ctx.measureText(label).width + 10;
  const cx = Math.max(l.plotX0, Math.min(l.plotX1 - tw, (xa + xb) / 2 - tw / 2));
  pen.fillStyle(COLORS.rangeEdge);
  ctx.fillRect(cx, l.axisY0 + 1, tw, 12);
  pen.fillStyle('#06111f');
  pen.textAlign('left');
  pen.textBaseline('middle');
  ctx.fillText(label, cx + 5, l.axisY0 + 7);
  if (reserved) reserved.push(cx, cx + tw);
}

/** Rings around events: on their lane, or on an IOCount track that holds them. */
export function drawRings(
  pen: Pen,
  trace: WebTrace,
  g: Geom,
  tracks: readonly IoCountTrack[],
  events: ArrayLike<number>,
  k0: number,
  k1: number,
  color: string,
  size: number,
): void {
  const ctx = pen.ctx;
  ctx.beginPath();
  let any = false;
  for (let k = k0; k < k1; k++) {
    const e = events[k]!;
    if (e < 0 || e >= trace.count) continue;
    const t = trace.timeAt(e);
    if (t < g.t0 || t > g.t1) continue;
    const x = Math.round(xOf(g, t));
    const h = size / 2;
    const y = eventY(trace, g, e);
    if (!Number.isNaN(y) && y >= g.layout.lanesY0 && y <= g.layout.lanesY1) {
      ctx.rect(x - h, y - h, size, size);
      any = true;
    }
    for (let j = 0; j < tracks.length; j++) {
      const ty = trackEventY(g, tracks, j, e);
      if (Number.isNaN(ty)) continue;
      ctx.rect(x - h, ty - h, size, size);
      any = true;
    }
  }
  if (!any) return;
  pen.strokeStyle(color);
  pen.lineWidth(2);
  pen.lineDash('');
  ctx.stroke();
}

/** The search matches in view as rings (when few enough are in view). */
export function drawSearchMatches(
  pen: Pen,
  trace: WebTrace,
  g: Geom,
  tracks: readonly IoCountTrack[],
  matches: Uint32Array,
): number {
  const k0 = trace.lowerBoundColumnTime(matches, g.t0, 0, matches.length);
  const k1 = trace.upperBoundColumnTime(matches, g.t1, k0, matches.length);
  if (k1 - k0 <= SEARCH_RINGS_LIMIT) {
    drawRings(pen, trace, g, tracks, matches, k0, k1, COLORS.search, 12);
  }
  return k1 - k0;
}
