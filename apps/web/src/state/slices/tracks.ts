// The tracks slice: sessions pinned as IOCount counter tracks under the
// timeline's lanes (issue 19 §3), several at once, in pinning order. The
// selected session gets a track too (drawn first) without being pinned.

import type { Slice, SliceContext } from './context.ts';

/** At most this many pinned tracks (each is a row of the timeline). */
export const MAX_PINNED = 8;

export interface TracksState {
  pinnedSessions: readonly bigint[];
}

export interface TracksActions {
  pinSession(id: bigint): void;
  unpinSession(id: bigint): void;
  togglePin(id: bigint): void;
}

export function createTracksSlice(ctx: SliceContext): Slice<TracksState, TracksActions> {
  const { set, get, internal } = ctx;
  const actions: TracksActions = {
    pinSession: (id) => {
      const pins = get().pinnedSessions;
      if (pins.includes(id)) return;
      if (pins.length >= MAX_PINNED) {
        internal.toast({
          tone: 'info',
          title: `At most ${MAX_PINNED} pinned tracks`,
          detail: 'Unpin one (✕ beside its name on the timeline) to pin another.',
        });
        return;
      }
      set({ pinnedSessions: [...pins, id] });
    },
    unpinSession: (id) => {
      const pins = get().pinnedSessions;
      if (pins.includes(id)) set({ pinnedSessions: pins.filter((p) => p !== id) });
    },
    togglePin: (id) =>
      get().pinnedSessions.includes(id) ? actions.unpinSession(id) : actions.pinSession(id),
  };
  return { state: { pinnedSessions: [] }, actions, internal: {} };
}
