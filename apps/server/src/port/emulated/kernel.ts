// The kernel of the emulated port, running on the main thread: it performs the
// socket I/O with node:net and queues completion packets. It never blocks.
//
// Event-loop protocol (what the throwaway prototype measured as cheapest):
// - Commands arrive through the shared command ring. While the kernel is awake a
//   drain is always scheduled; when the ring is empty it sets H_DOORBELL = 1 and
//   sleeps in Atomics.waitAsync, and only then do producers pay for a notify.
//   Each drain handles at most DRAIN_BATCH commands, then yields with
//   setImmediate so socket I/O is never starved.
// - Completions found during a turn go into a local batch; one setImmediate per
//   turn publishes the whole batch under one lock acquisition and wakes only
//   the waiters the concurrency rule allows (one notify per released thread).
//
// Per socket (KSocket): a receive buffer (node Buffers not yet consumed, capped
// at RECV_BUFFER_LIMIT by pausing the stream), pending recvs filled in FIFO
// order, and sends: the arena bytes are written without copying; a send whose
// bytes all reach the OS at once completes there and then, the others (queued
// in node behind a full socket buffer) complete in order from the socket's
// write callback, and their arena range stays untouched until that packet is
// dequeued. Every recv/send command yields exactly one packet, guarded by
// KOp.done, whichever of data, end, error, closesocket or port close comes first.
//
// Results are honoured (thread-port.ts decides them at the call, from what this
// kernel publishes): a recv that returned 0 completes TRUE with the bytes that
// were buffered (kept through a reset, and through a close in `leftovers`), or
// 0 at EOF; a send that returned 0 had its bytes taken into the socket's send
// buffer, whose free room (S_SEND_ROOM: SEND_BUFFER_BYTES minus node's write
// queue minus reservations) the kernel keeps current, and completes TRUE with
// all of them whatever happens to the socket afterwards. A pending send that a
// local close catches before all its bytes left completes FALSE/995; one all
// of whose bytes had left completes TRUE.

import net from 'node:net';
import { Backend, EventKind, Op } from '@iocpscope/protocol';
import {
  ACC_CLAIMED,
  ACC_DONE,
  ACC_PENDING,
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
  GEN_MASK,
  H_CMD_SPACE,
  H_CMD_SPACE_WAITERS,
  H_DOORBELL,
  SF_EOF,
  SF_RESET,
  SOCK_FREE,
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
  SEND_BUFFER_BYTES,
  T_ACC_ERROR,
  T_ACC_PEER,
  T_ACC_PEER_BYTES,
  T_ACC_PEER_LEN,
  T_ACC_PEER_PORT,
  T_ACC_SOCKET,
  T_ACC_STATE,
  socketId,
  socketSlot,
} from './layout.ts';
import type { SharedPort } from './shared-port.ts';
import { postPacket } from './thread-port.ts';
import {
  ERROR_NETNAME_DELETED,
  ERROR_OPERATION_ABORTED,
  WSAEINTR,
  WSAENOTSOCK,
  PortError,
  type ListenResult,
  type PortDescriptor,
  type PortHost,
  type ThreadRecorder,
} from '../types.ts';

/** Commands handled per drain before yielding to socket I/O. */
const DRAIN_BATCH = 1024;
/** Receive buffer per socket (SO_RCVBUF): above it the stream is paused. */
const RECV_BUFFER_LIMIT = 64 * 1024;
/** The one buffer every socket reads into (onread); each read is consumed before the next. */
const STAGING_BYTES = 64 * 1024;
/** How long closesocket lets a graceful close flush before destroying. */
const LINGER_MS = 2000;
/** Accepted connections queued while no accept call waits (listen backlog). */
const DEFAULT_BACKLOG = 4096;
const WSAENOBUFS = 10055;
/** Words per packet in the kernel's unpublished batch. */
const B_WORDS = 7;
/** Closed sockets whose buffered bytes a recv that already returned 0 may still take. */
const LEFTOVERS_MAX = 256;

interface AtomicsWithWaitAsync {
  waitAsync(
    ta: Int32Array,
    index: number,
    value: number,
  ): { async: false; value: string } | { async: true; value: Promise<string> };
}

/** net.Socket's constructor options for a socket that takes over an accepted handle. */
interface AdoptOptions {
  handle: unknown;
  allowHalfOpen: boolean;
  readable: boolean;
  writable: boolean;
  pauseOnCreate: boolean;
  onread: { buffer: Uint8Array; callback: (bytes: number, buf: Uint8Array) => boolean };
}

/** One recv or send the kernel owes a packet for. */
class KOp {
  done = false;
  constructor(
    readonly ks: KSocket | null,
    readonly type: number,
    readonly overlapped: number,
    readonly ioId: number,
    readonly off0: number,
    readonly len0: number,
    readonly off1: number,
    readonly len1: number,
    readonly keyLo: number,
    readonly keyHi: number,
    /** The post returned 0: it "finished at once", so its packet reports success. */
    readonly immediate: boolean,
  ) {}
  get total(): number {
    return this.len0 + this.len1;
  }
}

class KSocket {
  closed = false;
  eof = false;
  reset = false;
  paused = false;
  /** The connection has emitted 'close'. */
  gone = false;
  readable = 0;
  /** The readable count last stored in the shared socket record (S_READABLE). */
  shownReadable = 0;
  /** Bytes of node's write queue already taken off S_SEND_ROOM. */
  nodeQueued = 0;
  /** Unconsumed received chunks; `headOff` bytes of chunks[0] are consumed. */
  chunks: Buffer[] = [];
  headOff = 0;
  recvs: KOp[] = [];
  sends: KOp[] = [];
  /** Listening sockets: accept calls waiting (thread indices) and queued connections. */
  acceptors: number[] = [];
  conns: net.Socket[] = [];
  linger: NodeJS.Timeout | null = null;
  /**
   * The one write callback of this socket, made once: a stream completes its
   * writes in order, so it always completes sends[0]. (A closure per send cost
   * more than the rest of the send path's JavaScript.)
   */
  readonly onWritten: (err?: Error | null) => void;
  constructor(
    readonly id: number,
    readonly slot: number,
    readonly sb: number,
    readonly sock: net.Socket | null,
    readonly server: net.Server | null,
    readonly backlog: number,
    kernel: { onSent(ks: KSocket, err: Error | null | undefined): void },
  ) {
    this.onWritten = (err) => kernel.onSent(this, err);
  }
}

export interface KernelOptions {
  concurrency: number;
  workerCount: number;
  recorder: ThreadRecorder;
  /** TCP_NODELAY on accepted sockets (PortOptions.tcpNoDelay). */
  tcpNoDelay?: boolean;
}

export class EmulatedKernel implements PortHost {
  readonly backend = 'emulated' as const;
  readonly descriptor: PortDescriptor;
  readonly concurrency: number;
  readonly arena: Uint8Array;
  private readonly arenaBuffer: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly rec: ThreadRecorder;
  private readonly sockets: (KSocket | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  private nextSlot = 1;
  private readonly cmd = new Int32Array(C_DATA_WORDS);
  private readonly woken: Int32Array;
  private readonly staging = Buffer.allocUnsafe(STAGING_BYTES);
  /** This turn's packets, B_WORDS words each, not yet in the shared ring. */
  private batch = new Uint32Array(B_WORDS * 256);
  private batchLen = 0;
  private publishScheduled = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** Buffered bytes of recently closed sockets, by socket id, for recvs decided before the close. */
  private readonly leftovers = new Map<
    number,
    { chunks: Buffer[]; headOff: number; readable: number }
  >();
  private readonly publishNow = (): void => this.publish();
  private readonly drainNow = (): void => this.drain();
  private readonly noDelay: boolean;

  private readonly onDoorbell = (): void => {
    Atomics.store(this.i32, H_DOORBELL, 0);
    this.drain();
  };

  constructor(
    private readonly sp: SharedPort,
    opts: KernelOptions,
  ) {
    this.descriptor = sp.descriptor;
    this.concurrency = sp.concurrency;
    this.arena = sp.arena;
    this.arenaBuffer = sp.descriptor.arena;
    this.i32 = sp.i32;
    this.bytes = new Uint8Array(sp.i32.buffer);
    this.rec = opts.recorder;
    this.noDelay = opts.tcpNoDelay === true;
    this.woken = new Int32Array(sp.layout.maxThreads);
    this.rec.record(
      EventKind.PortCreated,
      Backend.Emulated,
      sp.concurrency,
      0,
      0,
      opts.workerCount,
      0,
    );
    this.sleep();
  }

  // ---- PortHost ----------------------------------------------------------------

  async listen(address: string, port: number, backlog = DEFAULT_BACKLOG): Promise<ListenResult> {
    if (this.closed) throw new PortError('ERR_PORT_OPTIONS', 'the port is closed');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new PortError('ERR_PORT_OPTIONS', `bad port ${port}`);
    }
    if (!Number.isInteger(backlog) || backlog < 1) {
      throw new PortError('ERR_PORT_OPTIONS', `bad backlog ${backlog}`);
    }
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address, port, backlog: Math.min(backlog, 65535) }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const ks = this.allocSocket(null, server, backlog, SOCK_LISTENING);
    if (!ks) {
      server.close();
      throw new PortError('ERR_PORT_LIMIT', 'socket table full');
    }
    server.on('connection', (s) => this.onConnection(ks, s));
    server.on('error', () => this.closeSocket(ks));
    const addr = server.address();
    return { socket: ks.id, port: typeof addr === 'object' && addr ? addr.port : port };
  }

  postQueuedCompletionStatus(
    bytes: number,
    keyLo: number,
    keyHi: number,
    overlapped: number,
  ): boolean {
    return postPacket(this.sp, this.rec, this.woken, bytes, keyLo, keyHi, overlapped) > 0;
  }

  closesocket(socket: number): number {
    if (!this.sp.markClosed(socket)) return WSAENOTSOCK;
    const ks = this.sockets[socketSlot(socket)];
    if (ks && ks.id === socket) this.closeSocket(ks);
    return 0;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    const sp = this.sp;
    sp.lock();
    const n = sp.closeUnderLock(this.woken);
    sp.unlock();
    sp.notifyAll(this.woken, n);
    this.closed = true;
    this.batchLen = 0;
    const waits: Promise<void>[] = [];
    for (const ks of this.sockets) {
      if (!ks) continue;
      sp.markClosed(ks.id);
      if (ks.server) waits.push(new Promise((r) => ks.server!.close(() => r())));
      this.closeSocket(ks, true);
    }
    // Let the doorbell wait settle and release producers stuck on a full ring.
    Atomics.store(this.i32, H_DOORBELL, 0);
    Atomics.notify(this.i32, H_DOORBELL);
    Atomics.add(this.i32, H_CMD_SPACE, 1);
    Atomics.notify(this.i32, H_CMD_SPACE);
    this.closing = Promise.all(waits).then(() => undefined);
    return this.closing;
  }

  // ---- command drain --------------------------------------------------------------

  private sleep(): void {
    const i32 = this.i32;
    Atomics.store(i32, H_DOORBELL, 1);
    if (this.sp.commands.hasReady()) {
      Atomics.store(i32, H_DOORBELL, 0);
      setImmediate(this.drainNow);
      return;
    }
    const r = (Atomics as unknown as AtomicsWithWaitAsync).waitAsync(i32, H_DOORBELL, 1);
    if (r.async) {
      void r.value.then(this.onDoorbell);
    } else {
      Atomics.store(i32, H_DOORBELL, 0);
      setImmediate(this.drainNow);
    }
  }

  private drain(): void {
    if (this.closed) return;
    const q = this.sp.commands;
    const c = this.cmd;
    let k = 0;
    while (k < DRAIN_BATCH && q.dequeue(c)) {
      this.execute(c);
      k++;
    }
    if (k > 0 && Atomics.load(this.i32, H_CMD_SPACE_WAITERS) > 0) {
      Atomics.add(this.i32, H_CMD_SPACE, 1);
      Atomics.notify(this.i32, H_CMD_SPACE);
    }
    if (k === DRAIN_BATCH) setImmediate(this.drainNow);
    else this.sleep();
  }

  private execute(c: Int32Array): void {
    const type = c[C_TYPE - 1];
    const socket = c[C_SOCKET - 1]! >>> 0;
    if (type === CMD_RECV || type === CMD_SEND) {
      const ks = this.live(socket);
      const decided = c[C_RESULT - 1] === 0;
      if (type === CMD_RECV && decided) {
        // It returned 0: it completes with what was buffered, whatever happened since.
        this.recvDecided(ks, socket, c);
        return;
      }
      if (type === CMD_SEND && decided && ks !== null) {
        // Its reservation becomes bytes in node's write queue (taken off again below).
        Atomics.add(this.i32, ks.sb + S_SEND_ROOM, c[C_LEN0 - 1]! + c[C_LEN1 - 1]!);
      }
      if (ks !== null && !ks.reset) {
        // The common cases finish here without a KOp: a send that goes
        // straight into an idle socket, a recv of bytes already buffered.
        if (type === CMD_SEND) {
          if (ks.sends.length === 0 && this.trySendNow(ks, c)) {
            this.syncRoom(ks);
            return;
          }
        } else if (ks.readable > 0) {
          this.recvNow(ks, c);
          return;
        }
      }
      const op = this.opFrom(ks, type, c);
      if (!ks) {
        // Closed between the post and now (a race with closesocket): a send
        // that returned 0 had its bytes taken already; anything else is aborted.
        if (op.immediate) this.complete(op, op.total, 0);
        else this.complete(op, 0, ERROR_OPERATION_ABORTED);
      } else if (type === CMD_RECV) {
        this.startRecv(ks, op);
      } else {
        this.startSend(ks, op);
        this.syncRoom(ks);
      }
    } else if (type === CMD_CLOSE) {
      const ks = this.sockets[socketSlot(socket)];
      if (ks && ks.id === socket) this.closeSocket(ks);
    } else if (type === CMD_ACCEPT) {
      this.startAccept(c[C_THREAD - 1]!, socket);
    }
  }

  /** The KOp of a recv or send command, for I/O that does not finish at once. */
  private opFrom(ks: KSocket | null, type: number, c: Int32Array): KOp {
    return new KOp(
      ks,
      type,
      c[C_OVERLAPPED - 1]! >>> 0,
      c[C_IO_ID - 1]! >>> 0,
      c[C_OFF0 - 1]!,
      c[C_LEN0 - 1]!,
      c[C_OFF1 - 1]!,
      c[C_LEN1 - 1]!,
      c[C_KEY_LO - 1]! >>> 0,
      c[C_KEY_HI - 1]! >>> 0,
      c[C_RESULT - 1] === 0,
    );
  }

  /** The kernel socket of a handle that has not been closed, else null. */
  private live(socket: number): KSocket | null {
    const ks = this.sockets[socketSlot(socket)];
    return ks && ks.id === socket && !ks.closed ? ks : null;
  }

  // ---- completions ----------------------------------------------------------------

  private complete(op: KOp, bytes: number, error: number): void {
    if (op.done) return;
    op.done = true;
    const ks = op.ks;
    if (op.type === CMD_SEND && ks && !ks.closed) Atomics.sub(this.i32, ks.sb + S_SEND_PENDING, 1);
    this.emit(
      bytes,
      op.keyLo,
      op.keyHi,
      op.overlapped,
      error,
      op.type === CMD_RECV ? Op.Recv : Op.Send,
      op.ioId,
    );
  }

  /** Add one packet to this turn's batch (published by the next setImmediate). */
  private emit(
    bytes: number,
    keyLo: number,
    keyHi: number,
    overlapped: number,
    error: number,
    op: number,
    ioId: number,
  ): void {
    if (this.closed) return;
    let b = this.batch;
    const at = this.batchLen;
    if (at + B_WORDS > b.length) {
      const grown = new Uint32Array(b.length * 2);
      grown.set(b);
      this.batch = b = grown;
    }
    b[at] = bytes;
    b[at + 1] = keyLo;
    b[at + 2] = keyHi;
    b[at + 3] = overlapped;
    b[at + 4] = error;
    b[at + 5] = op;
    b[at + 6] = ioId;
    this.batchLen = at + B_WORDS;
    if (!this.publishScheduled) {
      this.publishScheduled = true;
      setImmediate(this.publishNow);
    }
  }

  /** Send failed: a post that returned 0 had already finished, so it still reports success. */
  private failSend(op: KOp, error: number): void {
    if (op.immediate) this.complete(op, op.total, 0);
    else this.complete(op, 0, error);
  }

  private publish(): void {
    this.publishScheduled = false;
    if (this.closed) return;
    const sp = this.sp;
    const b = this.batch;
    const len = this.batchLen;
    const rec = this.rec;
    let i = 0;
    sp.lock();
    for (; i < len; i += B_WORDS) {
      if (sp.ring.count === sp.ring.capacity) break;
      const bytes = b[i]!;
      const keyLo = b[i + 1]!;
      const keyHi = b[i + 2]!;
      const error = b[i + 4]!;
      const op = b[i + 5]!;
      const ioId = b[i + 6]!;
      rec.record(EventKind.PacketQueued, op, bytes, keyLo, keyHi, error, ioId);
      sp.ring.push(bytes, keyLo, keyHi, b[i + 3]!, error, op, ioId);
    }
    const n = sp.releaseWaiters(this.woken, 0);
    sp.unlock();
    sp.notifyAll(this.woken, n);
    if (i === len) {
      this.batchLen = 0;
    } else {
      // The ring is full (threads far behind): keep the rest, retry shortly.
      b.copyWithin(0, i, len);
      this.batchLen = len - i;
      this.publishScheduled = true;
      setTimeout(this.publishNow, 1);
    }
  }

  // ---- recv -------------------------------------------------------------------------

  /** A recv of bytes already buffered: filled and completed at once (no KOp). */
  private recvNow(ks: KSocket, c: Int32Array): void {
    const len0 = c[C_LEN0 - 1]!;
    const len1 = c[C_LEN1 - 1]!;
    let n = this.copyOut(ks, c[C_OFF0 - 1]!, len0);
    if (len1 > 0 && n === len0) n += this.copyOut(ks, c[C_OFF1 - 1]!, len1);
    this.publishReadable(ks);
    this.emit(
      n,
      c[C_KEY_LO - 1]! >>> 0,
      c[C_KEY_HI - 1]! >>> 0,
      c[C_OVERLAPPED - 1]! >>> 0,
      0,
      Op.Recv,
      c[C_IO_ID - 1]! >>> 0,
    );
  }

  /**
   * A recv that returned 0: bytes were buffered (or the peer had closed) when
   * it was decided, so it completes TRUE with them, even if the socket was
   * reset since (its buffered bytes are kept for this) or closed (`leftovers`).
   * A second recv decided on the same bytes gets what is left, possibly 0.
   */
  private recvDecided(ks: KSocket | null, socket: number, c: Int32Array): void {
    if (ks !== null) {
      this.recvNow(ks, c);
      return;
    }
    const left = this.leftovers.get(socket);
    let n = 0;
    if (left !== undefined) {
      const len0 = c[C_LEN0 - 1]!;
      const len1 = c[C_LEN1 - 1]!;
      n = takeBuffered(left, this.arena, c[C_OFF0 - 1]!, len0);
      if (len1 > 0 && n === len0) n += takeBuffered(left, this.arena, c[C_OFF1 - 1]!, len1);
      if (left.readable === 0) this.leftovers.delete(socket);
    }
    this.emit(
      n,
      c[C_KEY_LO - 1]! >>> 0,
      c[C_KEY_HI - 1]! >>> 0,
      c[C_OVERLAPPED - 1]! >>> 0,
      0,
      Op.Recv,
      c[C_IO_ID - 1]! >>> 0,
    );
  }

  /** A recv with nothing buffered (execute() fills the others at once through recvNow). */
  private startRecv(ks: KSocket, op: KOp): void {
    if (ks.reset) {
      this.complete(op, 0, ERROR_NETNAME_DELETED);
    } else if (ks.eof) {
      this.complete(op, 0, 0);
    } else {
      ks.recvs.push(op);
    }
  }

  /** Move up to `len` buffered bytes into the arena at `off`; returns the count. */
  private copyOut(ks: KSocket, off: number, len: number): number {
    return takeBuffered(ks, this.arena, off, len);
  }

  /** Show the buffered byte count to port threads; resume reading below the limit. */
  private publishReadable(ks: KSocket): void {
    this.showReadable(ks);
    if (ks.paused && ks.readable < RECV_BUFFER_LIMIT) {
      ks.paused = false;
      ks.sock!.resume();
    }
  }

  /** Store the buffered byte count in the shared socket record when it changed. */
  private showReadable(ks: KSocket): void {
    if (ks.shownReadable !== ks.readable) {
      ks.shownReadable = ks.readable;
      Atomics.store(this.i32, ks.sb + S_READABLE, ks.readable);
    }
  }

  /**
   * The socket's onread callback: `n` bytes are in the staging buffer. Pending
   * recvs take them first (straight into their WSABUFs), the rest is buffered.
   * Returning false stops reading (SO_RCVBUF full) until publishReadable resumes it.
   */
  private onRead(ks: KSocket, n: number): boolean {
    if (ks.closed) return true;
    const st = this.staging;
    const arena = this.arena;
    let at = 0;
    // Pending recvs exist only while nothing is buffered.
    while (at < n && ks.recvs.length > 0) {
      const op = ks.recvs.shift()!;
      let take = Math.min(n - at, op.len0);
      arena.set(take === n ? st.subarray(0, n) : st.subarray(at, at + take), op.off0);
      at += take;
      let got = take;
      if (op.len1 > 0 && take === op.len0 && at < n) {
        take = Math.min(n - at, op.len1);
        arena.set(st.subarray(at, at + take), op.off1);
        at += take;
        got += take;
      }
      this.complete(op, got, 0);
    }
    if (at < n) {
      const chunk = Buffer.allocUnsafe(n - at);
      st.copy(chunk, 0, at, n);
      ks.chunks.push(chunk);
      ks.readable += n - at;
      this.showReadable(ks);
      if (ks.readable >= RECV_BUFFER_LIMIT) {
        ks.paused = true;
        return false;
      }
    }
    return true;
  }

  private onEnd(ks: KSocket): void {
    if (ks.closed) return;
    ks.eof = true;
    Atomics.or(this.i32, ks.sb + S_FLAGS, SF_EOF);
    // Data is delivered before 'end', so pending recvs only exist with nothing buffered.
    for (const op of ks.recvs.splice(0)) this.complete(op, 0, 0);
  }

  /** Connection reset (or lost): pending I/O fails with ERROR_NETNAME_DELETED. */
  private onReset(ks: KSocket): void {
    if (ks.closed || ks.reset) return;
    ks.reset = true;
    // New recvs fail with WSAECONNRESET from now on; the buffered bytes stay for
    // a recv that returned 0 before the reset (its command may still be queued).
    ks.shownReadable = 0;
    Atomics.store(this.i32, ks.sb + S_READABLE, 0);
    Atomics.or(this.i32, ks.sb + S_FLAGS, SF_RESET);
    for (const op of ks.recvs.splice(0)) this.complete(op, 0, ERROR_NETNAME_DELETED);
    for (const op of ks.sends.splice(0)) this.failSend(op, ERROR_NETNAME_DELETED);
  }

  // ---- send -------------------------------------------------------------------------

  /**
   * A send on a socket with nothing queued: write it now. When all of it
   * reaches the socket's send buffer, the send is complete (a WSASend
   * completes once its bytes are copied into the kernel) and no KOp or write
   * callback is needed. When node had to queue part of it (the socket buffer
   * is full), an empty write after it calls back once everything before it
   * is out, and the send completes then, in order. False: take the KOp path.
   */
  private trySendNow(ks: KSocket, c: Int32Array): boolean {
    const sock = ks.sock!;
    // ks.gone rather than sock.destroyed (a getter over both stream states):
    // a connection node destroys on an error is reset before commands run.
    if (ks.gone || sock.writableLength !== 0) return false;
    const len0 = c[C_LEN0 - 1]!;
    const len1 = c[C_LEN1 - 1]!;
    this.writeBufs(sock, c[C_OFF0 - 1]!, len0, c[C_OFF1 - 1]!, len1, undefined);
    if (sock.writableLength !== 0) {
      const op = this.opFrom(ks, CMD_SEND, c);
      ks.sends.push(op);
      sock.write(EMPTY, ks.onWritten);
      return true;
    }
    Atomics.sub(this.i32, ks.sb + S_SEND_PENDING, 1);
    let bytes = len0 + len1;
    let error = 0;
    if (sock.errored) {
      this.onReset(ks);
      // A post that returned 0 had already finished: it still reports success.
      if (c[C_RESULT - 1] !== 0) {
        bytes = 0;
        error = ERROR_NETNAME_DELETED;
      }
    }
    this.emit(
      bytes,
      c[C_KEY_LO - 1]! >>> 0,
      c[C_KEY_HI - 1]! >>> 0,
      c[C_OVERLAPPED - 1]! >>> 0,
      error,
      Op.Send,
      c[C_IO_ID - 1]! >>> 0,
    );
    return true;
  }

  /** A send behind others (or on a socket gone under us): completed from the write callback. */
  private startSend(ks: KSocket, op: KOp): void {
    if (ks.reset) {
      this.failSend(op, ERROR_NETNAME_DELETED);
      return;
    }
    const sock = ks.sock!;
    if (sock.destroyed) {
      // Gone under us (e.g. closed after the peer's FIN): the send fails.
      this.onReset(ks);
      this.failSend(op, ERROR_NETNAME_DELETED);
      return;
    }
    ks.sends.push(op);
    this.writeBufs(sock, op.off0, op.len0, op.off1, op.len1, ks.onWritten);
  }

  /** Write a send's WSABUFs straight from the arena (two are corked into one writev). */
  private writeBufs(
    sock: net.Socket,
    off0: number,
    len0: number,
    off1: number,
    len1: number,
    cb: ((err?: Error | null) => void) | undefined,
  ): void {
    const buf = this.arenaBuffer;
    if (len1 > 0) {
      sock.cork();
      sock.write(Buffer.from(buf, off0, len0));
      sock.write(Buffer.from(buf, off1, len1), cb);
      sock.uncork();
    } else {
      sock.write(Buffer.from(buf, off0, len0), cb);
    }
  }

  /**
   * Keep S_SEND_ROOM current: what node's write queue holds is not free. Called
   * after every write and every write callback on the socket.
   */
  private syncRoom(ks: KSocket): void {
    const q = ks.sock === null || ks.gone ? 0 : ks.sock.writableLength;
    if (q !== ks.nodeQueued) {
      Atomics.sub(this.i32, ks.sb + S_SEND_ROOM, q - ks.nodeQueued);
      ks.nodeQueued = q;
    }
  }

  /** A write callback: the oldest send of `ks` is done (none if it was aborted since). */
  onSent(ks: KSocket, err: Error | null | undefined): void {
    if (!ks.closed) this.syncRoom(ks);
    const op = ks.sends.shift();
    if (!op) return;
    if (err) {
      this.onReset(ks);
      this.failSend(op, ERROR_NETNAME_DELETED);
    } else {
      this.complete(op, op.total, 0);
    }
  }

  // ---- accept ------------------------------------------------------------------------

  private onConnection(lks: KSocket, s: net.Socket): void {
    if (lks.closed) {
      s.destroy();
      return;
    }
    while (lks.acceptors.length > 0) {
      if (this.give(lks.acceptors.shift()!, s)) return;
    }
    if (lks.conns.length >= lks.backlog) {
      s.destroy();
      return;
    }
    s.on('error', noop);
    lks.conns.push(s);
  }

  private startAccept(thread: number, listenSocket: number): void {
    const lks = this.live(listenSocket);
    if (!lks || !lks.server) {
      this.replyAccept(thread, WSAEINTR);
      return;
    }
    while (lks.conns.length > 0) {
      const s = lks.conns[0]!;
      if (s.destroyed) {
        lks.conns.shift();
        continue;
      }
      if (this.give(thread, s)) lks.conns.shift();
      return;
    }
    lks.acceptors.push(thread);
  }

  /** Complete `thread`'s pending accept with connection `s`; false if it gave up. */
  private give(thread: number, s: net.Socket): boolean {
    const tb = this.sp.threadBase(thread);
    const i32 = this.i32;
    if (Atomics.compareExchange(i32, tb + T_ACC_STATE, ACC_PENDING, ACC_CLAIMED) !== ACC_PENDING) {
      return false;
    }
    s.off('error', noop);
    let ks: KSocket | null = null;
    const sock = this.adopt(s, (n) => this.onRead(ks!, n));
    ks = this.allocSocket(sock, null, 0, SOCK_OPEN);
    if (!ks) {
      sock.destroy();
      this.finishAccept(tb, WSAENOBUFS);
      return true;
    }
    const kso = ks;
    const peer = (sock.remoteAddress ?? '').slice(0, T_ACC_PEER_BYTES);
    const at = (tb + T_ACC_PEER) * 4;
    for (let k = 0; k < peer.length; k++) this.bytes[at + k] = peer.charCodeAt(k) & 0x7f;
    i32[tb + T_ACC_PEER_LEN] = peer.length;
    i32[tb + T_ACC_PEER_PORT] = sock.remotePort ?? 0;
    i32[tb + T_ACC_SOCKET] = kso.id | 0;
    sock.on('end', () => this.onEnd(kso));
    sock.on('error', () => this.onReset(kso));
    sock.on('close', () => this.onSocketGone(kso));
    sock.resume();
    this.finishAccept(tb, 0);
    return true;
  }

  /**
   * Move an accepted connection's handle into a socket that reads into the
   * kernel's staging buffer (net.Socket's `onread`): no readable-stream
   * buffering and no Buffer allocated per read, which was most of the read
   * path's JavaScript. node:net offers `onread` only on sockets built from
   * options, so the handle leaves the server's socket, which is then destroyed
   * without it (that keeps the server's connection count right). Reading
   * starts on resume().
   */
  private adopt(s: net.Socket, onRead: (n: number) => boolean): net.Socket {
    const owner = s as unknown as { _handle: unknown };
    const handle = owner._handle;
    owner._handle = null;
    s.destroy();
    const opts: AdoptOptions = {
      handle,
      allowHalfOpen: true,
      readable: true,
      writable: true,
      pauseOnCreate: true,
      onread: { buffer: this.staging, callback: onRead },
    };
    const sock = new net.Socket(opts as net.SocketConstructorOpts);
    if (this.noDelay) sock.setNoDelay(true);
    return sock;
  }

  private replyAccept(thread: number, error: number): void {
    const tb = this.sp.threadBase(thread);
    if (
      Atomics.compareExchange(this.i32, tb + T_ACC_STATE, ACC_PENDING, ACC_CLAIMED) === ACC_PENDING
    ) {
      this.finishAccept(tb, error);
    }
  }

  private finishAccept(tb: number, error: number): void {
    Atomics.store(this.i32, tb + T_ACC_ERROR, error);
    Atomics.store(this.i32, tb + T_ACC_STATE, ACC_DONE);
    Atomics.notify(this.i32, tb + T_ACC_STATE);
  }

  // ---- socket table ----------------------------------------------------------------------

  private allocSocket(
    sock: net.Socket | null,
    server: net.Server | null,
    backlog: number,
    state: number,
  ): KSocket | null {
    const slot =
      this.freeSlots.length > 0
        ? this.freeSlots.pop()!
        : this.nextSlot <= this.sp.layout.maxSockets
          ? this.nextSlot++
          : -1;
    if (slot < 0) return null;
    const i32 = this.i32;
    const sb = this.sp.socketBase(slot);
    const gen = ((Atomics.load(i32, sb + S_GS) >>> 8) + 1) & GEN_MASK || 1;
    i32[sb + S_FLAGS] = 0;
    i32[sb + S_READABLE] = 0;
    i32[sb + S_SEND_PENDING] = 0;
    i32[sb + S_SEND_ROOM] = SEND_BUFFER_BYTES;
    i32[sb + S_ASSOC] = 0;
    i32[sb + S_KEY_LO] = 0;
    i32[sb + S_KEY_HI] = 0;
    Atomics.store(i32, sb + S_GS, (gen << 8) | state);
    const ks = new KSocket(socketId(gen, slot), slot, sb, sock, server, backlog, this);
    this.sockets[slot] = ks;
    return ks;
  }

  /**
   * closesocket's kernel half (the shared state is already CLOSED): abort
   * pending I/O with ERROR_OPERATION_ABORTED, close the connection, free the slot.
   */
  private closeSocket(ks: KSocket, portClosing = false): void {
    if (ks.closed) return;
    for (const op of ks.recvs.splice(0)) this.complete(op, 0, ERROR_OPERATION_ABORTED);
    const inFlight = ks.sends.length > 0;
    // Node writes in order: the bytes still in its queue are the last sends'.
    // Those sends had not all left: aborted (unless they returned 0, which
    // already took them). The ones before had left: done.
    let notLeft = ks.sock !== null && !ks.gone ? ks.sock.writableLength : 0;
    const sends = ks.sends.splice(0);
    const left = new Array<boolean>(sends.length);
    for (let k = sends.length - 1; k >= 0; k--) {
      left[k] = notLeft <= 0;
      notLeft -= sends[k]!.total;
    }
    for (let k = 0; k < sends.length; k++) {
      if (left[k]) this.complete(sends[k]!, sends[k]!.total, 0);
      else this.failSend(sends[k]!, ERROR_OPERATION_ABORTED);
    }
    if (ks.readable > 0 && !portClosing) {
      // A recv that returned 0 before this close may still take these bytes.
      this.leftovers.set(ks.id, { chunks: ks.chunks, headOff: ks.headOff, readable: ks.readable });
      if (this.leftovers.size > LEFTOVERS_MAX) {
        this.leftovers.delete(this.leftovers.keys().next().value as number);
      }
    }
    ks.closed = true;
    if (ks.server) {
      if (!portClosing) ks.server.close();
      for (const t of ks.acceptors.splice(0)) this.replyAccept(t, WSAEINTR);
      for (const s of ks.conns.splice(0)) s.destroy();
    }
    const sock = ks.sock;
    if (sock) {
      // Node may still hold arena views of in-flight sends: destroy rather than
      // flush bytes whose range the server is now free to reuse.
      if (inFlight || ks.readable > 0 || ks.reset || portClosing) {
        sock.destroy();
      } else {
        sock.end();
        ks.linger = setTimeout(() => sock.destroy(), LINGER_MS);
        ks.linger.unref();
      }
    }
    ks.chunks = [];
    ks.readable = 0;
    const at = ks.sb + S_GS;
    Atomics.store(this.i32, at, (Atomics.load(this.i32, at) & ~0xff) | SOCK_FREE);
    this.sockets[ks.slot] = undefined;
    this.freeSlots.push(ks.slot);
  }

  private onSocketGone(ks: KSocket): void {
    ks.gone = true;
    if (ks.linger) clearTimeout(ks.linger);
    if (ks.closed) return;
    // Closed under us without an error event or an end (e.g. a reset while idle).
    if (!ks.eof || ks.recvs.length > 0 || ks.sends.length > 0) this.onReset(ks);
  }
}

function noop(): void {}

/** Move up to `len` buffered bytes of `b` into the arena at `off`; returns the count. */
function takeBuffered(
  b: { chunks: Buffer[]; headOff: number; readable: number },
  arena: Uint8Array,
  off: number,
  len: number,
): number {
  let done = 0;
  while (done < len && b.chunks.length > 0) {
    const head = b.chunks[0]!;
    const take = Math.min(len - done, head.length - b.headOff);
    // The whole chunk (the common case) needs no subarray view.
    if (take === head.length) arena.set(head, off + done);
    else arena.set(head.subarray(b.headOff, b.headOff + take), off + done);
    done += take;
    b.headOff += take;
    if (b.headOff === head.length) {
      b.chunks.shift();
      b.headOff = 0;
    }
  }
  b.readable -= done;
  return done;
}

const EMPTY = Buffer.alloc(0);
