// The TimelineModel the canvas reads, backed by the app store. AppState
// already has the TimelineState fields (trace, viewStartNs, viewEndNs, cursor,
// hoverIndex, selectedSession, findings), so getState() hands the store's
// snapshot through without copying.

import type { TimelineModel } from '../timeline/index.ts';
import type { AppStore } from '../state/store.ts';

export function timelineModelOf(store: AppStore): TimelineModel {
  return {
    getState: () => store.getState(),
    subscribe: (listener) => store.subscribe(() => listener()),
    setView: (startNs, endNs) => store.getState().actions.setView(startNs, endNs),
    // A click on the timeline puts the cursor where the user is looking: no auto-pan.
    setCursor: (index) => store.getState().actions.setCursor(index, { reveal: false }),
    setHover: (index) => store.getState().actions.setHover(index),
  };
}
