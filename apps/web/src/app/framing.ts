// Where a newly opened recording is looked at first: its activity
// (timeline/fit.ts), not the idle lead-in before it. Applied to every file or
// recording the store opens (dialog, drop, recordings list, the test hook),
// synchronously inside the store update that opened it, so the first frame
// drawn is already the framed one. The cursor moves to the first event in
// view, so stepping starts where the user is looking; Home still goes to #0.

import type { AppStore } from '../state/store.ts';
import { activityView } from '../timeline/index.ts';

/** Subscribe `store`; returns the unsubscribe function. */
export function frameOpenedTraces(store: AppStore): () => void {
  return store.subscribe((s, prev) => {
    if (s.trace === prev.trace || s.trace === null) return;
    if (s.source.kind !== 'file' && s.source.kind !== 'recording') return;
    const v = activityView(s.trace);
    if (v.first === 0) return;
    s.actions.setView(v.startNs, v.endNs);
    if (s.cursor <= 0) s.actions.setCursor(v.first, { reveal: false });
  });
}
