// The trace index, built in one pass over a trace's chunks (a file being
// opened, or a recording or live spool as it is written): everything the
// browser needs to find its way in a trace it does not hold.
//
//   chunks    per chunk: its file offset and size, its first event number and
//             event count, its first and last timestamp, and which kinds and
//             lanes occur in it (bit masks), so "the next event of kind K /
//             thread T after N" reads only chunks that can hold one;
//   lanes     one per thread (tid): role, name, first and last event;
//   summary   zoomed-out summaries per lane and counter (summary.ts);
//   sessions  per session: first/last/created/released/disconnect event,
//             peer, event count, and the chunks holding its events (runs);
//   lists     gaps, markers, snapshot brackets, the trace end.
//
// Memory is per chunk, per lane, per bucket and per session, never per event.
// The per-event loop reads a few words and touches typed arrays; sessions are
// found through a direct-mapped cache in front of a Map (consecutive events
// mostly belong to the same few sessions).

import { EventKind, NO_THREAD, Op, RECORD_WORDS } from '@iocpscope/protocol';
import { markFlagsAt, stateAt } from '@iocpscope/analysis';
import {
  CounterBuilder,
  DEFAULT_BASE_SHIFT,
  LaneBuilder,
  pyramid,
  type SummaryLevel,
} from './summary.ts';
import type { SessionList } from './session-list.ts';
import { SessionTableBuilder } from './session-table.ts';

const TWO_32 = 4294967296;
// Imported functions as module constants: under tsx an imported binding is a getter.
const markFlags = markFlagsAt;
const stateOf = stateAt;
const TS_HI = 0x1fffff;

/** Kinds whose words 4-5 hold a session (or completion key). Same set as the browser's. */
export const SESSION_KINDS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const k of [
    EventKind.GqcsReturn,
    EventKind.PacketQueued,
    EventKind.Pqcs,
    EventKind.IoPosted,
    EventKind.IoCount,
    EventKind.SessionCreated,
    EventKind.SessionReleased,
    EventKind.Accept,
    EventKind.Disconnect,
    EventKind.SocketClosed,
    EventKind.LockWait,
    EventKind.LockAcquire,
    EventKind.LockRelease,
    EventKind.Marker,
    EventKind.IoDetail,
    EventKind.SessionRings,
    EventKind.JobPush,
    EventKind.SendBuffer,
    EventKind.CompletionModes,
  ])
    t[k] = 1;
  return t;
})();

export interface LaneInfo {
  tid: number;
  role: number;
  nameStr: number;
  osThreadId: number;
  firstEvent: number;
  lastEvent: number;
  /** ThreadExit (or an exited ThreadState), or -1. */
  exitEvent: number;
}

export interface SessionInfo {
  id: bigint;
  firstEvent: number;
  lastEvent: number;
  createdEvent: number;
  releasedEvent: number;
  disconnectEvent: number;
  peerStr: number;
  events: number;
  /** Chunk runs [first, last] (inclusive) that hold its events; a superset when merged. */
  runs: number[];
}

/** Growable column of doubles. */
class F64 {
  a = new Float64Array(256);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  get view(): Float64Array {
    return this.a.subarray(0, this.n);
  }
}

class U32 {
  a = new Uint32Array(256);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v >>> 0;
  }
  get view(): Uint32Array {
    return this.a.subarray(0, this.n);
  }
}

export interface ChunkTable {
  count: number;
  /** File offset of each chunk and its length in bytes (header and CRC included). */
  offset: Float64Array;
  bytes: Float64Array;
  firstEvent: Float64Array;
  events: Uint32Array;
  firstNs: Float64Array;
  lastNs: Float64Array;
  /** Kinds present: bit k of kindsLo for kind k < 32, bit k-32 of kindsHi. */
  kindsLo: Uint32Array;
  kindsHi: Uint32Array;
  /** Lanes present: bit (lane index mod 32). A hint: a set bit may be another lane. */
  lanes: Uint32Array;
}

/** A finished index (also what index files hold). */
export interface TraceIndex {
  events: number;
  startNs: number;
  endNs: number;
  chunks: ChunkTable;
  lanes: LaneInfo[];
  /** Summary levels, finest first. */
  levels: SummaryLevel[];
  sessions: SessionList;
  gaps: { events: Float64Array; ns: Float64Array; lost: Float64Array };
  markers: { events: Float64Array; ns: Float64Array };
  snapshots: { events: Float64Array };
  /** The TraceEnd record's event, or -1 (a trace that ended without warning). */
  traceEnd: number;
  /** Records that went back in time (clamped for the summaries). */
  clamped: number;
}

export interface BuilderOptions {
  /** Level-0 bucket width, 2^baseShift ns (default 16: 65.5 µs). */
  baseShift?: number;
}

export class TraceIndexBuilder {
  readonly shift: number;
  events = 0;
  private startNs = -1;
  /** Start of summary bucket 0 (the first event's bucket). */
  private originNs = 0;
  private lastNs = 0;
  private clamped = 0;
  private traceEnd = -1;

  private readonly cOffset = new F64();
  private readonly cBytes = new F64();
  private readonly cFirst = new F64();
  private readonly cEvents = new U32();
  private readonly cFirstNs = new F64();
  private readonly cLastNs = new F64();
  private readonly cKindsLo = new U32();
  private readonly cKindsHi = new U32();
  private readonly cLanes = new U32();

  private readonly laneOfTid = new Int32Array(65536).fill(-1);
  private readonly lanes: LaneInfo[] = [];
  /** Each lane's last event (kept apart: written for every event). */
  private laneLast = new Float64Array(64);
  private readonly laneBuilders: LaneBuilder[] = [];
  private readonly queue: CounterBuilder;
  private readonly running: CounterBuilder;
  /** Lanes that have called GQCS (port threads) and their state is Running. */
  private readonly portThread = new Uint8Array(65536);
  private runningNow = 0;

  private readonly sessions = new SessionTableBuilder();

  private readonly gapEv = new F64();
  private readonly gapNs = new F64();
  private readonly gapLost = new F64();
  private readonly markEv = new F64();
  private readonly markNs = new F64();
  private readonly snapEv = new F64();

  constructor(options: BuilderOptions = {}) {
    this.shift = options.baseShift ?? DEFAULT_BASE_SHIFT;
    this.queue = new CounterBuilder(this.shift);
    this.running = new CounterBuilder(this.shift);
  }

  get chunkCount(): number {
    return this.cOffset.n;
  }

  /** Index one chunk's records (whole records, in file order). */
  addChunk(fileOffset: number, chunkBytes: number, w: Uint32Array): void {
    const n = w.length / RECORD_WORDS;
    const chunk = this.cOffset.n;
    let kindsLo = 0;
    let kindsHi = 0;
    let laneMask = 0;
    const first = this.events;
    let firstNs = -1;
    let ns = this.lastNs;
    let startNs = this.startNs;
    let clamped = 0;
    // Hot loop: everything it touches in locals (no property lookups per event).
    const queue = this.queue;
    const laneOfTid = this.laneOfTid;
    let laneLast = this.laneLast;
    const sessionKinds = SESSION_KINDS;
    const sessions = this.sessions;
    let lastLo = -1;
    let lastHi = -1;
    let lastRow = -1;
    for (let i = 0; i < n; i++) {
      const o = i << 3;
      const w0 = w[o]!;
      const kind = w0 & 0xff;
      const tid = w0 >>> 16;
      let t = w[o + 2]! + (w[o + 3]! & TS_HI) * TWO_32;
      if (startNs < 0) {
        startNs = t;
        // Buckets start at the first event's bucket (a part of a long run holds
        // no empty time before it).
        this.originNs = Math.floor(t / 2 ** this.shift) * 2 ** this.shift;
        this.queue.setOrigin(this.originNs);
        this.running.setOrigin(this.originNs);
        ns = Math.max(ns, t);
      }
      if (t < ns) {
        t = ns;
        clamped++;
      }
      ns = t;
      if (firstNs < 0) firstNs = t;
      const ev = first + i;
      if (kind < 32) kindsLo |= 1 << kind;
      else kindsHi |= 1 << (kind - 32);

      let lane = -1;
      if (tid !== NO_THREAD) {
        lane = laneOfTid[tid]!;
        if (lane < 0) {
          lane = this.newLane(tid, ev);
          laneLast = this.laneLast; // it may have grown
        }
        laneMask |= 1 << (lane & 31);
        laneLast[lane] = ev;
      }
      if (sessionKinds[kind] === 1) {
        const lo = w[o + 4]!;
        const hi = w[o + 5]!;
        if ((lo | hi) !== 0) {
          // Consecutive events mostly share a session: skip the probe then.
          const r = lo === lastLo && hi === lastHi ? lastRow : sessions.row(lo, hi, ev, chunk);
          lastLo = lo;
          lastHi = hi;
          lastRow = r;
          sessions.touch(r, ev, chunk);
          switch (kind) {
            case EventKind.SessionCreated:
              if (sessions.created[r]! < 0) sessions.created[r] = ev;
              sessions.peer[r] = w[o + 1]!;
              break;
            case EventKind.Accept:
              if (sessions.peer[r] === 0) sessions.peer[r] = w[o + 1]!;
              break;
            case EventKind.SessionReleased:
              if (sessions.released[r]! < 0) sessions.released[r] = ev;
              break;
            case EventKind.Disconnect:
              if (sessions.disconnect[r]! < 0) sessions.disconnect[r] = ev;
              break;
          }
        }
      }
      switch (kind) {
        case EventKind.GqcsEnter:
          if (lane >= 0) this.state(lane, tid, t, 0, true);
          break;
        case EventKind.GqcsReturn: {
          const a = (w0 >>> 8) & 0xff;
          if (lane >= 0) {
            this.state(lane, tid, t, 1, true);
            this.laneBuilders[lane]!.addFlags(t, markFlags(w, i));
          }
          // Something was dequeued unless FALSE with a NULL overlapped.
          if ((a & 0x30) !== 0 && queue.value > 0) queue.set(t, queue.value - 1);
          break;
        }
        case EventKind.ThreadStart:
          if (lane >= 0) {
            const info = this.lanes[lane]!;
            info.role = (w0 >>> 8) & 0xff;
            info.nameStr = w[o + 1]!;
            info.osThreadId = w[o + 6]!;
            this.state(lane, tid, t, 1, false);
          }
          break;
        case EventKind.ThreadExit:
        case EventKind.ThreadState:
        case EventKind.LockWait:
        case EventKind.LockAcquire:
          if (lane >= 0) {
            const st = stateOf(w, i);
            if (st === 3) this.lanes[lane]!.exitEvent = ev;
            this.state(lane, tid, t, st, false);
          }
          break;
        case EventKind.PacketQueued:
          if (lane >= 0) this.laneBuilders[lane]!.addFlags(t, markFlags(w, i));
          // A Post packet was already counted by its Pqcs.
          if (((w0 >>> 8) & 0x0f) !== Op.Post) queue.set(t, queue.value + 1);
          break;
        case EventKind.Pqcs:
          if (lane >= 0) this.laneBuilders[lane]!.addFlags(t, markFlags(w, i));
          queue.set(t, queue.value + 1);
          break;
        case EventKind.IoPosted:
          if (lane >= 0) this.laneBuilders[lane]!.addFlags(t, markFlags(w, i));
          break;
        case EventKind.Gap:
          this.gapEv.push(ev);
          this.gapNs.push(t);
          this.gapLost.push(w[o + 1]! + w[o + 6]! * TWO_32);
          break;
        case EventKind.Marker:
          this.markEv.push(ev);
          this.markNs.push(t);
          break;
        case EventKind.Snapshot:
          if (((w0 >>> 8) & 0xff) === 0) this.snapEv.push(ev);
          break;
        case EventKind.TraceEnd:
          this.traceEnd = ev;
          break;
      }
    }
    this.startNs = startNs;
    this.clamped += clamped;
    this.lastNs = ns;
    this.events += n;
    this.cOffset.push(fileOffset);
    this.cBytes.push(chunkBytes);
    this.cFirst.push(first);
    this.cEvents.push(n);
    this.cFirstNs.push(firstNs < 0 ? ns : firstNs);
    this.cLastNs.push(ns);
    this.cKindsLo.push(kindsLo);
    this.cKindsHi.push(kindsHi);
    this.cLanes.push(laneMask);
  }

  /** A state record of `lane` at `t`; `portCall`: it is a GQCS call (the thread is a port thread). */
  private state(lane: number, tid: number, t: number, st: number, portCall: boolean): void {
    const lb = this.laneBuilders[lane]!;
    if (portCall && this.portThread[tid] === 0) {
      this.portThread[tid] = 1;
      if (lb.state === 1) this.setRunning(t, this.runningNow + 1);
    }
    if (st === lb.state) return;
    if (this.portThread[tid] === 1) {
      if (lb.state === 1) this.setRunning(t, this.runningNow - 1);
      else if (st === 1) this.setRunning(t, this.runningNow + 1);
    }
    lb.setState(t, st);
  }

  private setRunning(ns: number, v: number): void {
    this.runningNow = v;
    this.running.set(ns, v);
  }

  private newLane(tid: number, ev: number): number {
    const lane = this.lanes.length;
    this.laneOfTid[tid] = lane;
    this.lanes.push({
      tid,
      role: 4,
      nameStr: 0,
      osThreadId: 0,
      firstEvent: ev,
      lastEvent: ev,
      exitEvent: -1,
    });
    this.laneBuilders.push(new LaneBuilder(this.shift, this.originNs));
    if (lane >= this.laneLast.length) {
      const next = new Float64Array(this.laneLast.length * 2);
      next.set(this.laneLast);
      this.laneLast = next;
    }
    return lane;
  }

  /** The index so far (the builder can go on afterwards). */
  finish(): TraceIndex {
    const endNs = this.lastNs;
    const nBuckets = Math.floor((endNs - this.originNs) / 2 ** this.shift) + 1;
    const lanes = this.laneBuilders.map((lb) => finishedLane(lb, endNs, nBuckets));
    this.queue.fillTo(nBuckets);
    this.running.fillTo(nBuckets);
    const base: SummaryLevel = {
      shift: this.shift,
      origin: this.originNs / 2 ** this.shift,
      count: nBuckets,
      lanes,
      queueMin: this.queue.min.slice(0, nBuckets),
      queueMax: this.queue.max.slice(0, nBuckets),
      runMin: this.running.min.slice(0, nBuckets),
      runMax: this.running.max.slice(0, nBuckets),
    };
    return {
      events: this.events,
      startNs: Math.max(0, this.startNs),
      endNs,
      chunks: {
        count: this.cOffset.n,
        offset: this.cOffset.view.slice(),
        bytes: this.cBytes.view.slice(),
        firstEvent: this.cFirst.view.slice(),
        events: this.cEvents.view.slice(),
        firstNs: this.cFirstNs.view.slice(),
        lastNs: this.cLastNs.view.slice(),
        kindsLo: this.cKindsLo.view.slice(),
        kindsHi: this.cKindsHi.view.slice(),
        lanes: this.cLanes.view.slice(),
      },
      lanes: this.lanes.map((l, k) => ({ ...l, lastEvent: this.laneLast[k]! })),
      levels: pyramid(base),
      sessions: this.sessions.snapshot(),
      gaps: {
        events: this.gapEv.view.slice(),
        ns: this.gapNs.view.slice(),
        lost: this.gapLost.view.slice(),
      },
      markers: { events: this.markEv.view.slice(), ns: this.markNs.view.slice() },
      snapshots: { events: this.snapEv.view.slice() },
      traceEnd: this.traceEnd,
      clamped: this.clamped,
    };
  }
}

/** A lane's level-0 arrays, closed at endNs and sized to nBuckets. */
function finishedLane(
  lb: LaneBuilder,
  endNs: number,
  nBuckets: number,
): { frac: Uint8Array; flags: Uint8Array } {
  // Finish a copy: the lane may still be open (a recording goes on).
  const frac = new Uint8Array(nBuckets * 3);
  const flags = new Uint8Array(nBuckets);
  const probe = cloneLane(lb);
  probe.finish(endNs);
  frac.set(probe.frac.subarray(0, Math.min(probe.frac.length, nBuckets * 3)));
  flags.set(probe.flags.subarray(0, Math.min(probe.flags.length, nBuckets)));
  return { frac, flags };
}

function cloneLane(lb: LaneBuilder): LaneBuilder {
  const c = Object.create(Object.getPrototypeOf(lb) as object) as LaneBuilder;
  Object.assign(c, lb);
  c.frac = lb.frac.slice();
  c.flags = lb.flags.slice();
  (c as unknown as { acc: Float64Array }).acc = (
    lb as unknown as { acc: Float64Array }
  ).acc.slice();
  return c;
}
