// Per-thread recorder: the single producer of one ring in the trace area.
//
// record() never blocks and never allocates: it takes a timestamp, writes one
// 32-byte record at HEAD and publishes HEAD with a release store. When the
// ring is full the record is dropped and counted (C_TOTAL_LOST). The loss is
// reported by one Gap record (GapSource.RingOverflow, tid, count), written by
// whoever claims it first (compare-exchange on C_REPORTED_LOST): usually the
// drainer, which places it right after the ring's last record before the loss
// (so records of other threads after that moment are known to follow a loss),
// or else this recorder, before the first record that finds room again,
// timestamped then. Either way loss is never silent and never counted twice.
// A Gap needs two free slots (gap + the record itself); with one free slot
// the record is dropped too.
//
// Idle marking (lets the drainer merge past a sleeping thread without waiting
// for its window): after recording a kind that precedes a block (GqcsEnter,
// ThreadState Waiting/Blocked, ThreadExit) the producer stores C_IDLE = 1; its
// next record first stores C_IDLE = 0 (seq-cst) and only then reads the clock.
// So a drainer that reads its clock, then sees C_IDLE = 1, then reads HEAD,
// knows every later record of this ring has a timestamp >= its clock reading.
//
// A thread that runs an event loop (the main thread: the emulated kernel)
// never blocks in a way the recorder sees, so it is marked idle at the end of
// every event-loop turn in which it recorded (attach with eventLoop: true):
// without that, a quiet server's events would wait out the drainer's whole
// reorder window. Marking idle is safe at any moment (the next record clears
// the mark before it reads the clock), so the only cost is one setImmediate and
// two stores per busy turn.
//
// Strings (thread names, peer addresses, lock names, marker labels) go into the
// thread's own string ring before any record that refers to them is published,
// so the drainer, reading HEAD before STR_HEAD, always has the string first.

import {
  EventKind,
  GapSource,
  NO_THREAD,
  ThreadStateValue,
  type ThreadRole,
  writeRecord,
} from '@iocpscope/protocol';
import type { ThreadRecorder } from '../port/types.ts';
import { PerfClock, type TraceClock } from './clock.ts';
import {
  C_EXITED,
  C_HEAD,
  C_IDLE,
  C_REPORTED_LOST,
  C_ROLE,
  C_STR_HEAD,
  C_STR_LOST,
  C_STR_TAIL,
  C_TAIL,
  C_TOTAL_LOST,
  H_ENABLED,
  STRING_MAX_BYTES,
  STRING_SLOT_BYTES,
  TraceShared,
  type TraceDescriptor,
} from './shared.ts';

const TWO_32 = 4294967296;
const STRING_CACHE_MAX = 1024;
const encoder = new TextEncoder();

/** A recorder the server can hold whether or not tracing is on. */
export interface TraceRecorder extends ThreadRecorder {
  /** This thread's index in the trace's thread table (NO_THREAD when tracing is off). */
  readonly tid: number;
  /** Id of `s` in the trace's string table (0 = none/unavailable). Cached per thread. */
  intern(s: string): number;
  /** Intern without caching: for strings seen once (peer addresses). */
  internOnce(s: string): number;
  /**
   * The clock reading the next record would get (and this thread is no longer
   * idle). With recordAt() it lets a caller stamp an event at a moment it
   * chooses, e.g. just before the CAS that makes the event happen, so events
   * on one shared word are stamped in the order they took effect. The stamp
   * must be the thread's latest reading: no other record in between.
   */
  now(): number;
  /** record() with a timestamp from now(). */
  recordAt(
    tsNs: number,
    kind: number,
    a: number,
    x: number,
    sessLo: number,
    sessHi: number,
    y: number,
    z: number,
  ): void;
  /** Mark this thread as about to block outside the port (sleep, join, accept). */
  idle(): void;
  /** Record ThreadExit and mark the ring finished. */
  exit(code?: number): void;
  readonly enabled: boolean;
}

/** How long exit() waits for the drainer to make room for ThreadExit. */
const EXIT_WAIT_MS = 100;
const EXIT_SLEEP = new Int32Array(new SharedArrayBuffer(4));

export class TraceFullError extends Error {
  readonly code = 'ERR_TRACE_FULL';
}

export class RingRecorder implements TraceRecorder {
  readonly tid: number;
  readonly enabled = true;
  private readonly tidBits: number;
  private readonly ctrl: Int32Array;
  private readonly words: Uint32Array;
  private readonly strBytes: Uint8Array;
  private readonly strView: DataView;
  private readonly mask: number;
  private readonly cap: number;
  private readonly strMask: number;
  private readonly strCap: number;
  private head = 0;
  private cachedTail = 0;
  private strHead = 0;
  private strCachedTail = 0;
  private pendingLost = 0;
  private totalLost = 0;
  private isIdle = false;
  /** eventLoop mode: an idle mark is scheduled for the end of this turn. */
  private idleScheduled = false;
  private readonly eventLoop: boolean;
  private readonly markIdleNow = (): void => {
    this.idleScheduled = false;
    this.idle();
  };
  private readonly cache = new Map<string, number>();

  constructor(
    private readonly shared: TraceShared,
    slot: number,
    private readonly clock: TraceClock,
    eventLoop = false,
  ) {
    this.eventLoop = eventLoop;
    if (eventLoop) {
      this.idleScheduled = true;
      setImmediate(this.markIdleNow);
    }
    this.tid = slot;
    this.tidBits = (slot & 0xffff) << 16;
    this.ctrl = shared.ctrl(slot);
    this.words = shared.records(slot);
    this.strBytes = shared.strings(slot);
    this.strView = new DataView(
      this.strBytes.buffer,
      this.strBytes.byteOffset,
      this.strBytes.byteLength,
    );
    this.cap = shared.ringRecords;
    this.mask = this.cap - 1;
    this.strCap = shared.stringSlots;
    this.strMask = this.strCap - 1;
  }

  record(
    kind: number,
    a: number,
    x: number,
    sessLo: number,
    sessHi: number,
    y: number,
    z: number,
  ): void {
    if (this.isIdle) this.busy();
    this.recordAt(this.clock.nowNs(), kind, a, x, sessLo, sessHi, y, z);
  }

  private busy(): void {
    this.isIdle = false;
    Atomics.store(this.ctrl, C_IDLE, 0);
    if (this.eventLoop && !this.idleScheduled) {
      this.idleScheduled = true;
      setImmediate(this.markIdleNow);
    }
  }

  now(): number {
    // Not idle before the clock is read (see the header): the stamp is >= any
    // reading a drainer made while it saw this thread idle.
    if (this.isIdle) this.busy();
    return this.clock.nowNs();
  }

  recordAt(
    ts: number,
    kind: number,
    a: number,
    x: number,
    sessLo: number,
    sessHi: number,
    y: number,
    z: number,
  ): void {
    let h = this.head;
    let free = this.cap - ((h - this.cachedTail) | 0);
    const need = this.pendingLost > 0 ? 2 : 1;
    if (free < need) {
      this.cachedTail = Atomics.load(this.ctrl, C_TAIL);
      free = this.cap - ((h - this.cachedTail) | 0);
      if (free < need) {
        this.pendingLost++;
        this.totalLost++;
        Atomics.store(this.ctrl, C_TOTAL_LOST, this.totalLost);
        this.afterRecord(kind, a);
        return;
      }
    }
    const w = this.words;
    if (this.pendingLost > 0) {
      // Report what the drainer has not claimed already.
      const lost = this.claimLoss();
      if (lost > 0) {
        writeRecord(
          w,
          h & this.mask,
          EventKind.Gap,
          GapSource.RingOverflow,
          this.tid,
          lost % TWO_32,
          ts,
          0,
          0,
          Math.floor(lost / TWO_32),
          0,
        );
        h = (h + 1) | 0;
      }
      this.pendingLost = 0;
    }
    // writeRecord() inlined (hot path); ToUint32 (>>> 0) is exact modulo 2^32 for ts < 2^53.
    const o = (h & this.mask) << 3;
    w[o] = (kind & 0xff) | ((a & 0xff) << 8) | this.tidBits;
    w[o + 1] = x;
    w[o + 2] = ts >>> 0;
    w[o + 3] = (ts / TWO_32) >>> 0;
    w[o + 4] = sessLo;
    w[o + 5] = sessHi;
    w[o + 6] = y;
    w[o + 7] = z;
    h = (h + 1) | 0;
    this.head = h;
    Atomics.store(this.ctrl, C_HEAD, h);
    this.afterRecord(kind, a);
  }

  /** Claim the loss nobody has reported yet; returns how much (0: the drainer took it). */
  private claimLoss(): number {
    for (;;) {
      const reported = Atomics.load(this.ctrl, C_REPORTED_LOST);
      const lost = this.totalLost - reported;
      if (lost <= 0) return 0;
      if (
        Atomics.compareExchange(this.ctrl, C_REPORTED_LOST, reported, this.totalLost) === reported
      ) {
        return lost;
      }
    }
  }

  private afterRecord(kind: number, a: number): void {
    if (
      kind === EventKind.GqcsEnter ||
      kind === EventKind.ThreadExit ||
      (kind === EventKind.ThreadState &&
        (a === ThreadStateValue.Waiting || a === ThreadStateValue.Blocked))
    ) {
      this.idle();
    }
  }

  idle(): void {
    if (!this.isIdle) {
      this.isIdle = true;
      Atomics.store(this.ctrl, C_IDLE, 1);
    }
  }

  intern(s: string): number {
    const hit = this.cache.get(s);
    if (hit !== undefined) return hit;
    const id = this.internOnce(s);
    if (id !== 0) {
      if (this.cache.size >= STRING_CACHE_MAX) this.cache.clear();
      this.cache.set(s, id);
    }
    return id;
  }

  internOnce(s: string): number {
    if (s === '') return 0;
    if (((this.strHead - this.strCachedTail) | 0) >= this.strCap) {
      this.strCachedTail = Atomics.load(this.ctrl, C_STR_TAIL);
    }
    if (((this.strHead - this.strCachedTail) | 0) >= this.strCap) {
      Atomics.add(this.ctrl, C_STR_LOST, 1);
      return 0;
    }
    const id = this.shared.nextStringId();
    const base = (this.strHead & this.strMask) * STRING_SLOT_BYTES;
    const bytes = encoder.encode(s);
    let n = Math.min(bytes.length, STRING_MAX_BYTES);
    // Never cut a UTF-8 sequence in half.
    while (n > 0 && n < bytes.length && (bytes[n]! & 0xc0) === 0x80) n--;
    this.strView.setUint32(base, id, true);
    this.strView.setUint32(base + 4, n, true);
    this.strBytes.set(bytes.subarray(0, n), base + 8);
    this.strHead = (this.strHead + 1) | 0;
    Atomics.store(this.ctrl, C_STR_HEAD, this.strHead);
    return id;
  }

  exit(code = 0): void {
    // The last record says the thread ended: worth a short wait for room (a
    // thread that overflowed its ring up to its exit, spinning, would
    // otherwise leave a trace that cannot tell whether it exited).
    const need = this.pendingLost > 0 ? 2 : 1;
    const until = Date.now() + EXIT_WAIT_MS;
    while (this.cap - ((this.head - Atomics.load(this.ctrl, C_TAIL)) | 0) < need) {
      if (Date.now() >= until) break;
      Atomics.wait(EXIT_SLEEP, 0, 0, 1);
    }
    this.record(EventKind.ThreadExit, 0, code >>> 0, 0, 0, 0, 0);
    Atomics.store(this.ctrl, C_EXITED, 1);
  }

  /** Records dropped so far because the ring was full. */
  get lost(): number {
    return this.totalLost;
  }
}

/** Tracing off: same surface, records nothing. */
export class NullRecorder implements TraceRecorder {
  readonly tid = NO_THREAD;
  readonly enabled = false;
  record(
    _k: number,
    _a: number,
    _x: number,
    _l: number,
    _h: number,
    _y: number,
    _z: number,
  ): void {}
  intern(_s: string): number {
    return 0;
  }
  internOnce(_s: string): number {
    return 0;
  }
  now(): number {
    return 0;
  }
  recordAt(
    _t: number,
    _k: number,
    _a: number,
    _x: number,
    _l: number,
    _h: number,
    _y: number,
    _z: number,
  ): void {}
  idle(): void {}
  exit(_code?: number): void {}
}

export interface AttachOptions {
  role: ThreadRole;
  name: string;
  /** worker_threads threadId or another OS-level id, for the ThreadStart record. */
  osThreadId?: number;
  clock?: TraceClock;
  /** The thread runs an event loop (main thread): mark it idle at the end of each busy turn. */
  eventLoop?: boolean;
}

/**
 * Take a thread slot in the trace area and record ThreadStart (role, name).
 * Returns a NullRecorder when tracing is disabled in this area.
 */
export function attachRecorder(
  d: TraceDescriptor | TraceShared | null,
  opts: AttachOptions,
): TraceRecorder {
  if (d === null) return new NullRecorder();
  const shared = d instanceof TraceShared ? d : TraceShared.attach(d);
  if (Atomics.load(shared.header, H_ENABLED) === 0) return new NullRecorder();
  const slot = shared.allocateSlot();
  if (slot < 0) throw new TraceFullError(`all ${shared.maxThreads} trace thread slots are in use`);
  const clock = opts.clock ?? new PerfClock(shared.clockBase);
  const r = new RingRecorder(shared, slot, clock, opts.eventLoop === true);
  Atomics.store(shared.ctrl(slot), C_ROLE, opts.role);
  const nameStr = r.intern(opts.name);
  r.record(EventKind.ThreadStart, opts.role, nameStr, 0, 0, (opts.osThreadId ?? 0) >>> 0, 0);
  return r;
}
