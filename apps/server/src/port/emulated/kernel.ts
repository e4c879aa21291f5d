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
// order, in-flight sends completed from node's write callback (the arena bytes
// are written without copying and stay untouched until that packet is
// dequeued). Every recv/send command yields exactly one packet, guarded by
// KOp.done, whichever of data, end, error, closesocket or port close comes first.

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
/** How long closesocket lets a graceful close flush before destroying. */
const LINGER_MS = 2000;
/** Accepted connections queued while no accept call waits (listen backlog). */
const DEFAULT_BACKLOG = 4096;
const WSAENOBUFS = 10055;
/** Words per packet in the kernel's unpublished batch. */
const B_WORDS = 7;

interface AtomicsWithWaitAsync {
  waitAsync(
    ta: Int32Array,
    index: number,
    value: number,
  ): { async: false; value: string } | { async: true; value: Promise<string> };
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
  readable = 0;
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
  private batch: number[] = [];
  private publishScheduled = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly publishNow = (): void => this.publish();
  private readonly drainNow = (): void => this.drain();
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
    this.batch = [];
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
      const op = new KOp(
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
      if (!ks) {
        // Closed between the post and now (a race with closesocket): aborted.
        this.complete(op, 0, ERROR_OPERATION_ABORTED);
      } else if (type === CMD_RECV) {
        this.startRecv(ks, op);
      } else {
        this.startSend(ks, op);
      }
    } else if (type === CMD_CLOSE) {
      const ks = this.sockets[socketSlot(socket)];
      if (ks && ks.id === socket) this.closeSocket(ks);
    } else if (type === CMD_ACCEPT) {
      this.startAccept(c[C_THREAD - 1]!, socket);
    }
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
    if (this.closed) return;
    this.batch.push(
      bytes,
      op.keyLo,
      op.keyHi,
      op.overlapped,
      error,
      op.type === CMD_RECV ? Op.Recv : Op.Send,
      op.ioId,
    );
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
    const rec = this.rec;
    let i = 0;
    sp.lock();
    for (; i < b.length; i += B_WORDS) {
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
    if (i === b.length) {
      b.length = 0;
    } else {
      // The ring is full (threads far behind): keep the rest, retry shortly.
      this.batch = b.slice(i);
      this.publishScheduled = true;
      setTimeout(this.publishNow, 1);
    }
  }

  // ---- recv -------------------------------------------------------------------------

  private startRecv(ks: KSocket, op: KOp): void {
    if (ks.reset) {
      this.complete(op, 0, ERROR_NETNAME_DELETED);
    } else if (ks.readable > 0) {
      this.fill(ks, op);
      this.publishReadable(ks);
    } else if (ks.eof) {
      this.complete(op, 0, 0);
    } else {
      ks.recvs.push(op);
    }
  }

  /** Copy buffered bytes into the op's WSABUFs and complete it. */
  private fill(ks: KSocket, op: KOp): void {
    let n = this.copyOut(ks, op.off0, op.len0);
    if (op.len1 > 0 && n === op.len0) n += this.copyOut(ks, op.off1, op.len1);
    this.complete(op, n, 0);
  }

  private copyOut(ks: KSocket, off: number, len: number): number {
    const arena = this.arena;
    let done = 0;
    while (done < len && ks.chunks.length > 0) {
      const head = ks.chunks[0]!;
      const take = Math.min(len - done, head.length - ks.headOff);
      // The whole chunk (the common case) needs no subarray view.
      if (take === head.length) arena.set(head, off + done);
      else arena.set(head.subarray(ks.headOff, ks.headOff + take), off + done);
      done += take;
      ks.headOff += take;
      if (ks.headOff === head.length) {
        ks.chunks.shift();
        ks.headOff = 0;
      }
    }
    ks.readable -= done;
    return done;
  }

  private publishReadable(ks: KSocket): void {
    Atomics.store(this.i32, ks.sb + S_READABLE, ks.readable);
    if (ks.paused && ks.readable < RECV_BUFFER_LIMIT) {
      ks.paused = false;
      ks.sock!.resume();
    }
  }

  private onData(ks: KSocket, chunk: Buffer): void {
    if (ks.closed) return;
    ks.chunks.push(chunk);
    ks.readable += chunk.length;
    while (ks.recvs.length > 0 && ks.readable > 0) this.fill(ks, ks.recvs.shift()!);
    Atomics.store(this.i32, ks.sb + S_READABLE, ks.readable);
    if (ks.readable >= RECV_BUFFER_LIMIT && !ks.paused) {
      ks.paused = true;
      ks.sock!.pause();
    }
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
    ks.chunks = [];
    ks.headOff = 0;
    ks.readable = 0;
    Atomics.store(this.i32, ks.sb + S_READABLE, 0);
    Atomics.or(this.i32, ks.sb + S_FLAGS, SF_RESET);
    for (const op of ks.recvs.splice(0)) this.complete(op, 0, ERROR_NETNAME_DELETED);
    for (const op of ks.sends.splice(0)) this.failSend(op, ERROR_NETNAME_DELETED);
  }

  // ---- send -------------------------------------------------------------------------

  private startSend(ks: KSocket, op: KOp): void {
    if (ks.reset) {
      this.failSend(op, ERROR_NETNAME_DELETED);
      return;
    }
    const sock = ks.sock!;
    ks.sends.push(op);
    const buf = this.arenaBuffer;
    if (op.len1 > 0) {
      sock.cork();
      sock.write(Buffer.from(buf, op.off0, op.len0));
      sock.write(Buffer.from(buf, op.off1, op.len1), ks.onWritten);
      sock.uncork();
    } else {
      sock.write(Buffer.from(buf, op.off0, op.len0), ks.onWritten);
    }
  }

  /** A write callback: the oldest send of `ks` is done (none if it was aborted since). */
  onSent(ks: KSocket, err: Error | null | undefined): void {
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
    const ks = this.allocSocket(s, null, 0, SOCK_OPEN);
    if (!ks) {
      s.destroy();
      this.finishAccept(tb, WSAENOBUFS);
      return true;
    }
    const peer = (s.remoteAddress ?? '').slice(0, T_ACC_PEER_BYTES);
    const at = (tb + T_ACC_PEER) * 4;
    for (let k = 0; k < peer.length; k++) this.bytes[at + k] = peer.charCodeAt(k) & 0x7f;
    i32[tb + T_ACC_PEER_LEN] = peer.length;
    i32[tb + T_ACC_PEER_PORT] = s.remotePort ?? 0;
    i32[tb + T_ACC_SOCKET] = ks.id | 0;
    s.on('data', (chunk: Buffer) => this.onData(ks, chunk));
    s.on('end', () => this.onEnd(ks));
    s.on('error', () => this.onReset(ks));
    s.on('close', () => this.onSocketGone(ks));
    s.resume();
    this.finishAccept(tb, 0);
    return true;
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
    for (const op of ks.sends.splice(0)) this.failSend(op, ERROR_OPERATION_ABORTED);
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
    if (ks.linger) clearTimeout(ks.linger);
    if (ks.closed) return;
    // Closed under us without an error event or an end (e.g. a reset while idle).
    if (!ks.eof || ks.recvs.length > 0 || ks.sends.length > 0) this.onReset(ks);
  }
}

function noop(): void {}
