// Module-scope selectors for useAppStore. Each returns a primitive or a value
// the store replaces (never a fresh object), so components re-render only when
// that value changes.

import type { AppState } from './store.ts';

export const selectSource = (s: AppState) => s.source;
export const selectTrace = (s: AppState) => s.trace;
export const selectTraceVersion = (s: AppState) => s.traceVersion;
export const selectHeader = (s: AppState) => s.header;
export const selectAnalysis = (s: AppState) => s.analysis;
export const selectLoading = (s: AppState) => s.loading;
export const selectLoadFailure = (s: AppState) => s.loadFailure;
export const selectCursor = (s: AppState) => s.cursor;
export const selectHover = (s: AppState) => s.hoverIndex;
export const selectViewStart = (s: AppState) => s.viewStartNs;
export const selectViewEnd = (s: AppState) => s.viewEndNs;
export const selectPlaying = (s: AppState) => s.playing;
export const selectSpeed = (s: AppState) => s.speed;
export const selectPaused = (s: AppState) => s.paused;
export const selectEventsSincePause = (s: AppState) => s.eventsSincePause;
export const selectSelectedSession = (s: AppState) => s.selectedSession;
export const selectConnection = (s: AppState) => s.connection;
export const selectOverview = (s: AppState) => s.overview;
export const selectServer = (s: AppState) => s.server;
/** Which server the live stream shows (the latest status, else the hello). */
export const selectLiveSource = (s: AppState) =>
  s.server.status?.source ?? s.server.hello?.source ?? null;
export const selectFindings = (s: AppState) => s.findings;
export const selectFindingAnchors = (s: AppState) => s.findingAnchors;
export const selectAnalysisProgress = (s: AppState) => s.analysisProgress;
export const selectHelpOpen = (s: AppState) => s.helpOpen;
export const selectToasts = (s: AppState) => s.toasts;
export const selectIsLive = (s: AppState) => s.source.kind === 'live';
export const selectHasTrace = (s: AppState) => s.trace !== null;
export const selectEventCount = (s: AppState) => s.trace?.count ?? 0;
/** The event the details panel shows: the hovered one, else the cursor's. */
export const selectFocusEvent = (s: AppState) => (s.hoverIndex >= 0 ? s.hoverIndex : s.cursor);
export const selectRange = (s: AppState) => s.range;
export const selectRangeMode = (s: AppState) => s.rangeMode;
export const selectPinnedSessions = (s: AppState) => s.pinnedSessions;
export const selectSearchText = (s: AppState) => s.searchText;
export const selectSearchDescription = (s: AppState) => s.searchDescription;
export const selectSearchError = (s: AppState) => s.searchError;
export const selectSearchMatches = (s: AppState) => s.searchMatches;
export const selectLayout = (s: AppState) => s.layout;
export const selectBottomTab = (s: AppState) => s.bottomTab;
export const selectLegendOpen = (s: AppState) => s.legendOpen;
export const selectFramed = (s: AppState) => s.framed;
/** Rows of the timeline (lanes), for sizing the panels around it. */
export const selectLaneCount = (s: AppState) => s.trace?.lanes.length ?? 0;

/** Global event number of local index i of the loaded trace (a window's, issue 15). */
export function globalIndexOf(
  s: Pick<AppState, 'remote' | 'windowFrom' | 'windowBracket'>,
  i: number,
): number {
  return s.remote === null || i < 0 ? i : s.windowFrom + Math.max(0, i - s.windowBracket);
}
/** The cursor as an event number of the whole trace. */
export const selectGlobalCursor = (s: AppState) => globalIndexOf(s, s.cursor);
/** Events in the whole trace (a remote trace's, not its window's). */
export const selectTotalEvents = (s: AppState) =>
  s.remote ? s.remote.events : (s.trace?.count ?? 0);
/** The first event that can still be shown (a live spool drops old ones). */
export const selectFirstAvailable = (s: AppState) => (s.remote ? s.remote.firstAvailable : 0);
export const selectRemote = (s: AppState) => s.remote;
export const selectLiveTrim = (s: AppState) => s.liveTrim;
export const selectSpool = (s: AppState) => s.spool;
export const selectRemoteVersion = (s: AppState) => s.remoteVersion;
export const selectSeeking = (s: AppState) => s.seeking;
export const selectWindowFrom = (s: AppState) => s.windowFrom;
export const selectWindowBracket = (s: AppState) => s.windowBracket;
export const selectBudget = (s: AppState) => s.budgetBytes;
/**
 * What the sessions list says for a session whose peer the trace does not
 * have: the reference server records every peer it was given, so a missing
 * one is a client that reset before the accept finished; a foreign server's
 * tracer may simply not have been told.
 */
/**
 * Where the trace's IoCount comes from: the server's own count, or (the hook DLL)
 * derived: the outstanding I/O of each socket.
 */
export const selectIoCountSource = (s: AppState): 'application' | 'derived' =>
  (s.source.kind === 'live' ? selectLiveSource(s)?.ioCount : s.header?.ioCount) ?? 'application';

export const selectUnknownPeer = (s: AppState): string =>
  s.header?.backend === 'external' ||
  (s.source.kind === 'live' && selectLiveSource(s)?.kind === 'ingest')
    ? 'unknown'
    : 'unknown (reset before accept)';
