// Which lanes get a row on the timeline. The trace keeps a lane for every
// thread id it saw, including NO_THREAD (events not recorded by a thread).
// In practice NO_THREAD carries Gap records (the hub's and the recorder's gap
// markers, the dashboard's own join/reconnect gaps) and setup records such as
// PortCreated: nothing a lane row can draw. Gaps are drawn as gap markers
// across every lane (drawGaps), so that lane only gets a row once it holds
// something to draw: a thread state or a queued packet (a native backend's
// kernel, recorded without a thread).
//
// Invariant: the result is trace.lanes itself when nothing is hidden, and one
// cached array per trace.lanes identity otherwise (no allocation per frame).

import { NO_THREAD } from '@iocpscope/protocol';
import type { Lane, WebTrace } from '../trace/index.ts';

const cache = new WeakMap<readonly Lane[], readonly Lane[]>();

function drawable(l: Lane): boolean {
  return l.tid !== NO_THREAD || l.states.length > 0 || l.marks.length > 0;
}

/** The lanes shown as timeline rows, in display order. */
export function shownLanes(trace: WebTrace): readonly Lane[] {
  const all = trace.lanes;
  let hide = false;
  for (let k = 0; k < all.length; k++) if (!drawable(all[k]!)) hide = true;
  if (!hide) return all;
  // Only the NO_THREAD lane can be hidden, and once it can be drawn nothing is
  // hidden: a list cached for this trace.lanes stays right.
  let out = cache.get(all);
  if (!out) {
    out = all.filter(drawable);
    cache.set(all, out);
  }
  return out;
}
