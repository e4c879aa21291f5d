// The reference echo server (iocp-model.md §2): the shared session layer
// (../session/core.ts: accept, RecvPost, completions, IOCount, disconnect,
// release, timeouts) plus what an echo server does with its packets: every
// complete packet is copied, unchanged, from RecvQ into SendQ, and SendQ (a
// ring buffer) is sent with one WSASend at a time.
//
// Invariants (correct mode), on top of the session layer's:
// - At most one send is outstanding per session (the SEND_FLAG exchange);
//   after a disconnect starts, no new send is made.
// - SendQ is a ring: a send covers its used space as WSABUF[0] from the front
//   to the physical end and WSABUF[1] from the base, followed by an IoRing
//   record; a completion moves the front by the bytes it reported.
// - An echo that does not fit in SendQ (a client that sends faster than it
//   reads) kicks the session (SendOverflow).
// - Every fault switch of the send path (two-sends-in-flight,
//   lock-across-send, short-send-ignored, send-overflow-ignored) breaks one of
//   these, for real.

import { DisconnectReason, IoCountCause, Op } from '@iocpscope/protocol';
import { ERROR_IO_PENDING, type CompletionPort } from '../port/index.ts';
import type { TraceRecorder } from '../trace/recorder.ts';
import { SessionCore, ovSend, type HostIo } from '../session/core.ts';
import type { FaultWords } from '../session/fault-words.ts';
import { SharedLock } from '../session/lock.ts';
import { HEADER_BYTES, MAX_PAYLOAD_BYTES, isValidPacketType } from '../session/packet.ts';
import { copyBetween, usedBufs } from '../session/ring-buffer.ts';
import {
  S_DISCONNECTED,
  S_RECV_R,
  S_RECV_W,
  S_SEND_FLAG,
  S_SEND_LEN,
  S_SEND_R,
  S_SEND_W,
  S_SOCKET,
  T_SEND_LOCK,
  type SessionTable,
} from '../session/session-table.ts';

export { RACE_WORK_US, isSendOverlapped, ovRecv, ovSend, type HostIo } from '../session/core.ts';

export const SEND_LOCK_ID = 1;

export class EchoCore extends SessionCore {
  private readonly sendCap: number;
  private readonly sendLock: SharedLock | null;

  constructor(
    table: SessionTable,
    arena: Uint8Array,
    rec: TraceRecorder,
    /** Null on the main thread: it may only disconnect and release. */
    port: CompletionPort | null,
    host: HostIo,
    /** The fault switches' words in the table (faults.ts FAULT_WORDS). */
    fw: FaultWords,
  ) {
    super(table, arena, rec, port, host, fw);
    this.sendCap = table.sendBytes;
    this.sendLock = port
      ? new SharedLock(this.i32, T_SEND_LOCK, SEND_LOCK_ID, 'send-lock', rec, port)
      : null;
  }

  protected sendRingBytes(): number {
    return this.sendCap;
  }

  /** Cut the complete packets and echo them: copy into SendQ, then SendPost. */
  protected onPackets(slot: number): boolean {
    if (!this.cutPackets(slot)) return false;
    this.sendPost(slot);
    return true;
  }

  protected onSend(slot: number, bytes: number, ioId: number): void {
    const b = this.base(slot);
    const i = this.i32;
    const twoSends = this.fault(this.fw.twoSendsInFlight);
    const shortIgnored = this.fault(this.fw.shortSendIgnored);
    if (!twoSends && !shortIgnored && bytes !== Atomics.load(i, b + S_SEND_LEN)) {
      // An overlapped send completes with all its bytes or fails: anything else is a broken kernel.
      this.disconnect(slot, DisconnectReason.IoError, 0);
    } else {
      // Only the thread handling the one send in flight moves SendQ's read end.
      // BUG (on purpose, short-send-ignored): by what it counted, not by what was sent.
      const moved = shortIgnored ? Atomics.load(i, b + S_SEND_LEN) : bytes;
      const sR = (Atomics.load(i, b + S_SEND_R) + moved) | 0;
      Atomics.store(i, b + S_SEND_R, sR);
      if (!twoSends) Atomics.store(i, b + S_SEND_FLAG, 0);
      if (((Atomics.load(i, b + S_SEND_W) - sR) | 0) > 0) this.sendPost(slot);
    }
    this.dec(slot, IoCountCause.Completion, ioId);
  }

  /**
   * Cut the complete packets out of RecvQ and copy them, unchanged, to SendQ.
   * Returns false when the session was kicked (bad length, bad type, SendQ full).
   */
  private cutPackets(slot: number): boolean {
    const i = this.i32;
    const b = this.base(slot);
    const a = this.arena;
    const rBase = this.table.recvBase(slot);
    const rCap = this.recvCap;
    const rMask = rCap - 1;
    const start = i[b + S_RECV_R]!;
    const w = i[b + S_RECV_W]!;
    let r = start;
    let used = (w - r) | 0;
    while (used >= HEADER_BYTES) {
      const len = a[rBase + (r & rMask)]! | (a[rBase + ((r + 1) & rMask)]! << 8);
      const type = a[rBase + ((r + 2) & rMask)]! | (a[rBase + ((r + 3) & rMask)]! << 8);
      if (len > MAX_PAYLOAD_BYTES) {
        this.disconnect(slot, DisconnectReason.BadLength, 0);
        return false;
      }
      if (!isValidPacketType(type)) {
        this.disconnect(slot, DisconnectReason.BadType, 0);
        return false;
      }
      const n = HEADER_BYTES + len;
      if (used < n) break;
      r = (r + n) | 0;
      used -= n;
    }
    const n = (r - start) | 0;
    if (n === 0) return true;
    const sW = Atomics.load(i, b + S_SEND_W);
    const sR = Atomics.load(i, b + S_SEND_R);
    if (n > this.sendCap - ((sW - sR) | 0) && !this.fault(this.fw.sendOverflowIgnored)) {
      this.disconnect(slot, DisconnectReason.SendOverflow, 0);
      return false;
    }
    // (send-overflow-ignored, on purpose: the echo is copied in anyway, over bytes not yet sent.)
    copyBetween(a, rBase, rCap, start, this.table.sendBase(slot), this.sendCap, sW, n);
    i[b + S_RECV_R] = r;
    Atomics.store(i, b + S_SEND_W, (sW + n) | 0);
    return true;
  }

  // ---- posts -------------------------------------------------------------------

  sendPost(slot: number): void {
    const i = this.i32;
    const b = this.base(slot);
    const port = this.port!;
    for (;;) {
      if (Atomics.load(i, b + S_DISCONNECTED) !== 0) return;
      const twoSends = this.fault(this.fw.twoSendsInFlight);
      if (!twoSends && Atomics.exchange(i, b + S_SEND_FLAG, 1) === 1) return;
      const sR = Atomics.load(i, b + S_SEND_R);
      const n = usedBufs(
        this.bufs,
        this.table.sendBase(slot),
        this.sendCap,
        sR,
        Atomics.load(i, b + S_SEND_W),
        this.sendCap,
      );
      if (n > 0) {
        const lock = this.fault(this.fw.lockAcrossSend) ? this.sendLock : null;
        const lo = this.table.idLo(slot);
        const hi = this.table.idHi(slot);
        const used = (Atomics.load(i, b + S_SEND_W) - sR) | 0;
        if (n > 1 && this.fault(this.fw.shortSendIgnored)) {
          // BUG (on purpose): the length posted is one byte short of the count.
          if (this.bufs.len1 > 0) this.bufs.len1--;
          else this.bufs.len0--;
        }
        lock?.acquire(lo, hi);
        Atomics.store(i, b + S_SEND_LEN, n);
        const ioId = port.allocIoId();
        this.inc(slot, IoCountCause.SendPost, ioId);
        const bufs = this.bufs;
        const ret = port.wsaSend(
          i[b + S_SOCKET]!,
          ovSend(slot),
          bufs.off0,
          bufs.len0,
          bufs.off1,
          bufs.len1,
          ioId,
        );
        lock?.release(lo, hi);
        this.ringRecord(Op.Send, this.table.sendBase(slot), used, ioId);
        if (ret !== 0 && ret !== ERROR_IO_PENDING) {
          Atomics.store(i, b + S_SEND_FLAG, 0);
          this.disconnect(slot, DisconnectReason.IoError, ret);
          this.dec(slot, IoCountCause.PostFailed, ioId);
        }
        return;
      }
      if (twoSends) return;
      Atomics.store(i, b + S_SEND_FLAG, 0);
      // Lost wake-up guard: data queued after we looked but while the flag was still ours.
      if (((Atomics.load(i, b + S_SEND_W) - sR) | 0) === 0) return;
    }
  }
}
