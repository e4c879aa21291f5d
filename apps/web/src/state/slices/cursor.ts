// The cursor slice: the cursor and the hovered event, as event indices (-1 =
// none; otherwise in [0, trace.count)). The cursor is what stepping moves and
// what the panels show the state at.

import type { WebTrace } from '../../trace/index.ts';
import { nextAfter, prevBefore, stepBy } from '../stepping.ts';
import type { Slice, SliceContext } from './context.ts';

export type StepKind = 'event' | 'thread' | 'session' | 'anomaly';

export interface CursorState {
  cursor: number;
  hoverIndex: number;
}

export interface CursorActions {
  setCursor(index: number, opts?: { reveal?: boolean }): void;
  setHover(index: number | null): void;
  step(kind: StepKind, dir: 1 | -1): void;
  stepBy(delta: number): void;
  jumpToStart(): void;
  jumpToEnd(): void;
}

/** The session (or completion key) event i carries, or null. */
export function sessionOfEvent(trace: WebTrace, i: number): bigint | null {
  if (i < 0 || i >= trace.count) return null;
  const o = i * 8;
  const lo = trace.words[o + 4]!;
  const hi = trace.words[o + 5]!;
  if ((lo | hi) === 0) return null;
  const row = trace.sessions.find(lo, hi);
  return row < 0 ? null : trace.sessions.id(row);
}

export function createCursorSlice(ctx: SliceContext): Slice<CursorState, CursorActions> {
  const { set, get, internal } = ctx;

  const actions: CursorActions = {
    setCursor: (index, opts) => {
      const s = get();
      if (!s.trace || s.trace.count === 0) return;
      const i = Math.max(0, Math.min(s.trace.count - 1, Math.floor(index)));
      // Live: moving the cursor means the user wants to look, so stop following.
      const pause =
        s.source.kind === 'live' && !s.paused ? { paused: true, eventsSincePause: 0 } : {};
      set({ cursor: i, ...pause, ...(opts?.reveal === false ? {} : internal.revealCursor(i)) });
    },
    setHover: (index) => {
      const i = index ?? -1;
      if (i !== get().hoverIndex) set({ hoverIndex: i });
    },
    step: (kind, dir) => {
      const s = get();
      const trace = s.trace;
      if (!trace || trace.count === 0) return;
      const cur = s.cursor;
      let to = cur;
      switch (kind) {
        case 'event':
          to = stepBy(cur, dir, trace.count);
          break;
        case 'thread':
          if (cur >= 0) {
            const j = trace.nextOnThread(cur, dir);
            if (j >= 0) to = j;
          }
          break;
        case 'session': {
          const sess = s.selectedSession ?? sessionOfEvent(trace, cur);
          if (sess !== null) {
            const j = trace.nextForSession(cur, sess, dir);
            if (j >= 0) to = j;
          }
          break;
        }
        case 'anomaly': {
          const l = { list: s.findingAnchors, length: s.findingAnchors.length };
          const j = dir > 0 ? nextAfter(l, cur) : prevBefore(l, cur < 0 ? trace.count : cur);
          // Going to a finding frames its evidence (findings slice), not just the cursor.
          const f = j >= 0 ? s.findings.find((x) => x.anchor === j) : undefined;
          if (f) {
            s.actions.goToFinding(f, 'evidence');
            return;
          }
          if (j >= 0) to = j;
          break;
        }
      }
      if (to !== cur) actions.setCursor(to);
    },
    stepBy: (delta) => {
      const s = get();
      if (!s.trace) return;
      actions.setCursor(stepBy(s.cursor, delta, s.trace.count));
    },
    jumpToStart: () => actions.setCursor(0),
    jumpToEnd: () => {
      const t = get().trace;
      if (t && t.count > 0) actions.setCursor(t.count - 1);
    },
  };

  return { state: { cursor: -1, hoverIndex: -1 }, actions, internal: {} };
}
