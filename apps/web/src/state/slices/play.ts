// The play slice: playback moves the cursor one event per 1/speed seconds
// (speed in events per second) from a timer, and stops at the last event.

import type { Slice, SliceContext } from './context.ts';

export const SPEEDS = [1, 2, 5, 10, 25, 50, 100, 250, 1000] as const;
export const DEFAULT_SPEED = 10;

export interface PlayState {
  playing: boolean;
  speed: number;
}

export interface PlayActions {
  setPlaying(on: boolean): void;
  togglePlay(): void;
  setSpeed(eventsPerSecond: number): void;
}

export interface PlayInternal {
  stopPlay(): void;
}

export function createPlaySlice(ctx: SliceContext): Slice<PlayState, PlayActions, PlayInternal> {
  const { set, get, env, internal, life } = ctx;
  const timers = env.timers;
  let playTimer: unknown = null;

  const stopPlay = (): void => {
    if (playTimer !== null) timers.clearTimeout(playTimer);
    playTimer = null;
  };

  const tick = (): void => {
    playTimer = null;
    const s = get();
    if (!s.playing || !s.trace || life.disposed) return;
    // A window of a remote trace on its way: wait for it.
    if (s.seeking !== null) {
      playTimer = timers.setTimeout(tick, 1000 / s.speed);
      return;
    }
    const next = s.cursor + 1;
    if (next >= s.trace.count) {
      const g = internal.toGlobal(s.cursor) + 1;
      if (s.remote && g < s.remote.events) {
        // Play on into the next window.
        void s.actions.seekEvent(g);
        playTimer = timers.setTimeout(tick, 1000 / s.speed);
        return;
      }
      set({ playing: false });
      return;
    }
    set({ cursor: next, ...internal.revealCursor(next) });
    if (s.remote) internal.prefetchNear(next);
    playTimer = timers.setTimeout(tick, 1000 / s.speed);
  };

  const actions: PlayActions = {
    setPlaying: (on) => {
      const s = get();
      if (on === s.playing) return;
      stopPlay();
      if (!on) {
        set({ playing: false });
        return;
      }
      if (!s.trace || s.trace.count === 0) return;
      const pause = s.source.kind === 'live' ? { paused: true } : {};
      // Playing from the last event restarts from the beginning.
      const atEnd = s.remote
        ? internal.toGlobal(s.cursor) >= s.remote.events - 1
        : s.cursor >= s.trace.count - 1;
      if (s.remote && atEnd) {
        void s.actions.seekEvent(s.remote.firstAvailable);
        set({ playing: true, ...pause });
        playTimer = timers.setTimeout(tick, 1000 / s.speed);
        return;
      }
      const start = s.cursor < 0 || atEnd ? (s.remote ? s.windowBracket : 0) : s.cursor;
      set({ playing: true, cursor: start, ...pause });
      playTimer = timers.setTimeout(tick, 1000 / s.speed);
    },
    togglePlay: () => actions.setPlaying(!get().playing),
    setSpeed: (eps) => {
      if (!(eps > 0)) return;
      set({ speed: eps });
      if (get().playing) {
        stopPlay();
        playTimer = timers.setTimeout(tick, 1000 / eps);
      }
    },
  };

  return {
    state: { playing: false, speed: DEFAULT_SPEED },
    actions,
    internal: { stopPlay },
  };
}
