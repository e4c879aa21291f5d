// The remote slice (issue 15 §2): a recording too big for the browser's memory
// budget is opened through the server's trace query API and viewed through a
// window (state/remote.ts). This slice owns the RemoteTrace, which window is
// loaded (its first global event and the length of its state bracket), the
// budget, and the moves that cross window edges: going to any event of the
// whole trace (seekEvent), to a time (seekTime), and the step kinds that ask
// the server for the next event of a thread or session beyond the window.
//
// Indices: the cursor, hover and search stay local to the window (the
// WebTrace's indices); findings, evidence and deep links are global. Without a
// remote trace both maps are the identity, so callers convert unconditionally.
//
// Invariants
// - remote !== null  <=>  the loaded trace is a window of it.
// - windowFrom/windowBracket describe the trace in the store: local i >=
//   windowBracket is global windowFrom + i - windowBracket.
// - A seek that loses to a newer one (or to closing the source) changes nothing.

import type { RecordingInfo } from '@iocpscope/protocol';
import { TraceApi, type RemoteMeta } from '../../connection/traceApi.ts';
import { LoadError } from '../../connection/errors.ts';
import { createTraceAnalysis } from '../analysis.ts';
import type { Finding } from '../analysis.ts';
import {
  DEFAULT_BUDGET_BYTES,
  MIN_BUDGET_BYTES,
  RemoteTrace,
  parseBytes,
  type BuiltWindow,
} from '../remote.ts';
import type { LinkFocus } from '../deepLink.ts';
import { viewBounds } from '../../lib/view.ts';
import type { AppState } from '../store.ts';
import type { StepKind } from './cursor.ts';
import type { Slice, SliceContext } from './context.ts';

const BUDGET_KEY = 'iocpscope.budget';

export interface RemoteState {
  remote: RemoteTrace | null;
  /** Bumps when the remote trace's summaries, findings or meta change. */
  remoteVersion: number;
  /** Global index of the window's first event (local index windowBracket). */
  windowFrom: number;
  /** Local records before it: the Snapshot bracket with the state at windowFrom. */
  windowBracket: number;
  /** The global event a window is being fetched for, or null. */
  seeking: number | null;
  /** The browser's memory budget for a trace, bytes (issue 15 §2). */
  budgetBytes: number;
}

export interface RemoteActions {
  /** Put the cursor on global event `g`, loading its window when it is not the one held. */
  seekEvent(g: number, opts?: { reveal?: boolean }): Promise<void>;
  /** Put the cursor on the first event at or after `ns` (anywhere in the trace). */
  seekTime(ns: number): Promise<void>;
  /** Set (and remember) the memory budget; takes effect for the next trace opened. */
  setBudget(bytes: number): void;
}

/**
 * Open the live spool (trace `live`) under a paused live view: the source stays
 * live (the socket too), the view range stays, the cursor lands on the event at
 * the cursor's time. Errors are thrown to the caller (NO_SPOOL among them).
 */
export interface SpoolOpen {
  /** The time of the event the cursor is on (read once the spool answers). */
  cursorNs(): number;
  /** Wait (up to about 2.5 s) until the spool has indexed events up to this time. */
  untilNs: number;
  /** Still wanted: the user has not resumed following meanwhile. */
  wanted(): boolean;
}

export interface RemoteInternal {
  /** Open a server recording as a remote, windowed trace (the previous source is reset once it works). */
  openRemote(rec: RecordingInfo, focus?: LinkFocus, spool?: SpoolOpen): Promise<void>;
  toGlobal(local: number): number;
  /** The local index of global event g, or -1 when it is not in the window. */
  toLocal(g: number): number;
  /** A step the window could not answer (its edge): ask the server. */
  remoteStep(kind: StepKind, dir: 1 | -1): void;
  /** Drop the remote trace (resetSource). */
  closeRemote(): void;
  /** Findings of the remote trace as the panels show them (global indices). */
  remoteFindings(): readonly Finding[];
  /** The cursor moved to local i: fetch the neighbouring window when it nears an edge. */
  prefetchNear(i: number): void;
  /**
   * The live overview (issue 19 §11): the remote trace is the live spool,
   * followed at its head. Take its newer meta and, with `window`, load the
   * window of its newest event with the cursor on it (`reveal`: and the view
   * on the cursor; `install`: asked once the window came, false keeps the
   * cursor where the user put it meanwhile). Null when the remote
   * trace changed meanwhile; errors are thrown.
   */
  followHead(
    window: boolean,
    opts?: { reveal?: boolean; install?: () => boolean },
  ): Promise<RemoteMeta | null>;
}

/** The budget from the page's query (?budget=64M), else the remembered one, else the default. */
export function initialBudget(search: string, storage: Pick<Storage, 'getItem'> | null): number {
  const q = new URLSearchParams(search).get('budget');
  const fromQuery = q !== null ? parseBytes(q) : null;
  if (fromQuery !== null) return Math.max(MIN_BUDGET_BYTES, fromQuery);
  const saved = storage?.getItem(BUDGET_KEY);
  const v = saved ? parseBytes(saved) : null;
  return v !== null ? Math.max(MIN_BUDGET_BYTES, v) : DEFAULT_BUDGET_BYTES;
}

function subjectSession(f: RemoteTrace['findings'][number]): bigint | null {
  const s = f.subject as { kind: string; session?: unknown };
  if (s.kind !== 'session' || typeof s.session !== 'string') return null;
  try {
    return BigInt(s.session);
  } catch {
    return null;
  }
}

function subjectTid(f: RemoteTrace['findings'][number]): number | null {
  const s = f.subject as { kind: string; tid?: unknown };
  return (s.kind === 'thread' || s.kind === 'lock') && typeof s.tid === 'number' ? s.tid : null;
}

export function createRemoteSlice(
  ctx: SliceContext,
): Slice<RemoteState, RemoteActions, RemoteInternal> {
  const { set, get, env, internal, life } = ctx;
  const storage = (() => {
    if (env.options.storage !== undefined) return env.options.storage;
    try {
      return typeof localStorage !== 'undefined' ? localStorage : null;
    } catch {
      return null;
    }
  })();
  /** Bumps with every seek: an older seek that completes late is dropped. */
  let seekToken = 0;
  let findingsCache: { from: RemoteTrace['findings']; out: Finding[] } | null = null;

  const toGlobal = (local: number): number => {
    const s = get();
    if (s.remote === null || local < 0) return local;
    return s.windowFrom + Math.max(0, local - s.windowBracket);
  };
  const toLocal = (g: number): number => {
    const s = get();
    if (s.remote === null) return g;
    const trace = s.trace;
    if (!trace || g < s.windowFrom) return -1;
    const i = g - s.windowFrom + s.windowBracket;
    return i < trace.count ? i : -1;
  };

  const remoteFindings = (): readonly Finding[] => {
    const r = get().remote;
    if (r === null) return [];
    if (findingsCache?.from === r.findings) return findingsCache.out;
    const out: Finding[] = r.findings.map((f) => ({
      rule: f.rule,
      check: f.check,
      label: f.title,
      message: f.message,
      severity: f.severity,
      session: subjectSession(f),
      tid: subjectTid(f),
      events: f.evidence,
      anchor: f.index,
      ns: f.tsNs,
    }));
    out.sort((a, b) => a.anchor - b.anchor);
    findingsCache = { from: r.findings, out };
    return out;
  };

  /** Publish the remote trace's findings and progress (its onChange). */
  const onRemoteChange = (r: RemoteTrace): void => {
    if (life.disposed || get().remote !== r) return;
    const findings = remoteFindings();
    const anchors = new Uint32Array(findings.length);
    for (let k = 0; k < findings.length; k++) anchors[k] = findings[k]!.anchor;
    const progress =
      r.findingsState === 'running' && r.events > 0 ? Math.min(1, r.findingsWalked / r.events) : 1;
    set({
      remoteVersion: get().remoteVersion + 1,
      findings,
      findingAnchors: anchors,
      analysisProgress: progress,
    });
  };

  /** Make `w` the loaded window, with the cursor on global event g. */
  const install = (w: BuiltWindow, g: number, reveal: boolean): void => {
    const s = get();
    s.analysis?.dispose();
    internal.resetSearch();
    const trace = w.trace;
    const analysis = createTraceAnalysis(trace, {
      runTask: env.runTask,
      start: env.startAnalysis,
      detectors: false,
    });
    analysis.runInBackground(false);
    const local = Math.max(w.bracket, Math.min(trace.count - 1, g - w.from + w.bracket));
    set({
      trace,
      traceVersion: s.traceVersion + 1,
      analysis,
      windowFrom: w.from,
      windowBracket: w.bracket,
      seeking: null,
      cursor: local,
      hoverIndex: -1,
      range: null,
    });
    if (reveal) set(internal.revealCursor(local));
  };

  /**
   * The cursor moved to local i: near an edge of the window (the last eighth
   * either way), fetch the neighbour on that side, so stepping or playing on
   * across the edge does not wait for the server. Random seeks fetch nothing
   * extra (a prefetch would queue ahead of the next seek on the server).
   */
  const prefetchNear = (i: number): void => {
    const s = get();
    const r = s.remote;
    const trace = s.trace;
    if (r === null || !trace) return;
    const held = trace.count - s.windowBracket;
    const margin = Math.max(1, Math.floor(held / 8));
    const k = i - s.windowBracket;
    if (k >= held - margin) r.prefetch(s.windowFrom + held);
    else if (k < margin && s.windowFrom > 0) r.prefetch(s.windowFrom - 1);
  };

  const seekEvent = async (g: number, opts?: { reveal?: boolean }): Promise<void> => {
    const s = get();
    const r = s.remote;
    if (r === null) {
      s.actions.setCursor(g, opts);
      return;
    }
    if (!Number.isFinite(g)) return;
    const target = Math.max(r.firstAvailable, Math.min(r.events - 1, Math.floor(g)));
    const local = toLocal(target);
    if (local >= s.windowBracket && local >= 0) {
      s.actions.setCursor(local, opts);
      return;
    }
    const token = ++seekToken;
    set({ seeking: target });
    try {
      const w = await r.window(target);
      if (token !== seekToken || life.disposed || get().remote !== r) return;
      install(w, target, opts?.reveal !== false);
    } catch (e) {
      if (token !== seekToken || life.disposed || get().remote !== r) return;
      set({ seeking: null });
      if (e instanceof LoadError && e.code === 'ABORTED') return;
      internal.toast({
        tone: 'error',
        title: `Could not load event #${target}: ${e instanceof LoadError ? e.code : 'ERROR'}`,
        detail: e instanceof Error ? e.message : String(e),
      });
    }
  };

  const seekTime = async (ns: number): Promise<void> => {
    const r = get().remote;
    if (r === null) return;
    const token = ++seekToken;
    try {
      const g = await r.api.at(ns);
      if (token !== seekToken || get().remote !== r) return;
      await seekEvent(Math.min(g, r.events - 1), { reveal: false });
    } catch (e) {
      if (token !== seekToken || get().remote !== r) return;
      internal.toast({
        tone: 'error',
        title: 'Could not find the event there',
        detail: e instanceof Error ? e.message : String(e),
      });
    }
  };

  const remoteStep = (kind: StepKind, dir: 1 | -1): void => {
    const s = get();
    const r = s.remote;
    const trace = s.trace;
    if (r === null || !trace) return;
    const g = toGlobal(s.cursor);
    if (kind === 'event') {
      void seekEvent(g + dir);
      return;
    }
    const filter: { tid?: number; session?: bigint } = {};
    if (kind === 'thread') {
      if (s.cursor < 0) return;
      filter.tid = trace.words[s.cursor * 8]! >>> 16;
    } else if (kind === 'session') {
      const sess = s.selectedSession;
      if (sess === null) return;
      filter.session = sess;
    } else return;
    const token = ++seekToken;
    set({ seeking: g });
    r.api.next(g, dir, filter).then(
      (to) => {
        if (token !== seekToken || get().remote !== r) return;
        set({ seeking: null });
        if (to < 0 || to >= r.events) {
          internal.toast({
            tone: 'info',
            title: dir > 0 ? 'No later event' : 'No earlier event',
            detail: `of this ${kind} in the whole trace.`,
          });
          return;
        }
        void seekEvent(to);
      },
      (e: unknown) => {
        if (token !== seekToken) return;
        set({ seeking: null });
        internal.toast({
          tone: 'error',
          title: 'Could not step',
          detail: e instanceof Error ? e.message : String(e),
        });
      },
    );
  };

  const closeRemote = (): void => {
    seekToken++;
    get().remote?.dispose();
    findingsCache = null;
    set({ remote: null, windowFrom: 0, windowBracket: 0, seeking: null });
  };

  const openRemote = async (
    rec: RecordingInfo,
    focus?: LinkFocus,
    spool?: SpoolOpen,
  ): Promise<void> => {
    const api = new TraceApi(rec.id, { fetch: env.fetch, search: env.loc.search });
    const had = get().source.kind !== 'none';
    if (!spool) {
      set({
        ...(had ? {} : { loadFailure: null }),
        loading: { name: rec.name, loadedBytes: 0, totalBytes: rec.bytes, events: 0 },
      });
    }
    const token = ++seekToken;
    try {
      let meta = await api.meta((p) => {
        if (token === seekToken) {
          set({
            loading: {
              name: `${rec.name} (indexing)`,
              loadedBytes: p.bytesRead,
              totalBytes: p.totalBytes || rec.bytes,
              events: p.events,
            },
          });
        }
      });
      if (token !== seekToken || life.disposed) return;
      // The spool indexes what was written within about a second: wait for the
      // events the live view was showing.
      for (let k = 0; spool && meta.endNs < spool.untilNs && k < 8; k++) {
        await new Promise((done) => env.timers.setTimeout(() => done(null), 300));
        if (token !== seekToken || life.disposed || !spool.wanted()) return;
        meta = await api.meta();
      }
      if (token !== seekToken || life.disposed || (spool && !spool.wanted())) return;
      if (meta.events === 0) throw new LoadError('HTTP', 'the recording holds no events');
      const budget = get().budgetBytes;
      let r: RemoteTrace | null = null;
      r = new RemoteTrace(api, meta, budget, () => r && onRemoteChange(r));
      const g = spool
        ? Math.max(meta.available?.firstEvent ?? 0, await api.at(spool.cursorNs()))
        : (focus?.cursor ?? 0);
      const w = await r.window(Math.min(g, meta.events - 1));
      if (token !== seekToken || life.disposed || (spool && !spool.wanted())) {
        r.dispose();
        return;
      }
      if (spool) {
        // The live source stays (its socket too): only the data model changes.
        set({ remote: r, header: null, analysisProgress: 0, framed: null, evidence: null });
        seekToken++;
        install(w, Math.min(g, meta.events - 1), false);
        r.startFindings();
        return;
      }
      internal.resetSource();
      const v = viewBounds(meta.startNs, meta.endNs);
      set({
        source: { kind: 'recording', id: rec.id, name: rec.name, bytes: rec.bytes },
        header: null,
        remote: r,
        loading: null,
        viewStartNs: v.startNs,
        viewEndNs: v.endNs,
        selectedSession: null,
        analysisProgress: 0,
      });
      seekToken++;
      install(w, Math.min(g, meta.events - 1), false);
      r.startFindings();
      if (focus) internal.applyFocus(focus);
      if (meta.damage) {
        internal.toast({
          tone: 'error',
          title: `${rec.name}: ${meta.damage.code}`,
          detail: `${meta.damage.message}. The server reads the valid prefix: ${meta.events.toLocaleString('en-US')} events.`,
        });
      }
    } catch (e) {
      if (token !== seekToken || life.disposed) return;
      if (spool) throw e;
      set({ loading: null });
      const code = e instanceof LoadError ? e.code : 'READ';
      const message = e instanceof Error ? e.message : String(e);
      if (get().source.kind !== 'none') {
        internal.toast({
          tone: 'error',
          title: `Could not open ${rec.name}: ${code}`,
          detail: `${message}. What was open stays open.`,
        });
      } else {
        set({
          loadFailure: {
            name: rec.name,
            code,
            message,
            recoveredEvents: 0,
            chunksRead: 0,
            validBytes: 0,
            totalBytes: rec.bytes,
          },
        });
      }
    }
  };

  // Calls of followHead overlap (a tick in flight, then a pause): only the
  // newest one takes its answers, so an older meta never replaces a newer one
  // and an older head window never lands after a newer one.
  let headCalls = 0;
  const followHead = async (
    window: boolean,
    opts: { reveal?: boolean; install?: () => boolean } = {},
  ): Promise<RemoteMeta | null> => {
    const r = get().remote;
    if (r === null) return null;
    const call = ++headCalls;
    // A window of the head is a seek: a later seek wins over it, and it wins
    // over an earlier one.
    const token = window ? ++seekToken : seekToken;
    // Asked for by the user (pausing the overview): shown as a seek until it
    // lands, because the cursor meanwhile is on an older tick's head.
    const shown = window && opts.reveal === true;
    if (shown) set({ seeking: Math.max(0, r.events - 1) });
    try {
      const meta = await r.api.meta();
      if (life.disposed || get().remote !== r || call !== headCalls) return null;
      r.refreshMeta(meta);
      if (window && meta.events > 0) {
        const w = await r.headWindow();
        if (token !== seekToken || call !== headCalls || life.disposed || get().remote !== r)
          return null;
        if (opts.install?.() !== false) install(w, meta.events - 1, opts.reveal === true);
      }
      onRemoteChange(r);
      return meta;
    } finally {
      // Failed, superseded by a tick, or not installed: no seek is shown any
      // more (a newer seek or head fetch shows its own).
      if (shown && token === seekToken && !life.disposed && get().remote === r) {
        if (get().seeking !== null) set({ seeking: null });
      }
    }
  };

  const state: RemoteState = {
    remote: null,
    remoteVersion: 0,
    windowFrom: 0,
    windowBracket: 0,
    seeking: null,
    budgetBytes: initialBudget(env.loc.search, storage),
  };

  return {
    state,
    actions: {
      seekEvent,
      seekTime,
      setBudget: (bytes) => {
        if (!(bytes > 0)) return;
        const b = Math.max(MIN_BUDGET_BYTES, Math.floor(bytes));
        set({ budgetBytes: b });
        try {
          storage?.setItem(BUDGET_KEY, String(b));
        } catch {
          // Not remembered: still in force for this page.
        }
      },
    },
    internal: {
      openRemote,
      toGlobal,
      toLocal,
      remoteStep,
      closeRemote,
      remoteFindings,
      prefetchNear,
      followHead,
    },
  };
}

/** The whole trace's time extent: the remote trace's, else the loaded trace's. */
export function extentOf(
  s: Pick<AppState, 'remote' | 'trace'>,
): { startNs: number; endNs: number } | null {
  if (s.remote) return remoteExtent(s.remote.meta);
  if (s.trace && s.trace.count > 0) return { startNs: s.trace.startNs, endNs: s.trace.endNs };
  return null;
}

/**
 * A remote trace's time extent: a live spool that deleted parts reaches back to
 * its first event ever, so scrolling back shows what is no longer available.
 */
export function remoteExtent(m: RemoteTrace['meta']): { startNs: number; endNs: number } {
  const from = m.dropped?.fromNs;
  return {
    startNs: from !== undefined ? Math.min(from, m.startNs) : m.startNs,
    endNs: m.endNs,
  };
}
