// A port thread's CompletionPort in the emulated backend. Blocking calls
// (GQCS, accept) sleep with Atomics.wait on this thread's own cells; I/O is
// decided here (the result code a Win32 call would return, from the socket state
// the kernel publishes) and handed to the kernel through the command queue.
//
// How a post's result is decided, so that the packet rule holds exactly and a
// result means what it means on Windows:
// - recv: RESET -> WSAECONNRESET (no packet); bytes buffered or EOF -> 0 (the
//   call "finished at once": the kernel completes it with those bytes, or with
//   0 for EOF, whatever happens to the socket before it runs the command);
//   otherwise ERROR_IO_PENDING.
// - send: RESET -> WSAECONNRESET; 0 only when no other send is pending and the
//   socket's send buffer takes every byte now (this thread reserves them in
//   S_SEND_ROOM, the free room the kernel publishes); otherwise
//   ERROR_IO_PENDING. A send that returned 0 completes TRUE with all its bytes
//   even if the socket is closed or reset before they leave (they were taken);
//   a pending one whose bytes had not all left when the socket was closed
//   completes FALSE/995, and FALSE/64 on a reset.
// - Either way exactly one packet follows a 0 or a 997, and none follows an error.
// - A closed handle or a bad buffer fails here, before anything reaches the kernel.
// IoPosted is followed by IoDetail (v2): the caller's overlapped id, the
// OVERLAPPED the call used.

import { BlockReason, EventKind, Op, ThreadStateValue } from '@iocpscope/protocol';
import {
  ACC_CANCELLED,
  ACC_CLAIMED,
  ACC_DONE,
  ACC_IDLE,
  ACC_PENDING,
  CELL_ABANDONED,
  CELL_WAITING,
  CMD_ACCEPT,
  CMD_CLOSE,
  CMD_RECV,
  CMD_SEND,
  C_DATA_WORDS,
  C_IO_ID,
  C_KEY_HI,
  C_KEY_LO,
  C_LEN0,
  C_LEN1,
  C_OFF0,
  C_OFF1,
  C_OVERLAPPED,
  C_RESULT,
  C_SOCKET,
  C_THREAD,
  C_TYPE,
  H_CMD_SPACE,
  H_CMD_SPACE_WAITERS,
  H_DOORBELL,
  H_RUNNING,
  P_BYTES,
  P_ERROR,
  P_IO_ID,
  P_KEY_HI,
  P_KEY_LO,
  P_OP,
  P_OVERLAPPED,
  P_WORDS,
  SF_EOF,
  SF_RESET,
  SOCK_LISTENING,
  SOCK_OPEN,
  S_ASSOC,
  S_FLAGS,
  S_GS,
  S_KEY_HI,
  S_KEY_LO,
  S_READABLE,
  S_SEND_PENDING,
  S_SEND_ROOM,
  T_ACC_ERROR,
  T_ACC_PEER,
  T_ACC_PEER_LEN,
  T_ACC_PEER_PORT,
  T_ACC_SOCKET,
  T_ACC_STATE,
  T_BLOCKED,
  T_CELL,
  T_COUNTED,
  T_MAILBOX,
  T_PORT_THREAD,
  T_STATE,
  T_WAS_COUNTED,
} from './layout.ts';
import type { SharedPort } from './shared-port.ts';
import {
  ERROR_ABANDONED_WAIT_0,
  ERROR_INVALID_HANDLE,
  ERROR_INVALID_PARAMETER,
  ERROR_IO_PENDING,
  ERROR_NO_SYSTEM_RESOURCES,
  INFINITE,
  PortError,
  WAIT_TIMEOUT,
  WSAECONNRESET,
  WSAEFAULT,
  WSAEINTR,
  WSAEINVAL,
  WSAENOTCONN,
  WSAENOTSOCK,
  WSAETIMEDOUT,
  type AcceptResult,
  type CompletionEntry,
  type CompletionPort,
  type ThreadRecorder,
} from '../types.ts';

/** Bound on one accept sleep, so a port closed mid-call is noticed. */
const ACCEPT_SLICE_MS = 250;

const K_THREAD_STATE = EventKind.ThreadState;
const K_GQCS_ENTER = EventKind.GqcsEnter;
const K_GQCS_RETURN = EventKind.GqcsReturn;
const K_IO_POSTED = EventKind.IoPosted;
const K_IO_DETAIL = EventKind.IoDetail;
const K_PQCS = EventKind.Pqcs;

export class ThreadPort implements CompletionPort {
  lastError = 0;
  lastIoId = 0;
  readonly arena: Uint8Array;
  readonly concurrency: number;
  private readonly i32: Int32Array;
  private readonly u32: Uint32Array;
  private readonly tb: number;
  private readonly cmd = new Int32Array(C_DATA_WORDS);
  private readonly woken: Int32Array;
  private readonly bytes: Uint8Array;
  private detached = false;

  constructor(
    private readonly sp: SharedPort,
    private readonly t: number,
    private readonly rec: ThreadRecorder,
  ) {
    this.arena = sp.arena;
    this.concurrency = sp.concurrency;
    this.i32 = sp.i32;
    this.u32 = sp.u32;
    this.tb = sp.threadBase(t);
    this.woken = new Int32Array(sp.layout.maxThreads);
    this.bytes = new Uint8Array(sp.i32.buffer);
  }

  /** Claim a free thread slot (compare-exchange, so any number of threads may attach at once). */
  static attach(sp: SharedPort, rec: ThreadRecorder): ThreadPort {
    for (let t = 0; t < sp.layout.maxThreads; t++) {
      const tb = sp.threadBase(t);
      if (Atomics.compareExchange(sp.i32, tb + T_STATE, 0, 1) === 0) {
        for (const w of [T_CELL, T_PORT_THREAD, T_COUNTED, T_BLOCKED, T_WAS_COUNTED, T_ACC_STATE]) {
          Atomics.store(sp.i32, tb + w, 0);
        }
        return new ThreadPort(sp, t, rec);
      }
    }
    throw new PortError('ERR_PORT_LIMIT', `more than ${sp.layout.maxThreads} threads attached`);
  }

  // ---- GQCS ----------------------------------------------------------------

  getQueuedCompletionStatus(out: CompletionEntry, timeoutMs: number): boolean {
    this.entries1[0] = out;
    const n = this.dequeue(this.entries1, 1, timeoutMs, true);
    if (n === 0) {
      clearEntry(out, this.lastError);
      return false;
    }
    this.lastError = out.error;
    return out.error === 0;
  }
  private readonly entries1: CompletionEntry[] = [];

  getQueuedCompletionStatusEx(out: CompletionEntry[], max: number, timeoutMs: number): number {
    const m = Math.min(max, out.length);
    if (!(m >= 1)) throw new PortError('ERR_PORT_OPTIONS', 'GQCS-Ex needs at least one entry');
    return this.dequeue(out, m, timeoutMs, false);
  }

  private dequeue(out: CompletionEntry[], max: number, timeoutMs: number, single: boolean): number {
    this.assertUsable();
    const timeout = timeoutMs >>> 0;
    this.rec.record(K_GQCS_ENTER, 0, timeout, 0, 0, max, 0);
    const sp = this.sp;
    const i32 = this.i32;
    const tb = this.tb;
    sp.lock();
    if (sp.closed) {
      sp.unlock();
      return this.fail(ERROR_INVALID_HANDLE);
    }
    i32[tb + T_PORT_THREAD] = 1;
    if (i32[tb + T_COUNTED] === 1) {
      i32[tb + T_COUNTED] = 0;
      i32[H_RUNNING] = i32[H_RUNNING]! - 1;
    }
    if (sp.ring.count > 0 && i32[H_RUNNING]! < sp.concurrency) {
      const n = this.take(out, 0, max);
      i32[tb + T_COUNTED] = 1;
      i32[H_RUNNING] = i32[H_RUNNING]! + 1;
      sp.unlock();
      return this.returned(out, n, single);
    }
    if (timeout === 0) {
      sp.unlock();
      return this.fail(WAIT_TIMEOUT);
    }
    Atomics.store(i32, tb + T_CELL, CELL_WAITING);
    sp.idle.push(this.t);
    sp.unlock();
    this.rec.record(K_THREAD_STATE, ThreadStateValue.Waiting, BlockReason.None, 0, 0, 0, 0);

    const deadline = timeout === INFINITE ? Infinity : performance.now() + timeout;
    let cell: number;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) {
        sp.lock();
        cell = Atomics.load(i32, tb + T_CELL);
        if (cell === CELL_WAITING) sp.idle.remove(this.t);
        sp.unlock();
        break;
      }
      Atomics.wait(i32, tb + T_CELL, CELL_WAITING, left);
      cell = Atomics.load(i32, tb + T_CELL);
      if (cell !== CELL_WAITING) break;
    }
    this.rec.record(K_THREAD_STATE, ThreadStateValue.Running, BlockReason.None, 0, 0, 0, 0);
    if (cell === CELL_WAITING) return this.fail(WAIT_TIMEOUT);
    if (cell === CELL_ABANDONED) return this.fail(ERROR_ABANDONED_WAIT_0);
    // CELL_HANDED: the waker dequeued our first packet and counted us as running.
    fillEntry(out[0]!, this.u32, tb + T_MAILBOX);
    let n = 1;
    if (max > 1) {
      sp.lock();
      n += this.take(out, 1, max - 1);
      sp.unlock();
    }
    return this.returned(out, n, single);
  }

  /** Under the lock: move up to `max` queued packets into out[from..]. */
  private take(out: CompletionEntry[], from: number, max: number): number {
    const scratch = this.scratch;
    let n = 0;
    while (n < max && this.sp.ring.shiftInto(scratch, 0)) fillEntry(out[from + n++]!, scratch, 0);
    return n;
  }
  private readonly scratch = new Uint32Array(P_WORDS);

  private returned(out: CompletionEntry[], n: number, single: boolean): number {
    for (let k = 0; k < n; k++) {
      const e = out[k]!;
      const ok = e.error === 0 ? 0x10 : 0;
      const hasOv = e.overlapped !== 0 ? 0x20 : 0;
      this.rec.record(K_GQCS_RETURN, e.op | ok | hasOv, e.bytes, e.keyLo, e.keyHi, e.error, e.ioId);
    }
    this.lastError = single ? out[0]!.error : 0;
    return n;
  }

  private fail(error: number): number {
    this.lastError = error;
    this.rec.record(K_GQCS_RETURN, 0, 0, 0, 0, error, 0);
    return 0;
  }

  // ---- PQCS ----------------------------------------------------------------

  postQueuedCompletionStatus(
    bytes: number,
    keyLo: number,
    keyHi: number,
    overlapped: number,
  ): boolean {
    this.assertUsable();
    const r = postPacket(this.sp, this.rec, this.woken, bytes, keyLo, keyHi, overlapped);
    if (r < 0) {
      this.lastError = -r;
      return false;
    }
    this.lastIoId = r;
    return true;
  }

  allocIoId(): number {
    return this.sp.nextIoId();
  }

  // ---- socket I/O -----------------------------------------------------------

  wsaRecv(
    socket: number,
    overlapped: number,
    off0: number,
    len0: number,
    off1: number,
    len1: number,
    ioId = 0,
  ): number {
    return this.post(CMD_RECV, socket, overlapped, off0, len0, off1, len1, ioId);
  }

  wsaSend(
    socket: number,
    overlapped: number,
    off0: number,
    len0: number,
    off1: number,
    len1: number,
    ioId = 0,
  ): number {
    return this.post(CMD_SEND, socket, overlapped, off0, len0, off1, len1, ioId);
  }

  private post(
    type: number,
    socket: number,
    overlapped: number,
    off0: number,
    len0: number,
    off1: number,
    len1: number,
    ioId: number,
  ): number {
    this.assertUsable();
    const sp = this.sp;
    const i32 = this.i32;
    const id = ioId !== 0 ? ioId >>> 0 : sp.nextIoId();
    this.lastIoId = id;
    const op = type === CMD_RECV ? Op.Recv : Op.Send;
    const bufCount = len1 > 0 ? 2 : 1;
    const requested = len0 + len1;
    let keyLo = 0;
    let keyHi = 0;
    let result: number;
    const slot = sp.slotOf(socket);
    if (slot < 0) {
      result = WSAENOTSOCK;
    } else {
      const sb = sp.socketBase(slot);
      const state = Atomics.load(i32, sb + S_GS) & 0xff;
      const assoc = Atomics.load(i32, sb + S_ASSOC);
      if (assoc === 1) {
        keyLo = i32[sb + S_KEY_LO]! >>> 0;
        keyHi = i32[sb + S_KEY_HI]! >>> 0;
      }
      let flags: number;
      if (state !== SOCK_OPEN) {
        result = state === SOCK_LISTENING ? WSAENOTCONN : WSAENOTSOCK;
      } else if (!this.validBuffers(off0, len0, off1, len1)) {
        result = WSAEFAULT;
      } else if (assoc !== 1) {
        // Win32 would complete without a packet; the emulation refuses instead.
        result = WSAEINVAL;
      } else if (((flags = Atomics.load(i32, sb + S_FLAGS)) & SF_RESET) !== 0) {
        result = WSAECONNRESET;
      } else if (type === CMD_RECV) {
        const ready = (flags & SF_EOF) !== 0 || Atomics.load(i32, sb + S_READABLE) > 0;
        result = ready ? 0 : ERROR_IO_PENDING;
      } else {
        // Immediate only when no send is pending and the socket buffer takes it all now.
        const first = Atomics.add(i32, sb + S_SEND_PENDING, 1) === 0;
        result = first && reserveRoom(i32, sb + S_SEND_ROOM, requested) ? 0 : ERROR_IO_PENDING;
      }
    }
    this.rec.record(K_IO_POSTED, op | (bufCount << 4), requested, keyLo, keyHi, result, id);
    this.rec.record(K_IO_DETAIL, op, overlapped >>> 0, keyLo, keyHi, 0, id);
    if (result !== 0 && result !== ERROR_IO_PENDING) {
      this.lastError = result;
      return result;
    }
    const c = this.cmd;
    c[C_TYPE - 1] = type;
    c[C_THREAD - 1] = this.t;
    c[C_SOCKET - 1] = socket;
    c[C_OVERLAPPED - 1] = overlapped;
    c[C_OFF0 - 1] = off0;
    c[C_LEN0 - 1] = len0;
    c[C_OFF1 - 1] = len1 > 0 ? off1 : 0;
    c[C_LEN1 - 1] = len1 > 0 ? len1 : 0;
    c[C_IO_ID - 1] = id;
    c[C_RESULT - 1] = result;
    c[C_KEY_LO - 1] = keyLo;
    c[C_KEY_HI - 1] = keyHi;
    this.enqueue();
    if (result !== 0) this.lastError = result;
    return result;
  }

  private validBuffers(off0: number, len0: number, off1: number, len1: number): boolean {
    const size = this.arena.length;
    if (!isU32(off0) || !isU32(len0) || off0 + len0 > size) return false;
    if (len1 === 0) return true;
    return isU32(off1) && isU32(len1) && off1 + len1 <= size;
  }

  closesocket(socket: number): number {
    this.assertUsable();
    if (!this.sp.markClosed(socket)) return this.err(WSAENOTSOCK);
    this.cmd.fill(0);
    this.cmd[C_TYPE - 1] = CMD_CLOSE;
    this.cmd[C_THREAD - 1] = this.t;
    this.cmd[C_SOCKET - 1] = socket;
    this.enqueue();
    return 0;
  }

  associate(socket: number, keyLo: number, keyHi: number): boolean {
    this.assertUsable();
    const sp = this.sp;
    if (sp.stateOf(socket) !== SOCK_OPEN) {
      this.lastError = ERROR_INVALID_HANDLE;
      return false;
    }
    const sb = sp.socketBase(sp.slotOf(socket));
    if (Atomics.compareExchange(this.i32, sb + S_ASSOC, 0, 2) !== 0) {
      this.lastError = ERROR_INVALID_PARAMETER;
      return false;
    }
    this.i32[sb + S_KEY_LO] = keyLo | 0;
    this.i32[sb + S_KEY_HI] = keyHi | 0;
    Atomics.store(this.i32, sb + S_ASSOC, 1);
    return true;
  }

  accept(listenSocket: number, timeoutMs: number = INFINITE): AcceptResult | null {
    this.assertUsable();
    const sp = this.sp;
    const i32 = this.i32;
    const tb = this.tb;
    if (sp.stateOf(listenSocket) !== SOCK_LISTENING) {
      this.lastError = WSAENOTSOCK;
      return null;
    }
    this.blockBegin(BlockReason.Accept, 0);
    Atomics.store(i32, tb + T_ACC_STATE, ACC_PENDING);
    this.cmd.fill(0);
    this.cmd[C_TYPE - 1] = CMD_ACCEPT;
    this.cmd[C_THREAD - 1] = this.t;
    this.cmd[C_SOCKET - 1] = listenSocket;
    this.enqueue();
    const timeout = timeoutMs >>> 0;
    const deadline = timeout === INFINITE ? Infinity : performance.now() + timeout;
    let gaveUp = 0;
    for (;;) {
      const s = Atomics.load(i32, tb + T_ACC_STATE);
      if (s === ACC_DONE) break;
      if (s === ACC_CLAIMED) {
        Atomics.wait(i32, tb + T_ACC_STATE, ACC_CLAIMED, ACCEPT_SLICE_MS);
        continue;
      }
      const left = deadline - performance.now();
      // The kernel answers a closed listener itself; the port closing races with
      // the command, so the waiter also looks for it between bounded slices.
      const interrupted = sp.closed || sp.stateOf(listenSocket) !== SOCK_LISTENING;
      if (left <= 0 || interrupted) {
        if (
          Atomics.compareExchange(i32, tb + T_ACC_STATE, ACC_PENDING, ACC_CANCELLED) === ACC_PENDING
        ) {
          gaveUp = left <= 0 ? WSAETIMEDOUT : WSAEINTR;
          break;
        }
        continue;
      }
      Atomics.wait(i32, tb + T_ACC_STATE, ACC_PENDING, Math.min(left, ACCEPT_SLICE_MS));
    }
    let result: AcceptResult | null = null;
    if (gaveUp !== 0) {
      this.lastError = gaveUp;
    } else {
      const error = Atomics.load(i32, tb + T_ACC_ERROR);
      if (error !== 0) {
        this.lastError = error;
      } else {
        const len = i32[tb + T_ACC_PEER_LEN]!;
        const at = (tb + T_ACC_PEER) * 4;
        let peer = '';
        for (let k = 0; k < len; k++) peer += String.fromCharCode(this.bytes[at + k]!);
        result = {
          socket: i32[tb + T_ACC_SOCKET]! >>> 0,
          peerAddress: peer,
          peerPort: i32[tb + T_ACC_PEER_PORT]!,
        };
      }
    }
    Atomics.store(i32, tb + T_ACC_STATE, ACC_IDLE);
    this.blockEnd();
    return result;
  }

  // ---- instrumented blocking -----------------------------------------------

  blockBegin(reason: number, detail: number): void {
    this.assertUsable();
    const i32 = this.i32;
    const tb = this.tb;
    if (i32[tb + T_BLOCKED] === 1)
      throw new PortError('ERR_PORT_THREAD', 'blockBegin while blocked');
    i32[tb + T_BLOCKED] = 1;
    this.rec.record(K_THREAD_STATE, ThreadStateValue.Blocked, reason, 0, 0, detail, 0);
    const sp = this.sp;
    sp.lock();
    const counted = i32[tb + T_COUNTED]!;
    i32[tb + T_WAS_COUNTED] = counted;
    let n = 0;
    if (counted === 1) {
      i32[tb + T_COUNTED] = 0;
      i32[H_RUNNING] = i32[H_RUNNING]! - 1;
      n = sp.releaseWaiters(this.woken, 0);
    }
    sp.unlock();
    sp.notifyAll(this.woken, n);
  }

  blockEnd(): void {
    this.assertUsable();
    const i32 = this.i32;
    const tb = this.tb;
    if (i32[tb + T_BLOCKED] !== 1)
      throw new PortError('ERR_PORT_THREAD', 'blockEnd without blockBegin');
    if (i32[tb + T_WAS_COUNTED] === 1) {
      // Back to running even above the concurrency value: NT lets it run, and no
      // waiter is released until H_RUNNING drops below the value again.
      const sp = this.sp;
      sp.lock();
      i32[tb + T_COUNTED] = 1;
      i32[H_RUNNING] = i32[H_RUNNING]! + 1;
      sp.unlock();
    }
    i32[tb + T_BLOCKED] = 0;
    this.rec.record(K_THREAD_STATE, ThreadStateValue.Running, BlockReason.None, 0, 0, 0, 0);
  }

  detach(): void {
    if (this.detached) return;
    this.detached = true;
    const sp = this.sp;
    const i32 = this.i32;
    const tb = this.tb;
    sp.lock();
    let n = 0;
    if (i32[tb + T_COUNTED] === 1) {
      i32[tb + T_COUNTED] = 0;
      i32[H_RUNNING] = i32[H_RUNNING]! - 1;
      n = sp.releaseWaiters(this.woken, 0);
    }
    sp.idle.remove(this.t);
    Atomics.store(i32, tb + T_STATE, 0);
    sp.unlock();
    sp.notifyAll(this.woken, n);
  }

  // ---- helpers ----------------------------------------------------------------

  private assertUsable(): void {
    if (this.detached)
      throw new PortError('ERR_PORT_THREAD', 'this thread has detached from the port');
  }

  private err(code: number): number {
    this.lastError = code;
    return code;
  }

  /**
   * Hand this.cmd to the kernel, waking it if it sleeps. A full ring (the kernel
   * is far behind) waits on H_CMD_SPACE, bounded by the port closing.
   */
  private enqueue(): void {
    const sp = this.sp;
    const i32 = this.i32;
    while (!sp.commands.enqueue(this.cmd)) {
      if (sp.closed) return;
      const seen = Atomics.load(i32, H_CMD_SPACE);
      Atomics.add(i32, H_CMD_SPACE_WAITERS, 1);
      this.ringDoorbell();
      Atomics.wait(i32, H_CMD_SPACE, seen, 20);
      Atomics.sub(i32, H_CMD_SPACE_WAITERS, 1);
    }
    this.ringDoorbell();
  }

  private ringDoorbell(): void {
    const i32 = this.i32;
    if (
      Atomics.load(i32, H_DOORBELL) === 1 &&
      Atomics.compareExchange(i32, H_DOORBELL, 1, 0) === 1
    ) {
      Atomics.notify(i32, H_DOORBELL, 1);
    }
  }
}

/**
 * PQCS from any thread (port thread or kernel): records Pqcs, queues the packet
 * and releases a waiter if the rules allow. Returns the ioId, or -error.
 */
export function postPacket(
  sp: SharedPort,
  rec: ThreadRecorder,
  woken: Int32Array,
  bytes: number,
  keyLo: number,
  keyHi: number,
  overlapped: number,
): number {
  sp.lock();
  if (sp.closed) {
    sp.unlock();
    return -ERROR_INVALID_HANDLE;
  }
  if (sp.ring.count === sp.ring.capacity) {
    sp.unlock();
    return -ERROR_NO_SYSTEM_RESOURCES;
  }
  const ioId = sp.nextIoId();
  const hasOv = overlapped !== 0 ? 0x20 : 0;
  rec.record(K_PQCS, Op.Post | hasOv, bytes >>> 0, keyLo >>> 0, keyHi >>> 0, 0, ioId);
  sp.ring.push(bytes >>> 0, keyLo >>> 0, keyHi >>> 0, overlapped >>> 0, 0, Op.Post, ioId);
  const n = sp.releaseWaiters(woken, 0);
  sp.unlock();
  sp.notifyAll(woken, n);
  return ioId;
}

function fillEntry(e: CompletionEntry, src: Uint32Array, at: number): void {
  e.bytes = src[at + P_BYTES]!;
  e.keyLo = src[at + P_KEY_LO]!;
  e.keyHi = src[at + P_KEY_HI]!;
  e.overlapped = src[at + P_OVERLAPPED]!;
  e.error = src[at + P_ERROR]!;
  e.op = src[at + P_OP]! as CompletionEntry['op'];
  e.ioId = src[at + P_IO_ID]!;
}

function clearEntry(e: CompletionEntry, error: number): void {
  e.bytes = 0;
  e.keyLo = 0;
  e.keyHi = 0;
  e.overlapped = 0;
  e.error = error;
  e.op = Op.None;
  e.ioId = 0;
}

/** Take `n` bytes of a socket's free send-buffer room, all or nothing. */
function reserveRoom(i32: Int32Array, at: number, n: number): boolean {
  let room = Atomics.load(i32, at);
  while (room >= n) {
    const seen = Atomics.compareExchange(i32, at, room, room - n);
    if (seen === room) return true;
    room = seen;
  }
  return false;
}

const isU32 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
