// The chat server's part of a trace (issue 18 §3), read from a WebTrace's
// records: its rooms' job queues (length over time, and the flushes: which
// thread ran the room when), the locks (holds and waits, Tracy-style), the
// SendBuffer pool's free count, the broadcasts, and on demand one buffer's
// life and one broadcast's fan-out.
//
// Built like IoCountTrack: a full scan on first use, then only the records
// appended since (a live trace), so it costs nothing per frame. A different
// WebTrace starts it over. Columns hold event indices (ascending); times come
// from the trace. Empty for a trace without these records (the echo server's
// has locks only under lock-across-send).

import { EventKind, RECORD_WORDS, SendBufferOp } from '@iocpscope/protocol';
import { I32Column, U32Column, U8Column } from './column.ts';
import type { WebTrace } from './webTrace.ts';

/** No event (an open flush, hold or wait). */
export const OPEN = 0xffffffff;

export class QueueTrack {
  /** JobPush and JobFlush-end events, ascending, with the queue's length after each. */
  readonly events = new U32Column();
  readonly lengths = new I32Column();
  max = 0;
  /** Flushes: begin and end events (OPEN while running), thread, jobs run. */
  readonly flushBegin = new U32Column();
  readonly flushEnd = new U32Column();
  readonly flushTid = new U32Column();
  readonly flushRan = new U32Column();
  readonly flushIds = new U32Column();
  pushes = 0;
  constructor(readonly queueId: number) {}
}

/** One thread's flush slices (of any room), in begin order. */
export class LaneFlushes {
  readonly begin = new U32Column();
  readonly end = new U32Column();
  readonly queue = new U32Column();
}

export class LockTrack {
  nameStr = 0;
  /** Holds: acquire and release events (OPEN while held), holder, mode, whether someone waited meanwhile. */
  readonly holdFrom = new U32Column();
  readonly holdTo = new U32Column();
  readonly holdTid = new U32Column();
  readonly holdMode = new U8Column();
  readonly holdContended = new U8Column();
  /** Waits: LockWait and the LockAcquire that ended it (OPEN while waiting), waiter, mode. */
  readonly waitFrom = new U32Column();
  readonly waitTo = new U32Column();
  readonly waitTid = new U32Column();
  readonly waitMode = new U8Column();
  waitNs = 0;
  maxWaitNs = 0;
  heldNs = 0;
  /** Open holds and waits, per thread: their positions in the columns above. */
  readonly openHold = new Map<number, number>();
  readonly openWait = new Map<number, number>();
  constructor(readonly lockId: number) {}
  get acquisitions(): number {
    return this.holdFrom.length;
  }
  get contended(): number {
    let n = 0;
    const c = this.holdContended.data;
    for (let k = 0; k < this.holdContended.length; k++) n += c[k]!;
    return n;
  }
}

export interface BufferLifeEntry {
  index: number;
  op: number;
  tid: number;
  session: bigint;
  refCount: number;
  /** Release: the ioId of the send whose completion released it (0: the acquirer's own). */
  ioId: number;
  /** Release of a send: that send's completion (GqcsReturn), or -1. */
  completion: number;
}

export interface BufferLife {
  bufferId: number;
  /** The Acquire (or -1: before the trace), the Returned (or -1: not yet). */
  acquired: number;
  returned: number;
  /** The Broadcast that shared it, or -1. */
  broadcast: number;
  entries: BufferLifeEntry[];
  /** Members that took a reference (AddRef). */
  shares: number;
  releases: number;
}

export interface FanOut {
  broadcast: number;
  queueId: number;
  bufferId: number;
  recipients: number;
  /** Each member's send completion (GqcsReturn) that released the buffer. */
  completions: number[];
}

/** How far an on-demand life or fan-out scan goes (events). */
const SCAN_LIMIT = 200_000;

export class ChatModel {
  readonly queues = new Map<number, QueueTrack>();
  readonly lanes = new Map<number, LaneFlushes>();
  readonly locks = new Map<number, LockTrack>();
  /** SendBuffer Acquire/Returned/PoolEmpty events and the pool's free count after each. */
  readonly poolEvents = new U32Column();
  readonly poolFree = new I32Column();
  readonly poolEmpty = new U32Column();
  poolMax = 0;
  readonly broadcasts = new U32Column();
  private trace: WebTrace | null = null;
  private scannedTo = 0;
  private readonly fanOuts = new Map<number, CachedFanOut>();

  /** Whether the trace holds the chat server's records (job queues or SendBuffers). */
  get hasChat(): boolean {
    return this.queues.size > 0 || this.poolEvents.length > 0;
  }

  /** Queues in id order. */
  queueList(): QueueTrack[] {
    return [...this.queues.values()].sort((a, b) => a.queueId - b.queueId);
  }

  lockList(): LockTrack[] {
    return [...this.locks.values()].sort((a, b) => a.lockId - b.lockId);
  }

  update(trace: WebTrace): void {
    if (trace !== this.trace) {
      this.trace = trace;
      this.reset();
    }
    const n = trace.count;
    if (this.scannedTo >= n) return;
    const w = trace.words;
    for (let i = this.scannedTo; i < n; i++) {
      const o = i * RECORD_WORDS;
      const kind = w[o]! & 0xff;
      switch (kind) {
        case EventKind.JobPush:
          this.push(w, o, i);
          break;
        case EventKind.JobFlush:
          this.flush(w, o, i);
          break;
        case EventKind.SendBuffer: {
          const op = (w[o]! >>> 8) & 0xff;
          if (
            op === SendBufferOp.Acquire ||
            op === SendBufferOp.Returned ||
            op === SendBufferOp.PoolEmpty
          ) {
            const free = op === SendBufferOp.PoolEmpty ? 0 : w[o + 7]! | 0;
            this.poolEvents.push(i);
            this.poolFree.push(free);
            if (free > this.poolMax) this.poolMax = free;
            if (op === SendBufferOp.PoolEmpty) {
              this.poolEmpty.push(i);
              const cap = w[o + 6]! | 0;
              if (cap > this.poolMax) this.poolMax = cap;
            }
          }
          break;
        }
        case EventKind.Broadcast:
          this.broadcasts.push(i);
          break;
        case EventKind.LockWait:
        case EventKind.LockAcquire:
        case EventKind.LockRelease:
          this.lock(trace, w, o, i, kind);
          break;
        default:
          break;
      }
    }
    this.scannedTo = n;
  }

  private reset(): void {
    this.queues.clear();
    this.lanes.clear();
    this.locks.clear();
    this.poolEvents.length = 0;
    this.poolFree.length = 0;
    this.poolEmpty.length = 0;
    this.poolMax = 0;
    this.broadcasts.length = 0;
    this.fanOuts.clear();
    this.scannedTo = 0;
  }

  private queue(id: number): QueueTrack {
    let q = this.queues.get(id);
    if (q === undefined) this.queues.set(id, (q = new QueueTrack(id)));
    return q;
  }

  private push(w: Uint32Array, o: number, i: number): void {
    const q = this.queue(w[o + 1]!);
    const len = w[o + 6]! | 0;
    q.events.push(i);
    q.lengths.push(len);
    q.pushes++;
    if (len > q.max) q.max = len;
  }

  private flush(w: Uint32Array, o: number, i: number): void {
    const q = this.queue(w[o + 1]!);
    const phase = (w[o]! >>> 8) & 0xff;
    const tid = (w[o]! >>> 16) & 0xffff;
    const id = w[o + 7]!;
    if (phase === 0) {
      q.flushBegin.push(i);
      q.flushEnd.push(OPEN);
      q.flushTid.push(tid);
      q.flushRan.push(0);
      q.flushIds.push(id);
      let l = this.lanes.get(tid);
      if (l === undefined) this.lanes.set(tid, (l = new LaneFlushes()));
      l.begin.push(i);
      l.end.push(OPEN);
      l.queue.push(q.queueId);
      return;
    }
    // The end: its flush is the latest open one of this thread with this id.
    for (let k = q.flushBegin.length - 1; k >= 0; k--) {
      if (q.flushEnd.data[k] === OPEN && q.flushTid.data[k] === tid && q.flushIds.data[k] === id) {
        q.flushEnd.data[k] = i;
        q.flushRan.data[k] = w[o + 6]!;
        break;
      }
    }
    const l = this.lanes.get(tid);
    if (l !== undefined) {
      for (let k = l.begin.length - 1; k >= 0; k--) {
        if (l.end.data[k] === OPEN && l.queue.data[k] === q.queueId) {
          l.end.data[k] = i;
          break;
        }
      }
    }
    // The queue's length after a flush: what the flush did not run (0 for a correct one).
    const before = q.lengths.length > 0 ? q.lengths.data[q.lengths.length - 1]! : 0;
    q.events.push(i);
    q.lengths.push(Math.max(0, before - (w[o + 6]! | 0)));
  }

  private lock(trace: WebTrace, w: Uint32Array, o: number, i: number, kind: number): void {
    const id = w[o + 1]!;
    let l = this.locks.get(id);
    if (l === undefined) this.locks.set(id, (l = new LockTrack(id)));
    l.nameStr = w[o + 6]!;
    const tid = (w[o]! >>> 16) & 0xffff;
    const mode = (w[o]! >>> 8) & 0xff;
    if (kind === EventKind.LockWait) {
      if (l.openWait.has(tid)) return;
      l.openWait.set(tid, l.waitFrom.length);
      l.waitFrom.push(i);
      l.waitTo.push(OPEN);
      l.waitTid.push(tid);
      l.waitMode.push(mode);
      // Every hold open now is contended.
      for (const k of l.openHold.values()) l.holdContended.data[k] = 1;
      return;
    }
    if (kind === EventKind.LockAcquire) {
      const wk = l.openWait.get(tid);
      if (wk !== undefined) {
        l.openWait.delete(tid);
        l.waitTo.data[wk] = i;
        const ns = trace.timeAt(i) - trace.timeAt(l.waitFrom.data[wk]!);
        l.waitNs += ns;
        if (ns > l.maxWaitNs) l.maxWaitNs = ns;
      }
      l.openHold.set(tid, l.holdFrom.length);
      l.holdFrom.push(i);
      l.holdTo.push(OPEN);
      l.holdTid.push(tid);
      l.holdMode.push(mode);
      l.holdContended.push(l.openWait.size > 0 ? 1 : 0);
      return;
    }
    const hk = l.openHold.get(tid);
    if (hk === undefined) return;
    l.openHold.delete(tid);
    l.holdTo.data[hk] = i;
    l.heldNs += trace.timeAt(i) - trace.timeAt(l.holdFrom.data[hk]!);
  }

  // ---- on demand -------------------------------------------------------------------

  /**
   * The life of the buffer an event is about (a SendBuffer record, or a
   * Broadcast's buffer): from its Acquire to its Returned, every reference
   * change, each send release linked to its completion. Null otherwise.
   */
  bufferLife(trace: WebTrace, at: number): BufferLife | null {
    if (at < 0 || at >= trace.count) return null;
    const w = trace.words;
    const o = at * RECORD_WORDS;
    const kind = w[o]! & 0xff;
    let buf: number;
    if (kind === EventKind.SendBuffer) buf = w[o + 1]!;
    else if (kind === EventKind.Broadcast) buf = w[o + 7]!;
    else return null;
    if (buf === 0) return null;
    const isBuf = (i: number): boolean =>
      (w[i * RECORD_WORDS]! & 0xff) === EventKind.SendBuffer && w[i * RECORD_WORDS + 1] === buf;
    const opOf = (i: number): number => (w[i * RECORD_WORDS]! >>> 8) & 0xff;
    // Back to its Acquire (an Acquire at `at` starts the life).
    let start = -1;
    for (let i = at, n = 0; i >= 0 && n < SCAN_LIMIT; i--, n++) {
      if (!isBuf(i)) continue;
      const op = opOf(i);
      if (op === SendBufferOp.Acquire) {
        start = i;
        break;
      }
      if (op === SendBufferOp.Returned && i < at) break;
    }
    const life: BufferLife = {
      bufferId: buf,
      acquired: start,
      returned: -1,
      broadcast: -1,
      entries: [],
      shares: 0,
      releases: 0,
    };
    const from = start >= 0 ? start : at;
    for (let i = from, n = 0; i < trace.count && n < SCAN_LIMIT; i++, n++) {
      const k = w[i * RECORD_WORDS]! & 0xff;
      if (k === EventKind.Broadcast && w[i * RECORD_WORDS + 7] === buf && life.broadcast < 0) {
        life.broadcast = i;
        continue;
      }
      if (!isBuf(i)) continue;
      const op = opOf(i);
      if (op === SendBufferOp.Acquire && i !== start) break;
      const io = i * RECORD_WORDS;
      const session = (BigInt(w[io + 5]!) << 32n) | BigInt(w[io + 4]!);
      const ioId = op === SendBufferOp.Release ? w[io + 7]! : 0;
      life.entries.push({
        index: i,
        op,
        tid: (w[io]! >>> 16) & 0xffff,
        session,
        refCount: w[io + 6]! | 0,
        ioId,
        completion: ioId !== 0 ? completionOf(trace, i, ioId) : -1,
      });
      if (op === SendBufferOp.AddRef) life.shares++;
      else if (op === SendBufferOp.Release) life.releases++;
      else if (op === SendBufferOp.Returned) {
        life.returned = i;
        break;
      }
    }
    return life;
  }

  /** A Broadcast's fan-out: each member's send completion that released its buffer. */
  fanOut(trace: WebTrace, broadcast: number): FanOut | null {
    const cached = this.fanOuts.get(broadcast);
    if (cached !== undefined && cached.trace === trace && cached.complete) return cached.value;
    const w = trace.words;
    const o = broadcast * RECORD_WORDS;
    if (broadcast < 0 || broadcast >= trace.count || (w[o]! & 0xff) !== EventKind.Broadcast)
      return null;
    const life = this.bufferLife(trace, broadcast);
    const value: FanOut = {
      broadcast,
      queueId: w[o + 1]!,
      bufferId: w[o + 7]!,
      recipients: w[o + 6]!,
      completions: [],
    };
    if (life !== null) {
      for (const e of life.entries) {
        if (e.op === SendBufferOp.Release && e.completion >= 0 && e.index > broadcast)
          value.completions.push(e.completion);
      }
    }
    this.fanOuts.set(broadcast, { trace, complete: life !== null && life.returned >= 0, value });
    return value;
  }

  /** The flush (of any room) running on thread `tid` at event `i`: its position in the lane's columns, or -1. */
  flushAt(tid: number, i: number): number {
    const l = this.lanes.get(tid);
    if (l === undefined) return -1;
    // Slices of one thread nest or follow each other: the innermost one around i.
    for (let k = lowerIndex(l.begin, i + 1) - 1, steps = 0; k >= 0 && steps < 64; k--, steps++) {
      const end = l.end.data[k]!;
      if (end === OPEN || end >= i) return k;
    }
    return -1;
  }
}

interface CachedFanOut {
  trace: WebTrace;
  complete: boolean;
  value: FanOut;
}

/** First position whose value is >= v (the column ascending). */
export function lowerIndex(c: U32Column, v: number): number {
  let lo = 0;
  let hi = c.length;
  const d = c.data;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (d[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The completion (GqcsReturn) of send `ioId` that a Release at `release`
 * belongs to: the handling thread dequeued it shortly before releasing.
 */
function completionOf(trace: WebTrace, release: number, ioId: number): number {
  const w = trace.words;
  const tid = (w[release * RECORD_WORDS]! >>> 16) & 0xffff;
  for (let i = release - 1, n = 0; i >= 0 && n < 4096; i--, n++) {
    const o = i * RECORD_WORDS;
    if ((w[o]! & 0xff) !== EventKind.GqcsReturn) continue;
    if (((w[o]! >>> 16) & 0xffff) !== tid) continue;
    if (w[o + 7] === ioId) return i;
  }
  return -1;
}
