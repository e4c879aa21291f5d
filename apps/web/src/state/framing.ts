// Framing a finding (issue 19 §1): going to a finding puts its evidence in
// view, not just the cursor. The evidence frame spans the evidence events
// (and the anchor) with a margin, at least MIN_FRAME_NS wide. When the
// evidence is spread out but the anchor sits close to another of its events
// (two decrements 15 µs apart, their I/O posted milliseconds before), the
// frame closes in on that pair instead, so it is never one blurred mark: the
// pair spans 1/SEPARATE of the frame. The context frame (a second press)
// shows all the evidence and the session's life, or CONTEXT_TIMES the
// evidence frame around it when there is no session.

import type { WebTrace } from '../trace/index.ts';
import { clampToTrace } from './slices/view.ts';

/** The narrowest evidence frame. */
export const MIN_FRAME_NS = 20_000;
/** The anchor and its nearest evidence event take at least 1/SEPARATE of the frame. */
export const SEPARATE = 12;
/** The narrowest close-up (events recorded back to back are ~40 ns apart). */
const MIN_CLOSE_NS = 400;
/** Margin on each side of the evidence, as a share of its span (at least MIN_PAD_NS). */
const PAD_SHARE = 0.25;
const MIN_PAD_NS = 5_000;
/** The context frame is at least this many evidence frames wide. */
const CONTEXT_TIMES = 10;

export interface Frame {
  startNs: number;
  endNs: number;
}

/** Earliest and latest time among events (valid ones only); null when none is valid. */
function extent(trace: WebTrace, events: readonly number[]): Frame | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const i of events) {
    if (i < 0 || i >= trace.count) continue;
    const t = trace.timeAt(i);
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  return lo <= hi ? { startNs: lo, endNs: hi } : null;
}

/** The view that frames a finding's evidence events and anchor, clamped into the trace. */
export function evidenceFrame(
  trace: WebTrace,
  events: readonly number[],
  anchor: number,
): Frame | null {
  const all = allEvidence(trace, events, anchor);
  if (!all) return null;
  const close = closeUp(trace, events, anchor);
  if (close && all.endNs - all.startNs > close.endNs - close.startNs) {
    return clampToTrace(trace, close.startNs, close.endNs);
  }
  return all;
}

/** All the evidence with a margin, at least MIN_FRAME_NS wide, clamped. */
function allEvidence(trace: WebTrace, events: readonly number[], anchor: number): Frame | null {
  const e = extent(trace, [...events, anchor]);
  if (!e) return null;
  const span = e.endNs - e.startNs;
  const pad = Math.max(span * PAD_SHARE, MIN_PAD_NS);
  let start = e.startNs - pad;
  let end = e.endNs + pad;
  if (end - start < MIN_FRAME_NS) {
    const mid = (start + end) / 2;
    start = mid - MIN_FRAME_NS / 2;
    end = mid + MIN_FRAME_NS / 2;
  }
  return clampToTrace(trace, start, end);
}

/**
 * The anchor and its nearest evidence event (at a different time), framed
 * so that they are SEPARATE-th of the frame apart; null without such a pair.
 */
function closeUp(trace: WebTrace, events: readonly number[], anchor: number): Frame | null {
  if (anchor < 0 || anchor >= trace.count) return null;
  const ta = trace.timeAt(anchor);
  let best = Infinity;
  let other = ta;
  for (const i of events) {
    if (i < 0 || i >= trace.count) continue;
    const d = Math.abs(trace.timeAt(i) - ta);
    if (d > 0 && d < best) {
      best = d;
      other = trace.timeAt(i);
    }
  }
  if (!Number.isFinite(best)) return null;
  const w = Math.max(MIN_CLOSE_NS, best * SEPARATE);
  const mid = (ta + other) / 2;
  return { startNs: mid - w / 2, endNs: mid + w / 2 };
}

/** The wider frame: the session's whole life (or a wide window) around the evidence. */
export function contextFrame(
  trace: WebTrace,
  events: readonly number[],
  anchor: number,
  session: bigint | null,
): Frame | null {
  const ev = allEvidence(trace, events, anchor);
  if (!ev) return null;
  let start = ev.startNs;
  let end = ev.endNs;
  if (session !== null) {
    const list = trace.sessionEvents(session);
    if (list.length > 0) {
      start = Math.min(start, trace.timeAt(list[0]!));
      end = Math.max(end, trace.timeAt(list[list.length - 1]!));
    }
  }
  const minW = (ev.endNs - ev.startNs) * CONTEXT_TIMES;
  if (end - start < minW) {
    const mid = (ev.startNs + ev.endNs) / 2;
    start = Math.min(start, mid - minW / 2);
    end = Math.max(end, mid + minW / 2);
  }
  const pad = (end - start) * 0.04;
  return clampToTrace(trace, start - pad, end + pad);
}
