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
    const next = s.cursor + 1;
    if (next >= s.trace.count) {
      set({ playing: false });
      return;
    }
    set({ cursor: next, ...internal.revealCursor(next) });
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
      const start = s.cursor < 0 || s.cursor >= s.trace.count - 1 ? 0 : s.cursor;
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
