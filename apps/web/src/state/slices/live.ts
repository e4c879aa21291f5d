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
//
// Following a stream faster than a view can take record by record degrades on
// purpose (issue 19 §11): past OVERVIEW_RATE events per second of trace time,
// or when the server had to drop frames for this view, the slice asks the hub
// to stop sending records (`pause-stream`) and follows the spool's head
// instead (`overview`): every OVERVIEW_TICK_MS its meta, the view ending at its
// newest event, the timeline drawing the server's summaries at the view's
// resolution, and now and then the window of the newest records (so the panels
// show the state at the head). Pausing keeps that spool view and fetches the
// records at the head: stepping, seeking and the timeline then work in detail.
// Resuming follows the overview again; when the rate falls below half the
// threshold for OVERVIEW_CALM_TICKS ticks, the slice resumes the stream and
// follows records again from a bracket (the events the hub held back are not
// "lost": they are in the spool, and counted apart as `skipped`).
// `?overview=N` sets the threshold (events/s); `?overview=off` never switches.

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

/** Following faster than this (events per second of trace time) switches to the overview. */
export const OVERVIEW_RATE = 50_000;
/** The overview's period: the spool's meta, the view at its head (ms). */
export const OVERVIEW_TICK_MS = 500;
/** Every this many ticks the window of the newest records is fetched again. */
const OVERVIEW_WINDOW_TICKS = 4;
/** Ticks below half the threshold before following records again. */
const OVERVIEW_CALM_TICKS = 6;
/** A spool that has not grown for this long: the source went quiet (ms). */
const QUIET_MS = 2000;
/**
 * A tick whose answers have not come within this long is given up: the next
 * tick asks again (its call supersedes the late one's answers). A request that
 * never settles must not end the overview's ticks, or the view would follow a
 * stale rate for good (ms).
 */
export const OVERVIEW_TICK_TIMEOUT_MS = 5000;

/** The overview threshold from the page's query (`?overview=N`, `off`/`0`: never), else the default. */
export function overviewRateOf(search: string): number {
  const q = new URLSearchParams(search).get('overview');
  if (q === null) return OVERVIEW_RATE;
  if (q === 'off' || q === '0') return Infinity;
  const v = Number(q);
  return Number.isFinite(v) && v > 0 ? v : OVERVIEW_RATE;
}

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
  /**
   * Events the server held back while this view followed the overview (not
   * lost: the spool has them), counted when the stream resumes.
   */
  skipped: number;
}

/** Following the spool's summaries instead of every record (issue 19 §11). */
export interface LiveOverview {
  /** Why: the stream's rate passed the threshold, or the server dropped frames for this view. */
  reason: 'rate' | 'gap';
  /** Events per second of trace time, last measured. */
  rate: number;
  /** 'opening' until the spool answers, then 'following'. */
  state: 'opening' | 'following';
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
  /** Following the server's summaries (a fast stream), or null: records. Stays while paused. */
  overview: LiveOverview | null;
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
  skipped: 0,
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
  /** Events not kept while following and waiting for a bracket (counted in the next trim). */
  let awaitingDropped = 0;
  /** Bumps when a spool open must be forgotten (resume, new connection). */
  let spoolToken = 0;
  /** The overview's threshold (events/s of trace time); Infinity: never. */
  const overviewRate = overviewRateOf(env.loc.search);
  /** The hub holds this client's records back (pause-stream sent, resume-stream not). */
  let streamHeld = false;
  /** The next server Gap is what the hub held back: skipped, not lost. */
  let resumeGap = false;
  /** The rate while following records: events since rateFromNs (trace time). */
  let rateFromNs = -1;
  let rateEvents = 0;
  /** Bumps when an overview ends (or its spool open must be forgotten). */
  let overviewToken = 0;
  /** Bumps when the overview's ticks stop (pause, end). */
  let tickToken = 0;
  let tickTimer: unknown = null;
  let ticks = 0;
  let calmTicks = 0;
  let lastMeta: { events: number; endNs: number; atMs: number } | null = null;
  /** The overview could not open the spool on this connection: do not try again. */
  let overviewFailed = false;

  const closeLive = (): void => {
    if (live) live.close();
    live = null;
    liveStrings = null;
    resyncPending = false;
    discarding = false;
    unseen = 0;
    awaitingDropped = 0;
    spoolToken++;
    if (resyncTimer !== null) env.timers.clearTimeout(resyncTimer);
    resyncTimer = null;
    stopOverview();
    streamHeld = false;
    resumeGap = false;
    overviewFailed = false;
    internal.clearPendingReplies();
  };

  const liveCapBytes = (): number =>
    Math.max(MIN_LIVE_TRACE_BYTES, get().budgetBytes * LIVE_TRACE_SHARE);

  /** Ask the server for a bracket at the head of this client's stream. */
  const requestResync = (): void => {
    // (Following the overview, the hub holds the records back: nothing to resync.)
    if (resyncPending || !live || get().overview !== null) return;
    if (streamHeld) {
      // The hub holds the records back: resuming the stream brings the bracket.
      resumeHeldStream();
      return;
    }
    if (live.send({ type: 'resync' }) < 0) return;
    awaitBracket();
  };

  /**
   * Let the hub send records again after the overview: it answers with a Gap
   * (what it held back, in the spool) and a Resync bracket, where following
   * starts again.
   */
  const resumeHeldStream = (): void => {
    if (!live || !streamHeld) return;
    streamHeld = false;
    if (live.send({ type: 'resume-stream' }) < 0) return;
    resumeGap = true;
    awaitBracket();
  };

  /** A bracket is on its way: wait for it, or go on without one. */
  const awaitBracket = (): void => {
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
    rateFromNs = -1;
    rateEvents = 0;
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
    const dropped = awaitingDropped;
    awaitingDropped = 0;
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
            events: trim.events + old.count + dropped,
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

  // ---- the overview (issue 19 §11) ------------------------------------------------

  /** Stop the overview's ticks (the overview itself stays). */
  const stopTicks = (): void => {
    tickToken++;
    if (tickTimer !== null) env.timers.clearTimeout(tickTimer);
    tickTimer = null;
  };

  /** Forget the overview (no state change: closeLive, restart). */
  const stopOverview = (): void => {
    overviewToken++;
    stopTicks();
    ticks = 0;
    calmTicks = 0;
    lastMeta = null;
    rateFromNs = -1;
    rateEvents = 0;
  };

  const startTicks = (delayMs: number): void => {
    stopTicks();
    const token = tickToken;
    tickTimer = env.timers.setTimeout(() => void tick(token), delayMs);
  };

  /** One overview tick: the spool's meta, the view at its head, now and then its newest records. */
  const tick = async (token: number): Promise<void> => {
    tickTimer = null;
    if (token !== tickToken || life.disposed) return;
    const s = get();
    if (s.overview === null || s.remote === null || s.paused) return;
    ticks++;
    // (An error, say a busy or restarting server: the next tick asks again.)
    // (A click or a step meanwhile pauses the view: the head window then leaves its cursor be.)
    let gaveUp: ReturnType<typeof env.timers.setTimeout> | null = null;
    const meta = await Promise.race([
      internal
        .followHead(ticks % OVERVIEW_WINDOW_TICKS === 0, { install: () => !get().paused })
        .catch(() => null),
      new Promise<null>((resolve) => {
        gaveUp = env.timers.setTimeout(() => resolve(null), OVERVIEW_TICK_TIMEOUT_MS);
      }),
    ]);
    if (gaveUp !== null) env.timers.clearTimeout(gaveUp);
    if (token !== tickToken || life.disposed) return;
    const now = get();
    if (now.overview === null || now.paused) return;
    if (meta !== null && meta.events > 0) {
      // Events per second of trace time since the spool last grew (it indexes
      // about once a second); none once it has not grown for QUIET_MS.
      let rate = now.overview.rate;
      const at = env.timers.now();
      if (lastMeta === null || meta.events !== lastMeta.events) {
        if (lastMeta !== null && meta.endNs > lastMeta.endNs) {
          rate = ((meta.events - lastMeta.events) * 1e9) / (meta.endNs - lastMeta.endNs);
        }
        lastMeta = { events: meta.events, endNs: meta.endNs, atMs: at };
      } else if (at - lastMeta.atMs >= QUIET_MS) {
        rate = 0;
      }
      calmTicks = rate < overviewRate / 2 ? calmTicks + 1 : 0;
      const width = Math.max(1000, now.viewEndNs - now.viewStartNs);
      const end = meta.endNs + width * 0.02;
      set({
        overview: { ...now.overview, rate, state: 'following' },
        viewStartNs: end - width,
        viewEndNs: end,
      });
      if (calmTicks >= OVERVIEW_CALM_TICKS) {
        leaveOverview();
        return;
      }
    }
    startTicks(OVERVIEW_TICK_MS);
  };

  /**
   * The stream is too fast to follow record by record: hold the records back at
   * the hub and follow the spool's head from its summaries.
   */
  const enterOverview = (reason: LiveOverview['reason'], rate: number): void => {
    const s = get();
    if (!live || s.source.kind !== 'live' || s.paused || s.remote !== null) return;
    if (s.overview !== null || overviewFailed || s.spool === 'none' || overviewRate === Infinity) {
      return;
    }
    const conn = live;
    if (conn.send({ type: 'pause-stream' }) < 0) return;
    streamHeld = true;
    // Frames already on their way are counted, not kept.
    discarding = true;
    resyncPending = false;
    stopOverview();
    const token = overviewToken;
    spoolToken++;
    set({ overview: { reason, rate, state: 'opening' } });
    const untilNs = s.trace && s.trace.count > 0 ? s.trace.endNs : 0;
    const wanted = (): boolean =>
      token === overviewToken && live === conn && get().overview !== null && !life.disposed;
    internal.openRemote(SPOOL_INFO, undefined, { untilNs, wanted, cursorNs: () => untilNs }).then(
      () => {
        if (!wanted() || get().remote === null) return;
        const o = get().overview!;
        set({ overview: { ...o, state: 'following' } });
        if (get().paused) void internal.followHead(true, { reveal: true }).catch(() => undefined);
        else startTicks(0);
      },
      (e: unknown) => {
        if (!wanted()) return;
        // No spool to follow (or it failed): records again, with what the hub can send.
        overviewFailed = true;
        const code = e instanceof LoadError ? e.code : 'ERROR';
        set({ overview: null, ...(code === 'NO_SPOOL' ? { spool: 'none' as const } : {}) });
        resumeHeldStream();
        if (code !== 'NO_SPOOL') {
          internal.toast({
            tone: 'error',
            title: `Could not follow the live overview: ${code}`,
            detail: `${e instanceof Error ? e.message : String(e)}. The view follows every record it can take; the server drops what it cannot.`,
          });
        }
      },
    );
  };

  /** The stream slowed down: follow records again from a bracket at the head. */
  const leaveOverview = (): void => {
    stopOverview();
    set({ overview: null });
    startTrace(null);
    discarding = true;
    resumeHeldStream();
  };

  /** Following records: measure the rate (trace time) and switch past the threshold. */
  const measureRate = (tr: WebTrace, n: number): void => {
    if (overviewRate === Infinity || tr.count === 0) return;
    const endNs = tr.endNs;
    if (rateFromNs < 0 || endNs < rateFromNs) {
      rateFromNs = endNs;
      rateEvents = 0;
      return;
    }
    rateEvents += n;
    const span = endNs - rateFromNs;
    // Judged over at least a quarter of a second of trace time, or as soon as
    // more events than a second's worth of the threshold came in less.
    if (span >= 0.25e9 || rateEvents > overviewRate) {
      const rate = span > 0 ? (rateEvents * 1e9) / span : Infinity;
      if (rate > overviewRate) {
        rateFromNs = -1;
        enterOverview('rate', rate);
        return;
      }
    }
    if (span >= 1e9) {
      rateFromNs = endNs;
      rateEvents = 0;
    }
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
    if ((resumeGap || streamHeld) && g.kind === 'sequence') return; // the frames it held back
    if ((resumeGap || streamHeld) && g.kind === 'server' && g.source === GapSource.ClientQueue) {
      // What the hub held back while the view followed the overview: in the spool.
      // (Held, a bracket asked for before the hold can still come, with a Gap of its own.)
      if (!streamHeld) resumeGap = false;
      set({ connection: { ...c, skipped: c.skipped + g.lost } });
      return;
    }
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
    // The hub had to drop frames for this view: it cannot take every record.
    if (g.kind === 'server' && g.source === GapSource.ClientQueue && g.lost > 0 && !get().paused) {
      enterOverview('gap', 0);
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
      overview: null,
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
            if (discarding && now.remote === null && !now.paused) awaitingDropped += n;
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
          if (!now.paused) measureRate(tr, n);
          if (tr.bytes > liveCapBytes()) {
            // Following: start again from a bracket at the head, and keep nothing
            // until it comes (the bracket replaces this trace, which would otherwise
            // grow past its cap for as long as the bracket takes). Paused (no spool
            // to fall back on): keep what is held, count the rest, resync on resume.
            if (!now.paused) {
              requestResync();
              if (resyncPending) discarding = true;
            } else discarding = true;
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
    stopOverview();
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
      overview: null,
    });
    if (streamHeld) {
      // The hub still holds records back from the overview: the new trace starts at its bracket.
      discarding = true;
      resumeHeldStream();
    }
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
        if (s.overview !== null) {
          // The detail, fetched now: the records at the head, the cursor on the newest.
          stopTicks();
          if (s.remote !== null)
            void internal.followHead(true, { reveal: true }).catch(() => undefined);
        }
      } else if (s.overview !== null) {
        // Follow the overview again (it ends by itself once the stream slows down).
        spoolToken++;
        internal.stopPlay();
        set({ paused: false, playing: false, eventsSincePause: 0 });
        calmTicks = 0;
        lastMeta = null;
        if (s.remote !== null) startTicks(0);
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
      overview: null,
    },
    actions,
    internal: {
      closeLive,
      liveConnection: () => live,
      restartLiveTrace,
    },
  };
}
