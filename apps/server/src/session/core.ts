// The session layer both reference servers share (iocp-model.md §2), written
// the way the course writes it: accept with its hold, RecvPost, the completion
// handler, IOCount, disconnect, release, the shutdown sweep's hold, and the
// idle and partial-packet timeouts. Every thread (accept, workers, and the
// main thread) owns one core bound to its own port handle and recorder; all
// shared state is in the session table. An app (echo/core.ts, chat/core.ts)
// extends it with what it does with the packets it receives and how it sends.
//
// Invariants (correct mode):
// - IOCount = posted-and-not-dequeued I/O + holds. It is incremented *before*
//   each WSARecv/WSASend (the completion may be dequeued on another thread
//   before the call returns) and decremented once per dequeued completion, or
//   at once when a post fails without pending.
// - The thread whose decrement reaches 0 releases, through the combined CAS in
//   SessionTable.tryMarkReleased, so release happens exactly once.
// - One recv is outstanding per live session (reposted after each completion
//   with data); an app allows at most one send (its send flag); after a
//   disconnect starts, no new post is made.
// - RecvQ is a ring (ring-buffer.ts): a post covers its free space as
//   WSABUF[0] from the pointer to the physical end and WSABUF[1] from the
//   base; a completion moves the pointer by the bytes it reported. Each post
//   is followed by an IoRing record, each session's capacities by a
//   SessionRings record, so a checker can verify both.
// - Timeouts: a recv completion with bytes stamps S_RX_AT with the coarse
//   clock; an incomplete packet left at RecvQ's front stamps S_PARTIAL_AT
//   once (a new incomplete packet restarts it, progress on the same one does
//   not: a client trickling one header byte a minute is still kicked). The
//   main thread's sweep (sweepTimeouts) kicks sessions past either timeout
//   with Disconnect reason IdleTimeout or PartialTimeout, through the same
//   hold-disconnect-drop as the shutdown sweep.
// - Every fault switch (faults.ts) breaks exactly one of these, for real.
//
// The hot path allocates nothing: WSABUFs go through a reused TwoBufs, records
// are numbers.

import { BlockReason, DisconnectReason, EventKind, IoCountCause, Op } from '@iocpscope/protocol';
import { ERROR_IO_PENDING, type CompletionEntry, type CompletionPort } from '../port/index.ts';
import type { TraceRecorder } from '../trace/recorder.ts';
import type { FaultWords } from './fault-words.ts';
import { freeBufs, newTwoBufs } from './ring-buffer.ts';
import {
  HEADER_WORDS,
  SLOT_MASK,
  SLOT_WORDS,
  S_DISCONNECTED,
  S_ID_HI,
  S_ID_LO,
  S_IO_COUNT,
  S_JOINED,
  S_PARTIAL_AT,
  S_PARTIAL_POS,
  S_RECV_R,
  S_RECV_W,
  S_RELEASED,
  S_RX_AT,
  S_SOCKET,
  S_SOCK_CLOSED,
  T_IDLE_MS,
  T_JOIN_WORK_US,
  T_NOW_MS,
  T_PARTIAL_MS,
  type SessionTable,
} from './session-table.ts';

/** Overlapped ids: like &session->recvOverlapped / &session->sendOverlapped, unique per session slot. */
export const ovRecv = (slot: number): number => ((slot << 2) | 1) >>> 0;
export const ovSend = (slot: number): number => ((slot << 2) | 2) >>> 0;
export const isSendOverlapped = (ov: number): boolean => (ov & 3) === 2;

const DELTA_MINUS_1 = 0xffffffff;
/**
 * release-without-atomic-flag: how long each piece of the buggy code's
 * in-between work takes, µs: a blocking log write in the disconnect handler
 * between its decrement and its release check, and another in the release
 * between the check and setting the flag. A real server's window is a few
 * instructions and the race shows once in hours; these make it show under a
 * demo load within seconds (see plainReleaseCheck()).
 */
export const RACE_WORK_US = 1000;

/** What the main thread can do (it is the kernel and holds no CompletionPort). */
export interface HostIo {
  closesocket(socket: number): number;
}

export abstract class SessionCore {
  protected readonly i32: Int32Array;
  protected readonly bufs = newTwoBufs();
  protected readonly recvCap: number;
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));
  /** The clock reading of the last bump() (see there). */
  protected stamp = 0;

  constructor(
    protected readonly table: SessionTable,
    protected readonly arena: Uint8Array,
    protected readonly rec: TraceRecorder,
    /** Null on the main thread: it may only disconnect and release. */
    protected readonly port: CompletionPort | null,
    protected readonly host: HostIo,
    /** The fault switches' words in the table (faults.ts FAULT_WORDS). */
    protected readonly fw: FaultWords,
  ) {
    this.i32 = table.i32;
    this.recvCap = table.recvBytes;
  }

  // ---- what an app adds ----------------------------------------------------------

  /**
   * Handle the bytes RecvQ holds (S_RECV_R..S_RECV_W): cut complete packets,
   * act on them and move S_RECV_R past them. Kick the session (disconnect with
   * a reason) on a bad packet and return false; true otherwise.
   */
  protected abstract onPackets(slot: number): boolean;

  /** A send completed with `bytes`; must end with the completion's IOCount-1 (dec). */
  protected abstract onSend(slot: number, bytes: number, ioId: number): void;

  /**
   * A send completed FALSE (the session is going away): release what the send
   * held. Called before the completion's IOCount-1.
   */
  protected onSendFailed(_slot: number, _ioId: number): void {}

  /** SendQ's capacity for the session's SessionRings record (0: no send ring). */
  protected abstract sendRingBytes(): number;

  /**
   * The session has started disconnecting (called once, by the thread that
   * disconnected it, after the Disconnect record); the chat server leaves
   * its room here.
   */
  protected onDisconnected(_slot: number): void {}

  /** The session is being released (before its slot returns to the pool). */
  protected onReleased(_slot: number): void {}

  protected base(slot: number): number {
    return HEADER_WORDS + slot * SLOT_WORDS;
  }

  /**
   * Whether a fault switch is on. A plain read: a switch only has to take
   * effect soon, not at a precise moment, and this runs several times per
   * completion (an Atomics.load is a builtin call on Node 20, ~15 ns each).
   */
  protected fault(word: number): boolean {
    return this.i32[word] !== 0;
  }

  // ---- accept ----------------------------------------------------------------

  /**
   * The accept thread's part: take a slot, create the session, associate the
   * socket, hold one IOCount across the first RecvPost, hand it over (Accept),
   * drop the hold. Returns the slot, or -1 when the pool is full (socket closed).
   */
  accepted(socket: number, peer: string): number {
    const port = this.port!;
    const t = this.table;
    const slot = t.allocate();
    if (slot < 0) {
      port.closesocket(socket);
      this.rec.record(
        EventKind.Marker,
        0,
        this.rec.intern('session pool full: connection refused'),
        0,
        0,
        0,
        0,
      );
      return -1;
    }
    const b = this.base(slot);
    this.i32[b + S_SOCKET] = socket;
    const lo = t.idLo(slot);
    const hi = t.idHi(slot);
    const peerStr = this.rec.internOnce(peer);
    this.rec.record(EventKind.SessionCreated, 0, peerStr, lo, hi, socket, slot);
    this.rec.record(EventKind.SessionRings, 0, this.recvCap, lo, hi, this.sendRingBytes(), 0);
    const hold = !this.fault(this.fw.noAcceptHold);
    if (hold) this.inc(slot, IoCountCause.AcceptHold, 0);
    if (!port.associate(socket, lo, hi)) {
      this.disconnect(slot, DisconnectReason.IoError, port.lastError);
      if (hold) this.dec(slot, IoCountCause.AcceptRelease, 0);
      else if (this.table.tryMarkReleased(slot)) this.releaseBody(slot);
      return slot;
    }
    this.recvPost(slot);
    // OnClientJoin: the content side's work for the new client, done by the
    // acceptor after the first RecvPost (course servers print a "joined" line
    // to the console and create the player object here; the table says how
    // long, 1 ms by default). The hold above is what keeps the session alive
    // meanwhile: without it (no-accept-hold) a client that leaves at once is
    // released by a worker before the acceptor is done with it.
    const joinUs = Atomics.load(this.i32, T_JOIN_WORK_US);
    if (joinUs > 0) {
      port.blockBegin(BlockReason.Sleep, joinUs);
      Atomics.wait(this.sleepCell, 0, 0, joinUs / 1000);
      port.blockEnd();
    }
    if (hold) {
      // OnClientJoin done: mark the session joined; the acceptor has finished
      // with it only after the Accept record, and the hold kept it alive.
      this.i32[b + S_JOINED] = 1;
      this.rec.record(EventKind.Accept, 0, peerStr, lo, hi, socket, 0);
      this.dec(slot, IoCountCause.AcceptRelease, 0);
    } else {
      // BUG (on purpose, no-accept-hold): with nothing holding the session, a
      // worker may have released it while the acceptor was in OnClientJoin. The
      // acceptor still marks it joined through its slot and names it from the
      // slot: a write to freed memory (after slot reuse, to another session).
      this.i32[b + S_JOINED] = 1;
      this.rec.record(EventKind.Accept, 0, peerStr, t.idLo(slot), t.idHi(slot), socket, 0);
    }
    return slot;
  }

  // ---- completions -------------------------------------------------------------

  /** Handle one dequeued completion with a non-NULL overlapped (GQCS cases 1 and 2). */
  onCompletion(e: CompletionEntry): void {
    const slot = e.keyLo & SLOT_MASK;
    if (e.error !== 0) {
      // FALSE with an overlapped: the I/O failed (64 reset, 995 after our close...): the session is gone.
      if (isSendOverlapped(e.overlapped)) this.onSendFailed(slot, e.ioId);
      if (this.fault(this.fw.releaseWithoutAtomicFlag)) {
        // The buggy variant decrements first, runs the handler (disconnect, log
        // it), and only then decides about release from plain reads.
        this.decOnly(slot, IoCountCause.Completion, e.ioId);
        this.disconnectOrNotice(slot, DisconnectReason.IoError, e.error);
        this.work(RACE_WORK_US);
        this.plainReleaseCheck(slot);
        return;
      }
      this.disconnectOrNotice(slot, DisconnectReason.IoError, e.error);
      if (!this.fault(this.fw.noDecrementOnFailure))
        this.dec(slot, IoCountCause.Completion, e.ioId);
      return;
    }
    if (isSendOverlapped(e.overlapped)) this.onSend(slot, e.bytes, e.ioId);
    else this.onRecv(slot, e.bytes, e.ioId);
  }

  protected onRecv(slot: number, bytes: number, ioId: number): void {
    const b = this.base(slot);
    const i = this.i32;
    if (bytes === 0) {
      if (this.fault(this.fw.zeroByteRecvReposted)) this.recvPost(slot);
      else this.disconnectOrNotice(slot, DisconnectReason.PeerClosed, 0);
      if (this.fault(this.fw.releaseWithoutAtomicFlag)) {
        // As for a failed completion: decrement, log the disconnect, then decide.
        this.decOnly(slot, IoCountCause.Completion, ioId);
        this.work(RACE_WORK_US);
        this.plainReleaseCheck(slot);
        return;
      }
      this.dec(slot, IoCountCause.Completion, ioId);
      return;
    }
    i[b + S_RECV_W] = (i[b + S_RECV_W]! + bytes) | 0;
    const now = i[T_NOW_MS]!;
    i[b + S_RX_AT] = now;
    if (this.onPackets(slot)) {
      // An incomplete packet at RecvQ's front: its clock starts when it first sits there.
      const r = i[b + S_RECV_R]!;
      if (i[b + S_RECV_W] === r) i[b + S_PARTIAL_AT] = 0;
      else if (i[b + S_PARTIAL_AT] === 0 || i[b + S_PARTIAL_POS] !== r) {
        i[b + S_PARTIAL_AT] = now;
        i[b + S_PARTIAL_POS] = r;
      }
    }
    if (!this.fault(this.fw.recvNotReposted)) this.recvPost(slot);
    this.dec(slot, IoCountCause.Completion, ioId);
    if (this.fault(this.fw.iocountDoubleDecrement)) this.dec(slot, IoCountCause.Completion, ioId);
  }

  // ---- posts -------------------------------------------------------------------

  recvPost(slot: number): void {
    const i = this.i32;
    const b = this.base(slot);
    if (Atomics.load(i, b + S_DISCONNECTED) !== 0) {
      this.onDisconnected(slot);
      return;
    }
    const port = this.port!;
    const bufs = this.bufs;
    const base = this.table.recvBase(slot);
    const free = freeBufs(bufs, base, this.recvCap, i[b + S_RECV_R]!, i[b + S_RECV_W]!);
    if (bufs.len1 > 0 && this.fault(this.fw.ringWrapOffByOne)) {
      // BUG (on purpose): the split at the wrap is one byte early.
      bufs.len0--;
      bufs.len1++;
    }
    const ioId = port.allocIoId();
    this.inc(slot, IoCountCause.RecvPost, ioId);
    const ret = port.wsaRecv(
      i[b + S_SOCKET]!,
      ovRecv(slot),
      bufs.off0,
      bufs.len0,
      bufs.off1,
      bufs.len1,
      ioId,
    );
    this.ringRecord(Op.Recv, base, free, ioId);
    if (ret !== 0 && ret !== ERROR_IO_PENDING) {
      // No packet will ever come for this call: undo its IOCount now.
      this.disconnect(slot, DisconnectReason.IoError, ret);
      this.dec(slot, IoCountCause.PostFailed, ioId);
    }
  }

  /**
   * IoRing (v2) of the post just made from this.bufs: the WSABUFs' offsets in
   * their ring (base = the ring's start in the arena) and the free (recv) or
   * used (send) bytes the server computed. Its session field holds off1/avail.
   */
  protected ringRecord(op: number, base: number, avail: number, ioId: number): void {
    const bufs = this.bufs;
    this.rec.record(
      EventKind.IoRing,
      op,
      bufs.off0 - base,
      bufs.len1 > 0 ? bufs.off1 - base : 0,
      avail >>> 0,
      bufs.len0,
      ioId,
    );
  }

  // ---- IOCount, disconnect, release ----------------------------------------------

  /**
   * IOCount += delta by CAS, returning the new count; `stamp` is a clock
   * reading taken after this thread saw the value it replaced. So the IoCount
   * records of a session, stamped with it, are in the order the count changed
   * even when threads change it at once: a change that follows another in the
   * count also follows it in time (a plain add stamped afterwards could be
   * preempted and land after a later change, or after the release).
   */
  protected bump(slot: number, delta: number): number {
    const i = this.i32;
    const w = this.base(slot) + S_IO_COUNT;
    let old = Atomics.load(i, w);
    for (;;) {
      this.stamp = this.rec.now();
      const seen = Atomics.compareExchange(i, w, old, (old + delta) | 0);
      if (seen === old) return (old + delta) | 0;
      old = seen;
    }
  }

  // The session's id is read before the change: the caller's own count keeps the
  // slot's session until its change lands. Read after a decrement, it can already
  // be the slot's next session's (another thread took the count to 0, released
  // and the acceptor reused the slot meanwhile): the record would name a session
  // that never counted this I/O. bench:detectors saw exactly that on a preempted
  // worker.
  private changeIoCount(slot: number, delta: 1 | -1, cause: number, ioId: number): number {
    const t = this.table;
    const lo = t.idLo(slot);
    const hi = t.idHi(slot);
    const v = this.bump(slot, delta);
    const d = delta === 1 ? 1 : DELTA_MINUS_1;
    this.rec.recordAt(this.stamp, EventKind.IoCount, cause, v >>> 0, lo, hi, d, ioId);
    return v;
  }

  protected inc(slot: number, cause: number, ioId: number): void {
    this.changeIoCount(slot, 1, cause, ioId);
  }

  protected decOnly(slot: number, cause: number, ioId: number): number {
    return this.changeIoCount(slot, -1, cause, ioId);
  }

  protected dec(slot: number, cause: number, ioId: number): void {
    const v = this.decOnly(slot, cause, ioId);
    if (this.fault(this.fw.releaseWithoutAtomicFlag)) this.plainReleaseCheck(slot);
    else if (v === 0 && this.table.tryMarkReleased(slot)) this.releaseBody(slot);
  }

  /**
   * Take a hold (IOCount+1, HoldAcquire) on the slot's current session if it
   * is still session (lo, hi) and not released; false (nothing held) otherwise.
   * A lookup that bounces off a released session takes and drops its +1
   * without a record (the combined count+flag design allows it).
   */
  protected tryHold(slot: number, lo: number, hi: number): boolean {
    const t = this.table;
    const v = this.bump(slot, 1);
    if (t.isReleased(slot) || t.idLo(slot) !== lo || t.idHi(slot) !== hi) {
      t.addIoCount(slot, -1);
      return false;
    }
    this.rec.recordAt(
      this.stamp,
      EventKind.IoCount,
      IoCountCause.HoldAcquire,
      v >>> 0,
      lo,
      hi,
      1,
      0,
    );
    return true;
  }

  /**
   * BUG (on purpose, release-without-atomic-flag): decide about release from a
   * plain re-read of IOCount instead of the value the decrement returned, check
   * a plain flag, do the release's work, and only then set the flag. Two
   * threads whose decrements both land before either check (the recv and the
   * send of one session failing together on two workers, as a reset makes
   * them) both pass the check and both release; so does a hold taken from
   * outside (the shutdown sweep) while a release is under way.
   */
  protected plainReleaseCheck(slot: number): void {
    const b = this.base(slot);
    if (this.i32[b + S_IO_COUNT] === 0 && this.i32[b + S_RELEASED] === 0) {
      this.work(RACE_WORK_US); // the release's own work: it logs the session's end
      this.releaseBody(slot);
      this.i32[b + S_RELEASED] = 1;
    }
  }

  /**
   * A blocking log write: the thread waits outside the port (ThreadState
   * Blocked SyncIo), which frees its concurrency slot as it would on Windows,
   * so another worker picks up the session's other completion meanwhile.
   */
  protected work(us: number): void {
    const port = this.port;
    port?.blockBegin(BlockReason.SyncIo, us);
    Atomics.wait(this.sleepCell, 0, 0, us / 1000);
    port?.blockEnd();
  }

  /** A short wait outside the port (ThreadState Blocked with `reason`). */
  protected pause(reason: number, us: number): void {
    const port = this.port;
    port?.blockBegin(reason, us);
    Atomics.wait(this.sleepCell, 0, 0, us / 1000);
    port?.blockEnd();
  }

  /**
   * Start disconnecting: once per session. Closes the socket, which makes every
   * pending I/O complete FALSE/995; the last completion releases the session.
   */
  disconnect(slot: number, reason: number, error: number): boolean {
    const i = this.i32;
    const b = this.base(slot);
    if (Atomics.compareExchange(i, b + S_DISCONNECTED, 0, 1) !== 0) return false;
    this.rec.record(
      EventKind.Disconnect,
      reason,
      0,
      this.table.idLo(slot),
      this.table.idHi(slot),
      error >>> 0,
      0,
    );
    this.closeSocketOnce(slot);
    this.onDisconnected(slot);
    if (this.fault(this.fw.releaseWithIoPending)) {
      // BUG (on purpose): free the session now instead of when IOCount reaches 0.
      Atomics.store(i, b + S_RELEASED, 1);
      this.releaseBody(slot);
    }
    return true;
  }

  /**
   * A completion says the session is gone (failed, or the peer closed):
   * disconnect it, or, when another thread already did, let the app notice
   * on this (worker) thread.
   */
  private disconnectOrNotice(slot: number, reason: number, error: number): void {
    if (!this.disconnect(slot, reason, error)) this.onDisconnected(slot);
  }

  /**
   * Main thread at shutdown: take a hold on the slot's current session (unless
   * it is already released), disconnect it, drop the hold.
   */
  holdAndDisconnect(slot: number, reason: number): boolean {
    const t = this.table;
    const v = this.bump(slot, 1);
    if (t.isReleased(slot)) {
      t.addIoCount(slot, -1);
      return false;
    }
    this.rec.recordAt(
      this.stamp,
      EventKind.IoCount,
      IoCountCause.HoldAcquire,
      v >>> 0,
      t.idLo(slot),
      t.idHi(slot),
      1,
      0,
    );
    this.disconnect(slot, reason, 0);
    this.dec(slot, IoCountCause.HoldRelease, 0);
    return true;
  }

  /**
   * Main thread, every sweep: kick each live session past the idle timeout
   * (no bytes received) or the partial-packet timeout (an incomplete packet
   * at RecvQ's front), with that reason in its Disconnect record. `nowMs` is
   * the coarse clock (T_NOW_MS). Returns how many were kicked.
   */
  sweepTimeouts(nowMs: number): number {
    const i = this.i32;
    const t = this.table;
    const idle = i[T_IDLE_MS]!;
    const partial = i[T_PARTIAL_MS]!;
    if (idle <= 0 && partial <= 0) return 0;
    let kicked = 0;
    const n = t.maxSessions;
    for (let slot = 0; slot < n; slot++) {
      const b = this.base(slot);
      const rx = i[b + S_RX_AT]!;
      if (rx === 0 || i[b + S_DISCONNECTED] !== 0) continue;
      let reason = -1;
      if (idle > 0 && nowMs - rx > idle) reason = DisconnectReason.IdleTimeout;
      else {
        const pa = i[b + S_PARTIAL_AT]!;
        if (partial > 0 && pa !== 0 && nowMs - pa > partial)
          reason = DisconnectReason.PartialTimeout;
      }
      if (reason < 0) continue;
      // The slot may have been reused since we looked: kick only the session we judged.
      const lo = i[b + S_ID_LO]! >>> 0;
      const hi = i[b + S_ID_HI]! >>> 0;
      if (!this.tryHold(slot, lo, hi)) continue;
      if (this.disconnect(slot, reason, 0)) kicked++;
      this.dec(slot, IoCountCause.HoldRelease, 0);
    }
    return kicked;
  }

  private closeSocketOnce(slot: number): void {
    const i = this.i32;
    const b = this.base(slot);
    if (Atomics.compareExchange(i, b + S_SOCK_CLOSED, 0, 1) !== 0) return;
    const socket = i[b + S_SOCKET]!;
    if (this.port) this.port.closesocket(socket);
    else this.host.closesocket(socket);
    this.rec.record(
      EventKind.SocketClosed,
      0,
      0,
      this.table.idLo(slot),
      this.table.idHi(slot),
      socket >>> 0,
      0,
    );
  }

  protected releaseBody(slot: number): void {
    const t = this.table;
    this.rec.record(
      EventKind.SessionReleased,
      0,
      t.ioCount(slot) >>> 0,
      t.idLo(slot),
      t.idHi(slot),
      0,
      0,
    );
    this.closeSocketOnce(slot);
    this.onReleased(slot);
    t.countRelease();
    t.freeSlot(slot);
  }
}
