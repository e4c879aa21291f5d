// The range slice: a time range selected on the timeline (Shift+drag, or a
// plain drag in range mode), optionally limited to the lanes the drag
// covered; the range panel shows its numbers (trace/rangeStats.ts). Issue 19 §2.

import type { Slice, SliceContext } from './context.ts';

export interface RangeSelection {
  readonly startNs: number;
  readonly endNs: number;
  /** Thread indices of the lanes covered, or null for all threads. */
  readonly tids: readonly number[] | null;
}

export interface RangeState {
  range: RangeSelection | null;
  /** A plain drag on the timeline selects a range instead of panning. */
  rangeMode: boolean;
}

export interface RangeActions {
  /** Select a range (its numbers show in the range panel), or clear it (null). */
  setRange(r: RangeSelection | null): void;
  setRangeMode(on: boolean): void;
}

export function createRangeSlice(ctx: SliceContext): Slice<RangeState, RangeActions> {
  const { set } = ctx;
  return {
    state: { range: null, rangeMode: false },
    actions: {
      setRange: (r) => {
        if (r === null) {
          set({ range: null });
          return;
        }
        const startNs = Math.min(r.startNs, r.endNs);
        const endNs = Math.max(r.startNs, r.endNs);
        if (!Number.isFinite(startNs) || !Number.isFinite(endNs) || !(endNs > startNs)) return;
        const tids =
          r.tids && r.tids.length > 0 ? [...new Set(r.tids)].sort((a, b) => a - b) : null;
        // The numbers replace the anomalies in the bottom-right panel until closed.
        set({ range: { startNs, endNs, tids }, bottomTab: 'range' });
      },
      setRangeMode: (on) => set({ rangeMode: on }),
    },
    internal: {},
  };
}
