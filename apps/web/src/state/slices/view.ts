// The view slice: the visible time window [viewStartNs, viewEndNs), in ns
// since the trace start. Invariant: viewStartNs < viewEndNs.
//
// Every view set here is clamped into the trace's bounds (lib/view.ts, the
// same clamp the renderer draws with), so the store's window is the one on
// screen: a view left outside the trace (C at the first event, F then C)
// would make the next wheel zoom drift away from the pointer. Live, panning
// (moving the window without changing its width) stops following the head;
// zooming keeps following with the new width.

import type { WebTrace } from '../../trace/index.ts';
import { clampView, viewBounds } from '../../lib/view.ts';
import type { AppState } from '../store.ts';
import type { Slice, SliceContext } from './context.ts';
import { extentOf } from './remote.ts';

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

/** The view that shows the whole trace with a small margin (also the widest view). */
export function wholeView(trace: WebTrace): { startNs: number; endNs: number } {
  return viewBounds(trace.startNs, trace.endNs);
}

/** `[startNs, endNs]` clamped into the trace's bounds (unchanged without a trace). */
export function clampToTrace(
  trace: WebTrace | null,
  startNs: number,
  endNs: number,
): { startNs: number; endNs: number } {
  if (!trace || trace.count === 0) return { startNs, endNs };
  const b = viewBounds(trace.startNs, trace.endNs);
  return clampView(startNs, endNs, b.startNs, b.endNs);
}

/**
 * `[startNs, endNs]` clamped into a whole trace's extent (a remote trace's is
 * the server's, wider than its window); unchanged without one.
 */
export function clampToExtent(
  ext: { startNs: number; endNs: number } | null,
  startNs: number,
  endNs: number,
): { startNs: number; endNs: number } {
  if (ext === null) return { startNs, endNs };
  const b = viewBounds(ext.startNs, ext.endNs);
  return clampView(startNs, endNs, b.startNs, b.endNs);
}

export function createViewSlice(ctx: SliceContext): Slice<ViewState, ViewActions, ViewInternal> {
  const { set, get } = ctx;

  const revealCursor = (i: number): Partial<AppState> => {
    const s = get();
    const { trace, viewStartNs, viewEndNs } = s;
    const ext = extentOf(s);
    if (!trace || i < 0 || i >= trace.count || ext === null) return {};
    const t = trace.timeAt(i);
    if (t >= viewStartNs && t <= viewEndNs) return {};
    const w = viewEndNs - viewStartNs;
    // At most 1% of the window beyond either end: zoomed in on the first
    // event, the window starts at the trace, not 30% before it.
    const margin = w * 0.01;
    let start = t - w * 0.3;
    start = Math.min(start, ext.endNs + margin - w);
    start = Math.max(start, ext.startNs - margin);
    const v = clampToExtent(ext, start, start + w);
    return { viewStartNs: v.startNs, viewEndNs: v.endNs };
  };

  return {
    state: initialView(),
    actions: {
      setView: (startNs, endNs) => {
        if (!(endNs > startNs) || !Number.isFinite(startNs) || !Number.isFinite(endNs)) return;
        const s = get();
        const v = clampToExtent(extentOf(s), startNs, endNs);
        if (v.startNs === s.viewStartNs && v.endNs === s.viewEndNs) return;
        const w = s.viewEndNs - s.viewStartNs;
        const pan =
          s.source.kind === 'live' &&
          !s.paused &&
          Math.abs(v.endNs - v.startNs - w) <= w * 1e-6 &&
          v.startNs !== s.viewStartNs;
        set({
          viewStartNs: v.startNs,
          viewEndNs: v.endNs,
          ...(pan ? { paused: true, eventsSincePause: 0 } : {}),
        });
      },
    },
    internal: { revealCursor },
  };
}
