// The selection slice: the selected session (exact 64-bit id), whose events
// the timeline highlights and whose lifecycle the inspector shows.

import type { Slice, SliceContext } from './context.ts';

export interface SelectionState {
  selectedSession: bigint | null;
}

export interface SelectionActions {
  selectSession(id: bigint | null): void;
}

export function createSelectionSlice(ctx: SliceContext): Slice<SelectionState, SelectionActions> {
  const { set } = ctx;
  return {
    state: { selectedSession: null },
    actions: { selectSession: (id) => set({ selectedSession: id }) },
    internal: {},
  };
}
