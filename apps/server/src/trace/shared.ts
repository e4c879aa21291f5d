// The shared-memory trace area: one SharedArrayBuffer holding a control block,
// and for each thread slot a ring of 32-byte records plus a ring of interned
// strings. Threads attach by index (the index is the record's `tid`), so every
// ring has exactly one producer (its thread) and one consumer (the drainer).
//
// Layout (Int32 words unless noted):
//   header   [0..HEADER_WORDS)           magic, limits, counters, clock base (f64)
//   per slot [ctrl: CTRL_WORDS][records: ringRecords*8 u32][strings: stringSlots*STRING_SLOT_BYTES]
// Producer-owned ctrl words and consumer-owned ctrl words sit in different
// 64-byte lines so the two sides do not false-share.
//
// Sequence numbers (HEAD, TAIL, STR_HEAD, STR_TAIL) are int32 counters that wrap;
// differences are taken with `| 0`, valid because capacities are < 2^30.

import { RECORD_WORDS } from '@iocpscope/protocol';
import { captureClockBase, type ClockBase } from './clock.ts';

export const TRACE_MAGIC = 0x49544352; // 'RCTI'
export const HEADER_WORDS = 32;

// Header words.
export const H_MAGIC = 0;
export const H_MAX_THREADS = 1;
export const H_THREAD_COUNT = 2; // slots handed out so far (Atomics.add)
export const H_RING_RECORDS = 3;
export const H_STRING_SLOTS = 4;
export const H_NEXT_STRING_ID = 5; // next string id to hand out (Atomics.add), starts at 1
export const H_ENABLED = 6;
/** Byte offset of the two float64 clock-base values (creatorTimeOriginMs, startPerfMs). */
export const H_CLOCK_BYTE = 64;

// Per-slot control words.
export const CTRL_WORDS = 32;
/** Producer side. */
export const C_HEAD = 0; // records published
export const C_IDLE = 1; // 1 = producer is about to block: no record older than "now" will follow
export const C_TOTAL_LOST = 2; // records dropped because the ring was full, ever
/** Of those, how many a Gap record reported: claimed by compare-exchange by the producer or the drainer, whichever writes the Gap. */
export const C_REPORTED_LOST = 3;
export const C_STR_HEAD = 4; // string slots published
export const C_STR_LOST = 5; // strings not interned because the string ring was full
export const C_EXITED = 6; // 1 after the thread recorded ThreadExit
export const C_ROLE = 7;
/** Consumer side (own cache line). */
export const C_TAIL = 16;
export const C_STR_TAIL = 17;

/** Fixed-size string slots: [u32 id][u32 byteLength][bytes...]. */
export const STRING_SLOT_BYTES = 128;
export const STRING_MAX_BYTES = STRING_SLOT_BYTES - 8;

export interface TraceLimits {
  /** Thread slots (rings). Each attach takes one for good. */
  maxThreads: number;
  /** Records per ring; a power of two. */
  ringRecords: number;
  /** String slots per thread; a power of two. */
  stringSlots: number;
}

export const DEFAULT_TRACE_LIMITS: TraceLimits = {
  maxThreads: 32,
  ringRecords: 1 << 16,
  stringSlots: 512,
};

/** What another thread needs to attach (postMessage-able). */
export interface TraceDescriptor {
  readonly sab: SharedArrayBuffer;
}

export class TraceLayoutError extends Error {
  readonly code = 'ERR_TRACE_LAYOUT';
}

const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Typed views on one trace area, valid in any thread. */
export class TraceShared {
  readonly header: Int32Array;
  readonly maxThreads: number;
  readonly ringRecords: number;
  readonly stringSlots: number;
  readonly slotBytes: number;
  readonly clockBase: ClockBase;

  private constructor(readonly sab: SharedArrayBuffer) {
    this.header = new Int32Array(sab, 0, HEADER_WORDS);
    if (this.header[H_MAGIC] !== TRACE_MAGIC) {
      throw new TraceLayoutError('not a trace area (bad magic)');
    }
    this.maxThreads = this.header[H_MAX_THREADS]!;
    this.ringRecords = this.header[H_RING_RECORDS]!;
    this.stringSlots = this.header[H_STRING_SLOTS]!;
    this.slotBytes = slotBytes(this.ringRecords, this.stringSlots);
    const f = new Float64Array(sab, H_CLOCK_BYTE, 2);
    this.clockBase = { creatorTimeOriginMs: f[0]!, startPerfMs: f[1]! };
  }

  static create(limits: Partial<TraceLimits> = {}): TraceShared {
    const l = { ...DEFAULT_TRACE_LIMITS, ...limits };
    if (!Number.isInteger(l.maxThreads) || l.maxThreads < 1 || l.maxThreads > 0xfffe) {
      throw new TraceLayoutError(`maxThreads must be 1..65534, got ${l.maxThreads}`);
    }
    if (!isPow2(l.ringRecords) || l.ringRecords < 4 || l.ringRecords > 1 << 24) {
      throw new TraceLayoutError(`ringRecords must be a power of two in 4..2^24`);
    }
    if (!isPow2(l.stringSlots) || l.stringSlots > 1 << 16) {
      throw new TraceLayoutError(`stringSlots must be a power of two up to 65536`);
    }
    const bytes = HEADER_WORDS * 4 + l.maxThreads * slotBytes(l.ringRecords, l.stringSlots);
    const sab = new SharedArrayBuffer(bytes);
    const h = new Int32Array(sab, 0, HEADER_WORDS);
    h[H_MAX_THREADS] = l.maxThreads;
    h[H_RING_RECORDS] = l.ringRecords;
    h[H_STRING_SLOTS] = l.stringSlots;
    h[H_NEXT_STRING_ID] = 1;
    h[H_ENABLED] = 1;
    const base = captureClockBase();
    const f = new Float64Array(sab, H_CLOCK_BYTE, 2);
    f[0] = base.creatorTimeOriginMs;
    f[1] = base.startPerfMs;
    Atomics.store(h, H_MAGIC, TRACE_MAGIC);
    return new TraceShared(sab);
  }

  static attach(d: TraceDescriptor): TraceShared {
    if (!(d.sab instanceof SharedArrayBuffer)) throw new TraceLayoutError('descriptor has no SAB');
    return new TraceShared(d.sab);
  }

  get descriptor(): TraceDescriptor {
    return { sab: this.sab };
  }

  /** Thread slots handed out so far. */
  threadCount(): number {
    return Math.min(Atomics.load(this.header, H_THREAD_COUNT), this.maxThreads);
  }

  /** Take the next thread slot, or -1 when all are used. */
  allocateSlot(): number {
    const i = Atomics.add(this.header, H_THREAD_COUNT, 1);
    return i < this.maxThreads ? i : -1;
  }

  nextStringId(): number {
    return Atomics.add(this.header, H_NEXT_STRING_ID, 1);
  }

  ctrl(slot: number): Int32Array {
    return new Int32Array(this.sab, this.slotOffset(slot), CTRL_WORDS);
  }

  records(slot: number): Uint32Array {
    return new Uint32Array(
      this.sab,
      this.slotOffset(slot) + CTRL_WORDS * 4,
      this.ringRecords * RECORD_WORDS,
    );
  }

  strings(slot: number): Uint8Array {
    return new Uint8Array(
      this.sab,
      this.slotOffset(slot) + CTRL_WORDS * 4 + this.ringRecords * RECORD_WORDS * 4,
      this.stringSlots * STRING_SLOT_BYTES,
    );
  }

  private slotOffset(slot: number): number {
    if (!(slot >= 0 && slot < this.maxThreads)) throw new RangeError(`bad thread slot ${slot}`);
    return HEADER_WORDS * 4 + slot * this.slotBytes;
  }
}

function slotBytes(ringRecords: number, stringSlots: number): number {
  return CTRL_WORDS * 4 + ringRecords * RECORD_WORDS * 4 + stringSlots * STRING_SLOT_BYTES;
}
