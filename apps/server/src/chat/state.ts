// The chat server's shared memory (one SharedArrayBuffer every thread maps),
// beside the session table: the rooms with their JobQueues and member lists,
// the SendBuffer pool's bookkeeping, each session's chat state and send queue,
// the JobTimer's entries, and the locks. The SendBuffers' bytes are in the
// port's arena (a WSASend reads them from there), after the sessions' rings.
//
// Layout (Int32 words):
//   header       H_WORDS: pool free stack head and count, counters, lock words
//   pool         POOL_WORDS per buffer: reference count, free-stack link, length
//   sessions     CS_WORDS per session slot: room, login, name, send queue
//   rooms        room header, job ring, member list, per room
//
// Data structures, each the simplest that is right across threads:
// - The pool is a Treiber stack of free buffer ids with a tag in the head
//   (no ABA), and a free count beside it for the gauge.
// - A session's send queue is a bounded multi-producer ring (Vyukov's: a
//   sequence word per cell): any room's flusher appends a buffer id; only the
//   thread that holds the session's send flag takes from it.
// - A room's JobQueue is a ring of fixed-size jobs under a short futex lock
//   (the seeds' "thread-safe queue"; not traced: it guards a few stores) plus
//   the job count, which alone decides who flushes (core.ts).
// - Member lists and sequence numbers belong to the room's flusher: only the
//   thread running the room's jobs touches them (the single-flusher rule).

import { MAX_ROOMS, SEND_BUFFER_BYTES } from './protocol.ts';

// ---- header -----------------------------------------------------------------
export const H_POOL_HEAD = 0; // tag << 16 | buffer id (0 = empty)
export const H_POOL_FREE = 1;
export const H_POOL_CAP = 2;
export const H_BROADCASTS = 3;
export const H_DELIVERIES = 4;
export const H_POOL_EMPTY = 5;
export const H_TIMER_LOCK = 6;
export const H_JOB_ID = 7;
export const H_FLUSH_ID = 8;
export const H_TIMER_ID = 9;
export const H_USERS_LOCK = 10;
export const H_ROOMS_LOCK = 11;
export const H_TICKS_STARTED = 12;
export const H_CHATS = 13;
export const H_DROPPED = 14;
/** 1 = measure the time spent in the room path (bench:chat). */
export const H_MEASURE = 15;
export const H_ROOMS = 16;
export const H_MAX_SESSIONS = 17;
export const H_TICK_MS = 18;
/** The JobTimer's next due time (ms since T0_MS), -1 when nothing is armed. */
export const H_NEXT_DUE = 19;
export const H_OVERFLOW_KICKS = 20;
/** Room-path time (ns, as two words: high and low, updated under H_TIMER_LOCK-free CAS) and messages. */
export const H_PATH_NS_HI = 24;
export const H_PATH_NS_LO = 25;
export const H_PATH_MSGS = 26;
export const H_WORDS = 32;

// ---- pool -------------------------------------------------------------------
export const B_REF = 0;
export const B_NEXT = 1;
export const B_LEN = 2;
export const POOL_WORDS = 3;
/** Buffer ids are 1..cap, 16 bits in the free-stack head. */
export const MAX_SEND_BUFFERS = 32768;

// ---- sessions -----------------------------------------------------------------
export const CS_ROOM = 0; // room + 1, 0 = in no room
export const CS_LOGGED_IN = 1;
export const CS_NAME_LEN = 2;
export const CS_NAME = 3; // 8 words: 32 bytes
export const CS_SQ_HEAD = 11;
export const CS_SQ_TAIL = 12;
export const CS_INF_A = 13; // buffer ids of the send in flight (0 = none)
export const CS_INF_B = 14;
export const CS_INF_LEN = 15;
export const CS_CELLS = 16;
/** Buffers a member's send queue holds: a reader this far behind is kicked (SendOverflow). */
export const SEND_QUEUE_CAP = 256;
export const CS_WORDS = CS_CELLS + 2 * SEND_QUEUE_CAP;

// ---- rooms --------------------------------------------------------------------
export const R_JOB_COUNT = 0;
export const R_Q_LOCK = 1;
export const R_Q_HEAD = 2;
export const R_Q_TAIL = 3;
export const R_SEQ = 4;
export const R_MEMBERS = 5;
export const R_FLUSHING = 6;
export const R_TIMER_ARMED = 7;
export const R_TIMER_DUE = 8;
export const R_TIMER_ID = 9;
export const R_POPULATION = 10;
export const R_LOCK = 11;
export const R_HEAD_WORDS = 16;
export const JOBQ_CAP = 1024;
export const JOB_WORDS = 6;
export const J_KIND = 0;
export const J_SLOT = 1;
export const J_LO = 2;
export const J_HI = 3;
export const J_ARG = 4;
export const J_ID = 5;

export interface ChatLayout {
  rooms: number;
  maxSessions: number;
  sendBuffers: number;
  tickMs: number;
}

export class ChatStateError extends Error {
  readonly code = 'ERR_CHAT_STATE';
}

export class ChatState {
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  readonly rooms: number;
  readonly maxSessions: number;
  readonly poolCap: number;
  readonly tickMs: number;
  readonly poolBase: number;
  readonly sessionBase: number;
  readonly roomBase: number;
  readonly roomWords: number;

  private constructor(readonly sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab);
    this.u8 = new Uint8Array(sab);
    this.rooms = this.i32[H_ROOMS]!;
    this.maxSessions = this.i32[H_MAX_SESSIONS]!;
    this.poolCap = this.i32[H_POOL_CAP]!;
    this.tickMs = this.i32[H_TICK_MS]!;
    this.poolBase = H_WORDS;
    this.sessionBase = this.poolBase + (this.poolCap + 1) * POOL_WORDS;
    this.roomBase = this.sessionBase + this.maxSessions * CS_WORDS;
    this.roomWords = R_HEAD_WORDS + JOBQ_CAP * JOB_WORDS + this.maxSessions * 3;
  }

  static create(l: ChatLayout): ChatState {
    if (!Number.isInteger(l.rooms) || l.rooms < 1 || l.rooms > MAX_ROOMS)
      throw new ChatStateError(`rooms must be 1..${MAX_ROOMS}, got ${l.rooms}`);
    if (!Number.isInteger(l.sendBuffers) || l.sendBuffers < 1 || l.sendBuffers > MAX_SEND_BUFFERS)
      throw new ChatStateError(`sendBuffers must be 1..${MAX_SEND_BUFFERS}, got ${l.sendBuffers}`);
    const roomWords = R_HEAD_WORDS + JOBQ_CAP * JOB_WORDS + l.maxSessions * 3;
    const words =
      H_WORDS + (l.sendBuffers + 1) * POOL_WORDS + l.maxSessions * CS_WORDS + l.rooms * roomWords;
    const sab = new SharedArrayBuffer(words * 4);
    const h = new Int32Array(sab);
    h[H_ROOMS] = l.rooms;
    h[H_MAX_SESSIONS] = l.maxSessions;
    h[H_POOL_CAP] = l.sendBuffers;
    h[H_TICK_MS] = l.tickMs;
    h[H_NEXT_DUE] = -1;
    const s = new ChatState(sab);
    // Every buffer free, 1 on top.
    let head = 0;
    for (let b = l.sendBuffers; b >= 1; b--) {
      h[s.buf(b) + B_NEXT] = head;
      head = b;
    }
    h[H_POOL_HEAD] = head;
    h[H_POOL_FREE] = l.sendBuffers;
    // Send queue cells: cell k starts with sequence k (Vyukov's bounded queue).
    for (let slot = 0; slot < l.maxSessions; slot++) {
      const c = s.session(slot) + CS_CELLS;
      for (let k = 0; k < SEND_QUEUE_CAP; k++) h[c + 2 * k] = k;
    }
    return s;
  }

  static attach(sab: SharedArrayBuffer): ChatState {
    return new ChatState(sab);
  }

  /** Bytes of the pool in the port's arena. */
  static poolBytes(sendBuffers: number): number {
    return sendBuffers * SEND_BUFFER_BYTES;
  }

  buf(id: number): number {
    return this.poolBase + id * POOL_WORDS;
  }

  session(slot: number): number {
    return this.sessionBase + slot * CS_WORDS;
  }

  room(r: number): number {
    return this.roomBase + r * this.roomWords;
  }

  /** Word index of job k (ring position) of room r. */
  job(r: number, k: number): number {
    return this.room(r) + R_HEAD_WORDS + (k & (JOBQ_CAP - 1)) * JOB_WORDS;
  }

  /** Word index of member m of room r: slot, id lo, id hi. */
  member(r: number, m: number): number {
    return this.room(r) + R_HEAD_WORDS + JOBQ_CAP * JOB_WORDS + m * 3;
  }

  // ---- the pool (no records here: core.ts records what happens) ----

  /** Pop a free buffer id (reference count set to 1), or 0 when the pool is empty. */
  popBuffer(): number {
    const i = this.i32;
    for (;;) {
      const head = Atomics.load(i, H_POOL_HEAD);
      const id = head & 0xffff;
      if (id === 0) return 0;
      const next = Atomics.load(i, this.buf(id) + B_NEXT);
      const tag = ((head >>> 16) + 1) & 0x7fff;
      if (Atomics.compareExchange(i, H_POOL_HEAD, head, (tag << 16) | next) === head) {
        Atomics.store(i, this.buf(id) + B_REF, 1);
        Atomics.sub(i, H_POOL_FREE, 1);
        return id;
      }
    }
  }

  /** Push a buffer back on the free stack; returns the free count after. */
  pushBuffer(id: number): number {
    const i = this.i32;
    const link = this.buf(id) + B_NEXT;
    for (;;) {
      const head = Atomics.load(i, H_POOL_HEAD);
      Atomics.store(i, link, head & 0xffff);
      const tag = ((head >>> 16) + 1) & 0x7fff;
      if (Atomics.compareExchange(i, H_POOL_HEAD, head, (tag << 16) | id) === head) {
        return Atomics.add(i, H_POOL_FREE, 1) + 1;
      }
    }
  }

  get poolFree(): number {
    return Atomics.load(this.i32, H_POOL_FREE);
  }

  // ---- a session's send queue ----

  /** Append buffer `id` to the slot's send queue; false when it is full. */
  sendQueuePush(slot: number, id: number): boolean {
    const i = this.i32;
    const s = this.session(slot);
    for (;;) {
      const pos = Atomics.load(i, s + CS_SQ_TAIL);
      const cell = s + CS_CELLS + 2 * (pos & (SEND_QUEUE_CAP - 1));
      const seq = Atomics.load(i, cell);
      const dif = (seq - pos) | 0;
      if (dif === 0) {
        if (Atomics.compareExchange(i, s + CS_SQ_TAIL, pos, (pos + 1) | 0) === pos) {
          Atomics.store(i, cell + 1, id);
          Atomics.store(i, cell, (pos + 1) | 0);
          return true;
        }
      } else if (dif < 0) return false;
    }
  }

  /**
   * Take the next buffer id (the send flag's holder only); 0 when the queue is
   * empty or its next cell is reserved but not yet written (its producer
   * calls SendPost after writing it).
   */
  sendQueuePop(slot: number): number {
    const i = this.i32;
    const s = this.session(slot);
    const pos = i[s + CS_SQ_HEAD]!;
    const cell = s + CS_CELLS + 2 * (pos & (SEND_QUEUE_CAP - 1));
    if (((Atomics.load(i, cell) - ((pos + 1) | 0)) | 0) !== 0) return 0;
    const id = Atomics.load(i, cell + 1);
    Atomics.store(i, cell, (pos + SEND_QUEUE_CAP) | 0);
    Atomics.store(i, s + CS_SQ_HEAD, (pos + 1) | 0);
    return id;
  }

  /** Whether the next cell holds a written buffer id (the lost wake-up check). */
  sendQueueReady(slot: number): boolean {
    const i = this.i32;
    const s = this.session(slot);
    const pos = Atomics.load(i, s + CS_SQ_HEAD);
    const cell = s + CS_CELLS + 2 * (pos & (SEND_QUEUE_CAP - 1));
    return ((Atomics.load(i, cell) - ((pos + 1) | 0)) | 0) === 0;
  }

  // ---- counters ----

  count(word: number, n = 1): void {
    Atomics.add(this.i32, word, n);
  }

  /** Add ns to the room-path timer (bench:chat): a 52-bit sum in two words. */
  addPathNs(ns: number): void {
    const i = this.i32;
    const n = Math.max(0, Math.round(ns));
    const lo = Atomics.add(i, H_PATH_NS_LO, n | 0) >>> 0;
    if (lo + (n >>> 0) > 0xffffffff) Atomics.add(i, H_PATH_NS_HI, 1);
    Atomics.add(i, H_PATH_MSGS, 1);
  }

  pathStats(): { ns: number; messages: number } {
    const i = this.i32;
    return {
      ns: (Atomics.load(i, H_PATH_NS_HI) >>> 0) * 2 ** 32 + (Atomics.load(i, H_PATH_NS_LO) >>> 0),
      messages: Atomics.load(i, H_PATH_MSGS),
    };
  }

  resetPathStats(): void {
    Atomics.store(this.i32, H_PATH_NS_HI, 0);
    Atomics.store(this.i32, H_PATH_NS_LO, 0);
    Atomics.store(this.i32, H_PATH_MSGS, 0);
  }
}

export { SEND_BUFFER_BYTES };
