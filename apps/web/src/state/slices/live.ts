// The live slice: the live stream's connection and what it delivered. While
// not `paused`, the view and the cursor follow the newest event (follow-head);
// paused, they stay and `eventsSincePause` counts what arrives. Connection
// status and gap counters live here too.
//
// Live appends are coalesced: records go into the trace at once (cheap, typed
// arrays) but the store publishes at most once per frame (env.schedule).
//
// Memory stays bounded however long the view runs:
// - Following, the live trace holds at most LIVE_TRACE_SHARE of the memory
//   budget. Past that it is trimmed: the slice asks the server to `resync` and
//   starts a new trace at the Resync bracket that answers (the state at that
//   cut, FORMAT.md §10). What came before is in the server's live spool.
// - Paused, the view keeps what it holds (up to the same share; frames past
//   it are counted, not kept). "Browse spool" opens the spool (trace `live`,
//   FORMAT.md §12.4) as a windowed remote trace at the cursor's time:
//   stepping, seeking and the timeline then reach back to the oldest event the
//   spool holds, and the timeline shades what it no longer holds. Frames that
//   arrive meanwhile are counted, not kept (they are in the spool too).
// - Resuming drops the spool view and resyncs: following starts again from a
//   bracket at the head.
// Without a spool (`serve --spool-bytes 0`), a paused view keeps what it holds
// and stops adding past the share; resuming resyncs.

import {
  EventKind,
  GapSource,
  SnapshotPhase,
  SnapshotReason,
  decodeEvent,
  NO_THREAD,
  RECORD_WORDS,
  encodeEvent,
  StringTable,
  TS_HI_MASK,
  type ProtocolError,
  type RecordingInfo,
} from '@iocpscope/protocol';
import { WebTrace } from '../../trace/index.ts';
import { LoadError } from '../../connection/errors.ts';
import { LiveConnection, type GapInfo } from '../../connection/live.ts';
import { defaultLiveUrl, type LiveStatus } from '../../connection/liveSocket.ts';
import { createTraceAnalysis } from '../analysis.ts';
import type { AppState } from '../store.ts';
import { noFindings } from './findings.ts';
import type { Slice, SliceContext } from './context.ts';

/** Width of the followed window in live mode until the user zooms. */
export const LIVE_WINDOW_NS = 100_000_000;

/** The share of the memory budget the followed live trace may hold before it is trimmed. */
export const LIVE_TRACE_SHARE = 0.25;
/** Never trim a live trace smaller than this (bytes). */
const MIN_LIVE_TRACE_BYTES = 2 * 1024 * 1024;
/** A resync the server has not answered within this long is given up (ms). */
const RESYNC_TIMEOUT_MS = 3000;

/** Whether a frame opens with a Snapshot bracket (after at most one Gap record). */
export function startsWithBracket(records: Uint32Array): boolean {
  const n = Math.min(2, records.length / RECORD_WORDS);
  for (let i = 0; i < n; i++) {
    const e = decodeEvent(records, i);
    if (e?.kind === EventKind.Snapshot) {
      return (
        e.phase === SnapshotPhase.Begin &&
        (e.reason === SnapshotReason.Resync || e.reason === SnapshotReason.LateJoin)
      );
    }
    if (e?.kind !== EventKind.Gap) return false;
  }
  return false;
}

/** The live spool as a trace the remote view opens (FORMAT.md §12.4). */
const SPOOL_INFO: RecordingInfo = { id: 'live', name: 'live spool', bytes: 0, createdAt: 0 };

/** What trimming the followed live trace has set aside so far (for the status bar). */
export interface LiveTrim {
  /** Times the live trace was started again from a bracket. */
  times: number;
  /** Events and findings the browser no longer holds (the spool may). */
  events: number;
  findings: number;
}

export interface ConnectionInfo {
  status: LiveStatus;
  /**
   * This live source's socket has opened at least once: a later drop is a
   * reconnect to a server that exists, not "no server here" (app/liveStartup).
   */
  everOpened: boolean;
  /** Gap markers seen (server gaps + missing frames + reconnects). */
  gaps: number;
  /** Events the server reported lost (exact counts only). */
  lostEvents: number;
  /** Gaps whose size is unknown (missing frames, reconnects). */
  unknownGaps: number;
  lastGap: GapInfo | null;
  frames: number;
  bytes: number;
  badFrames: number;
}

export interface LiveState {
  paused: boolean;
  /** Events that arrived while paused (live). */
  eventsSincePause: number;
  connection: ConnectionInfo;
  /** Set aside by trimming the followed trace, or null (never trimmed). */
  liveTrim: LiveTrim | null;
  /**
   * The server's live spool as this view knows it: 'unknown' until a pause
   * asks for it, 'opening', 'none' (the server keeps none: NO_SPOOL), 'error'.
   */
  spool: 'unknown' | 'opening' | 'none' | 'error';
}

export interface LiveActions {
  /** Connect to the live stream (default: the server this page came from). */
  connectLive(url?: string): void;
  retryLive(): void;
  /** Live only: freeze the view (true) or follow the head again (false). */
  setPaused(paused: boolean): void;
  togglePause(): void;
  /** Live: pause (if following) and open the server's spool under the view, back to its oldest event. */
  browseSpool(): void;
}

export interface LiveInternal {
  /** Close the socket (if any) and forget its strings and pending replies. */
  closeLive(): void;
  /** The open live connection, or null. */
  liveConnection(): LiveConnection | null;
  /** The live stream now shows another trace: drop the old one's events, keep the socket. */
  restartLiveTrace(): void;
}

export const initialConnection = (): ConnectionInfo => ({
  status: { state: 'idle' },
  everOpened: false,
  gaps: 0,
  lostEvents: 0,
  unknownGaps: 0,
  lastGap: null,
  frames: 0,
  bytes: 0,
  badFrames: 0,
});

/** One Gap record of unknown size (lost = 0) at `tsNs`, from no thread. */
export function gapRecord(tsNs: number): Uint32Array {
  const w = new Uint32Array(RECORD_WORDS);
  encodeEvent(w, 0, {
    kind: EventKind.Gap,
    tsNs,
    tid: NO_THREAD,
    source: GapSource.ClientQueue,
    lost: 0,
  });
  return w;
}

export function createLiveSlice(ctx: SliceContext): Slice<LiveState, LiveActions, LiveInternal> {
  const { set, get, env, internal, life } = ctx;
  let live: LiveConnection | null = null;
  let liveStrings: StringTable | null = null;
  let publishPending = false;
  let lastPublishedCount = 0;
  /** A resync was asked for and its bracket has not come. */
  let resyncPending = false;
  let resyncTimer: unknown = null;
  /** Frames are counted, not kept, until the next bracket (after a resume, or paused and full). */
  let discarding = false;
  /** Events that arrived and were not kept since the last publish. */
  let unseen = 0;
  /** Bumps when a spool open must be forgotten (resume, new connection). */
  let spoolToken = 0;

  const closeLive = (): void => {
    if (live) live.close();
    live = null;
    liveStrings = null;
    resyncPending = false;
    discarding = false;
    unseen = 0;
    spoolToken++;
    if (resyncTimer !== null) env.timers.clearTimeout(resyncTimer);
    resyncTimer = null;
    internal.clearPendingReplies();
  };

  const liveCapBytes = (): number =>
    Math.max(MIN_LIVE_TRACE_BYTES, get().budgetBytes * LIVE_TRACE_SHARE);

  /** Ask the server for a bracket at the head of this client's stream. */
  const requestResync = (): void => {
    if (resyncPending || !live) return;
    if (live.send({ type: 'resync' }) < 0) return;
    resyncPending = true;
    if (resyncTimer !== null) env.timers.clearTimeout(resyncTimer);
    const conn = live;
    resyncTimer = env.timers.setTimeout(() => {
      resyncTimer = null;
      if (live !== conn || !resyncPending) return;
      // No bracket came (an older server, or it was busy): go on without one.
      // The trace then opens with a Gap, as when joining a running server.
      resyncPending = false;
      if (discarding) {
        discarding = false;
        startTrace(null);
      }
    }, RESYNC_TIMEOUT_MS);
  };

  /**
   * Start the live trace again from `records` (a frame that opens with a
   * bracket), or empty: the old trace, its analysis and findings are dropped
   * and what they held is counted in liveTrim.
   */
  const startTrace = (records: Uint32Array | null): void => {
    const s = get();
    if (s.source.kind !== 'live') return;
    const old = s.remote === null ? s.trace : null;
    const trim = s.liveTrim ?? { times: 0, events: 0, findings: 0 };
    internal.stopPlay();
    internal.resetSearch();
    internal.closeRemote();
    s.analysis?.dispose();
    const trace = new WebTrace();
    if (records && records.length > 0) {
      trace.append(gapRecord(records[2]! + (records[3]! & TS_HI_MASK) * 4294967296));
      trace.append(records, liveStrings ?? undefined);
    }
    lastPublishedCount = 0;
    const first = s.liveTrim === null;
    set({
      trace,
      traceVersion: s.traceVersion + 1,
      analysis: null,
      cursor: -1,
      hoverIndex: -1,
      ...noFindings(),
      framed: null,
      evidence: null,
      range: null,
      liveTrim: old
        ? {
            times: trim.times + 1,
            events: trim.events + old.count,
            findings: trim.findings + s.findings.length,
          }
        : trim,
    });
    if (old && first) {
      internal.toast({
        tone: 'info',
        title: 'The live view keeps the newest events',
        detail:
          `It holds at most ${Math.round(liveCapBytes() / 1048576)} MB of the memory budget and ` +
          `started again from the state at the head. Pause to scroll back through the ` +
          `server's spool.`,
      });
    }
    requestPublish();
  };

  /** Open the spool under the paused view (Browse spool; again after an error, never after NO_SPOOL). */
  const openSpool = (): void => {
    const s = get();
    if (s.source.kind !== 'live' || !s.paused || s.remote !== null) return;
    if (s.spool !== 'unknown' && s.spool !== 'error') return;
    const trace = s.trace;
    if (!trace || trace.count === 0) return;
    const token = ++spoolToken;
    const wanted = (): boolean => {
      const n = get();
      return token === spoolToken && n.source.kind === 'live' && n.paused && !life.disposed;
    };
    set({ spool: 'opening' });
    const untilNs = trace.endNs;
    void internal
      .openRemote(SPOOL_INFO, undefined, {
        untilNs,
        wanted,
        cursorNs: () => {
          const n = get();
          const t = n.trace;
          return t && n.cursor >= 0 && n.cursor < t.count ? t.timeAt(n.cursor) : untilNs;
        },
      })
      .then(
        () => {
          if (token !== spoolToken) return;
          set({ spool: 'unknown' });
        },
        (e: unknown) => {
          if (token !== spoolToken) return;
          const code = e instanceof LoadError ? e.code : 'ERROR';
          set({ spool: code === 'NO_SPOOL' ? 'none' : 'error' });
          if (code !== 'NO_SPOOL') {
            internal.toast({
              tone: 'error',
              title: `Could not open the live spool: ${code}`,
              detail: `${e instanceof Error ? e.message : String(e)}. The paused view shows what it holds.`,
            });
          }
        },
      );
  };

  const publishLive = (): void => {
    publishPending = false;
    if (life.disposed) return;
    const s = get();
    if (s.source.kind !== 'live') return;
    const skipped = unseen;
    unseen = 0;
    if (s.remote !== null || discarding) {
      // Browsing the spool, or waiting for a bracket: nothing is added to a trace.
      set({
        connection: { ...s.connection, frames: live?.frames ?? 0, bytes: live?.bytes ?? 0 },
        ...(s.paused ? { eventsSincePause: s.eventsSincePause + skipped } : {}),
      });
      return;
    }
    const trace = s.trace;
    if (!trace) return;
    s.analysis?.update();
    const added = trace.count - lastPublishedCount;
    lastPublishedCount = trace.count;
    const patch: Partial<AppState> = {
      traceVersion: s.traceVersion + 1,
      connection: { ...s.connection, frames: live?.frames ?? 0, bytes: live?.bytes ?? 0 },
      ...internal.findingState(s.analysis),
    };
    if (s.analysis === null && trace.count > 0) {
      const ioCount = (s.server.status?.source ?? s.server.hello?.source)?.ioCount;
      const a = createTraceAnalysis(trace, {
        runTask: env.runTask,
        ...(ioCount ? { ioCount } : {}),
      });
      a.update();
      patch.analysis = a;
      Object.assign(patch, internal.findingState(a));
    }
    internal.updateSearch();
    if (s.paused) {
      patch.eventsSincePause = s.eventsSincePause + added + skipped;
    } else if (trace.count > 0) {
      // Follow the head: keep the window width, end at the newest event, but
      // never start before the trace while it is shorter than the window.
      const width = Math.max(1000, s.viewEndNs - s.viewStartNs);
      const margin = width * 0.02;
      const end = Math.max(trace.endNs + margin, trace.startNs - margin + width);
      patch.viewStartNs = end - width;
      patch.viewEndNs = end;
      patch.cursor = trace.count - 1;
    }
    set(patch);
  };

  const requestPublish = (): void => {
    if (publishPending) return;
    publishPending = true;
    env.schedule(publishLive);
  };

  const onGap = (g: GapInfo): void => {
    const c = get().connection;
    set({
      connection: {
        ...c,
        gaps: c.gaps + 1,
        lostEvents: c.lostEvents + (g.kind === 'server' ? g.lost : 0),
        unknownGaps: c.unknownGaps + (g.kind === 'server' ? 0 : 1),
        lastGap: g,
      },
    });
    // A server gap is already a Gap record in the stream. A reconnect or missing
    // frames are not: put one in the trace so the timeline marks the hole too
    // (lost = 0: the size is unknown).
    const trace = get().trace;
    if (g.kind !== 'server' && trace && trace.count > 0 && get().remote === null && !discarding) {
      trace.append(gapRecord(trace.endNs));
      requestPublish();
    }
  };

  const connectLive = (url?: string): void => {
    internal.resetSource();
    const target = url ?? env.options.liveUrl ?? defaultLiveUrl(env.loc);
    const trace = new WebTrace();
    liveStrings = new StringTable();
    lastPublishedCount = 0;
    set({
      source: { kind: 'live', url: target },
      trace,
      traceVersion: get().traceVersion + 1,
      loadFailure: null,
      viewStartNs: 0,
      viewEndNs: LIVE_WINDOW_NS,
      cursor: -1,
    });
    const conn = new LiveConnection(
      {
        url: target,
        ...(env.options.createSocket ? { createSocket: env.options.createSocket } : {}),
        timers: env.timers,
      },
      {
        onStatus: (status) => {
          if (live !== conn) return;
          const c = get().connection;
          set({
            connection: { ...c, status, everOpened: c.everOpened || status.state === 'open' },
          });
          if (status.state === 'open') {
            conn.send({ type: 'get-status' });
            conn.send({ type: 'list-recordings' });
          }
        },
        onRecords: (records, strings) => {
          if (live !== conn) return;
          const tbl = liveStrings!;
          for (const [sid, text] of strings) {
            if (!tbl.has(sid)) tbl.set(sid, text);
          }
          const n = records.length / RECORD_WORDS;
          if ((resyncPending || discarding) && startsWithBracket(records)) {
            // The state at a cut of the stream: a following view starts again here.
            resyncPending = false;
            if (get().remote === null && !get().paused) {
              discarding = false;
              startTrace(records);
              return;
            }
            // Paused (in the spool, opening it, or holding a full view): the bracket
            // only ends the wait. Starting over here would drop what the user is
            // looking at, and a spool being opened with it; the view keeps what it
            // holds, counts the rest, and resuming resyncs.
            discarding = true;
          }
          const now = get();
          if (now.remote !== null || discarding) {
            unseen += n;
            requestPublish();
            return;
          }
          const tr = now.trace;
          if (!tr) return;
          if (tr.count === 0 && records.length > 0) {
            // The dashboard joins a running server: what happened before is unknown.
            // A leading Gap says so to the timeline and to the detectors (which then
            // do not judge sessions whose creation they never saw).
            tr.append(gapRecord(records[2]! + (records[3]! & TS_HI_MASK) * 4294967296));
          }
          tr.append(records, tbl);
          requestPublish();
          if (tr.bytes > liveCapBytes()) {
            // Following: start again from a bracket at the head. Paused (no spool
            // to fall back on): keep what is held, count the rest, resync on resume.
            if (!now.paused) requestResync();
            else discarding = true;
          }
        },
        onGap: (g) => {
          if (live === conn) onGap(g);
        },
        onMessage: (m) => {
          if (live === conn) internal.onServerMessage(m);
        },
        onBadInput: (e: ProtocolError, what) => {
          if (live !== conn) return;
          const c = get().connection;
          if (what === 'frame') set({ connection: { ...c, badFrames: c.badFrames + 1 } });
          internal.toast({
            tone: 'error',
            title: `Bad ${what} from the server: ${e.code}`,
            detail: e.message,
          });
        },
      },
    );
    live = conn;
    conn.connect();
  };

  const restartLiveTrace = (): void => {
    const s = get();
    if (s.source.kind !== 'live') return;
    spoolToken++;
    resyncPending = false;
    discarding = false;
    unseen = 0;
    internal.closeRemote();
    internal.stopPlay();
    internal.resetSearch();
    s.analysis?.dispose();
    liveStrings = new StringTable();
    lastPublishedCount = 0;
    set({
      trace: new WebTrace(),
      traceVersion: s.traceVersion + 1,
      analysis: null,
      cursor: -1,
      hoverIndex: -1,
      playing: false,
      paused: false,
      eventsSincePause: 0,
      selectedSession: null,
      ...noFindings(),
      framed: null,
      evidence: null,
      pinnedSessions: [],
      range: null,
      bottomTab: 'anomalies',
      viewStartNs: 0,
      viewEndNs: LIVE_WINDOW_NS,
      connection: { ...s.connection, gaps: 0, lostEvents: 0, unknownGaps: 0, lastGap: null },
      liveTrim: null,
      spool: 'unknown',
    });
    internal.toast({
      tone: 'info',
      title: 'A new trace',
      detail: 'The traced process changed: the view starts over with the new one.',
    });
  };

  const actions: LiveActions = {
    connectLive,
    retryLive: () => live?.retryNow(),
    setPaused: (paused) => {
      const s = get();
      if (s.source.kind !== 'live' || paused === s.paused) return;
      if (paused) {
        set({ paused: true, eventsSincePause: 0 });
      } else {
        spoolToken++;
        internal.stopPlay();
        if (s.remote !== null || discarding) {
          // Back from the spool (or a full paused view): follow again from a
          // bracket at the head.
          startTrace(null);
          discarding = true;
          requestResync();
        }
        set({
          paused: false,
          playing: false,
          eventsSincePause: 0,
          spool: get().spool === 'none' ? 'none' : 'unknown',
        });
        lastPublishedCount = 0;
        publishLive();
      }
    },
    togglePause: () => actions.setPaused(!get().paused),
    browseSpool: () => {
      if (get().source.kind !== 'live') return;
      actions.setPaused(true);
      openSpool();
    },
  };

  return {
    state: {
      paused: false,
      eventsSincePause: 0,
      connection: initialConnection(),
      liveTrim: null,
      spool: 'unknown',
    },
    actions,
    internal: {
      closeLive,
      liveConnection: () => live,
      restartLiveTrace,
    },
  };
}
