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

  /**
   * The first local index the cursor may take: a window's state bracket is
   * state, not events (issue 15), so the cursor starts after it.
   */
  const firstLocal = (): number => (get().remote ? get().windowBracket : 0);

  /** A remote trace's global event g (clamped to the trace) is beyond the window: load its window. */
  const beyond = (g: number): boolean => {
    const s = get();
    const r = s.remote;
    if (r === null) return false;
    const c = Math.max(r.firstAvailable, Math.min(r.events - 1, g));
    if (c !== internal.toGlobal(s.cursor)) void s.actions.seekEvent(c);
    return true;
  };

  const actions: CursorActions = {
    setCursor: (index, opts) => {
      const s = get();
      if (!s.trace || s.trace.count === 0) return;
      const lo = Math.min(firstLocal(), s.trace.count - 1);
      const i = Math.max(lo, Math.min(s.trace.count - 1, Math.floor(index)));
      // Live: moving the cursor means the user wants to look, so stop following.
      const pause =
        s.source.kind === 'live' && !s.paused ? { paused: true, eventsSincePause: 0 } : {};
      set({ cursor: i, ...pause, ...(opts?.reveal === false ? {} : internal.revealCursor(i)) });
      if (s.remote) internal.prefetchNear(i);
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
      const lo = firstLocal();
      let to = cur;
      switch (kind) {
        case 'event': {
          const j = cur < 0 ? (dir > 0 ? lo : trace.count - 1) : cur + dir;
          if ((j < lo || j >= trace.count) && cur >= 0) {
            if (beyond(internal.toGlobal(cur) + dir)) return;
          }
          to = Math.max(lo, Math.min(trace.count - 1, j));
          break;
        }
        case 'thread':
          if (cur >= 0) {
            const j = trace.nextOnThread(cur, dir);
            if (j >= lo) to = j;
            else if (s.remote) {
              internal.remoteStep('thread', dir);
              return;
            }
          }
          break;
        case 'session': {
          const sess = s.selectedSession ?? sessionOfEvent(trace, cur);
          if (sess !== null) {
            const j = trace.nextForSession(cur, sess, dir);
            if (j >= lo) to = j;
            else if (s.remote) {
              if (s.selectedSession === null) s.actions.selectSession(sess);
              internal.remoteStep('session', dir);
              return;
            }
          }
          break;
        }
        case 'anomaly': {
          // Anchors are global (a remote trace's findings cover the whole trace).
          const l = { list: s.findingAnchors, length: s.findingAnchors.length };
          const g = cur < 0 ? -1 : internal.toGlobal(cur);
          const end = s.remote ? s.remote.events : trace.count;
          const j = dir > 0 ? nextAfter(l, g) : prevBefore(l, cur < 0 ? end : g);
          // Going to a finding frames its evidence (findings slice), not just the cursor.
          const f = j >= 0 ? s.findings.find((x) => x.anchor === j) : undefined;
          if (f) {
            s.actions.goToFinding(f, 'evidence');
            return;
          }
          if (j >= 0) {
            const local = internal.toLocal(j);
            if (local < 0) {
              beyond(j);
              return;
            }
            to = local;
          }
          break;
        }
      }
      if (to !== cur) actions.setCursor(to);
    },
    stepBy: (delta) => {
      const s = get();
      if (!s.trace) return;
      const lo = firstLocal();
      const j = s.cursor + delta;
      if (s.cursor >= 0 && (j < lo || j >= s.trace.count)) {
        if (beyond(internal.toGlobal(s.cursor) + delta)) return;
      }
      actions.setCursor(stepBy(s.cursor, delta, s.trace.count));
    },
    jumpToStart: () => {
      const r = get().remote;
      if (r) void get().actions.seekEvent(r.firstAvailable);
      else actions.setCursor(0);
    },
    jumpToEnd: () => {
      const s = get();
      if (s.remote) {
        void s.actions.seekEvent(s.remote.events - 1);
        return;
      }
      const t = s.trace;
      if (t && t.count > 0) actions.setCursor(t.count - 1);
    },
  };

  return { state: { cursor: -1, hoverIndex: -1 }, actions, internal: {} };
}
