// A tiny DSL for writing event sequences by hand, for tests of the analysis and
// of anything that reads traces. Each call appends the records a real server
// would write for that step, in order, 1 µs apart unless told otherwise; IOCount
// values are computed per session so tests only state deltas.
//
//   const b = new TraceBuilder();
//   const acc = b.thread('accept', ThreadRole.Accept);
//   const w = b.thread('worker-0', ThreadRole.Worker);
//   b.port({ concurrency: 1, workers: 1 });
//   const s = b.accept(acc, { slot: 1 });
//   acc.hold(s); const r = acc.recv(s); acc.unhold(s);
//   w.gqcs(); b.complete(r, { bytes: 10 }); w.dequeue(r); w.completed(r);
//
// Methods return the index of the (last) record they wrote, or a handle.

import * as proto from '../proto.ts';
import { sessionHi as sessionHi_, sessionLo as sessionLo_, type SessionId } from '../ids.ts';
import type { TraceRecords } from '../source.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const sessionHi = sessionHi_;
const sessionLo = sessionLo_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const {
  Backend,
  BlockReason,
  DisconnectReason,
  EventKind,
  INFINITE,
  IoCountCause,
  NO_THREAD,
  Op,
  RECORD_WORDS,
  ThreadRole,
  ThreadStateValue,
  WinError,
  writeRecord,
} = proto;
type Op = proto.Op;

/** One posted operation. */
export interface Io {
  session: SessionId;
  op: Op;
  ioId: number;
  requested: number;
  /** Index of the IoCount +1, or -1. */
  incIndex: number;
  /** Index of the IoPosted record, or -1 (not written yet). */
  postIndex: number;
  /** Completion as queued: bytes and status (set by complete()). */
  bytes: number;
  status: number;
}

export interface PostOptions {
  /** WSARecv/WSASend result: 997 pending (default), 0 immediate, else an error. */
  result?: number;
  /** Requested bytes (default 4096 for a recv, 64 for a send). */
  bytes?: number;
  bufCount?: number;
  /** Write the IoCount +1 (default true). */
  increment?: boolean;
  /** Write the IoPosted record now (default true); false = the call has not returned yet. */
  posted?: boolean;
  /** Use this ioId instead of the next one. */
  ioId?: number;
  /** Write an IoDetail (v2) with this OVERLAPPED after the IoPosted. */
  overlapped?: number;
  /** Write an IoRing (v2) after it: WSABUF[0] at off0 (len0 bytes), WSABUF[1] at off1, `avail` free/used bytes. */
  ring?: RingPost;
}

export interface RingPost {
  off0: number;
  len0: number;
  off1?: number;
  avail: number;
}

export class ThreadHandle {
  constructor(
    private readonly b: TraceBuilder,
    readonly tid: number,
  ) {}

  gqcs(timeoutMs: number = INFINITE, maxEntries = 1): number {
    return this.b.rec(EventKind.GqcsEnter, 0, this.tid, timeoutMs, 0n, maxEntries, 0);
  }

  /** GQCS returns the completion of `io` (as queued by complete(), or ok with its bytes). */
  dequeue(io: Io, over: { ok?: boolean; bytes?: number; error?: number } = {}): number {
    const ok = over.ok ?? io.status === 0;
    const bytes = over.bytes ?? io.bytes;
    const error = over.error ?? (ok ? 0 : io.status);
    const a = io.op | (ok ? 0x10 : 0) | 0x20;
    return this.b.rec(
      EventKind.GqcsReturn,
      a,
      this.tid,
      bytes,
      io.session,
      ok ? 0 : error,
      io.ioId,
    );
  }

  /** GQCS returns an exit packet (0, 0, NULL). */
  dequeueExit(): number {
    return this.b.rec(EventKind.GqcsReturn, 0x10, this.tid, 0, 0n, 0, 0);
  }

  /** GQCS returns FALSE with a NULL overlapped (258 timeout by default, 735 when the port closed). */
  gqcsFailed(error: number = WinError.WaitTimeout): number {
    return this.b.rec(EventKind.GqcsReturn, 0, this.tid, 0, 0n, error, 0);
  }

  inc(session: SessionId, cause: number, ioId = 0): number {
    return this.b.ioCount(this.tid, session, +1, cause, ioId);
  }

  dec(session: SessionId, cause: number, ioId = 0): number {
    return this.b.ioCount(this.tid, session, -1, cause, ioId);
  }

  /** The accept thread's hold across the first RecvPost. */
  hold(session: SessionId): number {
    return this.inc(session, IoCountCause.AcceptHold);
  }

  unhold(session: SessionId): number {
    return this.dec(session, IoCountCause.AcceptRelease);
  }

  /** RecvPost: IOCount+1 then WSARecv (IoPosted). */
  recv(session: SessionId, o: PostOptions = {}): Io {
    return this.post(session, Op.Recv, o);
  }

  /** SendPost: IOCount+1 then WSASend (IoPosted). */
  send(session: SessionId, o: PostOptions = {}): Io {
    return this.post(session, Op.Send, o);
  }

  /**
   * Write the IoPosted record of an I/O whose call returns only now, then its
   * IoDetail and IoRing (v2) when given.
   */
  posted(
    io: Io,
    result: number = WinError.IoPending,
    bufCount = 1,
    extra: { overlapped?: number; ring?: RingPost } = {},
  ): number {
    io.postIndex = this.b.rec(
      EventKind.IoPosted,
      io.op | (bufCount << 4),
      this.tid,
      io.requested,
      io.session,
      result,
      io.ioId,
    );
    if (extra.overlapped !== undefined) this.detail(io, extra.overlapped);
    if (extra.ring !== undefined) this.ring(io, extra.ring);
    return io.postIndex;
  }

  /** IoDetail (v2): the OVERLAPPED of `io`. */
  detail(io: Io, overlapped: number): number {
    return this.b.rec(
      EventKind.IoDetail,
      io.op,
      this.tid,
      overlapped % 4294967296,
      io.session,
      Math.floor(overlapped / 4294967296),
      io.ioId,
    );
  }

  /** IoRing (v2): the ring geometry of `io` (its session field holds off1 and avail). */
  ring(io: Io, r: RingPost): number {
    const session = (BigInt(r.avail >>> 0) << 32n) | BigInt((r.off1 ?? 0) >>> 0);
    return this.b.rec(EventKind.IoRing, io.op, this.tid, r.off0, session, r.len0, io.ioId);
  }

  /** Inside a Snapshot bracket: the thread's state, flagged as a port thread when `portThread`. */
  state(state: number, o: { reason?: number; detail?: number; portThread?: boolean } = {}): number {
    return this.b.rec(
      EventKind.ThreadState,
      state,
      this.tid,
      o.reason ?? 0,
      0n,
      o.detail ?? 0,
      o.portThread ? 1 : 0,
    );
  }

  /** The completion's IOCount-1. */
  completed(io: Io): number {
    return this.dec(io.session, IoCountCause.Completion, io.ioId);
  }

  /** IOCount-1 for a post that failed (no packet will come). */
  postFailed(io: Io): number {
    return this.dec(io.session, IoCountCause.PostFailed, io.ioId);
  }

  disconnect(session: SessionId, reason: number = DisconnectReason.PeerClosed, error = 0): number {
    return this.b.rec(EventKind.Disconnect, reason, this.tid, 0, session, error, 0);
  }

  /** SocketClosed for the session's own socket (or `socket`: another handle). */
  closeSocket(session: SessionId, socket?: number): number {
    const h = socket ?? this.b.socketOf.get(session) ?? 0;
    return this.b.rec(EventKind.SocketClosed, 0, this.tid, 0, session, h, 0);
  }

  /** SessionReleased, recording the IOCount the releasing thread saw (default: the running total). */
  release(session: SessionId, ioCount?: number): number {
    const seen = ioCount ?? this.b.ioCountOf(session);
    return this.b.rec(EventKind.SessionReleased, 0, this.tid, seen >>> 0, session, 0, 0);
  }

  /** LockWait; `mode` 0 exclusive, 1 shared (v2 LockMode). */
  lockWait(lockId: number, name = 'lock', mode = 0): number {
    return this.b.rec(EventKind.LockWait, mode, this.tid, lockId, 0n, this.b.str(name), 0);
  }

  lockAcquire(lockId: number, name = 'lock', mode = 0): number {
    return this.b.rec(EventKind.LockAcquire, mode, this.tid, lockId, 0n, this.b.str(name), 0);
  }

  lockRelease(lockId: number, name = 'lock', mode = 0): number {
    return this.b.rec(EventKind.LockRelease, mode, this.tid, lockId, 0n, this.b.str(name), 0);
  }

  // ---- the chat server's JobQueue, JobTimer and SendBuffers (v2) ----

  /** JobPush: a job of `kind` onto queue `queueId`, which then holds `length` jobs. */
  jobPush(
    queueId: number,
    kind: number,
    length: number,
    session: SessionId = 0n,
    jobId = 0,
  ): number {
    return this.b.rec(EventKind.JobPush, kind, this.tid, queueId, session, length, jobId);
  }

  /** JobFlush begin (`queued` jobs waiting) of flush `flushId`. */
  flushBegin(queueId: number, flushId: number, queued = 1): number {
    return this.b.rec(EventKind.JobFlush, 0, this.tid, queueId, 0n, queued, flushId);
  }

  /** JobFlush end: the flush ran `ran` jobs. */
  flushEnd(queueId: number, flushId: number, ran = 1): number {
    return this.b.rec(EventKind.JobFlush, 1, this.tid, queueId, 0n, ran, flushId);
  }

  /**
   * SendBuffer `op` (SendBufferOp) on buffer `bufferId`: `refCount` after it;
   * `z` is the ioId of a Release, or the pool's free buffers after an
   * Acquire, Returned or PoolEmpty.
   */
  sendBuffer(op: number, bufferId: number, session: SessionId, refCount: number, z = 0): number {
    return this.b.rec(EventKind.SendBuffer, op, this.tid, bufferId, session, refCount, z);
  }

  /** Broadcast of `bufferId` to `recipients` members of queue (room) `queueId`. */
  broadcast(queueId: number, recipients: number, bufferId: number): number {
    return this.b.rec(EventKind.Broadcast, 0, this.tid, queueId, 0n, recipients, bufferId);
  }

  block(reason: number = BlockReason.Sleep, detail = 0): number {
    return this.b.rec(
      EventKind.ThreadState,
      ThreadStateValue.Blocked,
      this.tid,
      reason,
      0n,
      detail,
      0,
    );
  }

  run(): number {
    return this.b.rec(EventKind.ThreadState, ThreadStateValue.Running, this.tid, 0, 0n, 0, 0);
  }

  /** PostQueuedCompletionStatus(0, 0, NULL): an exit packet. */
  pqcsExit(): number {
    return this.b.rec(EventKind.Pqcs, Op.None, this.tid, 0, 0n, 0, 0);
  }

  exit(code = 0): number {
    return this.b.rec(EventKind.ThreadExit, 0, this.tid, code, 0n, 0, 0);
  }

  marker(label: string, session: SessionId = 0n): number {
    return this.b.rec(EventKind.Marker, 0, this.tid, this.b.str(label), session, 0, 0);
  }

  private post(session: SessionId, op: Op, o: PostOptions): Io {
    const io: Io = {
      session,
      op,
      ioId: o.ioId ?? this.b.nextIoId(),
      requested: o.bytes ?? (op === Op.Recv ? 4096 : 64),
      incIndex: -1,
      postIndex: -1,
      bytes: 0,
      status: 0,
    };
    if (o.increment ?? true) {
      io.incIndex = this.inc(
        session,
        op === Op.Recv ? IoCountCause.RecvPost : IoCountCause.SendPost,
        io.ioId,
      );
    }
    if (o.posted ?? true) {
      const extra: { overlapped?: number; ring?: RingPost } = {};
      if (o.overlapped !== undefined) extra.overlapped = o.overlapped;
      if (o.ring !== undefined) extra.ring = o.ring;
      this.posted(io, o.result ?? WinError.IoPending, o.bufCount ?? 1, extra);
    }
    return io;
  }
}

export class TraceBuilder {
  private words = new Uint32Array(256 * RECORD_WORDS);
  length = 0;
  /** Timestamp of the next record, in ns. */
  nowNs = 1000;
  /** Time between consecutive records, in ns. */
  stepNs = 1000;
  readonly strings: string[] = [];
  private readonly stringIds = new Map<string, number>();
  private readonly counts = new Map<SessionId, number>();
  private ioSeq = 1;
  private nextTid = 0;
  private nextSocket = 0x100;
  /** Each session's socket (as given by its SessionCreated). */
  readonly socketOf = new Map<SessionId, number>();
  /** The thread that writes PacketQueued records (the emulated backend's kernel). */
  readonly kernel: ThreadHandle;

  constructor() {
    this.kernel = this.thread('kernel', ThreadRole.Kernel);
  }

  /** Index the next record will get. */
  get index(): number {
    return this.length;
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

  nextIoId(): number {
    return this.ioSeq++;
  }

  ioCountOf(session: SessionId): number {
    return this.counts.get(session) ?? 0;
  }

  /** Let `ns` pass before the next record. */
  wait(ns: number): this {
    this.nowNs += ns;
    return this;
  }

  thread(name: string, role: number = ThreadRole.Worker): ThreadHandle {
    const tid = this.nextTid++;
    this.rec(EventKind.ThreadStart, role, tid, this.str(name), 0n, 1000 + tid, 0);
    return new ThreadHandle(this, tid);
  }

  port(o: { concurrency?: number; workers?: number } = {}): number {
    return this.rec(
      EventKind.PortCreated,
      Backend.Emulated,
      this.kernel.tid,
      o.concurrency ?? 2,
      0n,
      o.workers ?? 2,
      0,
    );
  }

  /** Accept + SessionCreated by `by`; returns the new SessionID. */
  accept(
    by: ThreadHandle,
    o: { slot?: number; gen?: number; id?: SessionId; socket?: number; peer?: string } = {},
  ): SessionId {
    const slot = o.slot ?? 1;
    const id = o.id ?? (BigInt(0x5eed0000 + (o.gen ?? 1)) << 32n) | BigInt(slot);
    const socket = o.socket ?? (this.nextSocket += 4);
    const peer = this.str(o.peer ?? `127.0.0.1:${50000 + slot}`);
    this.rec(EventKind.Accept, 0, by.tid, peer, id, socket, 0);
    this.rec(EventKind.SessionCreated, 0, by.tid, peer, id, socket, slot);
    this.socketOf.set(id, socket);
    this.counts.set(id, 0);
    return id;
  }

  /** The kernel queues the completion of `io` (PacketQueued). */
  complete(io: Io, o: { bytes?: number; status?: number } = {}): number {
    io.status = o.status ?? 0;
    io.bytes = o.bytes ?? (io.status === 0 ? io.requested : 0);
    return this.rec(
      EventKind.PacketQueued,
      io.op,
      this.kernel.tid,
      io.bytes,
      io.session,
      io.status,
      io.ioId,
    );
  }

  /** A Gap: events lost by `tid`'s recorder (default: a client queue's, no thread). */
  gap(lost: number, tid: number = NO_THREAD, source = 1): number {
    return this.rec(EventKind.Gap, source, tid, lost, 0n, 0, 0);
  }

  /** SessionRings (v2): the session's RecvQ and SendQ capacities. */
  rings(by: ThreadHandle, session: SessionId, recvCap: number, sendCap: number): number {
    return this.rec(EventKind.SessionRings, 0, by.tid, recvCap, session, sendCap, 0);
  }

  /**
   * A Snapshot bracket (v2): `body` writes the state records, all at one
   * timestamp. Returns the index of the end record.
   */
  snapshot(body: () => void, o: { reason?: number; partial?: boolean } = {}): number {
    const reason = o.reason ?? 0;
    const begin = this.rec(EventKind.Snapshot, 0, NO_THREAD, reason, 0n, o.partial ? 1 : 0, 0);
    const step = this.stepNs;
    this.stepNs = 0;
    try {
      body();
    } finally {
      this.stepNs = step;
    }
    const inside = this.length - begin - 1;
    return this.rec(EventKind.Snapshot, 1, NO_THREAD, reason, 0n, inside, 0);
  }

  /** Inside a bracket: a live session with its peer and IOCount (cause Snapshot). */
  snapSession(
    by: ThreadHandle,
    o: { slot?: number; gen?: number; ioCount: number; socket?: number; rings?: [number, number] },
  ): SessionId {
    const slot = o.slot ?? 1;
    const id = (BigInt(0x5eed0000 + (o.gen ?? 1)) << 32n) | BigInt(slot);
    const socket = o.socket ?? (this.nextSocket += 4);
    const peer = this.str(`127.0.0.1:${50000 + slot}`);
    this.rec(EventKind.SessionCreated, 0, by.tid, peer, id, socket, slot);
    this.socketOf.set(id, socket);
    if (o.rings !== undefined) this.rings(by, id, o.rings[0], o.rings[1]);
    this.rec(EventKind.IoCount, 9, NO_THREAD, o.ioCount >>> 0, id, 0, 0);
    this.counts.set(id, o.ioCount);
    return id;
  }

  /** TraceEnd (v2): the trace ended as planned. */
  traceEnd(reason = 0): number {
    return this.rec(EventKind.TraceEnd, reason, NO_THREAD, this.length, 0n, 0, 0);
  }

  ioCount(tid: number, session: SessionId, delta: number, cause: number, ioId: number): number {
    const v = (this.counts.get(session) ?? 0) + delta;
    this.counts.set(session, v);
    return this.rec(EventKind.IoCount, cause, tid, v >>> 0, session, delta >>> 0, ioId);
  }

  /** Append one raw record; returns its index. */
  rec(
    kind: number,
    a: number,
    tid: number,
    x: number,
    session: SessionId,
    y: number,
    z: number,
  ): number {
    if ((this.length + 1) * RECORD_WORDS > this.words.length) {
      const bigger = new Uint32Array(this.words.length * 2);
      bigger.set(this.words);
      this.words = bigger;
    }
    const i = this.length++;
    writeRecord(
      this.words,
      i,
      kind,
      a,
      tid,
      x >>> 0,
      this.nowNs,
      sessionLo(session),
      sessionHi(session),
      y >>> 0,
      z >>> 0,
    );
    this.nowNs += this.stepNs;
    return i;
  }

  build(): TraceRecords & { strings: string[] } {
    return {
      words: this.words.slice(0, this.length * RECORD_WORDS),
      length: this.length,
      strings: this.strings.slice(),
    };
  }
}
