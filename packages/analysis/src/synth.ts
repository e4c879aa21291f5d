// A seeded synthetic trace generator that behaves like the reference echo server
// (../../../shared/docs/iocp-model.md §2) on an emulated completion port (§1):
// FIFO packets, LIFO waiter release, the concurrency cap with overcommit after a
// blocked thread wakes, an accept thread holding an IOCount across the first
// RecvPost, workers echoing, one send in flight, random client resets and
// graceful closes, closesocket aborting pending I/O with 995, release at IOCount
// 0 guarded by a release flag, and a graceful shutdown with one exit packet per
// worker. Thread interleaving is simulated with one coroutine per thread and a
// seeded scheduler, so races the real server has (a recv dequeued before its
// WSARecv returned, a lock contended by two workers) appear naturally.
//
// Each fault switch of the reference server can be turned on; the detectors must
// catch every one of them and nothing in a clean trace. Used by the analysis
// tests, `bench/analysis.ts`, and the web app's tests and benchmarks.

import * as proto from './proto.ts';
import { AnalysisError } from './errors.ts';
import type { TraceRecords } from './source.ts';

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const {
  BlockReason,
  Backend,
  DisconnectReason,
  EventKind,
  INFINITE,
  IoCountCause,
  Op,
  RECORD_WORDS,
  ThreadRole,
  ThreadStateValue,
  WinError,
  writeRecord,
} = proto;

export const SYNTH_FAULTS = [
  'iocount-double-decrement',
  'release-with-io-pending',
  'recv-not-reposted',
  'two-sends-in-flight',
  'no-decrement-on-failure',
  'too-few-exit-packets',
  'no-accept-hold',
  'zero-byte-recv-reposted',
  'lock-across-send',
  'release-without-atomic-flag',
] as const;
export type SynthFault = (typeof SYNTH_FAULTS)[number];

export interface SynthOptions {
  /** PRNG seed (default 1). The same options always give the same trace. */
  seed?: number;
  /** Events to generate before the shutdown starts (default 50,000). */
  events?: number;
  /** Concurrent client sessions the load keeps open (default 64). */
  sessions?: number;
  workers?: number;
  concurrency?: number;
  /** Entries per GQCS call (GetQueuedCompletionStatusEx when > 1). Default 1. */
  maxEntries?: number;
  /** Message size range in bytes, header included (default [16, 512]). */
  messageBytes?: [number, number];
  /** Messages a client echoes before it leaves (default [4, 64]). */
  messagesPerSession?: [number, number];
  /** Messages each client keeps in flight (default 2). */
  window?: number;
  /**
   * Mean client think time between an echo and the next message, in ns. Default
   * `sessions * 24,000`: the server stays busy but keeps up, as a healthy one does.
   */
  thinkNs?: number;
  /** Share of clients that leave with an abrupt reset instead of a graceful close (default 0.3). */
  resetShare?: number;
  /** Fault switches to turn on. */
  faults?: readonly SynthFault[];
  /** Share of opportunities where an enabled fault strikes (default 0.2). */
  faultRate?: number;
  /** End with a graceful shutdown (default true). Without it the trace stops at `events`. */
  shutdown?: boolean;
}

export interface SynthTrace extends TraceRecords {
  /** String table: index → text (thread names, lock names, peers). */
  strings: string[];
  /** Index of the first shutdown event, or -1. */
  shutdownIndex: number;
}

// ---- seeded randomness --------------------------------------------------------

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// ---- the simulated world ----------------------------------------------------------

const RING = 16384;
const SLOW_SEND_NS = 400_000;

type ActorWait = 'run' | 'gqcs' | 'lock' | 'sleep' | 'cond' | 'done';

interface Actor {
  tid: number;
  role: number;
  gen: Generator<void, void, void> | null;
  wait: ActorWait;
  wakeAt: number;
  cond: (() => boolean) | null;
  assigned: Packet[];
  /** Counts toward the port's running threads. */
  portRunning: boolean;
  isWorker: boolean;
}

interface Packet {
  key: Sess | null;
  op: number;
  ok: boolean;
  bytes: number;
  error: number;
  ioId: number;
  hasOverlapped: boolean;
  exit: boolean;
}

interface Io {
  ioId: number;
  op: number;
  sess: Sess;
  requested: number;
  /** Position in the kernel's ready list, -1 if not ready. */
  readyPos: number;
  cancelled: boolean;
  done: boolean;
}

interface SimLock {
  id: number;
  nameStr: number;
  owner: Actor | null;
  waiters: Actor[];
}

interface Sess {
  lo: number;
  hi: number;
  slot: number;
  socket: number;
  peerStr: number;
  ioCount: number;
  releaseFlag: boolean;
  released: boolean;
  disconnecting: boolean;
  socketClosed: boolean;
  recvIo: Io | null;
  sendIos: Io[];
  sendInFlight: boolean;
  /** Bytes in SendQ not yet handed to a WSASend. */
  sendQ: number;
  sendRead: number;
  recvWrite: number;
  rxPartial: number;
  /** Sizes of messages the server has not cut yet (client order). */
  rxSizes: number[];
  lock: SimLock;
  // the client
  inbound: number;
  clientSizes: number[];
  echoed: number;
  sent: number;
  budget: number;
  clientState: 'open' | 'closed' | 'reset';
  willReset: boolean;
  zeroSpins: number;
  liveIndex: number;
}

const has = (faults: ReadonlySet<SynthFault>, f: SynthFault): boolean => faults.has(f);

class Sim {
  readonly rng: Rng;
  readonly o: Required<Omit<SynthOptions, 'faults'>>;
  readonly faults: ReadonlySet<SynthFault>;
  words: Uint32Array;
  length = 0;
  now = 1000;
  readonly strings: string[] = [];
  private readonly stringIds = new Map<string, number>();
  readonly actors: Actor[] = [];
  readonly workers: Actor[] = [];
  main!: Actor;
  accept!: Actor;
  // port
  readonly queue: Packet[] = [];
  qHead = 0;
  readonly waiters: Actor[] = [];
  running = 0;
  // kernel
  readonly ready: Io[] = [];
  /** Clients thinking before their next message: a min-heap on `at`. */
  readonly thinking: { at: number; s: Sess }[] = [];
  nextIoId = 1;
  // sessions
  readonly live: Sess[] = [];
  /** Live sessions not disconnecting: what the load generator keeps at `sessions`. */
  active = 0;
  readonly slotGen: number[] = [];
  readonly freeSlots: number[] = [];
  readonly freeSockets: number[] = [];
  nextSocket = 0x100;
  nextPort = 49152;
  readonly justZero: Sess[] = [];
  readonly globalLock: SimLock;
  stopping = false;
  /** Nothing can happen any more before the budget (every client stalled): shut down early. */
  idle = false;
  shutdownIndex = -1;
  done = false;

  constructor(opts: SynthOptions) {
    const o = {
      seed: opts.seed ?? 1,
      events: opts.events ?? 50_000,
      sessions: opts.sessions ?? 64,
      workers: opts.workers ?? 4,
      concurrency: opts.concurrency ?? 2,
      maxEntries: opts.maxEntries ?? 1,
      messageBytes: opts.messageBytes ?? ([16, 512] as [number, number]),
      messagesPerSession: opts.messagesPerSession ?? ([4, 64] as [number, number]),
      window: opts.window ?? 2,
      thinkNs: opts.thinkNs ?? (opts.sessions ?? 64) * 24_000,
      resetShare: opts.resetShare ?? 0.3,
      faultRate: opts.faultRate ?? 0.2,
      shutdown: opts.shutdown ?? true,
    };
    const bad = (name: string, v: number, lo: number, hi: number): void => {
      if (!Number.isInteger(v) || v < lo || v > hi) {
        throw new AnalysisError(
          'ANALYSIS_BAD_OPTION',
          `synth: ${name} must be an integer in [${lo}, ${hi}], got ${v}`,
        );
      }
    };
    bad('events', o.events, 1, 200_000_000);
    bad('sessions', o.sessions, 1, 1_000_000);
    bad('workers', o.workers, 1, 64);
    bad('concurrency', o.concurrency, 1, 64);
    bad('maxEntries', o.maxEntries, 1, 64);
    bad('window', o.window, 1, 64);
    bad('thinkNs', o.thinkNs, 0, 1e12);
    bad('messageBytes[0]', o.messageBytes[0], 5, 8196);
    bad('messageBytes[1]', o.messageBytes[1], o.messageBytes[0], 8196);
    bad('messagesPerSession[0]', o.messagesPerSession[0], 1, 1e9);
    bad('messagesPerSession[1]', o.messagesPerSession[1], o.messagesPerSession[0], 1e9);
    if (!(o.resetShare >= 0 && o.resetShare <= 1) || !(o.faultRate >= 0 && o.faultRate <= 1)) {
      throw new AnalysisError(
        'ANALYSIS_BAD_OPTION',
        'synth: resetShare and faultRate must be in [0, 1]',
      );
    }
    for (const f of opts.faults ?? []) {
      if (!(SYNTH_FAULTS as readonly string[]).includes(f)) {
        throw new AnalysisError('ANALYSIS_BAD_OPTION', `synth: unknown fault ${JSON.stringify(f)}`);
      }
    }
    this.o = o;
    this.faults = new Set(opts.faults ?? []);
    this.rng = new Rng(o.seed);
    this.words = new Uint32Array(Math.min(o.events + 4096, 1 << 22) * RECORD_WORDS);
    this.globalLock = { id: 1, nameStr: this.str('send-lock'), owner: null, waiters: [] };
  }

  str(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.stringIds.set(s, id);
    }
    return id;
  }

  fault(f: SynthFault): boolean {
    return has(this.faults, f) && this.rng.chance(this.o.faultRate);
  }

  emit(
    kind: number,
    a: number,
    tid: number,
    x: number,
    lo: number,
    hi: number,
    y: number,
    z: number,
  ): void {
    if (this.length * RECORD_WORDS >= this.words.length) {
      const bigger = new Uint32Array(this.words.length * 2);
      bigger.set(this.words);
      this.words = bigger;
    }
    this.now += this.rng.int(80, 1200);
    writeRecord(
      this.words,
      this.length,
      kind,
      a,
      tid,
      x >>> 0,
      this.now,
      lo >>> 0,
      hi >>> 0,
      y >>> 0,
      z >>> 0,
    );
    this.length++;
  }

  // ---- port ------------------------------------------------------------------------

  queuePacket(p: Packet): void {
    this.queue.push(p);
    this.dispatch();
  }

  private take(a: Actor): void {
    const n = Math.min(this.o.maxEntries, this.queue.length - this.qHead);
    for (let k = 0; k < n; k++) a.assigned.push(this.queue[this.qHead++]!);
    if (this.qHead > 4096 && this.qHead * 2 > this.queue.length) {
      this.queue.splice(0, this.qHead);
      this.qHead = 0;
    }
  }

  /** Release LIFO waiters while packets wait and fewer than `concurrency` threads run. */
  dispatch(): void {
    while (
      this.qHead < this.queue.length &&
      this.waiters.length > 0 &&
      this.running < this.o.concurrency
    ) {
      const a = this.waiters.pop()!;
      this.take(a);
      a.portRunning = true;
      this.running++;
    }
  }

  enterGqcs(a: Actor): void {
    if (a.portRunning) {
      a.portRunning = false;
      this.running--;
    }
    if (this.qHead < this.queue.length && this.running < this.o.concurrency) {
      this.take(a);
      a.portRunning = true;
      this.running++;
    } else {
      this.waiters.push(a);
    }
    a.wait = 'gqcs';
  }

  block(a: Actor): void {
    if (a.portRunning) {
      a.portRunning = false;
      this.running--;
      this.dispatch();
    }
  }

  unblock(a: Actor): void {
    if (a.isWorker && !a.portRunning) {
      a.portRunning = true;
      this.running++; // may exceed concurrency for a while: that is the documented overcommit
    }
  }

  // ---- kernel ------------------------------------------------------------------------

  makeReady(io: Io): void {
    if (io.readyPos >= 0 || io.done) return;
    io.readyPos = this.ready.length;
    this.ready.push(io);
  }

  unready(io: Io): void {
    const k = io.readyPos;
    if (k < 0) return;
    const last = this.ready.pop()!;
    if (last !== io) {
      this.ready[k] = last;
      last.readyPos = k;
    }
    io.readyPos = -1;
  }

  recvReady(s: Sess): void {
    const io = s.recvIo;
    if (io !== null && (s.inbound > 0 || s.clientState !== 'open' || io.cancelled))
      this.makeReady(io);
  }

  /** The kernel completes one ready I/O: the packet is queued (PacketQueued). */
  kernelStep(): void {
    const io = this.ready[this.rng.int(0, this.ready.length - 1)]!;
    this.unready(io);
    io.done = true;
    const s = io.sess;
    let ok = true;
    let bytes = 0;
    let error = 0;
    if (io.cancelled) {
      ok = false;
      error = WinError.OperationAborted;
    } else if (s.clientState === 'reset') {
      ok = false;
      error = WinError.NetnameDeleted;
    } else if (io.op === Op.Recv) {
      bytes = Math.min(s.inbound, io.requested);
      // TCP may deliver a message in pieces.
      if (bytes > 8 && this.rng.chance(0.1)) bytes = this.rng.int(1, bytes - 1);
      s.inbound -= bytes;
    } else {
      bytes = io.requested;
    }
    if (io.op === Op.Recv) s.recvIo = null;
    else s.sendIos.splice(s.sendIos.indexOf(io), 1);
    this.emit(
      EventKind.PacketQueued,
      io.op,
      this.main.tid,
      bytes,
      s.lo,
      s.hi,
      ok ? 0 : error,
      io.ioId,
    );
    this.queuePacket({
      key: s,
      op: io.op,
      ok,
      bytes,
      error,
      ioId: io.ioId,
      hasOverlapped: true,
      exit: false,
    });
    if (ok && io.op === Op.Send) this.clientReceives(s, bytes);
  }

  clientSends(s: Sess): void {
    while (s.clientState === 'open' && s.clientSizes.length < this.o.window && s.sent < s.budget) {
      const [lo, hi] = this.o.messageBytes;
      const size = this.rng.int(lo, hi);
      s.clientSizes.push(size);
      s.rxSizes.push(size);
      s.inbound += size;
      s.sent++;
    }
    this.recvReady(s);
  }

  clientReceives(s: Sess, bytes: number): void {
    if (s.clientState !== 'open') return;
    s.echoed += bytes;
    while (s.clientSizes.length > 0 && s.echoed >= s.clientSizes[0]!) {
      s.echoed -= s.clientSizes.shift()!;
    }
    if (s.sent >= s.budget && s.clientSizes.length === 0) {
      this.clientLeaves(s, s.willReset ? 'reset' : 'closed');
      return;
    }
    // Now and then a client resets mid-stream.
    if (this.rng.chance(0.002)) {
      this.clientLeaves(s, 'reset');
      return;
    }
    if (this.o.thinkNs === 0) this.clientSends(s);
    else this.think(s, this.now + Math.floor(-Math.log(1 - this.rng.next()) * this.o.thinkNs));
  }

  think(s: Sess, at: number): void {
    const h = this.thinking;
    h.push({ at, s });
    let k = h.length - 1;
    while (k > 0) {
      const up = (k - 1) >> 1;
      if (h[up]!.at <= h[k]!.at) break;
      [h[up], h[k]] = [h[k]!, h[up]!];
      k = up;
    }
  }

  /** Clients whose think time is over send their next messages. */
  wakeClients(): void {
    const h = this.thinking;
    while (h.length > 0 && h[0]!.at <= this.now) {
      const top = h[0]!;
      const last = h.pop()!;
      if (h.length > 0) {
        h[0] = last;
        let k = 0;
        for (;;) {
          const l = 2 * k + 1;
          const r = l + 1;
          let m = k;
          if (l < h.length && h[l]!.at < h[m]!.at) m = l;
          if (r < h.length && h[r]!.at < h[m]!.at) m = r;
          if (m === k) break;
          [h[m], h[k]] = [h[k]!, h[m]!];
          k = m;
        }
      }
      if (!top.s.released) this.clientSends(top.s);
    }
  }

  clientLeaves(s: Sess, how: 'reset' | 'closed'): void {
    s.clientState = how;
    this.recvReady(s);
    if (how === 'reset') for (const io of s.sendIos) this.makeReady(io);
  }

  // ---- server helpers (generators run on the calling thread's actor) ----------------------

  *lockAcquire(a: Actor, l: SimLock, s: Sess | null): Generator<void, void, void> {
    const lo = s === null ? 0 : s.lo;
    const hi = s === null ? 0 : s.hi;
    if (l.owner !== null) {
      this.emit(EventKind.LockWait, 0, a.tid, l.id, lo, hi, l.nameStr, 0);
      l.waiters.push(a);
      this.block(a);
      a.wait = 'lock';
      yield;
      this.unblock(a);
    } else {
      l.owner = a;
    }
    this.emit(EventKind.LockAcquire, 0, a.tid, l.id, lo, hi, l.nameStr, 0);
  }

  lockRelease(a: Actor, l: SimLock, s: Sess | null): void {
    this.emit(
      EventKind.LockRelease,
      0,
      a.tid,
      l.id,
      s === null ? 0 : s.lo,
      s === null ? 0 : s.hi,
      l.nameStr,
      0,
    );
    const next = l.waiters.shift();
    l.owner = next ?? null;
    if (next !== undefined) next.wait = 'run';
  }

  ioCount(a: Actor, s: Sess, delta: number, cause: number, ioId: number): void {
    s.ioCount += delta;
    this.emit(EventKind.IoCount, cause, a.tid, s.ioCount, s.lo, s.hi, delta, ioId);
  }

  /** IOCount-1; the thread that reaches 0 releases (once, thanks to the flag). */
  *decrement(a: Actor, s: Sess, cause: number, ioId: number): Generator<void, void, void> {
    this.ioCount(a, s, -1, cause, ioId);
    if (s.ioCount === 0) yield* this.releaseAtZero(a, s);
  }

  *releaseAtZero(a: Actor, s: Sess): Generator<void, void, void> {
    if (has(this.faults, 'release-without-atomic-flag')) {
      // Check-then-release without the atomic flag: a lookup may sneak in between.
      this.justZero.push(s);
      for (let k = 0; k < 4; k++) yield;
      const k = this.justZero.indexOf(s);
      if (k >= 0) this.justZero.splice(k, 1);
      if (s.released && s.ioCount !== 0) return;
      this.release(a, s);
      return;
    }
    if (s.releaseFlag) return;
    s.releaseFlag = true;
    this.release(a, s);
  }

  release(a: Actor, s: Sess): void {
    this.emit(EventKind.SessionReleased, 0, a.tid, s.ioCount, s.lo, s.hi, 0, 0);
    if (s.released) return;
    s.released = true;
    s.releaseFlag = true;
    if (!s.disconnecting) this.active--;
    if (!s.socketClosed) this.closeSocket(a, s);
    const last = this.live.pop()!;
    if (last !== s) {
      this.live[s.liveIndex] = last;
      last.liveIndex = s.liveIndex;
    }
    this.freeSlots.push(s.slot);
    this.freeSockets.push(s.socket);
  }

  closeSocket(a: Actor, s: Sess): void {
    if (s.socketClosed) return;
    s.socketClosed = true;
    this.emit(EventKind.SocketClosed, 0, a.tid, 0, s.lo, s.hi, s.socket, 0);
    // closesocket does not wait: every pending operation completes FALSE/995.
    if (s.recvIo !== null) {
      s.recvIo.cancelled = true;
      this.makeReady(s.recvIo);
    }
    for (const io of s.sendIos) {
      io.cancelled = true;
      this.makeReady(io);
    }
    if (s.clientState === 'open') s.clientState = 'closed';
  }

  *disconnect(a: Actor, s: Sess, reason: number, error: number): Generator<void, void, void> {
    if (s.disconnecting) return;
    s.disconnecting = true;
    if (!s.released) this.active--;
    this.emit(EventKind.Disconnect, reason, a.tid, 0, s.lo, s.hi, error, 0);
    yield;
    this.closeSocket(a, s);
    if (
      has(this.faults, 'release-with-io-pending') &&
      !s.released &&
      s.ioCount > 1 &&
      this.rng.chance(this.o.faultRate * 4)
    ) {
      // Frees the session right away instead of waiting for IOCount 0.
      this.release(a, s);
    }
  }

  postResult(s: Sess): number {
    if (s.socketClosed) return WinError.NotSocket;
    if (s.clientState === 'reset') return WinError.ConnectionReset;
    return WinError.IoPending;
  }

  *recvPost(a: Actor, s: Sess): Generator<void, void, void> {
    if (s.disconnecting) return; // refused: a disconnect has started
    const ioId = this.nextIoId++;
    this.ioCount(a, s, +1, IoCountCause.RecvPost, ioId);
    const free = RING - s.rxPartial;
    const wraps = s.recvWrite + free > RING;
    const result = this.postResult(s);
    let io: Io | null = null;
    if (result === WinError.IoPending) {
      io = {
        ioId,
        op: Op.Recv,
        sess: s,
        requested: free,
        readyPos: -1,
        cancelled: false,
        done: false,
      };
      s.recvIo = io;
      this.recvReady(s);
    }
    // The completion may be queued and dequeued by another worker before WSARecv returns.
    yield;
    this.emit(
      EventKind.IoPosted,
      Op.Recv | ((wraps ? 2 : 1) << 4),
      a.tid,
      free,
      s.lo,
      s.hi,
      result,
      ioId,
    );
    if (io === null) {
      yield* this.disconnect(a, s, DisconnectReason.IoError, result);
      yield* this.decrement(a, s, IoCountCause.PostFailed, ioId);
    }
  }

  *sendPost(a: Actor, s: Sess): Generator<void, void, void> {
    if (s.disconnecting) return;
    if (s.sendInFlight) {
      if (!this.fault('two-sends-in-flight')) return;
    }
    if (s.sendQ === 0) return;
    s.sendInFlight = true;
    const bytes = Math.min(s.sendQ, RING);
    const wraps = s.sendRead + bytes > RING;
    s.sendQ -= bytes;
    s.sendRead = (s.sendRead + bytes) % RING;
    const ioId = this.nextIoId++;
    this.ioCount(a, s, +1, IoCountCause.SendPost, ioId);
    const result = this.postResult(s);
    if (result === WinError.IoPending) {
      const io: Io = {
        ioId,
        op: Op.Send,
        sess: s,
        requested: bytes,
        readyPos: -1,
        cancelled: false,
        done: false,
      };
      s.sendIos.push(io);
      this.makeReady(io);
    }
    yield;
    this.emit(
      EventKind.IoPosted,
      Op.Send | ((wraps ? 2 : 1) << 4),
      a.tid,
      bytes,
      s.lo,
      s.hi,
      result,
      ioId,
    );
    if (result !== WinError.IoPending) {
      s.sendInFlight = false;
      yield* this.disconnect(a, s, DisconnectReason.IoError, result);
      yield* this.decrement(a, s, IoCountCause.PostFailed, ioId);
    }
  }

  // ---- threads ------------------------------------------------------------------------------

  newActor(role: number, name: string, isWorker: boolean): Actor {
    const a: Actor = {
      tid: this.actors.length,
      role,
      gen: null,
      wait: 'run',
      wakeAt: 0,
      cond: null,
      assigned: [],
      portRunning: false,
      isWorker,
    };
    this.actors.push(a);
    this.emit(EventKind.ThreadStart, role, a.tid, this.str(name), 0, 0, 1000 + a.tid, 0);
    return a;
  }

  *workerLoop(a: Actor): Generator<void, void, void> {
    for (;;) {
      this.emit(EventKind.GqcsEnter, 0, a.tid, INFINITE, 0, 0, this.o.maxEntries, 0);
      this.enterGqcs(a);
      yield;
      const batch = a.assigned;
      a.assigned = [];
      if (batch.length === 0) {
        // Woken by the port closing under us (too few exit packets and a give-up).
        this.emit(EventKind.GqcsReturn, 0, a.tid, 0, 0, 0, WinError.AbandonedWait0, 0);
        this.emit(EventKind.ThreadExit, 0, a.tid, 1, 0, 0, 0, 0);
        return;
      }
      for (const p of batch) {
        const flags = p.op | (p.ok ? 0x10 : 0) | (p.hasOverlapped ? 0x20 : 0);
        const s = p.key;
        this.emit(
          EventKind.GqcsReturn,
          flags,
          a.tid,
          p.bytes,
          s?.lo ?? 0,
          s?.hi ?? 0,
          p.ok ? 0 : p.error,
          p.ioId,
        );
        yield;
      }
      for (const p of batch) {
        if (p.exit) {
          // One exit packet is ours; a GQCS-Ex batch's others belong to other workers: post them again.
          const extra = batch.filter((q) => q.exit).length - 1;
          for (let k = 0; k < extra; k++) {
            this.emit(EventKind.Pqcs, Op.None, a.tid, 0, 0, 0, 0, 0);
            this.queuePacket({
              key: null,
              op: Op.None,
              ok: true,
              bytes: 0,
              error: 0,
              ioId: 0,
              hasOverlapped: false,
              exit: true,
            });
          }
          this.emit(EventKind.ThreadExit, 0, a.tid, 0, 0, 0, 0, 0);
          this.block(a);
          a.wait = 'done';
          return;
        }
        yield* this.handle(a, p);
      }
      if (this.justZero.length > 0 && this.fault('release-without-atomic-flag'))
        yield* this.racingLookup(a);
      else if (this.rng.chance(0.01)) yield* this.lookup(a);
      if (this.rng.chance(0.0005)) {
        // A short Sleep in a handler: the slot is freed, and the thread overcommits briefly on waking.
        this.emit(
          EventKind.ThreadState,
          ThreadStateValue.Blocked,
          a.tid,
          BlockReason.Sleep,
          0,
          0,
          1,
          0,
        );
        this.block(a);
        a.wait = 'sleep';
        a.wakeAt = this.now + this.rng.int(20_000, 200_000);
        yield;
        this.unblock(a);
        this.emit(EventKind.ThreadState, ThreadStateValue.Running, a.tid, 0, 0, 0, 0, 0);
      }
    }
  }

  *handle(a: Actor, p: Packet): Generator<void, void, void> {
    const s = p.key!;
    if (!p.ok) {
      yield* this.disconnect(a, s, DisconnectReason.IoError, p.error);
      if (p.op === Op.Send) s.sendInFlight = false;
      if (this.fault('no-decrement-on-failure')) return;
      yield* this.decrement(a, s, IoCountCause.Completion, p.ioId);
      return;
    }
    if (p.op === Op.Recv) {
      if (p.bytes === 0) {
        if (has(this.faults, 'zero-byte-recv-reposted') && s.zeroSpins < 3) {
          s.zeroSpins++;
          yield* this.recvPost(a, s);
        } else {
          yield* this.disconnect(a, s, DisconnectReason.PeerClosed, 0);
        }
        yield* this.decrement(a, s, IoCountCause.Completion, p.ioId);
        return;
      }
      s.recvWrite = (s.recvWrite + p.bytes) % RING;
      s.rxPartial += p.bytes;
      let echo = 0;
      while (s.rxSizes.length > 0 && s.rxPartial >= s.rxSizes[0]!) {
        const m = s.rxSizes.shift()!;
        s.rxPartial -= m;
        echo += m;
      }
      if (echo > 0) {
        if (this.fault('lock-across-send')) {
          // The bug: one lock held across WSASend (slow), every other sender waits for it.
          yield* this.lockAcquire(a, this.globalLock, s);
          s.sendQ += echo;
          a.wait = 'sleep';
          a.wakeAt = this.now + SLOW_SEND_NS;
          yield;
          yield* this.sendPost(a, s);
          this.lockRelease(a, this.globalLock, s);
        } else {
          yield* this.lockAcquire(a, s.lock, s);
          s.sendQ += echo;
          yield;
          this.lockRelease(a, s.lock, s);
          if (has(this.faults, 'lock-across-send')) {
            yield* this.lockAcquire(a, this.globalLock, s);
            yield* this.sendPost(a, s);
            this.lockRelease(a, this.globalLock, s);
          } else {
            yield* this.sendPost(a, s);
          }
        }
      }
      if (!this.fault('recv-not-reposted')) yield* this.recvPost(a, s);
      yield* this.decrement(a, s, IoCountCause.Completion, p.ioId);
      return;
    }
    // send completed
    yield* this.lockAcquire(a, s.lock, s);
    s.sendInFlight = false;
    yield;
    this.lockRelease(a, s.lock, s);
    if (s.sendQ > 0) yield* this.sendPost(a, s);
    yield* this.decrement(a, s, IoCountCause.Completion, p.ioId);
    if (this.fault('iocount-double-decrement'))
      yield* this.decrement(a, s, IoCountCause.Completion, p.ioId);
  }

  /** A lookup by SessionID (as a broadcast or a kick would do): hold, use, drop. */
  *lookup(a: Actor): Generator<void, void, void> {
    const s = this.live[this.rng.int(0, this.live.length - 1)];
    // With the combined count+flag CAS a lookup never revives a session at 0.
    if (s === undefined || s.releaseFlag || s.ioCount === 0) return;
    this.ioCount(a, s, +1, IoCountCause.HoldAcquire, 0);
    yield;
    this.ioCount(a, s, -1, IoCountCause.HoldRelease, 0);
    if (s.ioCount === 0) yield* this.releaseAtZero(a, s);
  }

  /**
   * The same lookup without the flag: it increments a session another thread
   * has just seen reach 0, drops it again, sees 0 too, and releases as well.
   */
  *racingLookup(a: Actor): Generator<void, void, void> {
    const s = this.justZero[0]!;
    if (s.released) return;
    this.ioCount(a, s, +1, IoCountCause.HoldAcquire, 0);
    yield;
    this.ioCount(a, s, -1, IoCountCause.HoldRelease, 0);
    if (s.ioCount === 0) this.release(a, s);
  }

  *acceptLoop(a: Actor): Generator<void, void, void> {
    let blocked = false;
    for (;;) {
      if (this.stopping) {
        this.emit(EventKind.ThreadExit, 0, a.tid, 0, 0, 0, 0, 0);
        a.wait = 'done';
        return;
      }
      if (this.active >= this.o.sessions) {
        if (!blocked) {
          this.emit(
            EventKind.ThreadState,
            ThreadStateValue.Blocked,
            a.tid,
            BlockReason.Accept,
            0,
            0,
            0,
            0,
          );
          blocked = true;
        }
        a.wait = 'cond';
        a.cond = () => this.stopping || this.active < this.o.sessions;
        yield;
        continue;
      }
      if (blocked) {
        this.emit(EventKind.ThreadState, ThreadStateValue.Running, a.tid, 0, 0, 0, 0, 0);
        blocked = false;
      }
      const s = this.newSession();
      this.emit(EventKind.Accept, 0, a.tid, s.peerStr, s.lo, s.hi, s.socket, 0);
      this.emit(EventKind.SessionCreated, 0, a.tid, s.peerStr, s.lo, s.hi, s.socket, s.slot);
      this.clientSends(s);
      const hold = !this.fault('no-accept-hold');
      if (hold) this.ioCount(a, s, +1, IoCountCause.AcceptHold, 0);
      yield;
      yield* this.recvPost(a, s);
      if (hold) yield* this.decrement(a, s, IoCountCause.AcceptRelease, 0);
      yield;
    }
  }

  newSession(): Sess {
    const slot = this.freeSlots.pop() ?? this.slotGen.length;
    if (slot === this.slotGen.length) this.slotGen.push(0);
    const gen = ++this.slotGen[slot]!;
    const socket = this.freeSockets.pop() ?? (this.nextSocket += 4);
    const port = this.nextPort;
    this.nextPort = port >= 65535 ? 49152 : port + 1;
    const [mlo, mhi] = this.o.messagesPerSession;
    const s: Sess = {
      // SessionID: slot in the low 32 bits, reuse counter in the high 32, above 2^53 on purpose.
      lo: slot,
      hi: 0x5eed0000 + gen,
      slot,
      socket,
      peerStr: this.str(`127.0.0.1:${port}`),
      ioCount: 0,
      releaseFlag: false,
      released: false,
      disconnecting: false,
      socketClosed: false,
      recvIo: null,
      sendIos: [],
      sendInFlight: false,
      sendQ: 0,
      sendRead: 0,
      recvWrite: 0,
      rxPartial: 0,
      rxSizes: [],
      lock: { id: 0x10000 + slot, nameStr: this.str('session-lock'), owner: null, waiters: [] },
      inbound: 0,
      clientSizes: [],
      echoed: 0,
      sent: 0,
      budget: this.rng.int(mlo, mhi),
      clientState: 'open',
      willReset: this.rng.chance(this.o.resetShare),
      zeroSpins: 0,
      liveIndex: this.live.length,
    };
    this.live.push(s);
    this.active++;
    return s;
  }

  *mainLoop(a: Actor): Generator<void, void, void> {
    a.wait = 'cond';
    a.cond = () => this.length >= this.o.events || this.idle;
    yield;
    if (!this.o.shutdown) {
      this.done = true;
      return;
    }
    this.shutdownIndex = this.length;
    this.stopping = true;
    this.emit(EventKind.Marker, 0, a.tid, this.str('shutdown'), 0, 0, 0, 0);
    for (const s of this.live.slice()) {
      if (!s.disconnecting) yield* this.disconnect(a, s, DisconnectReason.Shutdown, 0);
    }
    // Wait for every session to be released, but not forever (a zombie never is).
    const drainBy = this.now + 100_000_000;
    a.wait = 'cond';
    a.cond = () => (this.live.length === 0 || this.now >= drainBy) && this.accept.wait === 'done';
    a.wakeAt = drainBy;
    yield;
    const exits = has(this.faults, 'too-few-exit-packets')
      ? this.workers.length - 1
      : this.workers.length;
    for (let k = 0; k < exits; k++) {
      this.emit(EventKind.Pqcs, Op.None, a.tid, 0, 0, 0, 0, 0);
      this.queuePacket({
        key: null,
        op: Op.None,
        ok: true,
        bytes: 0,
        error: 0,
        ioId: 0,
        hasOverlapped: false,
        exit: true,
      });
      yield;
    }
    // Join the workers, giving up after a while if some never exit.
    const deadline = this.now + 50_000_000;
    a.wait = 'cond';
    a.cond = () => this.workers.every((w) => w.wait === 'done') || this.now >= deadline;
    a.wakeAt = deadline;
    yield;
    if (!this.workers.every((w) => w.wait === 'done')) {
      // CloseHandle(port): waiters wake with ERROR_ABANDONED_WAIT_0.
      for (const w of this.waiters.splice(0)) w.wait = 'run';
      a.wait = 'cond';
      a.cond = () => this.workers.every((w) => w.wait === 'done');
      yield;
    }
    this.emit(EventKind.ThreadExit, 0, a.tid, 0, 0, 0, 0, 0);
    a.wait = 'done';
    this.done = true;
  }

  runnable(a: Actor): boolean {
    switch (a.wait) {
      case 'run':
        return true;
      case 'gqcs':
        return a.assigned.length > 0;
      case 'lock':
        return false;
      case 'sleep':
        return this.now >= a.wakeAt;
      case 'cond':
        return a.cond!();
      default:
        return false;
    }
  }

  run(): void {
    this.main = this.newActor(ThreadRole.Main, 'main', false);
    this.emit(
      EventKind.PortCreated,
      Backend.Emulated,
      this.main.tid,
      this.o.concurrency,
      0,
      0,
      this.o.workers,
      0,
    );
    this.accept = this.newActor(ThreadRole.Accept, 'accept', false);
    for (let k = 0; k < this.o.workers; k++) {
      const w = this.newActor(ThreadRole.Worker, `worker-${k}`, true);
      w.portRunning = true;
      this.running++;
      this.workers.push(w);
    }
    this.main.gen = this.mainLoop(this.main);
    this.accept.gen = this.acceptLoop(this.accept);
    for (const w of this.workers) w.gen = this.workerLoop(w);
    const pick: Actor[] = [];
    const cap = this.o.shutdown ? this.o.events * 4 + 1_000_000 : this.o.events;
    while (!this.done && this.length < cap) {
      this.wakeClients();
      pick.length = 0;
      for (const a of this.actors) if (this.runnable(a)) pick.push(a);
      const kernelBusy = this.ready.length > 0;
      const n = pick.length + (kernelBusy ? 1 : 0);
      if (n === 0) {
        // Everyone waits: let time pass to the next timed wake-up, or give up.
        let t = this.thinking.length > 0 ? this.thinking[0]!.at : Infinity;
        for (const a of this.actors) {
          if ((a.wait === 'sleep' || a.wait === 'cond') && a.wakeAt > this.now)
            t = Math.min(t, a.wakeAt);
        }
        if (t !== Infinity) this.now = t;
        else if (!this.idle && this.o.shutdown) this.idle = true;
        else break;
        continue;
      }
      const k = this.rng.int(0, n - 1);
      if (k === pick.length) {
        this.kernelStep();
        continue;
      }
      const a = pick[k]!;
      a.wait = 'run';
      a.cond = null;
      const r = a.gen!.next();
      if (r.done === true) a.wait = 'done';
    }
    if (this.length > cap) this.length = cap;
  }
}

/** Generate a trace. Deterministic for given options. */
export function synthesize(opts: SynthOptions = {}): SynthTrace {
  const sim = new Sim(opts);
  sim.run();
  return {
    words: sim.words,
    length: sim.length,
    strings: sim.strings,
    shutdownIndex: sim.shutdownIndex,
  };
}
