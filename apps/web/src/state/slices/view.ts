// The view slice: the visible time window [viewStartNs, viewEndNs), in ns
// since the trace start. Invariant: viewStartNs < viewEndNs.

import type { WebTrace } from '../../trace/index.ts';
import type { AppState } from '../store.ts';
import type { Slice, SliceContext } from './context.ts';

export interface ViewState {
  viewStartNs: number;
  viewEndNs: number;
}

export interface ViewActions {
  setView(startNs: number, endNs: number): void;
}

export interface ViewInternal {
  /**
   * Keep event i inside the view: when it is outside, pan (keeping the zoom)
   * so it sits at 30% from the left, without showing more than a small margin
   * beyond either end of the trace. The patch is empty when i is in view.
   */
  revealCursor(i: number): Partial<AppState>;
}

/** The view before anything is loaded. */
export const initialView = (): ViewState => ({ viewStartNs: 0, viewEndNs: 1_000_000 });

/** The view that shows the whole trace with a small margin. */
export function wholeView(trace: WebTrace): { startNs: number; endNs: number } {
  const span = Math.max(trace.endNs - trace.startNs, 1000);
  return { startNs: trace.startNs - span * 0.01, endNs: trace.endNs + span * 0.01 };
}

export function createViewSlice(ctx: SliceContext): Slice<ViewState, ViewActions, ViewInternal> {
  const { set, get } = ctx;

  const revealCursor = (i: number): Partial<AppState> => {
    const { trace, viewStartNs, viewEndNs } = get();
    if (!trace || i < 0) return {};
    const t = trace.timeAt(i);
    if (t >= viewStartNs && t <= viewEndNs) return {};
    const w = viewEndNs - viewStartNs;
    const margin = w * 0.01;
    let start = t - w * 0.3;
    start = Math.min(start, trace.endNs + margin - w);
    start = Math.max(start, trace.startNs - margin);
    return { viewStartNs: start, viewEndNs: start + w };
  };

  return {
    state: initialView(),
    actions: {
      setView: (startNs, endNs) => {
        if (!(endNs > startNs) || !Number.isFinite(startNs) || !Number.isFinite(endNs)) return;
        const s = get();
        if (startNs === s.viewStartNs && endNs === s.viewEndNs) return;
        set({ viewStartNs: startNs, viewEndNs: endNs });
      },
    },
    internal: { revealCursor },
  };
}
