// The session pool, in shared memory so every thread (accept, workers, the
// main thread at shutdown) sees the same sessions (iocp-model.md §2). Both
// reference servers (echo/, chat/) keep their sessions here; an app keeps its
// own per-session state (chat: name, room, send queue) in its own memory,
// indexed by the same slot.
//
// A session lives in a fixed slot. Its 64-bit SessionID is never reused: the
// slot index sits in the low SLOT_BITS bits and the slot's reuse counter (48
// bits, incremented on every allocation of the slot) in the high bits, so
//   id = reuse * 2^16 + slot,   lo = (reuse & 0xffff) << 16 | slot,
//   hi = floor(reuse / 2^16)     (exact; no float rounding: values < 2^53).
// Only the accept thread allocates; any thread releases.
//
// Per-slot words (Int32). IOREF is a 64-bit pair for the combined release CAS:
// the low half is IOCount (Atomics.add/sub on it alone), the high half the
// release flag; release happens only through CAS64(IOREF, {0,0} -> {0,1}), so it
// happens once, and only when the count was 0 with the flag clear at the same
// instant. A thread that takes a hold from outside increments the count and
// backs off if the flag is set.
//
// Free slots form a Treiber stack whose head packs (tag << 16 | slot + 1); the
// tag makes ABA impossible for concurrent pushes. IN_FREE guards the stack's
// integrity even when a fault releases a slot twice.

export const SLOT_BITS = 16;
export const MAX_SESSIONS = (1 << SLOT_BITS) - 1;
export const SLOT_MASK = (1 << SLOT_BITS) - 1;

export const SLOT_WORDS = 20;
export const S_IO_COUNT = 0; // low half of IOREF (must be even)
export const S_RELEASED = 1; // high half of IOREF
export const S_SEND_FLAG = 2; // 1 while a send is in flight
export const S_DISCONNECTED = 3; // 1 once a disconnect started
export const S_SOCK_CLOSED = 4; // 1 once closesocket was called
export const S_ID_LO = 5;
export const S_ID_HI = 6;
export const S_SOCKET = 7;
export const S_RECV_R = 8;
export const S_RECV_W = 9;
export const S_SEND_R = 10;
export const S_SEND_W = 11;
export const S_SEND_LEN = 12; // bytes of the send in flight
export const S_REUSE_LO = 13; // reuse counter, low 32 bits
export const S_REUSE_HI = 14; // reuse counter, bits 32..47
export const S_NEXT_FREE = 15; // free stack link: slot + 1, 0 = end
export const S_JOINED = 16; // 1 once the acceptor's OnClientJoin is done with the session
/** Coarse time (T_NOW_MS) of the last recv completion with bytes; 0 = the slot is free. */
export const S_RX_AT = 17;
/** Coarse time since an incomplete packet has sat at RecvQ's front; 0 = none. */
export const S_PARTIAL_AT = 18;
/** RecvQ read position of that incomplete packet (a new one restarts its clock). */
export const S_PARTIAL_POS = 19;

export const HEADER_WORDS = 64;
export const T_FREE_HEAD = 0;
export const T_ACTIVE = 1; // sessions allocated and not released
export const T_ACCEPTED = 2; // total allocations
export const T_RELEASED = 3; // total releases (a double release counts twice)
export const T_MAX_SESSIONS = 4;
export const T_RECV_BYTES = 5; // RecvQ capacity
export const T_SEND_BYTES = 6; // SendQ capacity
export const T_SEND_LOCK = 8; // the lock-across-send fault's global lock word
export const T_STOP = 9; // 1 = shutting down (accept thread leaves its loop)
export const T_JOIN_WORK_US = 10; // OnClientJoin's work in the accept thread, µs (core.ts accepted())
/**
 * A coarse clock in ms (never 0), advanced by the main thread's session sweep
 * (core.ts sweepTimeouts); threads stamp S_RX_AT and S_PARTIAL_AT with it by a
 * plain read, which costs nothing on the hot path.
 */
export const T_NOW_MS = 11;
/** Idle (read) timeout, ms: no bytes received for this long kicks the session; 0 = off. */
export const T_IDLE_MS = 12;
/** Partial-packet timeout, ms: an incomplete packet at RecvQ's front for this long kicks; 0 = off. */
export const T_PARTIAL_MS = 13;
/** Fault switch words start here (see faults.ts). */
export const T_FAULTS = 32;

const RELEASED64 = 1n << 32n;

export class SessionTableError extends Error {
  readonly code = 'ERR_SESSION_TABLE';
}

export interface SessionTableLimits {
  maxSessions: number;
  recvBytes: number;
  sendBytes: number;
}

const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

export class SessionTable {
  readonly i32: Int32Array;
  readonly i64: BigInt64Array;
  readonly inFree: Int32Array;
  readonly maxSessions: number;
  readonly recvBytes: number;
  readonly sendBytes: number;

  private constructor(readonly sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab);
    this.i64 = new BigInt64Array(sab);
    this.maxSessions = this.i32[T_MAX_SESSIONS]!;
    this.recvBytes = this.i32[T_RECV_BYTES]!;
    this.sendBytes = this.i32[T_SEND_BYTES]!;
    this.inFree = new Int32Array(
      sab,
      (HEADER_WORDS + this.maxSessions * SLOT_WORDS) * 4,
      this.maxSessions,
    );
  }

  static create(limits: SessionTableLimits): SessionTable {
    const { maxSessions, recvBytes, sendBytes } = limits;
    if (!Number.isInteger(maxSessions) || maxSessions < 1 || maxSessions > MAX_SESSIONS) {
      throw new SessionTableError(`maxSessions must be 1..${MAX_SESSIONS}, got ${maxSessions}`);
    }
    for (const [name, v] of [
      ['recvBytes', recvBytes],
      ['sendBytes', sendBytes],
    ] as const) {
      if (!isPow2(v) || v < 16384 || v > 1 << 24) {
        throw new SessionTableError(`${name} must be a power of two in 16384..16 MiB, got ${v}`);
      }
    }
    let words = HEADER_WORDS + maxSessions * SLOT_WORDS + maxSessions;
    if (words & 1) words++; // BigInt64Array needs a multiple of 8 bytes
    const sab = new SharedArrayBuffer(words * 4);
    const h = new Int32Array(sab);
    h[T_MAX_SESSIONS] = maxSessions;
    h[T_RECV_BYTES] = recvBytes;
    h[T_SEND_BYTES] = sendBytes;
    h[T_NOW_MS] = 1; // the coarse clock is never 0 (0 marks a free slot's S_RX_AT)
    const t = new SessionTable(sab);
    // Push in reverse so slot 0 is allocated first.
    for (let s = maxSessions - 1; s >= 0; s--) t.pushFree(s);
    return t;
  }

  static attach(sab: SharedArrayBuffer): SessionTable {
    return new SessionTable(sab);
  }

  /** Byte offset of a slot's RecvQ in the port arena; its SendQ follows it. */
  recvBase(slot: number): number {
    return slot * (this.recvBytes + this.sendBytes);
  }

  sendBase(slot: number): number {
    return slot * (this.recvBytes + this.sendBytes) + this.recvBytes;
  }

  get arenaBytes(): number {
    return this.maxSessions * (this.recvBytes + this.sendBytes);
  }

  w(slot: number, field: number): number {
    return HEADER_WORDS + slot * SLOT_WORDS + field;
  }

  /**
   * Take a free slot and give it the next SessionID (accept thread only).
   * Returns the slot, or -1 when the pool is empty.
   */
  allocate(): number {
    const slot = this.popFree();
    if (slot < 0) return -1;
    const i = this.i32;
    const b = HEADER_WORDS + slot * SLOT_WORDS;
    let reuseLo = (i[b + S_REUSE_LO]! + 1) >>> 0;
    let reuseHi = i[b + S_REUSE_HI]! >>> 0;
    if (reuseLo === 0) reuseHi = (reuseHi + 1) & 0xffff;
    i[b + S_REUSE_LO] = reuseLo | 0;
    i[b + S_REUSE_HI] = reuseHi;
    reuseLo >>>= 0;
    i[b + S_ID_LO] = ((reuseLo & 0xffff) << 16) | slot | 0;
    i[b + S_ID_HI] = (reuseLo >>> 16) | (reuseHi << 16) | 0;
    i[b + S_SEND_FLAG] = 0;
    i[b + S_DISCONNECTED] = 0;
    i[b + S_SOCK_CLOSED] = 0;
    i[b + S_SOCKET] = -1;
    i[b + S_RECV_R] = 0;
    i[b + S_RECV_W] = 0;
    i[b + S_SEND_R] = 0;
    i[b + S_SEND_W] = 0;
    i[b + S_SEND_LEN] = 0;
    i[b + S_JOINED] = 0;
    i[b + S_RX_AT] = i[T_NOW_MS]! || 1;
    i[b + S_PARTIAL_AT] = 0;
    i[b + S_PARTIAL_POS] = 0;
    // IOCount 0, flag clear; publish with a seq-cst store so other threads see a clean slot.
    Atomics.store(this.i64, b / 2 + S_IO_COUNT / 2, 0n);
    Atomics.add(i, T_ACTIVE, 1);
    Atomics.add(i, T_ACCEPTED, 1);
    return slot;
  }

  idLo(slot: number): number {
    return this.i32[HEADER_WORDS + slot * SLOT_WORDS + S_ID_LO]! >>> 0;
  }

  idHi(slot: number): number {
    return this.i32[HEADER_WORDS + slot * SLOT_WORDS + S_ID_HI]! >>> 0;
  }

  /** The SessionID of a slot's current session, exact. */
  sessionId(slot: number): bigint {
    return (BigInt(this.idHi(slot)) << 32n) | BigInt(this.idLo(slot));
  }

  /** IOCount+1 or -1; returns the new count. */
  addIoCount(slot: number, delta: number): number {
    return Atomics.add(this.i32, HEADER_WORDS + slot * SLOT_WORDS + S_IO_COUNT, delta) + delta;
  }

  ioCount(slot: number): number {
    return Atomics.load(this.i32, HEADER_WORDS + slot * SLOT_WORDS + S_IO_COUNT);
  }

  isReleased(slot: number): boolean {
    return Atomics.load(this.i32, HEADER_WORDS + slot * SLOT_WORDS + S_RELEASED) !== 0;
  }

  /** The combined CAS: true exactly once per session, when IOCount is 0 and the flag was clear. */
  tryMarkReleased(slot: number): boolean {
    const k = (HEADER_WORDS + slot * SLOT_WORDS) / 2;
    return Atomics.compareExchange(this.i64, k, 0n, RELEASED64) === 0n;
  }

  /** Return a released slot to the pool (idempotent per allocation). */
  freeSlot(slot: number): boolean {
    if (Atomics.compareExchange(this.inFree, slot, 0, 1) !== 0) return false;
    // A free slot is never idle: the sweep skips it until allocate() stamps it again.
    Atomics.store(this.i32, HEADER_WORDS + slot * SLOT_WORDS + S_RX_AT, 0);
    Atomics.sub(this.i32, T_ACTIVE, 1);
    this.pushFreeRaw(slot);
    return true;
  }

  get active(): number {
    return Atomics.load(this.i32, T_ACTIVE);
  }

  get accepted(): number {
    return Atomics.load(this.i32, T_ACCEPTED);
  }

  get released(): number {
    return Atomics.load(this.i32, T_RELEASED);
  }

  /** How long the acceptor's OnClientJoin work takes, µs (0 = none). */
  setJoinWorkUs(us: number): void {
    Atomics.store(this.i32, T_JOIN_WORK_US, us);
  }

  /** Idle and partial-packet timeouts, ms (0 = off); see T_IDLE_MS, T_PARTIAL_MS. */
  setTimeouts(idleMs: number, partialMs: number): void {
    Atomics.store(this.i32, T_IDLE_MS, idleMs);
    Atomics.store(this.i32, T_PARTIAL_MS, partialMs);
  }

  get idleTimeoutMs(): number {
    return Atomics.load(this.i32, T_IDLE_MS);
  }

  get partialTimeoutMs(): number {
    return Atomics.load(this.i32, T_PARTIAL_MS);
  }

  /** The coarse clock threads stamp activity with (ms, never 0). */
  get nowMs(): number {
    return Atomics.load(this.i32, T_NOW_MS);
  }

  setNowMs(ms: number): void {
    Atomics.store(this.i32, T_NOW_MS, Math.max(1, ms | 0));
  }

  countRelease(): void {
    Atomics.add(this.i32, T_RELEASED, 1);
  }

  /** Slots currently allocated (not in the free stack). */
  liveSlots(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.maxSessions; s++) if (Atomics.load(this.inFree, s) === 0) out.push(s);
    return out;
  }

  private pushFree(slot: number): void {
    Atomics.store(this.inFree, slot, 1);
    this.pushFreeRaw(slot);
  }

  private pushFreeRaw(slot: number): void {
    const i = this.i32;
    const next = HEADER_WORDS + slot * SLOT_WORDS + S_NEXT_FREE;
    for (;;) {
      const head = Atomics.load(i, T_FREE_HEAD);
      Atomics.store(i, next, head & 0xffff);
      const tag = ((head >>> 16) + 1) & 0xffff;
      if (Atomics.compareExchange(i, T_FREE_HEAD, head, (tag << 16) | (slot + 1)) === head) return;
    }
  }

  private popFree(): number {
    const i = this.i32;
    for (;;) {
      const head = Atomics.load(i, T_FREE_HEAD);
      const top = head & 0xffff;
      if (top === 0) return -1;
      const slot = top - 1;
      const next = Atomics.load(i, HEADER_WORDS + slot * SLOT_WORDS + S_NEXT_FREE);
      const tag = ((head >>> 16) + 1) & 0xffff;
      if (Atomics.compareExchange(i, T_FREE_HEAD, head, (tag << 16) | next) === head) {
        Atomics.store(this.inFree, slot, 0);
        return slot;
      }
    }
  }
}
