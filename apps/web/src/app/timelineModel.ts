// The TimelineModel the canvas reads, backed by the app store. AppState
// already has the TimelineState fields (trace, viewStartNs, viewEndNs, cursor,
// hoverIndex, selectedSession, findings, pinnedSessions, range, rangeMode,
// searchMatches, evidence), so getState() hands the store's snapshot through
// without copying, except for a trace the server holds (issue 15): then the
// trace is a window, and the state handed over adds `windowed` (the whole
// extent and the summaries outside the window) and gives the findings and the
// evidence (global event indices in the store) in the window's local indices.

import type {
  TimelineFinding,
  TimelineModel,
  TimelineRemote,
  TimelineState,
} from '../timeline/index.ts';
import type { AppState, AppStore } from '../state/store.ts';
import type { RemoteTrace } from '../state/remote.ts';
import { remoteExtent } from '../state/slices/remote.ts';
import type { WebTrace } from '../trace/index.ts';

/** Global -> local for the window in `s` (-1 outside it). */
function localOf(s: AppState): (g: number) => number {
  const from = s.windowFrom;
  const b = s.windowBracket;
  const n = s.trace?.count ?? 0;
  return (g) => {
    const i = g - from + b;
    return g >= from && i < n ? i : -1;
  };
}

function windowedView(r: RemoteTrace, trace: WebTrace, bracket: number): TimelineRemote {
  const startNs = bracket < trace.count ? trace.timeAt(bracket) : trace.startNs;
  const ext = remoteExtent(r.meta);
  return {
    startNs: ext.startNs,
    endNs: ext.endNs,
    windowStartNs: startNs,
    windowEndNs: trace.endNs,
    summaryFor: (nsPerCol, t0, t1) => r.summaryFor(nsPerCol, t0, t1),
    get version() {
      return r.version;
    },
    get availableFromNs() {
      return r.meta.available ? r.meta.available.firstNs : null;
    },
  };
}

export function timelineModelOf(store: AppStore): TimelineModel {
  const a = () => store.getState().actions;
  let last: { s: AppState; out: TimelineState } | null = null;
  let view: { r: RemoteTrace; trace: WebTrace; v: TimelineRemote } | null = null;
  let found: { src: AppState['findings']; trace: WebTrace; out: TimelineFinding[] } | null = null;
  let ev: { src: AppState['evidence']; trace: WebTrace; out: number[] | null } | null = null;

  const derive = (s: AppState): TimelineState => {
    const r = s.remote;
    const trace = s.trace;
    if (r === null || trace === null) return s;
    if (last?.s === s) return last.out;
    if (view?.r !== r || view.trace !== trace) {
      view = { r, trace, v: windowedView(r, trace, s.windowBracket) };
    }
    const local = localOf(s);
    if (found?.src !== s.findings || found.trace !== trace) {
      const out: TimelineFinding[] = s.findings.map((f) => {
        const anchor = local(f.anchor);
        if (anchor < 0) return { events: [], label: f.label, ns: f.ns ?? -1 };
        const events = [anchor];
        for (const e of f.events) {
          const l = local(e);
          if (l >= 0 && l !== anchor) events.push(l);
        }
        return { events, label: f.label };
      });
      found = { src: s.findings, trace, out };
    }
    if (ev?.src !== s.evidence || ev.trace !== trace) {
      const out = s.evidence ? s.evidence.map(local).filter((i) => i >= 0) : null;
      ev = { src: s.evidence, trace, out };
    }
    const out: TimelineState = { ...s, windowed: view.v, findings: found.out, evidence: ev.out };
    last = { s, out };
    return out;
  };

  return {
    getState: () => derive(store.getState()),
    subscribe: (listener) => store.subscribe(() => listener()),
    setView: (startNs, endNs) => a().setView(startNs, endNs),
    // A click on the timeline puts the cursor where the user is looking: no auto-pan.
    setCursor: (index) => a().setCursor(index, { reveal: false }),
    setHover: (index) => a().setHover(index),
    setRange: (r) => a().setRange(r),
    pinSession: (id) => a().pinSession(id),
    unpinSession: (id) => a().unpinSession(id),
    selectSession: (id) => a().selectSession(id),
    seekTime: (ns) => void a().seekTime(ns),
  };
}
