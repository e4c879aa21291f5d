// The app store: one zustand store per <AppStoreProvider>, built by
// createAppStore() from slices, as xyflow composes its store. No module
// singletons: the live connection, the play timer and the analysis live in
// the slices' closures and die with dispose().
//
// Slices (slices/*.ts, each the owner of its fields and actions)
// - source:    what is loaded, the WebTrace, load progress, the last load failure
// - view:      the visible window [viewStartNs, viewEndNs)
// - cursor:    the cursor and the hovered event; stepping
// - play:      playing + speed (events per second), driven by a timer
// - live:      the live connection, follow-head / paused, gap counters
// - selection: the selected session (exact 64-bit id)
// - server:    hello/status/recordings as last reported by the control channel
// - findings:  the detectors' output for the loaded trace; the finding framed
// - tracks:    sessions pinned as IOCount tracks
// - range:     the time range selected for numbers
// - search:    the event search and its matches
// - layout:    panel sizes (remembered) and the bottom-right tab
// - link:      deep links: the URL of this view, Copy link, opening a link
// - remote:    a trace the server holds, viewed through a window (issue 15):
//              the window's place in the whole trace, seeks across windows,
//              the memory budget
// - ui:        help and legend overlays, toasts
// Slices reach each other through `internal` (slices/context.ts), never
// through the UI's actions.
//
// Invariants
// - cursor is -1 or in [0, trace.count); hover likewise.
// - viewStartNs < viewEndNs.
// - `traceVersion` changes whenever the trace grew (live) or was replaced.

import { createStore, type StoreApi } from 'zustand/vanilla';
import type { SocketFactory, Timers } from '../connection/liveSocket.ts';
import { afterNextPaint, macrotask } from './analysis.ts';
import type { Internals, SliceContext, StoreEnv } from './slices/context.ts';
import { createSourceSlice, type SourceActions, type SourceState } from './slices/source.ts';
import { createViewSlice, type ViewActions, type ViewState } from './slices/view.ts';
import { createCursorSlice, type CursorActions, type CursorState } from './slices/cursor.ts';
import { createPlaySlice, type PlayActions, type PlayState } from './slices/play.ts';
import { createLiveSlice, type LiveActions, type LiveState } from './slices/live.ts';
import {
  createSelectionSlice,
  type SelectionActions,
  type SelectionState,
} from './slices/selection.ts';
import { createServerSlice, type ServerActions, type ServerState } from './slices/server.ts';
import {
  createFindingsSlice,
  type FindingsActions,
  type FindingsState,
} from './slices/findings.ts';
import { createUiSlice, type UiActions, type UiState } from './slices/ui.ts';
import { createTracksSlice, type TracksActions, type TracksState } from './slices/tracks.ts';
import { createRangeSlice, type RangeActions, type RangeState } from './slices/range.ts';
import { createSearchSlice, type SearchActions, type SearchState } from './slices/search.ts';
import { createLayoutSlice, type LayoutActions, type LayoutState } from './slices/layout.ts';
import { createLinkSlice, type LinkActions } from './slices/link.ts';
import { createRemoteSlice, type RemoteActions, type RemoteState } from './slices/remote.ts';

export type { Source, LoadingState, LoadFailure } from './slices/source.ts';
export type { ConnectionInfo, LiveOverview } from './slices/live.ts';
export type { ServerInfo } from './slices/server.ts';
export type { Toast } from './slices/ui.ts';
export type { StepKind } from './slices/cursor.ts';
export { wholeView } from './slices/view.ts';
export { sessionOfEvent } from './slices/cursor.ts';
export { SPEEDS, DEFAULT_SPEED } from './slices/play.ts';
export { LIVE_WINDOW_NS } from './slices/live.ts';
export type { RangeSelection } from './slices/range.ts';
export type { FramedFinding } from './slices/findings.ts';
export type { PanelSizes, BottomTab } from './slices/layout.ts';
export { MAX_PINNED } from './slices/tracks.ts';

export interface AppActions
  extends
    SourceActions,
    ViewActions,
    CursorActions,
    PlayActions,
    LiveActions,
    SelectionActions,
    ServerActions,
    FindingsActions,
    TracksActions,
    RangeActions,
    SearchActions,
    LayoutActions,
    LinkActions,
    RemoteActions,
    UiActions {
  /** Stop timers and the socket. The store is unusable afterwards. */
  dispose(): void;
}

export interface AppState
  extends
    SourceState,
    ViewState,
    CursorState,
    PlayState,
    LiveState,
    SelectionState,
    ServerState,
    FindingsState,
    TracksState,
    RangeState,
    SearchState,
    LayoutState,
    RemoteState,
    UiState {
  actions: AppActions;
}

export type AppStore = StoreApi<AppState>;

export interface AppStoreOptions {
  /** The live endpoint; default: `/ws` of the page's origin. */
  liveUrl?: string;
  createSocket?: SocketFactory;
  timers?: Timers;
  /** Coalesces live publishes; default requestAnimationFrame (setTimeout 16 where absent). */
  schedule?: (cb: () => void) => void;
  fetch?: typeof fetch;
  /** Runs background analysis slices; default a zero-delay macrotask (MessageChannel). */
  runTask?: (cb: () => void) => void;
  /** Page location for the default live URL and the token. */
  location?: { protocol: string; host: string; search: string };
  /** Where the panel layout is remembered; default localStorage (null: not remembered). */
  storage?: Pick<Storage, 'getItem' | 'setItem'> | null;
  /** Where "Copy link" writes; default navigator.clipboard (null: none). */
  clipboard?: { writeText(text: string): Promise<void> } | null;
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

const defaultSchedule = (cb: () => void): void => {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => cb());
  else globalThis.setTimeout(cb, 16);
};

function resolveEnv(options: AppStoreOptions): StoreEnv {
  const runTask = options.runTask ?? macrotask();
  return {
    options,
    timers: options.timers ?? defaultTimers,
    schedule: options.schedule ?? defaultSchedule,
    loc:
      options.location ??
      (typeof location !== 'undefined'
        ? location
        : { protocol: 'http:', host: '127.0.0.1:7700', search: '' }),
    fetch: options.fetch ?? ((...a) => fetch(...a)),
    runTask,
    // The first slice of a recording's analysis waits for the timeline's first frame.
    startAnalysis: options.runTask ?? afterNextPaint(runTask),
  };
}

export function createAppStore(options: AppStoreOptions = {}): AppStore {
  const env = resolveEnv(options);
  const internal = {} as Internals;
  const life = { disposed: false };
  return createStore<AppState>()((set, get) => {
    const ctx: SliceContext = { set, get, env, internal, life };
    const source = createSourceSlice(ctx);
    const view = createViewSlice(ctx);
    const cursor = createCursorSlice(ctx);
    const play = createPlaySlice(ctx);
    const live = createLiveSlice(ctx);
    const selection = createSelectionSlice(ctx);
    const server = createServerSlice(ctx);
    const findings = createFindingsSlice(ctx);
    const ui = createUiSlice(ctx);
    const tracks = createTracksSlice(ctx);
    const range = createRangeSlice(ctx);
    const search = createSearchSlice(ctx);
    const layout = createLayoutSlice(ctx);
    const link = createLinkSlice(ctx);
    const remote = createRemoteSlice(ctx);
    const slices = [
      ...[source, view, cursor, play, live, selection, server, findings, ui],
      ...[tracks, range, search, layout, link, remote],
    ];
    for (const s of slices) Object.assign(internal, s.internal);

    const actions: AppActions = {
      ...source.actions,
      ...view.actions,
      ...cursor.actions,
      ...play.actions,
      ...live.actions,
      ...selection.actions,
      ...server.actions,
      ...findings.actions,
      ...ui.actions,
      ...tracks.actions,
      ...range.actions,
      ...search.actions,
      ...layout.actions,
      ...link.actions,
      ...remote.actions,
      dispose: () => {
        life.disposed = true;
        internal.stopPlay();
        internal.closeLive();
        get().analysis?.dispose();
        internal.abortLoad();
        internal.closeRemote();
      },
    };
    return {
      ...source.state,
      ...view.state,
      ...cursor.state,
      ...play.state,
      ...live.state,
      ...selection.state,
      ...server.state,
      ...findings.state,
      ...ui.state,
      ...tracks.state,
      ...range.state,
      ...search.state,
      ...layout.state,
      ...link.state,
      ...remote.state,
      actions,
    };
  });
}
