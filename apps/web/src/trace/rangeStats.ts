// The numbers of a selected time range (issue 19 §2; Perfetto's area
// selection, Tracy's find-zone): for the events in [startNs, endNs], on the
// chosen threads (all when `tids` is null):
// - counts per what happened (posted, queued, dequeued, nothing dequeued), op
//   and result (ok / pending / done at once / each error code);
// - bytes completed per op;
// - post -> dequeue latency percentiles (the flows, trace.retPosted);
// - GQCS wait percentiles: GqcsEnter -> GqcsReturn on one thread;
// - each thread's time running, waiting and blocked in the range
//   (lane.stateCum prefix sums: two lookups per thread);
// - the most packets queued at once (port-wide: the queue has no thread);
// - the sessions touched, with their event counts.
//
// Cost: one pass over the range's records (word reads and typed-array
// counters, no objects per event), then a sort of the latency samples. The
// 1 M-event target is under 100 ms with the panel drawn (bench/web.ts).

import { EventKind, NO_THREAD, RECORD_WORDS, TS_HI_MASK, WinError } from '@iocpscope/protocol';
import { SESSION_KINDS } from './flags.ts';
import { NONE } from './lanes.ts';
import type { WebTrace } from './webTrace.ts';

export interface RangeQuery {
  readonly startNs: number;
  readonly endNs: number;
  /** Thread indices to include, or null for all threads. */
  readonly tids: readonly number[] | null;
}

/** What a counted event did. */
export type RangeWhat = 'posted' | 'queued' | 'dequeued' | 'empty';

export interface OpRow {
  what: RangeWhat;
  /** Op (recv, send, post...) for posted/queued/dequeued; 0 for empty GQCS returns. */
  op: number;
  /** 'ok', 'pending' (a post in flight), 'done' (a post finished at once), or an error code. */
  result: 'ok' | 'pending' | 'done' | number;
  count: number;
}

export interface Percentiles {
  count: number;
  meanNs: number;
  p50Ns: number;
  p90Ns: number;
  p99Ns: number;
  maxNs: number;
}

export interface ThreadTime {
  tid: number;
  name: string;
  runningNs: number;
  waitingNs: number;
  blockedNs: number;
}

export interface RangeStats {
  startNs: number;
  endNs: number;
  /** Event index range [firstEvent, endEvent) of the time range (all threads). */
  firstEvent: number;
  endEvent: number;
  /** Events counted (on the chosen threads). */
  events: number;
  ops: OpRow[];
  /** Bytes of successful completions dequeued, by op. */
  bytesByOp: Map<number, number>;
  latency: Percentiles | null;
  gqcsWait: Percentiles | null;
  threads: ThreadTime[];
  /** Packets in the port's queue at the range start, and the most at once in it. */
  queueAtStart: number;
  queueMax: number;
  /** Sessions touched: how many, and the busiest first (at most SESSIONS_LISTED). */
  sessionCount: number;
  sessions: Array<{ id: bigint; events: number }>;
}

/** Sessions listed in the result, busiest first (the count covers all). */
export const SESSIONS_LISTED = 200;
/** How far back on a thread to look for the GqcsEnter of a return at the range start. */
const ENTER_LOOKBACK = 64;

const WHAT_POSTED = 0;
const WHAT_QUEUED = 1;
const WHAT_DEQUEUED = 2;
const WHAT_EMPTY = 3;
const WHATS: RangeWhat[] = ['posted', 'queued', 'dequeued', 'empty'];
const RES_OK = 0;
const RES_PENDING = 1;
const RES_DONE = 2;
const RESULTS = ['ok', 'pending', 'done'] as const;
const OPS = 8;
const TWO_32 = 4294967296;
// Module-local copies for the hot loop (an imported binding can cost a getter per read).
const K_ENTER: number = EventKind.GqcsEnter;
const K_RETURN: number = EventKind.GqcsReturn;
const K_POSTED: number = EventKind.IoPosted;
const K_QUEUED: number = EventKind.PacketQueued;
const K_PQCS: number = EventKind.Pqcs;
const PENDING: number = WinError.IoPending;
const NO_TID: number = NO_THREAD;

/** Where scan() counts: typed arrays sized by computeRangeStats. */
interface ScanArrays {
  counts: Uint32Array;
  failures: Map<number, number>;
  bytes: Float64Array;
  perSession: Uint32Array;
  latency: Float64Array;
  waits: Float64Array;
  enterNs: Float64Array;
  enterLooked: Uint8Array;
}

/**
 * The pass over the records [i0, i1): a function of its own, so its optimized
 * code (entered mid-loop on the first call) is not thrown away by the code
 * that runs after the loop.
 */
function scan(
  trace: WebTrace,
  i0: number,
  i1: number,
  k0: number,
  laneIdx: Int32Array,
  noThreadLane: number,
  laneOn: Uint8Array,
  a: ScanArrays,
): { events: number; sessionCount: number; nLatency: number; nWaits: number } {
  const w = trace.words;
  const { counts, failures, bytes, perSession, latency, waits, enterNs, enterLooked } = a;
  const retPosted = trace.retPosted;
  const sessionKinds = SESSION_KINDS;
  let k = k0;
  let nLatency = 0;
  let nWaits = 0;
  let sessionCount = 0;
  const sessionTable = trace.sessions;
  let lastLo = -1;
  let lastHi = -1;
  let lastRow = -1;
  let events = 0;
  for (let i = i0; i < i1; i++) {
    const o = i * RECORD_WORDS;
    const w0 = w[o]!;
    const kind = w0 & 0xff;
    const tid = w0 >>> 16;
    const lane = tid === NO_TID ? noThreadLane : tid < laneIdx.length ? laneIdx[tid]! - 1 : -1;
    const isReturn = kind === K_RETURN;
    if (lane < 0 || laneOn[lane] === 0) {
      if (isReturn) k++;
      continue;
    }
    events++;
    if (sessionKinds[kind] === 1) {
      const lo = w[o + 4]!;
      const hi = w[o + 5]!;
      if ((lo | hi) !== 0) {
        // A session's records come in runs (its IoCount, post, details): look it up once per run.
        if (lo !== lastLo || hi !== lastHi) {
          lastLo = lo;
          lastHi = hi;
          lastRow = sessionTable.find(lo, hi);
        }
        if (lastRow >= 0) {
          if (perSession[lastRow] === 0) sessionCount++;
          perSession[lastRow]!++;
        }
      }
    }
    const a = (w0 >>> 8) & 0xff;
    const op = a & 0x07;
    switch (kind) {
      case K_ENTER:
        enterNs[lane] = w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
        break;
      case K_RETURN: {
        const t = w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
        const ok = (a & 0x10) !== 0;
        const hasOv = (a & 0x20) !== 0;
        if (hasOv) {
          if (ok) {
            counts[(WHAT_DEQUEUED * OPS + op) * 3 + RES_OK]!++;
            bytes[op]! += w[o + 1]!;
          } else fail(failures, WHAT_DEQUEUED, op, w[o + 6]!);
          const p = retPosted.get(k, i);
          if (p !== NONE) latency[nLatency++] = t - trace.timeAt(p);
        } else if (ok) {
          // TRUE with a NULL overlapped: a posted (exit) packet.
          counts[(WHAT_DEQUEUED * OPS + 3) * 3 + RES_OK]!++;
        } else fail(failures, WHAT_EMPTY, 0, w[o + 6]!);
        let since = enterNs[lane]!;
        if (Number.isNaN(since) && enterLooked[lane] === 0) {
          // The first return on this thread in the range: its GqcsEnter may be before it.
          enterLooked[lane] = 1;
          since = enterBefore(trace, i);
        }
        if (!Number.isNaN(since)) waits[nWaits++] = t - since;
        enterNs[lane] = NaN;
        k++;
        break;
      }
      case K_POSTED: {
        const r = w[o + 6]!;
        if (r === PENDING) counts[(WHAT_POSTED * OPS + op) * 3 + RES_PENDING]!++;
        else if (r === 0) counts[(WHAT_POSTED * OPS + op) * 3 + RES_DONE]!++;
        else fail(failures, WHAT_POSTED, op, r);
        break;
      }
      case K_QUEUED: {
        const st = w[o + 6]!;
        if (st === 0) counts[(WHAT_QUEUED * OPS + op) * 3 + RES_OK]!++;
        else fail(failures, WHAT_QUEUED, op, st);
        break;
      }
      case K_PQCS:
        // PostQueuedCompletionStatus: a post of a packet (its PacketQueued follows).
        counts[(WHAT_POSTED * OPS + 3) * 3 + RES_DONE]!++;
        break;
      default:
        break;
    }
  }
  return { events, sessionCount, nLatency, nWaits };
}

export function computeRangeStats(trace: WebTrace, q: RangeQuery): RangeStats {
  const startNs = Math.min(q.startNs, q.endNs);
  const endNs = Math.max(q.startNs, q.endNs);
  const i0 = trace.lowerBoundTime(startNs);
  const i1 = trace.upperBoundTime(endNs, i0);

  // Which threads count, by lane id (index into lanesById).
  const laneCount = trace.lanesById.length;
  const laneOn = new Uint8Array(laneCount);
  if (q.tids === null) laneOn.fill(1);
  else {
    for (const tid of q.tids) {
      const lane = trace.laneOfTid(tid);
      if (lane) laneOn[lane.id] = 1;
    }
  }
  // tid -> lane id + 1 (0: none) for every lane; NO_THREAD's lane apart.
  const laneIdx = new Int32Array(Math.max(16, maxTid(trace) + 1));
  let noThreadLane = -1;
  for (const l of trace.lanesById) {
    if (l.tid === NO_THREAD) noThreadLane = l.id;
    else laneIdx[l.tid] = l.id + 1;
  }

  const counts = new Uint32Array(4 * OPS * 3);
  const failures = new Map<number, number>();
  const bytes = new Float64Array(OPS);
  const sessRows = trace.sessions.count;
  const perSession = new Uint32Array(sessRows);

  // Flows: position in `returns` of the first return at or after i0.
  const ret = trace.returns.idx;
  const k0 = ret.lowerBound(i0);
  const nReturns = ret.lowerBound(i1, k0) - k0;
  const latency = new Float64Array(nReturns);
  const waits = new Float64Array(nReturns);
  const enterNs = new Float64Array(laneCount).fill(NaN);
  const enterLooked = new Uint8Array(laneCount);
  const n = scan(trace, i0, i1, k0, laneIdx, noThreadLane, laneOn, {
    counts,
    failures,
    bytes,
    perSession,
    latency,
    waits,
    enterNs,
    enterLooked,
  });
  const { events, sessionCount, nLatency, nWaits } = n;

  const ops: OpRow[] = [];
  for (let what = 0; what < 4; what++) {
    for (let op = 0; op < OPS; op++) {
      for (let r = 0; r < 3; r++) {
        const c = counts[(what * OPS + op) * 3 + r]!;
        if (c > 0) ops.push({ what: WHATS[what]!, op, result: RESULTS[r]!, count: c });
      }
    }
  }
  for (const [key, c] of failures) {
    const code = key % 0x1_0000_0000;
    const rest = Math.floor(key / 0x1_0000_0000);
    ops.push({ what: WHATS[rest >> 3]!, op: rest & 7, result: code, count: c });
  }
  ops.sort(
    (x, y) =>
      WHATS.indexOf(x.what) - WHATS.indexOf(y.what) ||
      x.op - y.op ||
      rank(x.result) - rank(y.result),
  );

  const bytesByOp = new Map<number, number>();
  for (let op = 0; op < OPS; op++) if (bytes[op]! > 0) bytesByOp.set(op, bytes[op]!);

  const threads: ThreadTime[] = [];
  const a0 = new Float64Array(3);
  const a1 = new Float64Array(3);
  for (const lane of trace.lanes) {
    if (laneOn[lane.id] === 0 || lane.states.length === 0) continue;
    trace.stateTimeBefore(lane, startNs, a0);
    trace.stateTimeBefore(lane, endNs, a1);
    threads.push({
      tid: lane.tid,
      name: lane.name,
      waitingNs: a1[0]! - a0[0]!,
      runningNs: a1[1]! - a0[1]!,
      blockedNs: a1[2]! - a0[2]!,
    });
  }

  const queue = queueOver(trace, i0, i1);

  const sessions: Array<{ id: bigint; events: number }> = [];
  if (sessionCount > 0) {
    const rows = new Uint32Array(sessionCount);
    let n = 0;
    for (let r = 0; r < sessRows; r++) if (perSession[r]! > 0) rows[n++] = r;
    const top = Array.from(rows)
      .sort((x, y) => perSession[y]! - perSession[x]! || x - y)
      .slice(0, SESSIONS_LISTED);
    for (const r of top) sessions.push({ id: trace.sessions.id(r), events: perSession[r]! });
  }

  return {
    startNs,
    endNs,
    firstEvent: i0,
    endEvent: i1,
    events,
    ops,
    bytesByOp,
    latency: percentiles(latency, nLatency),
    gqcsWait: percentiles(waits, nWaits),
    threads,
    queueAtStart: queue.atStart,
    queueMax: queue.max,
    sessionCount,
    sessions,
  };
}

function rank(r: OpRow['result']): number {
  return r === 'ok' ? -3 : r === 'done' ? -2 : r === 'pending' ? -1 : r;
}

function fail(m: Map<number, number>, what: number, op: number, code: number): void {
  const key = ((what << 3) | op) * 0x1_0000_0000 + code;
  m.set(key, (m.get(key) ?? 0) + 1);
}

function maxTid(trace: WebTrace): number {
  let m = 0;
  for (const l of trace.lanesById) if (l.tid !== NO_THREAD && l.tid > m) m = l.tid;
  return m;
}

/** Time of the GqcsEnter that the return at event i ends, looking back on its thread; NaN if none. */
function enterBefore(trace: WebTrace, i: number): number {
  let j = i;
  for (let step = 0; step < ENTER_LOOKBACK; step++) {
    j = trace.nextOnThread(j, -1);
    if (j < 0) return NaN;
    const kind = trace.kindAt(j);
    if (kind === EventKind.GqcsEnter) return trace.timeAt(j);
    if (kind === EventKind.GqcsReturn) return NaN;
  }
  return NaN;
}

/** The queue depth in force at event i0, and its largest value over [i0, i1). */
function queueOver(trace: WebTrace, i0: number, i1: number): { atStart: number; max: number } {
  const s = trace.queueDepth;
  const idx = s.idx;
  const k0 = idx.lowerBound(i0);
  const k1 = idx.lowerBound(i1, k0);
  const atStart = s.valueAfter(trace.words, k0 - 1);
  return { atStart, max: Math.max(atStart, s.maxOver(trace.words, k0, k1)) };
}

/**
 * Percentiles of the first n samples, by rank (the value at floor(p * n) of
 * the sorted order); null when there are none. The samples are reordered in
 * place: three selections (p99, then p90 left of it, then p50 left of that)
 * instead of a sort, about 2n steps instead of n log n.
 */
export function percentiles(a: Float64Array, n: number): Percentiles | null {
  if (n === 0) return null;
  let sum = 0;
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    const v = a[j]!;
    sum += v;
    if (v > max) max = v;
  }
  const rank = (p: number): number => Math.min(n - 1, Math.floor(p * n));
  const k99 = rank(0.99);
  const k90 = rank(0.9);
  const k50 = rank(0.5);
  select(a, 0, n - 1, k99);
  select(a, 0, k99, k90);
  select(a, 0, k90, k50);
  return { count: n, meanNs: sum / n, p50Ns: a[k50]!, p90Ns: a[k90]!, p99Ns: a[k99]!, maxNs: max };
}

/**
 * Reorder a[lo..hi] so that a[k] is the value a sort would put there, with
 * nothing larger before it and nothing smaller after it (quickselect, median
 * of three pivots, Hoare partition).
 */
function select(a: Float64Array, lo: number, hi: number, k: number): void {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three into a[mid].
    if (a[mid]! < a[lo]!) swap(a, mid, lo);
    if (a[hi]! < a[lo]!) swap(a, hi, lo);
    if (a[hi]! < a[mid]!) swap(a, hi, mid);
    const pivot = a[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}
