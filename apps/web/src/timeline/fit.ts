// The view a recording opens at: where its events are. A recording starts
// when the server starts, and the first events (the main thread, the port)
// are often followed by seconds of nothing while the worker threads spawn and
// before any client connects; fitting the whole trace then squeezes all the
// activity into the right edge. So the idle lead-in is cut:
//
//   from the first event, look at the gaps between the next LEAD_EVENTS
//   events; while the largest of them is more than half of what remains of
//   the trace (and cutting there keeps most of the events), the activity
//   starts after it.
//
// Only a lead-in of a few events is ever cut (a long quiet stretch in the
// middle of a busy trace is part of the story, and so is an idle tail: a
// shutdown that hangs, a zombie session that is never released). The result
// is the window [first kept event, last event] with a 2% margin; F (whole
// trace) still shows everything.

import type { WebTrace } from '../trace/index.ts';
import { MIN_VIEW_NS } from './model.ts';

/** How far into the trace a lead-in may reach. */
export const LEAD_EVENTS = 32;
/** A gap cuts the lead-in when it is more than this share of the rest of the trace. */
export const LEAD_SHARE = 0.5;

/** Index of the first event after the idle lead-in (0 when there is none). */
export function activityStart(trace: WebTrace): number {
  const n = trace.count;
  if (n < 3) return 0;
  const endNs = trace.timeAt(n - 1);
  let start = 0;
  while (start < n - 2) {
    const span = endNs - trace.timeAt(start);
    let best = -1;
    let bestGap = 0;
    const last = Math.min(n - 1, start + LEAD_EVENTS);
    for (let i = start + 1; i <= last; i++) {
      const gap = trace.timeAt(i) - trace.timeAt(i - 1);
      if (gap > bestGap) {
        bestGap = gap;
        best = i;
      }
    }
    // Never cut the majority of the events: that is a long idle tail, not a lead-in.
    if (best < 0 || bestGap <= span * LEAD_SHARE || best - start > (n - start) / 2) break;
    start = best;
  }
  return start;
}

/** The opening view of a recording: its activity, lead-in cut, with a small margin. */
export function activityView(trace: WebTrace): { startNs: number; endNs: number; first: number } {
  const first = activityStart(trace);
  const t0 = trace.count > 0 ? trace.timeAt(first) : trace.startNs;
  const t1 = Math.max(trace.endNs, t0);
  const span = Math.max(t1 - t0, MIN_VIEW_NS * 10);
  return { startNs: t0 - span * 0.02, endNs: t1 + span * 0.02, first };
}
