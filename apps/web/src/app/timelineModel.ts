// The TimelineModel the canvas reads, backed by the app store. AppState
// already has the TimelineState fields (trace, viewStartNs, viewEndNs, cursor,
// hoverIndex, selectedSession, findings, pinnedSessions, range, rangeMode,
// searchMatches, evidence), so getState() hands the store's snapshot through
// without copying.

import type { TimelineModel } from '../timeline/index.ts';
import type { AppStore } from '../state/store.ts';

export function timelineModelOf(store: AppStore): TimelineModel {
  const a = () => store.getState().actions;
  return {
    getState: () => store.getState(),
    subscribe: (listener) => store.subscribe(() => listener()),
    setView: (startNs, endNs) => a().setView(startNs, endNs),
    // A click on the timeline puts the cursor where the user is looking: no auto-pan.
    setCursor: (index) => a().setCursor(index, { reveal: false }),
    setHover: (index) => a().setHover(index),
    setRange: (r) => a().setRange(r),
    pinSession: (id) => a().pinSession(id),
    unpinSession: (id) => a().unpinSession(id),
    selectSession: (id) => a().selectSession(id),
  };
}
