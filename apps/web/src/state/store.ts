// The app store: one zustand store per <AppStoreProvider>, built by
// createAppStore(). No module singletons: the live connection, the play timer
// and the analysis all live in the factory's closure and die with dispose().
//
// Slices
// - source/trace: what is loaded (nothing, a file, a server recording, the live
//   stream), the WebTrace, load progress and the last load failure.
// - view: the visible window [viewStartNs, viewEndNs).
// - cursor/hover: event indices (-1 = none). The cursor is what stepping moves
//   and what the panels show the state at.
// - play: playing + speed (events per second), driven by a timer.
// - live: `paused` freezes the view; otherwise the view and the cursor follow
//   the newest event (follow-head). Connection status, gap counters.
// - selection: the selected session (exact 64-bit id).
// - server: hello/status/recordings as last reported by the control channel.
// - findings: the detectors' output for the loaded trace.
// - ui: help overlay, toasts.
//
// Invariants
// - cursor is -1 or in [0, trace.count); hover likewise.
// - viewStartNs < viewEndNs.
// - `traceVersion` changes whenever the trace grew (live) or was replaced, so
//   selectors that read the mutable WebTrace can depend on it.
// - Live appends are coalesced: records go into the trace immediately (cheap,
//   typed arrays) but the store publishes at most once per frame via `schedule`.

import { createStore, type StoreApi } from 'zustand/vanilla';
import {
  EventKind,
  GapSource,
  NO_THREAD,
  RECORD_WORDS,
  RecordingInfoSchema,
  encodeEvent,
  StringTable,
  type ClientMessageInput,
  type ProtocolError,
  type RecordingInfo,
  type ServerMessage,
  type TraceFileHeader,
  TS_HI_MASK,
} from '@iocpscope/protocol';
import { WebTrace } from '../trace/index.ts';
import { LiveConnection, type GapInfo } from '../connection/live.ts';
import {
  defaultLiveUrl,
  type LiveStatus,
  type SocketFactory,
  type Timers,
} from '../connection/liveSocket.ts';
import {
  blobSource,
  bytesSource,
  fetchSource,
  loadTrace,
  recordingUrl,
  type ByteSource,
  type FileLoadResult,
} from '../connection/fileLoad.ts';
import { LoadError } from '../connection/errors.ts';
import {
  afterNextPaint,
  createTraceAnalysis,
  macrotask,
  type Finding,
  type TraceAnalysis,
} from './analysis.ts';
import { stepBy, nextAfter, prevBefore } from './stepping.ts';

export type Source =
  | { kind: 'none' }
  | { kind: 'live'; url: string }
  | { kind: 'file'; name: string; bytes: number }
  | { kind: 'recording'; id: string; name: string; bytes: number };

export interface LoadingState {
  name: string;
  loadedBytes: number;
  totalBytes: number;
  events: number;
}

/** Why the last load did not fully succeed (shown on the start screen and as a toast). */
export interface LoadFailure {
  name: string;
  /** ProtocolError code (BAD_MAGIC, CHECKSUM_MISMATCH, TRUNCATED, ...) or LoadError code. */
  code: string;
  message: string;
  /** Events recovered from the valid prefix (the trace is open with them when > 0). */
  recoveredEvents: number;
  validBytes: number;
  totalBytes: number;
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

export interface ServerInfo {
  hello: Extract<ServerMessage, { type: 'hello' }> | null;
  status: Extract<ServerMessage, { type: 'status' }> | null;
  recordings: RecordingInfo[] | null;
  recordingsError: string | null;
  loadStats: Extract<ServerMessage, { type: 'load-progress' }>['stats'] | null;
  lastError: { code: string; message: string } | null;
}

export interface Toast {
  id: number;
  tone: 'error' | 'info';
  title: string;
  detail?: string;
}

export type StepKind = 'event' | 'thread' | 'session' | 'anomaly';

export interface AppActions {
  /** Open a trace from bytes (the test hook and drag & drop of in-memory data use this). */
  loadBytes(bytes: Uint8Array, name?: string): Promise<void>;
  openFile(file: File): Promise<void>;
  openRecording(rec: RecordingInfo): Promise<void>;
  cancelLoad(): void;
  /** Connect to the live stream (default: the server this page came from). */
  connectLive(url?: string): void;
  retryLive(): void;
  /** Close whatever is open and go back to the start screen. */
  closeSource(): void;
  setView(startNs: number, endNs: number): void;
  setCursor(index: number, opts?: { reveal?: boolean }): void;
  setHover(index: number | null): void;
  step(kind: StepKind, dir: 1 | -1): void;
  stepBy(delta: number): void;
  jumpToStart(): void;
  jumpToEnd(): void;
  setPlaying(on: boolean): void;
  togglePlay(): void;
  setSpeed(eventsPerSecond: number): void;
  /** Live only: freeze the view (true) or follow the head again (false). */
  setPaused(paused: boolean): void;
  togglePause(): void;
  selectSession(id: bigint | null): void;
  /** Send a control message; returns false when not connected. */
  sendControl(msg: ClientMessageInput): boolean;
  refreshRecordings(): Promise<void>;
  setHelpOpen(open: boolean): void;
  toast(t: Omit<Toast, 'id'>): void;
  dismissToast(id: number): void;
  dismissLoadFailure(): void;
  /** Stop timers and the socket. The store is unusable afterwards. */
  dispose(): void;
}

export interface AppState {
  source: Source;
  trace: WebTrace | null;
  traceVersion: number;
  header: TraceFileHeader | null;
  analysis: TraceAnalysis | null;
  loading: LoadingState | null;
  loadFailure: LoadFailure | null;

  viewStartNs: number;
  viewEndNs: number;
  cursor: number;
  hoverIndex: number;

  playing: boolean;
  speed: number;
  paused: boolean;
  /** Events that arrived while paused (live). */
  eventsSincePause: number;

  selectedSession: bigint | null;

  connection: ConnectionInfo;
  server: ServerInfo;

  findings: readonly Finding[];
  /** Event index that anchors each finding, ascending (for next/previous anomaly). */
  findingAnchors: Uint32Array;
  /** How much of the trace the detectors have walked, 0..1 (1 when done or nothing loaded). */
  analysisProgress: number;

  helpOpen: boolean;
  toasts: readonly Toast[];

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
}

export const SPEEDS = [1, 2, 5, 10, 25, 50, 100, 250, 1000] as const;
export const DEFAULT_SPEED = 10;
/** Width of the followed window in live mode until the user zooms. */
export const LIVE_WINDOW_NS = 100_000_000;
const TOAST_MAX = 4;

const initialConnection = (): ConnectionInfo => ({
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

const initialServer = (): ServerInfo => ({
  hello: null,
  status: null,
  recordings: null,
  recordingsError: null,
  loadStats: null,
  lastError: null,
});

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

const defaultSchedule = (cb: () => void): void => {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => cb());
  else globalThis.setTimeout(cb, 16);
};

/** The view that shows the whole trace with a small margin. */
export function wholeView(trace: WebTrace): { startNs: number; endNs: number } {
  const span = Math.max(trace.endNs - trace.startNs, 1000);
  return { startNs: trace.startNs - span * 0.01, endNs: trace.endNs + span * 0.01 };
}

export function createAppStore(options: AppStoreOptions = {}): AppStore {
  const timers = options.timers ?? defaultTimers;
  const schedule = options.schedule ?? defaultSchedule;
  const loc =
    options.location ??
    (typeof location !== 'undefined'
      ? location
      : { protocol: 'http:', host: '127.0.0.1:7700', search: '' });
  const doFetch: typeof fetch = options.fetch ?? ((...a) => fetch(...a));
  const runTask = options.runTask ?? macrotask();
  // The first slice of a recording's analysis waits for the timeline's first frame.
  const startAnalysis = options.runTask ?? afterNextPaint(runTask);

  // ---- closure-held resources (one set per store) --------------------------------
  let live: LiveConnection | null = null;
  let liveStrings: StringTable | null = null;
  let publishPending = false;
  let playTimer: unknown = null;
  let loadAbort: AbortController | null = null;
  let toastSeq = 0;
  let disposed = false;
  const pendingReplies = new Map<number, (m: ServerMessage) => void>();

  const store = createStore<AppState>()((set, get) => {
    // ---- helpers -------------------------------------------------------------------
    const toast = (t: Omit<Toast, 'id'>): void => {
      const id = ++toastSeq;
      set((s) => ({ toasts: [...s.toasts, { ...t, id }].slice(-TOAST_MAX) }));
      timers.setTimeout(() => get().actions.dismissToast(id), t.tone === 'error' ? 12_000 : 5_000);
    };

    const stopPlay = (): void => {
      if (playTimer !== null) timers.clearTimeout(playTimer);
      playTimer = null;
    };

    const closeLive = (): void => {
      if (live) live.close();
      live = null;
      liveStrings = null;
      pendingReplies.clear();
    };

    /** Reset everything that belongs to the loaded source. */
    const resetSource = (): void => {
      stopPlay();
      closeLive();
      get().analysis?.dispose();
      loadAbort?.abort();
      loadAbort = null;
      set({
        source: { kind: 'none' },
        trace: null,
        traceVersion: get().traceVersion + 1,
        header: null,
        analysis: null,
        loading: null,
        cursor: -1,
        hoverIndex: -1,
        playing: false,
        paused: false,
        eventsSincePause: 0,
        selectedSession: null,
        connection: initialConnection(),
        findings: [],
        findingAnchors: new Uint32Array(0),
        analysisProgress: 1,
        viewStartNs: 0,
        viewEndNs: 1_000_000,
        // Messages about the previous source no longer apply.
        toasts: [],
      });
    };

    /** The findings slice for `a`; unchanged (same objects) when its findings did not change. */
    const findingState = (
      a: TraceAnalysis | null,
    ): Pick<AppState, 'findings' | 'findingAnchors'> => {
      const findings = a ? a.findings() : [];
      const s = get();
      if (findings === s.findings) return { findings, findingAnchors: s.findingAnchors };
      const anchors = new Uint32Array(findings.length);
      for (let k = 0; k < findings.length; k++) anchors[k] = findings[k]!.anchor;
      anchors.sort();
      return { findings, findingAnchors: anchors };
    };

    /**
     * Keep the cursor's event inside the view: when it leaves, pan (keeping the
     * zoom) so it sits at 30% from the left, without showing more than a small
     * margin beyond either end of the trace.
     */
    const revealCursor = (i: number): Partial<AppState> => {
      const { trace, viewStartNs, viewEndNs } = get();
      if (!trace || i < 0) return {};
      const t = trace.timeAt(i);
      if (t >= viewStartNs && t <= viewEndNs) return {};
      const w = viewEndNs - viewStartNs;
      const margin = w * 0.01;
      let start = t - w * 0.3;
      start = Math.min(start, trace.endNs + margin - w);
      start = Math.max(start, trace.startNs - margin);
      return { viewStartNs: start, viewEndNs: start + w };
    };

    const openResult = (r: FileLoadResult, source: Source): void => {
      // The reader is not used again: the trace takes its records without a copy.
      const trace = WebTrace.fromOwned(r.store.buffer, r.store.length, r.strings);
      const analysis =
        trace.count > 0
          ? createTraceAnalysis(trace, {
              runTask,
              start: startAnalysis,
              onChange: () => onAnalysisProgress(analysis),
            })
          : null;
      const v = wholeView(trace);
      const failure: LoadFailure | null = r.error
        ? {
            name: r.name,
            code: r.error.code,
            message: r.error.message,
            recoveredEvents: trace.count,
            validBytes: r.validBytes,
            totalBytes: r.totalBytes,
          }
        : null;
      if (trace.count === 0) {
        // Nothing usable: stay on the start screen and show why.
        set({
          loading: null,
          loadFailure: failure ?? {
            name: r.name,
            code: 'EMPTY',
            message: 'the recording holds no events',
            recoveredEvents: 0,
            validBytes: r.validBytes,
            totalBytes: r.totalBytes,
          },
        });
        return;
      }
      set({
        source,
        trace,
        traceVersion: get().traceVersion + 1,
        header: r.header ?? null,
        analysis,
        loading: null,
        loadFailure: failure,
        viewStartNs: v.startNs,
        viewEndNs: v.endNs,
        cursor: 0,
        hoverIndex: -1,
        selectedSession: null,
        analysisProgress: analysis ? analysis.progress() : 1,
        ...findingState(analysis),
      });
      // The timeline paints first; the detectors walk the trace in the background.
      // End-of-trace checks (a session never released...) only hold for a whole recording.
      analysis?.runInBackground(!r.error);
      if (failure) {
        toast({
          tone: 'error',
          title: `${r.name}: ${failure.code}`,
          detail: `${failure.message}. Recovered ${trace.count.toLocaleString('en-US')} events from the valid prefix.`,
        });
      }
    };

    const runLoad = async (
      makeSource: (signal: AbortSignal) => Promise<ByteSource>,
      source: (s: ByteSource) => Source,
    ): Promise<void> => {
      resetSource();
      const ctl = new AbortController();
      loadAbort = ctl;
      set({ loadFailure: null, loading: { name: '…', loadedBytes: 0, totalBytes: 0, events: 0 } });
      try {
        const src = await makeSource(ctl.signal);
        if (ctl.signal.aborted) return;
        set({ loading: { name: src.name, loadedBytes: 0, totalBytes: src.size, events: 0 } });
        const r = await loadTrace(src, {
          signal: ctl.signal,
          onProgress: (p) => {
            if (!ctl.signal.aborted) set({ loading: { name: src.name, ...p } });
          },
        });
        if (ctl.signal.aborted || disposed) return;
        openResult(r, source(src));
      } catch (e) {
        if (ctl.signal.aborted && !(e instanceof LoadError && e.code !== 'ABORTED')) {
          set({ loading: null });
          return;
        }
        const code = e instanceof LoadError ? e.code : 'READ';
        const message = e instanceof Error ? e.message : String(e);
        set({
          loading: null,
          loadFailure: {
            name: get().loading?.name ?? '',
            code,
            message,
            recoveredEvents: 0,
            validBytes: 0,
            totalBytes: 0,
          },
        });
        toast({ tone: 'error', title: `Could not open: ${code}`, detail: message });
      } finally {
        if (loadAbort === ctl) loadAbort = null;
      }
    };

    const onAnalysisProgress = (a: TraceAnalysis | null): void => {
      const s = get();
      if (disposed || !a || s.analysis !== a) return;
      const progress = a.done ? 1 : a.progress();
      // Publish whole percents only: a slice every few ms must not re-render the panels each time.
      if (
        a.findings() === s.findings &&
        Math.floor(progress * 100) === Math.floor(s.analysisProgress * 100)
      ) {
        return;
      }
      set({ ...findingState(a), analysisProgress: progress });
    };

    // ---- live --------------------------------------------------------------------------
    let lastPublishedCount = 0;
    const publishLive = (): void => {
      publishPending = false;
      if (disposed) return;
      const s = get();
      const trace = s.trace;
      if (!trace || s.source.kind !== 'live') return;
      s.analysis?.update();
      const added = trace.count - lastPublishedCount;
      lastPublishedCount = trace.count;
      const patch: Partial<AppState> = {
        traceVersion: s.traceVersion + 1,
        connection: { ...s.connection, frames: live?.frames ?? 0, bytes: live?.bytes ?? 0 },
        ...findingState(s.analysis),
      };
      if (s.analysis === null && trace.count > 0) {
        const a = createTraceAnalysis(trace, { runTask });
        a.update();
        patch.analysis = a;
        Object.assign(patch, findingState(a));
      }
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
      schedule(publishLive);
    };

    const onServerMessage = (m: ServerMessage): void => {
      const id = 'id' in m ? m.id : undefined;
      if (id !== undefined) {
        const waiter = pendingReplies.get(id);
        if (waiter) {
          pendingReplies.delete(id);
          waiter(m);
        }
      }
      const srv = get().server;
      switch (m.type) {
        case 'hello': {
          // `serve --ingest` shows one traced process at a time: a new trace id means
          // another process (its own strings, threads and clock), so start afresh.
          const before = srv.hello?.source?.traceId;
          const now = m.source?.traceId;
          set({ server: { ...srv, hello: m } });
          if (before !== undefined && now !== undefined && before !== now) restartLiveTrace();
          return;
        }
        case 'status':
          set({ server: { ...srv, status: m } });
          return;
        case 'recordings':
          set({ server: { ...srv, recordings: m.recordings, recordingsError: null } });
          return;
        case 'recording-saved':
          set({
            server: {
              ...srv,
              recordings: srv.recordings
                ? [m.recording, ...srv.recordings.filter((r) => r.id !== m.recording.id)]
                : [m.recording],
            },
          });
          toast({
            tone: 'info',
            title: 'Recording saved',
            detail: `${m.recording.name} (${m.recording.bytes.toLocaleString('en-US')} bytes)`,
          });
          return;
        case 'load-progress':
          set({ server: { ...srv, loadStats: m.stats } });
          return;
        case 'load-result':
          set({ server: { ...srv, loadStats: m.stats } });
          if (m.outcome === 'failed')
            toast({ tone: 'error', title: 'Load failed', detail: m.error ?? '' });
          return;
        case 'error':
          set({ server: { ...srv, lastError: { code: m.code, message: m.message } } });
          toast({ tone: 'error', title: `Server refused: ${m.code}`, detail: m.message });
          return;
        case 'ack':
          return;
      }
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
      resetSource();
      const target = url ?? options.liveUrl ?? defaultLiveUrl(loc);
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
          ...(options.createSocket ? { createSocket: options.createSocket } : {}),
          timers,
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
            if (live === conn) onServerMessage(m);
          },
          onBadInput: (e: ProtocolError, what) => {
            if (live !== conn) return;
            const c = get().connection;
            if (what === 'frame') set({ connection: { ...c, badFrames: c.badFrames + 1 } });
            toast({
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

    /** The live stream now shows another trace: drop the old one's events, keep the socket. */
    const restartLiveTrace = (): void => {
      const s = get();
      if (s.source.kind !== 'live') return;
      stopPlay();
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
        findings: [],
        findingAnchors: new Uint32Array(0),
        analysisProgress: 1,
        viewStartNs: 0,
        viewEndNs: LIVE_WINDOW_NS,
        connection: { ...s.connection, gaps: 0, lostEvents: 0, unknownGaps: 0, lastGap: null },
      });
      toast({
        tone: 'info',
        title: 'A new trace',
        detail: 'The traced process changed: the view starts over with the new one.',
      });
    };

    const sendControl = (msg: ClientMessageInput): boolean => {
      if (!live) return false;
      return live.send(msg) >= 0;
    };

    // ---- play ----------------------------------------------------------------------------
    const tick = (): void => {
      playTimer = null;
      const s = get();
      if (!s.playing || !s.trace || disposed) return;
      const next = s.cursor + 1;
      if (next >= s.trace.count) {
        set({ playing: false });
        return;
      }
      set({ cursor: next, ...revealCursor(next) });
      playTimer = timers.setTimeout(tick, 1000 / s.speed);
    };

    const actions: AppActions = {
      loadBytes: (bytes, name = 'trace.iocptrace') =>
        runLoad(
          async () => bytesSource(bytes, name),
          (src) => ({ kind: 'file', name: src.name, bytes: src.size }),
        ),
      openFile: (file) =>
        runLoad(
          async () => blobSource(file, file.name),
          (src) => ({ kind: 'file', name: src.name, bytes: src.size }),
        ),
      openRecording: (rec) =>
        runLoad(
          (signal) => fetchSource(recordingUrl(rec.id, loc.search), rec.name, signal, doFetch),
          (src) => ({ kind: 'recording', id: rec.id, name: rec.name, bytes: src.size }),
        ),
      cancelLoad: () => {
        loadAbort?.abort();
        set({ loading: null });
      },
      connectLive,
      retryLive: () => live?.retryNow(),
      closeSource: () => {
        resetSource();
        set({ loadFailure: null });
      },
      setView: (startNs, endNs) => {
        if (!(endNs > startNs) || !Number.isFinite(startNs) || !Number.isFinite(endNs)) return;
        const s = get();
        if (startNs === s.viewStartNs && endNs === s.viewEndNs) return;
        set({ viewStartNs: startNs, viewEndNs: endNs });
      },
      setCursor: (index, opts) => {
        const s = get();
        if (!s.trace || s.trace.count === 0) return;
        const i = Math.max(0, Math.min(s.trace.count - 1, Math.floor(index)));
        // Live: moving the cursor means the user wants to look, so stop following.
        const pause =
          s.source.kind === 'live' && !s.paused ? { paused: true, eventsSincePause: 0 } : {};
        set({ cursor: i, ...pause, ...(opts?.reveal === false ? {} : revealCursor(i)) });
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
      setPaused: (paused) => {
        const s = get();
        if (s.source.kind !== 'live' || paused === s.paused) return;
        if (paused) {
          set({ paused: true, eventsSincePause: 0 });
        } else {
          stopPlay();
          set({ paused: false, playing: false, eventsSincePause: 0 });
          lastPublishedCount = 0;
          publishLive();
        }
      },
      togglePause: () => actions.setPaused(!get().paused),
      selectSession: (id) => set({ selectedSession: id }),
      sendControl,
      refreshRecordings: async () => {
        if (live && live.status.state === 'open') {
          live.send({ type: 'list-recordings' });
          return;
        }
        try {
          const token = new URLSearchParams(loc.search).get('token');
          const res = await doFetch(
            `/api/recordings${token ? `?token=${encodeURIComponent(token)}` : ''}`,
          );
          if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
          const body: unknown = await res.json();
          const list = parseRecordingList(body);
          set({ server: { ...get().server, recordings: list, recordingsError: null } });
        } catch (e) {
          set({
            server: {
              ...get().server,
              recordingsError: e instanceof Error ? e.message : String(e),
            },
          });
        }
      },
      setHelpOpen: (open) => set({ helpOpen: open }),
      toast,
      dismissToast: (id) => set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) })),
      dismissLoadFailure: () => set({ loadFailure: null }),
      dispose: () => {
        disposed = true;
        stopPlay();
        closeLive();
        get().analysis?.dispose();
        loadAbort?.abort();
      },
    };

    return {
      source: { kind: 'none' },
      trace: null,
      traceVersion: 0,
      header: null,
      analysis: null,
      loading: null,
      loadFailure: null,
      viewStartNs: 0,
      viewEndNs: 1_000_000,
      cursor: -1,
      hoverIndex: -1,
      playing: false,
      speed: DEFAULT_SPEED,
      paused: false,
      eventsSincePause: 0,
      selectedSession: null,
      connection: initialConnection(),
      server: initialServer(),
      findings: [],
      findingAnchors: new Uint32Array(0),
      analysisProgress: 1,
      helpOpen: false,
      toasts: [],
      actions,
    };
  });
  return store;
}

/** One Gap record of unknown size (lost = 0) at `tsNs`, from no thread. */
function gapRecord(tsNs: number): Uint32Array {
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

/** GET /api/recordings answers `{ recordings: RecordingInfo[] }`; entries failing the schema are skipped. */
function parseRecordingList(body: unknown): RecordingInfo[] {
  const arr =
    typeof body === 'object' &&
    body !== null &&
    Array.isArray((body as { recordings?: unknown }).recordings)
      ? (body as { recordings: unknown[] }).recordings
      : null;
  if (!arr) throw new Error('the server sent a recordings list in an unknown shape');
  const out: RecordingInfo[] = [];
  for (const r of arr) {
    const p = RecordingInfoSchema.safeParse(r);
    if (p.success) out.push(p.data);
  }
  return out;
}
