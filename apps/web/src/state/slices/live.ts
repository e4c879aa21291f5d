// The live slice: the live stream's connection and what it delivered. While
// not `paused`, the view and the cursor follow the newest event (follow-head);
// paused, they stay and `eventsSincePause` counts what arrives. Connection
// status and gap counters live here too.
//
// Live appends are coalesced: records go into the trace at once (cheap, typed
// arrays) but the store publishes at most once per frame (env.schedule).

import {
  EventKind,
  GapSource,
  NO_THREAD,
  RECORD_WORDS,
  encodeEvent,
  StringTable,
  TS_HI_MASK,
  type ProtocolError,
} from '@iocpscope/protocol';
import { WebTrace } from '../../trace/index.ts';
import { LiveConnection, type GapInfo } from '../../connection/live.ts';
import { defaultLiveUrl, type LiveStatus } from '../../connection/liveSocket.ts';
import { createTraceAnalysis } from '../analysis.ts';
import type { AppState } from '../store.ts';
import { noFindings } from './findings.ts';
import type { Slice, SliceContext } from './context.ts';

/** Width of the followed window in live mode until the user zooms. */
export const LIVE_WINDOW_NS = 100_000_000;

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
}

export interface LiveActions {
  /** Connect to the live stream (default: the server this page came from). */
  connectLive(url?: string): void;
  retryLive(): void;
  /** Live only: freeze the view (true) or follow the head again (false). */
  setPaused(paused: boolean): void;
  togglePause(): void;
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

  const closeLive = (): void => {
    if (live) live.close();
    live = null;
    liveStrings = null;
    internal.clearPendingReplies();
  };

  const publishLive = (): void => {
    publishPending = false;
    if (life.disposed) return;
    const s = get();
    const trace = s.trace;
    if (!trace || s.source.kind !== 'live') return;
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
      patch.eventsSincePause = s.eventsSincePause + added;
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
    if (g.kind !== 'server' && trace && trace.count > 0) {
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
          const tr = get().trace;
          if (!tr) return;
          if (tr.count === 0 && records.length > 0) {
            // The dashboard joins a running server: what happened before is unknown.
            // A leading Gap says so to the timeline and to the detectors (which then
            // do not judge sessions whose creation they never saw).
            tr.append(gapRecord(records[2]! + (records[3]! & TS_HI_MASK) * 4294967296));
          }
          tr.append(records, tbl);
          requestPublish();
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
        internal.stopPlay();
        set({ paused: false, playing: false, eventsSincePause: 0 });
        lastPublishedCount = 0;
        publishLive();
      }
    },
    togglePause: () => actions.setPaused(!get().paused),
  };

  return {
    state: { paused: false, eventsSincePause: 0, connection: initialConnection() },
    actions,
    internal: { closeLive, liveConnection: () => live, restartLiveTrace },
  };
}
