// What is under the pointer. On a lane: the nearest event of that thread
// within a few pixels (scanning at most HIT_SCAN_LIMIT events of the window,
// then only the lane's marks), else the span under the pointer: the thread
// state in force there (or, on the kernel's lane, the stretch between two
// packets it queued). On a port track or a session's IOCount track: the
// nearest change, else the value in force and for how long. Over a track's
// label in the gutter: that track (its ✕ unpins it). Anywhere else, below the
// rows included: nothing, so a click there leaves the cursor where it is.
//
// A span is described for the tooltip in words (hover shows what is under the
// pointer, not the event that started it, issue 19 §6).

import {
  BlockReason,
  EventKind,
  RECORD_WORDS,
  ThreadStateValue,
  TS_HI_MASK,
} from '@iocpscope/protocol';
import type { EventIndex, EventSeries, IoCountTrack, Lane, WebTrace } from '../trace/index.ts';
import { blockReasonAt, stateAt } from '../trace/index.ts';
import { formatDurationNs, formatSessionId, formatTimeNs } from '../lib/format.ts';
import { laneRowAt, sessionTrackAt, type Layout } from './layout.ts';
import type { Geom } from './drawVector.ts';

export const HIT_TOLERANCE_PX = 5;
const HIT_SCAN_LIMIT = 20000;
const TWO_32 = 4294967296;
/** The ✕ of a track label: this many px left of the plot's edge. */
export const UNPIN_ZONE_PX = 22;

export type Pick =
  | { readonly kind: 'none' }
  | { readonly kind: 'event'; readonly index: number }
  | {
      readonly kind: 'span';
      /** The event that started the span (the cursor goes there on a click), or -1. */
      readonly from: number;
      readonly line1: string;
      readonly line2: string;
    }
  | { readonly kind: 'track-label'; readonly track: number; readonly unpin: boolean };

export const NO_PICK: Pick = { kind: 'none' };

function tsOf(w: Uint32Array, i: number): number {
  const o = i * RECORD_WORDS;
  return w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
}

/** Nearest entry of an index column to time t within tol, else -1. */
function nearestInColumn(
  trace: WebTrace,
  col: EventIndex,
  n: number,
  t: number,
  tol: number,
): number {
  if (n === 0) return -1;
  const w = trace.words;
  const k = trace.lowerBoundColumnTime(col, t, 0, n);
  let best = -1;
  let bestD = tol;
  for (let j = Math.max(0, k - 1); j <= Math.min(n - 1, k); j++) {
    const d = Math.abs(tsOf(w, col.get(j)) - t);
    if (d <= bestD) {
      best = col.get(j);
      bestD = d;
    }
  }
  return best;
}

/** Position of the entry in force at t (the last at or before it), or -1. */
function inForceAt(trace: WebTrace, col: EventIndex | Uint32Array, n: number, t: number): number {
  return trace.upperBoundColumnTime(col, t, 0, n) - 1;
}

const BLOCK_NAMES: Record<number, string> = {
  [BlockReason.Lock]: 'on a lock',
  [BlockReason.Sleep]: 'in Sleep',
  [BlockReason.SyncIo]: 'in synchronous I/O',
  [BlockReason.Join]: 'joining a thread',
  [BlockReason.Accept]: 'in accept',
  [BlockReason.Other]: '',
};

function stateWords(lane: Lane, trace: WebTrace, e: number): string {
  const st = stateAt(trace.words, e);
  const reason = blockReasonAt(trace.words, e);
  switch (st) {
    case ThreadStateValue.Waiting:
      if (reason === BlockReason.Accept) return 'waiting in accept';
      return trace.kindAt(e) === EventKind.GqcsEnter ? 'waiting in GQCS' : 'waiting';
    case ThreadStateValue.Running:
      return lane.isPortThread ? 'running (handling a completion)' : 'running';
    case ThreadStateValue.Blocked:
      return `blocked ${BLOCK_NAMES[reason] ?? ''}`.trim();
    default:
      return 'exited';
  }
}

/** "#12 → #40 · 1.203 ms → 1.566 ms", or "#12 → end · …" for a span still open. */
function between(trace: WebTrace, from: number, to: number): string {
  const a = from >= 0 ? `#${from}` : 'start';
  const b = to >= 0 ? `#${to}` : 'end of trace';
  const ta = from >= 0 ? formatTimeNs(trace.timeAt(from)) : formatTimeNs(trace.startNs);
  const tb = to >= 0 ? formatTimeNs(trace.timeAt(to)) : formatTimeNs(trace.endNs);
  return `${a} → ${b} · ${ta} → ${tb}`;
}

function spanNs(trace: WebTrace, from: number, to: number): number {
  const a = from >= 0 ? trace.timeAt(from) : trace.startNs;
  const b = to >= 0 ? trace.timeAt(to) : trace.endNs;
  return b - a;
}

/** A lane's span at t: its state in force, or for the kernel the stretch between two packets. */
function laneSpan(trace: WebTrace, lane: Lane, t: number): Pick {
  if (lane.isKernel && lane.marks.length > 0) {
    const m = lane.marks;
    const k = inForceAt(trace, m.idx, m.length, t);
    const from = k >= 0 ? m.idx.get(k) : -1;
    const to = k + 1 < m.length ? m.idx.get(k + 1) : -1;
    const dur = formatDurationNs(spanNs(trace, from, to));
    return {
      kind: 'span',
      from,
      line1: `${lane.name} · no packet queued for ${dur}`,
      line2: between(trace, from, to),
    };
  }
  const s = lane.states;
  if (s.length === 0) return NO_PICK;
  const k = inForceAt(trace, s.idx, s.length, t);
  if (k < 0) {
    return { kind: 'span', from: -1, line1: `${lane.name} · not started yet`, line2: '' };
  }
  const from = s.idx.get(k);
  const to = k + 1 < s.length ? s.idx.get(k + 1) : -1;
  const dur = formatDurationNs(spanNs(trace, from, to));
  return {
    kind: 'span',
    from,
    line1: `${lane.name} · ${stateWords(lane, trace, from)} · ${dur}${to < 0 ? ' so far' : ''}`,
    line2: between(trace, from, to),
  };
}

function counterSpan(trace: WebTrace, s: EventSeries, name: string, t: number): Pick {
  const k = inForceAt(trace, s.idx, s.length, t);
  const from = k >= 0 ? s.idx.get(k) : -1;
  const to = k + 1 < s.length ? s.idx.get(k + 1) : -1;
  const v = s.valueAfter(trace.words, k);
  return {
    kind: 'span',
    from,
    line1: `${name} ${v} · ${formatDurationNs(spanNs(trace, from, to))}`,
    line2: between(trace, from, to),
  };
}

function trackSpan(trace: WebTrace, tr: IoCountTrack, t: number): Pick {
  const ev = tr.events.data;
  const n = tr.length;
  const k = inForceAt(trace, ev.subarray(0, n), n, t);
  const from = k >= 0 ? ev[k]! : -1;
  const to = k + 1 < n ? ev[k + 1]! : -1;
  const v = k >= 0 ? tr.values.data[k]! : 0;
  return {
    kind: 'span',
    from,
    line1: `IOCount ${v} · session ${formatSessionId(tr.session)} · ${formatDurationNs(spanNs(trace, from, to))}`,
    line2: between(trace, from, to),
  };
}

export function pick(
  trace: WebTrace,
  g: Geom,
  tracks: readonly IoCountTrack[],
  x: number,
  y: number,
): Pick {
  const l: Layout = g.layout;
  if (trace.count === 0 || x >= l.plotX1 || y < l.queueY0 || y >= l.plotY1) return NO_PICK;
  const k = sessionTrackAt(l, y);
  if (x < l.plotX0) {
    if (k < 0 || k >= tracks.length) return NO_PICK;
    return { kind: 'track-label', track: k, unpin: x >= l.plotX0 - UNPIN_ZONE_PX };
  }
  const t = g.t0 + (x - l.plotX0) * g.nsPerPx;
  const tol = HIT_TOLERANCE_PX * g.nsPerPx;
  if (y >= l.queueY0 && y < l.queueY1) {
    const near = nearestInColumn(trace, trace.queueDepth.idx, trace.queueDepth.length, t, tol);
    return near >= 0
      ? { kind: 'event', index: near }
      : counterSpan(trace, trace.queueDepth, 'Queue depth', t);
  }
  if (y >= l.runY0 && y < l.runY1) {
    const near = nearestInColumn(trace, trace.running.idx, trace.running.length, t, tol);
    return near >= 0
      ? { kind: 'event', index: near }
      : counterSpan(trace, trace.running, 'Running threads', t);
  }
  if (k >= 0) {
    const tr = tracks[k];
    if (!tr) return NO_PICK;
    const n = tr.length;
    const ev = tr.events.data.subarray(0, n);
    const j = trace.lowerBoundColumnTime(ev, t, 0, n);
    let best = -1;
    let bestD = tol;
    for (let q = Math.max(0, j - 1); q <= Math.min(n - 1, j); q++) {
      const d = Math.abs(trace.timeAt(ev[q]!) - t);
      if (d <= bestD) {
        best = ev[q]!;
        bestD = d;
      }
    }
    return best >= 0 ? { kind: 'event', index: best } : trackSpan(trace, tr, t);
  }
  const row = laneRowAt(l, y);
  if (row < 0) return NO_PICK;
  const lane = g.lanes[row]!;
  const w = trace.words;
  const i0 = trace.lowerBoundTime(t - tol);
  const i1 = trace.upperBoundTime(t + tol, i0);
  if (i1 - i0 <= HIT_SCAN_LIMIT) {
    let best = -1;
    let bestD = Infinity;
    for (let i = i0; i < i1; i++) {
      if (w[i * RECORD_WORDS]! >>> 16 !== lane.tid) continue;
      const d = Math.abs(tsOf(w, i) - t);
      if (d < bestD) {
        best = i;
        bestD = d;
      }
    }
    if (best >= 0) return { kind: 'event', index: best };
  } else {
    const m = nearestInColumn(trace, lane.marks.idx, lane.marks.length, t, tol);
    if (m >= 0) return { kind: 'event', index: m };
  }
  return laneSpan(trace, lane, t);
}
