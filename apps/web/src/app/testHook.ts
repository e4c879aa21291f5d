// window.__iocpscope: a small, stable handle for the e2e specs and the web
// benchmark (documented in apps/web/README.md). It drives the same actions as
// the UI and reports a plain-JSON summary of the state; it never exposes
// internals that the specs would then depend on, except `store` for
// benchmarks that must read the trace directly.

import { formatSessionId } from '../panels/format.ts';
import type { AppStore, StepKind } from '../state/store.ts';
import { globalIndexOf } from '../state/selectors.ts';
import { shownLanes } from '../timeline/index.ts';

export interface StateSummary {
  source: { kind: string; name: string | null };
  events: number;
  cursor: number;
  cursorTsNs: number | null;
  view: [number, number];
  playing: boolean;
  speed: number;
  paused: boolean;
  selectedSession: string | null;
  sessions: number;
  /** Lanes shown as timeline rows (timeline/rows.ts), and their names in display order. */
  lanes: number;
  laneNames: string[];
  findings: number;
  findingRules: string[];
  connection: string;
  gaps: number;
  lostEvents: number;
  /** Live: following the server's summaries (a fast stream), or null; and what the hub held back meanwhile. */
  overview: { state: string; reason: string; rate: number } | null;
  skippedEvents: number;
  loading: boolean;
  loadFailure: { code: string; message: string; recoveredEvents: number } | null;
  traceBytes: number;
  /** The selected time range, and whether plain drags select one. */
  range: { startNs: number; endNs: number; tids: number[] | null } | null;
  rangeMode: boolean;
  /** Sessions pinned as IOCount tracks, `0x…`. */
  pinnedSessions: string[];
  search: { text: string; description: string; error: string | null; matches: number };
  /** The finding gone to last, and how wide it is framed. */
  framed: { key: string; mode: 'evidence' | 'context' } | null;
  bottomTab: string;
  /** The lock the lock view highlights on the timeline, or null. */
  highlightLock: number | null;
  /** The link to this view ("Copy link"), or null. */
  link: string | null;
  toasts: Array<{ tone: string; title: string; detail: string }>;
  /**
   * A trace the server holds, viewed through a window (issue 15), or null:
   * its length, the window's place in it, the cursor as an event number of
   * the whole trace, a seek in progress, and the browser memory it holds.
   */
  remote: {
    events: number;
    windowFrom: number;
    windowBracket: number;
    windowEvents: number;
    globalCursor: number;
    seeking: number | null;
    findingsState: string;
    heldBytes: number;
    firstAvailable: number;
    /** The oldest held event's time (a live spool that deleted parts), else null. */
    availableFromNs: number | null;
    droppedEvents: number;
    live: boolean;
  } | null;
  budgetBytes: number;
  /** Live: the spool as the view knows it, and what trimming the followed trace set aside. */
  spool: string;
  liveTrim: { times: number; events: number; findings: number } | null;
}

/** What the timeline drew last (its probe, timeline/renderer.ts), CSS px relative to the canvas. */
export interface TimelineProbe {
  t0: number;
  t1: number;
  x0: number;
  x1: number;
  queue: [number, number];
  running: [number, number];
  lanes: Array<{ name: string; tid: number; y0: number; y1: number }>;
  lanesY: [number, number];
  tracks: Array<{
    session: string;
    y0: number;
    y1: number;
    changes: number;
    min: number;
    max: number;
  }>;
  plotY1: number;
  height: number;
  /** The tooltip's text (event or span under the pointer), '' when none. */
  hover: string;
  /** The chat server's views (timeline/drawChat.ts probe), when the trace has them. */
  chat?: {
    queues: Array<{
      room: number;
      y0: number;
      y1: number;
      flushes: number;
      max: number;
      inView: Array<{ begin: number; x0: number; x1: number; tid: number }>;
    }>;
    pool: { y0: number; y1: number; max: number; empty: number } | null;
    broadcasts: number;
    /** The broadcasts at the cursor (or in the cursor's flush) and their members' send completions. */
    fanOut: { broadcasts: number[]; completions: number };
  };
}

export interface IocpscopeTestHook {
  readonly version: 1;
  /** Open a trace from bytes (Uint8Array, ArrayBuffer, a plain number array or base64 text). */
  loadBytes(
    bytes: Uint8Array | ArrayBuffer | number[] | string,
    name?: string,
  ): Promise<StateSummary>;
  /** Fetch a trace from a URL (same origin) and open it. */
  loadUrl(url: string, name?: string): Promise<StateSummary>;
  connectLive(url?: string): void;
  getState(): StateSummary;
  setCursor(index: number): void;
  step(kind: StepKind, dir: 1 | -1): void;
  /** Select by `0x…` hex id, or null to clear. */
  selectSession(hex: string | null): void;
  setView(startNs: number, endNs: number): void;
  /** Select a time range (tids: the lanes' thread indices, or omitted for all). */
  setRange(startNs: number, endNs: number, tids?: number[] | null): void;
  clearRange(): void;
  search(text: string): void;
  searchStep(dir: 1 | -1): void;
  pinSession(hex: string): void;
  unpinSession(hex: string): void;
  /** Go to the k-th finding (as a click in the anomalies panel). */
  goToFinding(k: number): void;
  /** Go to an event of the whole trace (a remote trace loads its window); resolves once there. */
  seekEvent(g: number): Promise<StateSummary>;
  /** The raw record (8 words) under the cursor, or [] without one. */
  cursorRecord(): number[];
  /** What the timeline drew last, or null before its first frame with a trace. */
  timeline(): TimelineProbe | null;
  readonly store: AppStore;
}

declare global {
  interface Window {
    __iocpscope?: IocpscopeTestHook;
  }
}

function toBytes(b: Uint8Array | ArrayBuffer | number[] | string): Uint8Array {
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  if (typeof b === 'string') {
    const bin = atob(b);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  return Uint8Array.from(b);
}

export function summarize(store: AppStore): StateSummary {
  const s = store.getState();
  const src = s.source;
  const lanes = s.trace ? shownLanes(s.trace) : [];
  return {
    source: {
      kind: src.kind,
      name:
        src.kind === 'file' || src.kind === 'recording'
          ? src.name
          : src.kind === 'live'
            ? src.url
            : null,
    },
    events: s.trace?.count ?? 0,
    cursor: s.cursor,
    cursorTsNs: s.trace && s.cursor >= 0 ? s.trace.timeAt(s.cursor) : null,
    view: [s.viewStartNs, s.viewEndNs],
    playing: s.playing,
    speed: s.speed,
    paused: s.paused,
    selectedSession: s.selectedSession === null ? null : formatSessionId(s.selectedSession),
    sessions: s.trace?.sessions.count ?? 0,
    lanes: lanes.length,
    laneNames: lanes.map((l) => l.name),
    findings: s.findings.length,
    findingRules: [...new Set(s.findings.map((f) => f.rule))],
    connection: s.connection.status.state,
    gaps: s.connection.gaps,
    lostEvents: s.connection.lostEvents,
    overview: s.overview ? { ...s.overview } : null,
    skippedEvents: s.connection.skipped,
    loading: s.loading !== null,
    loadFailure: s.loadFailure
      ? {
          code: s.loadFailure.code,
          message: s.loadFailure.message,
          recoveredEvents: s.loadFailure.recoveredEvents,
        }
      : null,
    traceBytes: s.trace?.bytes ?? 0,
    range: s.range
      ? {
          startNs: s.range.startNs,
          endNs: s.range.endNs,
          tids: s.range.tids === null ? null : [...s.range.tids],
        }
      : null,
    rangeMode: s.rangeMode,
    pinnedSessions: s.pinnedSessions.map(formatSessionId),
    search: {
      text: s.searchText,
      description: s.searchDescription,
      error: s.searchError,
      matches: s.searchMatches?.length ?? 0,
    },
    framed: s.framed,
    bottomTab: s.bottomTab,
    highlightLock: s.highlightLock,
    link: s.actions.linkUrl(),
    toasts: s.toasts.map((t) => ({ tone: t.tone, title: t.title, detail: t.detail ?? '' })),
    remote: s.remote
      ? {
          events: s.remote.events,
          windowFrom: s.windowFrom,
          windowBracket: s.windowBracket,
          windowEvents: s.remote.windowEvents,
          globalCursor: globalIndexOf(s, s.cursor),
          seeking: s.seeking,
          findingsState: s.remote.findingsState,
          heldBytes: s.remote.heldBytes + (s.trace?.bytes ?? 0),
          firstAvailable: s.remote.firstAvailable,
          availableFromNs: s.remote.meta.available?.firstNs ?? null,
          droppedEvents: s.remote.meta.dropped?.events ?? 0,
          live: s.remote.meta.live === true,
        }
      : null,
    budgetBytes: s.budgetBytes,
    spool: s.spool,
    liveTrim: s.liveTrim,
  };
}

function readProbe(doc: Document): TimelineProbe | null {
  const el = doc.querySelector<HTMLElement>('[data-testid="timeline"]');
  const geom = el?.dataset['geom'];
  if (!el || !geom) return null;
  return {
    ...(JSON.parse(geom) as Omit<TimelineProbe, 'hover'>),
    hover: el.dataset['hover'] ?? '',
  };
}

/** Install the hook for this store; returns the uninstall function. */
export function installTestHook(store: AppStore, target: Window = window): () => void {
  const a = () => store.getState().actions;
  const hook: IocpscopeTestHook = {
    version: 1,
    loadBytes: async (bytes, name) => {
      await a().loadBytes(toBytes(bytes), name);
      return summarize(store);
    },
    loadUrl: async (url, name) => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${res.status} ${res.statusText} for ${url}`);
      await a().loadBytes(
        new Uint8Array(await res.arrayBuffer()),
        name ?? url.split('/').pop() ?? url,
      );
      return summarize(store);
    },
    connectLive: (url) => a().connectLive(url),
    getState: () => summarize(store),
    setCursor: (i) => a().setCursor(i),
    step: (kind, dir) => a().step(kind, dir),
    selectSession: (hex) => a().selectSession(hex === null ? null : BigInt(hex)),
    setView: (s, e) => a().setView(s, e),
    setRange: (startNs, endNs, tids = null) => a().setRange({ startNs, endNs, tids }),
    clearRange: () => a().setRange(null),
    search: (text) => a().setSearch(text),
    searchStep: (dir) => a().searchStep(dir),
    pinSession: (hex) => a().pinSession(BigInt(hex)),
    unpinSession: (hex) => a().unpinSession(BigInt(hex)),
    goToFinding: (k) => {
      const f = store.getState().findings[k];
      if (f) a().goToFinding(f);
    },
    timeline: () => readProbe(target.document),
    seekEvent: async (g) => {
      await a().seekEvent(g);
      return summarize(store);
    },
    cursorRecord: () => {
      const s = store.getState();
      const t = s.trace;
      if (!t || s.cursor < 0 || s.cursor >= t.count) return [];
      return Array.from(t.words.subarray(s.cursor * 8, s.cursor * 8 + 8));
    },
    store,
  };
  target.__iocpscope = hook;
  return () => {
    if (target.__iocpscope === hook) delete target.__iocpscope;
  };
}
