// Framing a finding (issue 19 §1): going to a finding puts its evidence in
// view, not just the cursor. The evidence frame spans the evidence events
// (and the anchor) with a margin, at least MIN_FRAME_NS wide, so two
// decrements 15 µs apart are two marks far apart on the screen. The context
// frame (a second press) widens it to the session's life, or to CONTEXT_TIMES
// the evidence span around it when there is no session.

import type { WebTrace } from '../trace/index.ts';
import { clampToTrace } from './slices/view.ts';

/** The narrowest evidence frame. */
export const MIN_FRAME_NS = 20_000;
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

/** The wider frame: the session's whole life (or a wide window) around the evidence. */
export function contextFrame(
  trace: WebTrace,
  events: readonly number[],
  anchor: number,
  session: bigint | null,
): Frame | null {
  const ev = evidenceFrame(trace, events, anchor);
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
