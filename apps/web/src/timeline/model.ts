// The timeline's view of the app state: the one interface through which the
// canvas reads and writes. The app's zustand store satisfies it (timeline/
// never imports zustand); tests satisfy it with a plain object.
//
// Contract
// - `getState()` is cheap and returns the current snapshot; the renderer calls
//   it once per frame, never per item.
// - `subscribe(listener)` calls `listener` after any change to the snapshot
//   (including "the trace grew": after `trace.append`, the store must notify,
//   e.g. by bumping a counter). The renderer compares fields and `trace.version`
//   to decide what to redraw, so spurious notifications are harmless.
// - The setters are the canvas's only writes: a view change from zoom/pan or
//   the overview strip, a click (cursor), a hover. The store may clamp or
//   ignore them; the canvas always draws what `getState()` says.

import type { WebTrace } from '../trace/index.ts';
import { viewBounds } from '../lib/view.ts';
import type { TimelineRemote } from './underlay.ts';

export type { TimelineRemote } from './underlay.ts';

/** A finding (from the analysis detectors) to mark on the timeline. */
export interface TimelineFinding {
  /** Event indices that prove it (ascending); the first one anchors the marker. */
  readonly events: ArrayLike<number>;
  /** Its anchor's time, for a finding whose events are outside a window (`events` empty). */
  readonly ns?: number;
  /** Short rule name shown next to the marker, e.g. "IOCount below zero". */
  readonly label: string;
}

export interface TimelineState {
  /** The trace being shown, or null before one is loaded. */
  readonly trace: WebTrace | null;
  /** Visible time window, ns since trace start, viewStartNs < viewEndNs. */
  readonly viewStartNs: number;
  readonly viewEndNs: number;
  /** Event index the cursor sits on, or -1. */
  readonly cursor: number;
  /** Event index under the mouse (as last reported by setHover), or -1. */
  readonly hoverIndex: number;
  /** Selected session (exact 64-bit id): its events are highlighted and its flows drawn. */
  readonly selectedSession: bigint | null;
  /** Findings to mark, if the detectors have run. */
  readonly findings?: readonly TimelineFinding[];
  /** Sessions pinned as IOCount tracks under the lanes (the selected one gets a track too). */
  readonly pinnedSessions?: readonly bigint[];
  /** The selected time range (and the lanes it covers), shaded, or null. */
  readonly range?: TimelineRange | null;
  /** A plain drag selects a range instead of panning. */
  readonly rangeMode?: boolean;
  /** Events matching the search (ascending), ringed where few enough are in view. */
  readonly searchMatches?: Uint32Array | null;
  /** The framed finding's evidence events, ringed in the finding colour. */
  readonly evidence?: readonly number[] | null;
  /** A lock (id) hovered in the lock view: its holds and waits are drawn on every lane. */
  readonly highlightLock?: number | null;
  /**
   * A trace the server holds, of which `trace` is a window (issue 15): the
   * whole extent, and summaries for what lies outside the window.
   */
  readonly windowed?: TimelineRemote | null;
}

/** A time range selected on the timeline. */
export interface TimelineRange {
  readonly startNs: number;
  readonly endNs: number;
  /** Thread indices of the lanes it covers, or null for all. */
  readonly tids: readonly number[] | null;
}

export interface TimelineModel {
  getState(): TimelineState;
  /** Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Requested visible window (ns); the canvas keeps it inside the trace and above 100 ns wide. */
  setView(startNs: number, endNs: number): void;
  /** Move the cursor to an event (a click on the timeline). */
  setCursor(index: number): void;
  /** The event under the mouse, or null when there is none. */
  setHover(index: number | null): void;
  /** A range dragged out (Shift+drag, or a plain drag in range mode); null clears it. */
  setRange?(range: TimelineRange | null): void;
  /** The ✕ beside a pinned track's name. */
  unpinSession?(id: bigint): void;
  /** "pin" beside the selected session's track. */
  pinSession?(id: bigint): void;
  /** A click on a track's name. */
  selectSession?(id: bigint): void;
  /** A click outside a remote trace's window: go to the event at that time. */
  seekTime?(ns: number): void;
}

/** The smallest window the canvas will zoom to. */
export { MIN_VIEW_NS } from '../lib/view.ts';

/** A view spanning the whole trace, with a little margin (a good initial view, and the widest). */
export function fullView(
  trace: WebTrace,
  remote?: TimelineRemote | null,
): { startNs: number; endNs: number } {
  if (remote) return viewBounds(remote.startNs, remote.endNs);
  return viewBounds(trace.startNs, trace.endNs);
}

/** Props of <TimelineCanvas>: it fills its parent box (give the parent a size). */
export interface TimelineCanvasProps {
  readonly model: TimelineModel;
  readonly className?: string;
}
