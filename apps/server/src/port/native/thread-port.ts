// A port thread's CompletionPort in the native backend: each call is one or two
// addon calls that run the real Win32 function on this OS thread, bracketed by
// the events the contract asks for.
//
// Instrumentation is recorded here, in JS, around the addon calls, through the
// thread's own recorder (the trace rings are single-producer and their state —
// head, pending loss — lives in the JS RingRecorder, so C cannot append to
// them safely; the recorder's clock is performance.now(), which Node on Windows
// reads from QueryPerformanceCounter, so the timestamps are QPC-based all the
// same). Consequences, all documented in the contract's terms:
// - GQCS: a zero-timeout call first; only if it finds nothing does the thread
//   record ThreadState Waiting and block in the kernel with the real timeout,
//   then record Running. So "took a packet without sleeping" shows exactly as
//   in the emulated trace.
// - PacketQueued: the Windows kernel queues packets out of sight, so the
//   dequeuing thread records PacketQueued for each I/O packet immediately before
//   its GqcsReturn (its time is an upper bound of the real queue time). PQCS
//   packets need none (the Pqcs record is their queueing, as in the emulation).
// - IoPosted is recorded after WSARecv/WSASend returns, with its real result,
//   then IoDetail (v2) with the caller's overlapped id; the completion may be
//   dequeued on another thread before that (the race iocp-model.md §1
//   describes), which the trace shows as it happened.
// - blockBegin/blockEnd only record: the NT scheduler sees the real wait.
// - detach() cannot take the OS thread off the port (Win32 has no call for
//   that): the kernel drops it from the concurrency count when it exits or
//   waits on another completion port.

import { BlockReason, EventKind, Op, ThreadStateValue } from '@iocpscope/protocol';
import {
  E_BYTES,
  E_ERROR,
  E_IO_ID,
  E_KEY_HI,
  E_KEY_LO,
  E_OP,
  E_OVERLAPPED,
  ENTRY_BASE,
  ENTRY_WORDS,
  MAX_EX_ENTRIES,
  S_KEY_HI,
  S_KEY_LO,
  S_LAST_ERROR,
  loadAddon,
  type NativeAddon,
} from './addon.ts';
import {
  CTL_ATTACHED,
  CTL_CLOSED,
  asNativeDescriptor,
  isU32,
  nextIoId,
  type NativeDescriptor,
} from './shared.ts';
import {
  ERROR_INVALID_HANDLE,
  INFINITE,
  PortError,
  WAIT_TIMEOUT,
  WSAEFAULT,
  type AcceptResult,
  type CompletionEntry,
  type CompletionPort,
  type PortDescriptor,
  type ThreadRecorder,
} from '../types.ts';

const K_THREAD_STATE = EventKind.ThreadState;
const K_GQCS_ENTER = EventKind.GqcsEnter;
const K_GQCS_RETURN = EventKind.GqcsReturn;
const K_PACKET_QUEUED = EventKind.PacketQueued;
const K_IO_POSTED = EventKind.IoPosted;
const K_IO_DETAIL = EventKind.IoDetail;

export class NativeThreadPort implements CompletionPort {
  lastError = 0;
  lastIoId = 0;
  readonly arena: Uint8Array;
  readonly concurrency: number;
  private readonly id: number;
  private readonly ctl: Uint32Array;
  private readonly scratch = new Uint32Array(ENTRY_BASE + ENTRY_WORDS * MAX_EX_ENTRIES);
  private detached = false;
  private blocked = false;

  private constructor(
    private readonly addon: NativeAddon,
    d: NativeDescriptor,
    private readonly rec: ThreadRecorder,
  ) {
    this.id = d.portId;
    this.arena = new Uint8Array(d.arena);
    this.ctl = new Uint32Array(d.ctl);
    this.concurrency = d.concurrency;
  }

  static attach(descriptor: PortDescriptor, rec: ThreadRecorder): NativeThreadPort {
    const d = asNativeDescriptor(descriptor);
    const addon = loadAddon(d.addonPath);
    const ctl = new Uint32Array(d.ctl);
    if (Atomics.add(ctl, CTL_ATTACHED, 1) >= d.maxThreads) {
      Atomics.sub(ctl, CTL_ATTACHED, 1);
      throw new PortError('ERR_PORT_LIMIT', `more than ${d.maxThreads} threads attached`);
    }
    return new NativeThreadPort(addon, d, rec);
  }

  // ---- GQCS ----------------------------------------------------------------

  getQueuedCompletionStatus(out: CompletionEntry, timeoutMs: number): boolean {
    this.assertUsable();
    const timeout = timeoutMs >>> 0;
    this.rec.record(K_GQCS_ENTER, 0, timeout, 0, 0, 1, 0);
    const a = this.addon;
    const s = this.scratch;
    let n = a.gqcs(this.id, s, 0);
    if (n === 0 && s[S_LAST_ERROR] === WAIT_TIMEOUT && timeout !== 0) {
      this.rec.record(K_THREAD_STATE, ThreadStateValue.Waiting, BlockReason.None, 0, 0, 0, 0);
      n = a.gqcs(this.id, s, timeout);
      this.rec.record(K_THREAD_STATE, ThreadStateValue.Running, BlockReason.None, 0, 0, 0, 0);
    }
    if (n === 0) {
      clearEntry(out, this.fail(s[S_LAST_ERROR]!));
      return false;
    }
    this.take(out, 0);
    this.lastError = out.error;
    return out.error === 0;
  }

  getQueuedCompletionStatusEx(out: CompletionEntry[], max: number, timeoutMs: number): number {
    this.assertUsable();
    const m = Math.min(max, out.length, MAX_EX_ENTRIES);
    if (!(m >= 1)) throw new PortError('ERR_PORT_OPTIONS', 'GQCS-Ex needs at least one entry');
    const timeout = timeoutMs >>> 0;
    this.rec.record(K_GQCS_ENTER, 0, timeout, 0, 0, m, 0);
    const a = this.addon;
    const s = this.scratch;
    let n = a.gqcsEx(this.id, s, m, 0);
    if (n === 0 && s[S_LAST_ERROR] === WAIT_TIMEOUT && timeout !== 0) {
      this.rec.record(K_THREAD_STATE, ThreadStateValue.Waiting, BlockReason.None, 0, 0, 0, 0);
      n = a.gqcsEx(this.id, s, m, timeout);
      this.rec.record(K_THREAD_STATE, ThreadStateValue.Running, BlockReason.None, 0, 0, 0, 0);
    }
    if (n === 0) {
      this.fail(s[S_LAST_ERROR]!);
      return 0;
    }
    for (let k = 0; k < n; k++) this.take(out[k]!, k);
    this.lastError = 0;
    return n;
  }

  /** Copy scratch entry k into `e` and record its PacketQueued (I/O only) and GqcsReturn. */
  private take(e: CompletionEntry, k: number): void {
    const s = this.scratch;
    const o = ENTRY_BASE + k * ENTRY_WORDS;
    e.bytes = s[o + E_BYTES]!;
    e.keyLo = s[o + E_KEY_LO]!;
    e.keyHi = s[o + E_KEY_HI]!;
    e.overlapped = s[o + E_OVERLAPPED]!;
    e.error = s[o + E_ERROR]!;
    e.op = s[o + E_OP]! as CompletionEntry['op'];
    e.ioId = s[o + E_IO_ID]!;
    if (e.op !== Op.Post) {
      this.rec.record(K_PACKET_QUEUED, e.op, e.bytes, e.keyLo, e.keyHi, e.error, e.ioId);
    }
    const ok = e.error === 0 ? 0x10 : 0;
    const hasOv = e.overlapped !== 0 ? 0x20 : 0;
    this.rec.record(K_GQCS_RETURN, e.op | ok | hasOv, e.bytes, e.keyLo, e.keyHi, e.error, e.ioId);
  }

  /** Nothing dequeued: record it, set lastError, return it. */
  private fail(error: number): number {
    this.lastError = error;
    this.rec.record(K_GQCS_RETURN, 0, 0, 0, 0, error, 0);
    return error;
  }

  // ---- PQCS ----------------------------------------------------------------

  postQueuedCompletionStatus(
    bytes: number,
    keyLo: number,
    keyHi: number,
    overlapped: number,
  ): boolean {
    this.assertUsable();
    const r = postPacket(this.addon, this.id, this.ctl, this.rec, bytes, keyLo, keyHi, overlapped);
    if (r < 0) {
      this.lastError = -r;
      return false;
    }
    this.lastIoId = r;
    return true;
  }

  allocIoId(): number {
    return nextIoId(this.ctl);
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
    return this.issue(Op.Recv, socket, overlapped, off0, len0, off1, len1, ioId);
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
    return this.issue(Op.Send, socket, overlapped, off0, len0, off1, len1, ioId);
  }

  private issue(
    op: typeof Op.Recv | typeof Op.Send,
    socket: number,
    overlapped: number,
    off0: number,
    len0: number,
    off1: number,
    len1: number,
    ioId: number,
  ): number {
    this.assertUsable();
    const id = ioId !== 0 ? ioId >>> 0 : nextIoId(this.ctl);
    this.lastIoId = id;
    const bufCount = len1 > 0 ? 2 : 1;
    const s = this.scratch;
    let result: number;
    if (!isU32(off0) || !isU32(len0) || (len1 > 0 && (!isU32(off1) || !isU32(len1)))) {
      // The addon would reject a non-u32 outright; the contract says WSAEFAULT.
      s[S_KEY_LO] = 0;
      s[S_KEY_HI] = 0;
      result = WSAEFAULT;
    } else {
      const l1 = len1 > 0 ? len1 : 0;
      const o1 = l1 > 0 ? off1 : 0;
      result =
        op === Op.Recv
          ? this.addon.wsaRecv(this.id, socket >>> 0, overlapped >>> 0, off0, len0, o1, l1, id, s)
          : this.addon.wsaSend(this.id, socket >>> 0, overlapped >>> 0, off0, len0, o1, l1, id, s);
    }
    const requested = len0 + (len1 > 0 ? len1 : 0);
    this.rec.record(
      K_IO_POSTED,
      op | (bufCount << 4),
      requested >>> 0,
      s[S_KEY_LO]!,
      s[S_KEY_HI]!,
      result,
      id,
    );
    // IoDetail (v2): the caller's OVERLAPPED id. The addon gives each call its own
    // Win32 OVERLAPPED from a pool; the one the server names is what can be reused.
    this.rec.record(K_IO_DETAIL, op, overlapped >>> 0, s[S_KEY_LO]!, s[S_KEY_HI]!, 0, id);
    if (result !== 0) this.lastError = result;
    return result;
  }

  closesocket(socket: number): number {
    this.assertUsable();
    const r = this.addon.closesocket(this.id, socket >>> 0);
    if (r !== 0) this.lastError = r;
    return r;
  }

  associate(socket: number, keyLo: number, keyHi: number): boolean {
    this.assertUsable();
    const r = this.addon.associate(this.id, socket >>> 0, keyLo >>> 0, keyHi >>> 0);
    if (r !== 0) {
      this.lastError = r;
      return false;
    }
    return true;
  }

  accept(listenSocket: number, timeoutMs: number = INFINITE): AcceptResult | null {
    this.blockBegin(BlockReason.Accept, 0);
    let r: AcceptResult | null;
    try {
      r = this.addon.accept(this.id, listenSocket >>> 0, timeoutMs >>> 0, this.scratch);
    } finally {
      this.blockEnd();
    }
    if (r === null) this.lastError = this.scratch[S_LAST_ERROR]!;
    return r;
  }

  // ---- instrumented blocking -----------------------------------------------

  blockBegin(reason: number, detail: number): void {
    this.assertUsable();
    if (this.blocked) throw new PortError('ERR_PORT_THREAD', 'blockBegin while blocked');
    this.blocked = true;
    this.rec.record(K_THREAD_STATE, ThreadStateValue.Blocked, reason, 0, 0, detail, 0);
  }

  blockEnd(): void {
    this.assertUsable();
    if (!this.blocked) throw new PortError('ERR_PORT_THREAD', 'blockEnd without blockBegin');
    this.blocked = false;
    this.rec.record(K_THREAD_STATE, ThreadStateValue.Running, BlockReason.None, 0, 0, 0, 0);
  }

  detach(): void {
    if (this.detached) return;
    this.detached = true;
    Atomics.sub(this.ctl, CTL_ATTACHED, 1);
  }

  private assertUsable(): void {
    if (this.detached) {
      throw new PortError('ERR_PORT_THREAD', 'this thread has detached from the port');
    }
  }
}

/**
 * PQCS from any thread: records Pqcs (before the packet exists, as the
 * emulation does), then posts. Returns the ioId, or -error. A port already
 * closed is refused before anything is recorded.
 */
export function postPacket(
  addon: NativeAddon,
  portId: number,
  ctl: Uint32Array,
  rec: ThreadRecorder,
  bytes: number,
  keyLo: number,
  keyHi: number,
  overlapped: number,
): number {
  if (Atomics.load(ctl, CTL_CLOSED) !== 0) return -ERROR_INVALID_HANDLE;
  const ioId = nextIoId(ctl);
  const hasOv = overlapped >>> 0 !== 0 ? 0x20 : 0;
  rec.record(EventKind.Pqcs, Op.Post | hasOv, bytes >>> 0, keyLo >>> 0, keyHi >>> 0, 0, ioId);
  const r = addon.pqcs(portId, bytes >>> 0, keyLo >>> 0, keyHi >>> 0, overlapped >>> 0, ioId);
  return r === 0 ? ioId : -r;
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
