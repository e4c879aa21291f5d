// The replayed state of an instrumented IOCP server at one event: threads, the
// completion port, sessions with their outstanding operations and the open part
// of their IOCount ledger. replay.ts mutates it event by event; cloneState()
// makes an independent copy for checkpoints and for callers.
//
// Model and invariants (see packages/analysis/SEMANTICS.md for the event contract):
// - Event indices are 0-based positions in the trace; -1 means "not seen".
// - A session's `ioCount` is the sum of every IoCount delta applied to it; the
//   ledger explains it: ioCount = (ops with an open +1) + holds.length
//   - orphanDecrements (a -1 that matched no open +1 is an orphan).
// - An operation is outstanding from its first sign (IoCount +1, IoPosted or
//   PacketQueued) until its completion is dequeued, unless the post failed.
// - Released sessions leave `sessions` once settled (nothing outstanding,
//   IOCount 0) and stay visible in `recentReleased` for a while; a released
//   session that still has I/O or a non-zero count stays in `sessions`, because
//   that is exactly what a bug looks like.
// - Objects held in `port.queue`, `holds`, `recentOps`, `handling` and
//   `recentReleased` are never mutated after they are stored, so clones share them.

import * as proto from './proto.ts';
import type { Op } from './proto.ts';
import { Fifo } from './fifo.ts';
import type { SessionId } from './ids.ts';

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { BlockReason, ThreadRole, ThreadStateValue } = proto;
type ThreadRole = proto.ThreadRole;
type ThreadStateValue = proto.ThreadStateValue;
type BlockReason = proto.BlockReason;

export type SessionLifecycle = 'live' | 'disconnecting' | 'released';

export interface ThreadState {
  tid: number;
  role: ThreadRole;
  /** String-table index of the thread's name, -1 if unknown. */
  nameStr: number;
  osThreadId: number;
  state: ThreadStateValue;
  /** Why the thread is blocked (BlockReason.None unless state is Blocked). */
  reason: BlockReason;
  /** Reason detail: the lock id for a lock wait, else what the server recorded. */
  detail: number;
  /** Event index of the last state change. */
  sinceIndex: number;
  /** Has called GetQueuedCompletionStatus at least once (a port thread). */
  isPortThread: boolean;
  /** Inside a GQCS call right now. */
  inGqcs: boolean;
  /** Packets dequeued by the thread's last GQCS call (several for GQCS-Ex), in order. */
  handling: HandledPacket[];
  lastGqcsEnterIndex: number;
  lastGqcsReturnIndex: number;
  /** Error code of the last GQCS return (0 when it returned TRUE). */
  lastGqcsError: number;
  /** The last GQCS return had a NULL overlapped. */
  lastGqcsNullOverlapped: boolean;
  /** Locks this thread holds, most recent last. */
  locksHeld: number[];
  startIndex: number;
  exitIndex: number;
  /** ThreadStart was seen and no gap has happened since. */
  complete: boolean;
  /**
   * The thread's state is known. False after a gap (the lost events may have
   * changed it) until the thread's next record: any record a thread writes says
   * it is running, unless it says otherwise (GqcsEnter, ThreadState, LockWait).
   */
  known: boolean;
  /** The session key (halves) and ioId of this thread's last IoPosted: IoDetail and IoRing follow it. */
  lastPostLo: number;
  lastPostHi: number;
  lastPostIoId: number;
  /** Event index of the ThreadStart that last listed it in a Snapshot bracket, -1 if none. */
  listedIndex: number;
  /** The session key (halves) and ioId of this thread's last IoCount +1 of a post. */
  lastIncLo: number;
  lastIncHi: number;
  lastIncIoId: number;
  /**
   * A Gap said this thread's recorder overflowed and the thread has written
   * nothing since: its loss may still be going on (a drainer places the Gap
   * at the loss's start), so the Gap's effects hold until its next record.
   */
  lossOpen: boolean;
}

/** A completion packet waiting in the port's FIFO queue. Immutable. */
export interface QueuedPacket {
  /** Completion key; by the reference server's convention the SessionID. */
  key: SessionId;
  op: Op;
  bytes: number;
  /** Win32 status: 0 success, else the error the GQCS caller will see. */
  status: number;
  ioId: number;
  hasOverlapped: boolean;
  /** Queued by PostQueuedCompletionStatus rather than by an I/O completion. */
  posted: boolean;
  queuedIndex: number;
  tsNs: number;
  /** Number of gaps seen before it was queued (packets from an older epoch may be stale). */
  gapEpoch: number;
}

/** One packet a thread dequeued and is handling. Immutable. */
export interface HandledPacket {
  key: SessionId;
  op: Op;
  ok: boolean;
  hasOverlapped: boolean;
  bytes: number;
  error: number;
  ioId: number;
  dequeueIndex: number;
  /** Event index of the PacketQueued/Pqcs it matched, -1 if none. */
  queuedIndex: number;
}

export interface PortState {
  /** Event index of PortCreated, -1 if not seen. */
  createdIndex: number;
  backend: number;
  /** Concurrency value; 0 = unknown / number of processors. */
  concurrency: number;
  workerCount: number;
  queue: Fifo<QueuedPacket>;
  /** Port threads currently running (not waiting in GQCS, not blocked, not exited). */
  running: number;
  /** Threads waiting inside GQCS, in LIFO order: the last one is released next. */
  waiting: number[];
  exitPacketsPosted: number;
  queuedTotal: number;
  dequeuedTotal: number;
  /** Dequeues that matched no queued packet (only expected after a gap). */
  unmatchedDequeues: number;
  /**
   * The queue's contents are known. False after a gap (packets may have been
   * queued and dequeued in the lost events) until a snapshot gives the queue,
   * or a port thread goes to sleep in GQCS with spare concurrency (which it only
   * does when nothing is queued).
   */
  queueKnown: boolean;
  /**
   * Live port threads whose state is unknown (after a gap): while it is above
   * 0, `running` and `waiting` count only the threads that are known.
   */
  unknownThreads: number;
}

/** One overlapped operation of a session, from its +1 to its settlement. */
export interface OpState {
  ioId: number;
  op: Op;
  /** The IoCount +1 that accounts for it. */
  incIndex: number;
  incTid: number;
  /** The IoPosted record (written when WSARecv/WSASend returned). */
  postIndex: number;
  postTid: number;
  /** WSARecv/WSASend result: 0 immediate, 997 pending, other = failed (no packet); -1 not seen. */
  postResult: number;
  requestedBytes: number;
  /** WSABUF count (1, or 2 when the ring buffer wraps); 0 = not seen. */
  bufCount: number;
  queuedIndex: number;
  dequeueIndex: number;
  dequeueTid: number;
  /** Completion status (0 ok, else error); -1 until dequeued. */
  status: number;
  /** Bytes transferred, -1 until dequeued. */
  bytes: number;
  /** The IoCount -1 that balances the +1. */
  decIndex: number;
  /**
   * The call's OVERLAPPED (IoDetail, v2): its address or the server's id for
   * it, as a number (exact below 2^53, which covers every x64 user-mode
   * address); -1 = not recorded.
   */
  overlapped: number;
  /** Ring geometry of the post (IoRing, v2): WSABUF[0] offset and length, WSABUF[1] offset, free/used bytes; -1 = not recorded. */
  ringOff0: number;
  ringLen0: number;
  ringOff1: number;
  ringAvail: number;
}

/** An open +1 that is not an I/O: the accept hold or a lookup's hold. Immutable. */
export interface HoldEntry {
  index: number;
  cause: number;
  tid: number;
}

export interface SessionState {
  id: SessionId;
  slot: number;
  socket: number;
  /** String-table index of "ip:port", -1 if unknown. */
  peerStr: number;
  lifecycle: SessionLifecycle;
  /** Sum of all IoCount deltas seen for this session. */
  ioCount: number;
  /** The `value` field of the last IoCount event (what the server observed). */
  reportedIoCount: number;
  createdIndex: number;
  acceptIndex: number;
  /** Thread that created/accepted it (the accept thread), -1 if unknown. */
  creatorTid: number;
  disconnectIndex: number;
  disconnectReason: number;
  disconnectError: number;
  socketClosedIndex: number;
  releasedIndex: number;
  releaseCount: number;
  /** Operations not yet settled (outstanding, or completed but not fully accounted for). */
  ops: OpState[];
  holds: HoldEntry[];
  orphanDecrements: number;
  /** The last few settled operations, newest last. */
  recentOps: OpState[];
  /** Completions dequeued for this session. */
  completions: number;
  recvBytes: number;
  sentBytes: number;
  lastIndex: number;
  /** Its creation was seen (or a snapshot gave its state) and no gap has happened since: detectors trust it. */
  complete: boolean;
  /** Known from a snapshot (its earlier history is not in the trace). */
  fromSnapshot: boolean;
  /** RecvQ and SendQ capacities (SessionRings, v2); 0 = not recorded. */
  recvCap: number;
  sendCap: number;
  /**
   * Copy-on-write owner (internal): the Replayer whose epoch matches may mutate
   * this object in place; any other copies it first, because checkpoints share it.
   */
  rev: number;
}

export interface LockState {
  lockId: number;
  nameStr: number;
  /** Holding thread, -1 when free. */
  owner: number;
  acquiredIndex: number;
  /** Threads waiting for it, in arrival order. */
  waiters: number[];
}
// Locks that are free with nobody waiting are dropped from ReplayState.locks.

export interface ReplayState {
  /** Number of events applied: the state is "after event count - 1". */
  count: number;
  /** Timestamp of the last applied event (0 before any). */
  tsNs: number;
  threads: Map<number, ThreadState>;
  port: PortState;
  sessions: Map<SessionId, SessionState>;
  /** Recently released and settled sessions, oldest first (bounded, frozen). */
  recentReleased: SessionState[];
  /** Locks that are held or waited for. */
  locks: Map<number, LockState>;
  gaps: number;
  lostEvents: number;
  /** Event kinds not understood by this version (counted, otherwise ignored). */
  unknownEvents: number;
  sessionsCreated: number;
  sessionsReleased: number;
  /** Inside a Snapshot bracket (its records are state, not events). */
  inSnapshot: boolean;
  /** Event index of the last Snapshot begin, -1 if none. */
  snapshotBegin: number;
  /** Event index of the last Snapshot end, -1 if none. */
  snapshotIndex: number;
  /** The last (or current) snapshot said events had been lost before it (partial state). */
  snapshotPartial: boolean;
  /** Event index of the TraceEnd record (the trace ended as planned), -1 if none. */
  endIndex: number;
  /** Its reason (TraceEndReason: 0 stopped, 1 size cap, 2 server exit, 3 detached), -1 if none. */
  endReason: number;
}

export const RECENT_RELEASED_MAX = 64;
export const RECENT_OPS_MAX = 2;

export function createState(): ReplayState {
  return {
    count: 0,
    tsNs: 0,
    threads: new Map(),
    port: {
      createdIndex: -1,
      backend: 0,
      concurrency: 0,
      workerCount: 0,
      queue: new Fifo(),
      running: 0,
      waiting: [],
      exitPacketsPosted: 0,
      queuedTotal: 0,
      dequeuedTotal: 0,
      unmatchedDequeues: 0,
      queueKnown: true,
      unknownThreads: 0,
    },
    sessions: new Map(),
    recentReleased: [],
    locks: new Map(),
    gaps: 0,
    lostEvents: 0,
    unknownEvents: 0,
    sessionsCreated: 0,
    sessionsReleased: 0,
    inSnapshot: false,
    snapshotBegin: -1,
    snapshotIndex: -1,
    snapshotPartial: false,
    endIndex: -1,
    endReason: -1,
  };
}

export function newThread(tid: number, index: number): ThreadState {
  return {
    tid,
    role: ThreadRole.Other,
    nameStr: -1,
    osThreadId: 0,
    state: ThreadStateValue.Running,
    reason: BlockReason.None,
    detail: 0,
    sinceIndex: index,
    isPortThread: false,
    inGqcs: false,
    handling: [],
    lastGqcsEnterIndex: -1,
    lastGqcsReturnIndex: -1,
    lastGqcsError: 0,
    lastGqcsNullOverlapped: false,
    locksHeld: [],
    startIndex: -1,
    exitIndex: -1,
    complete: false,
    known: true,
    lossOpen: false,
    lastPostLo: 0,
    lastPostHi: 0,
    lastPostIoId: 0,
    listedIndex: -1,
    lastIncLo: 0,
    lastIncHi: 0,
    lastIncIoId: 0,
  };
}

export function newSession(id: SessionId): SessionState {
  return {
    id,
    slot: -1,
    socket: -1,
    peerStr: -1,
    lifecycle: 'live',
    ioCount: 0,
    reportedIoCount: 0,
    createdIndex: -1,
    acceptIndex: -1,
    creatorTid: -1,
    disconnectIndex: -1,
    disconnectReason: 0,
    disconnectError: 0,
    socketClosedIndex: -1,
    releasedIndex: -1,
    releaseCount: 0,
    ops: [],
    holds: [],
    orphanDecrements: 0,
    recentOps: [],
    completions: 0,
    recvBytes: 0,
    sentBytes: 0,
    lastIndex: -1,
    complete: false,
    fromSnapshot: false,
    recvCap: 0,
    sendCap: 0,
    rev: 0,
  };
}

export function newOp(ioId: number, op: Op): OpState {
  return {
    ioId,
    op,
    incIndex: -1,
    incTid: -1,
    postIndex: -1,
    postTid: -1,
    postResult: -1,
    requestedBytes: 0,
    bufCount: 0,
    queuedIndex: -1,
    dequeueIndex: -1,
    dequeueTid: -1,
    status: -1,
    bytes: -1,
    decIndex: -1,
    overlapped: -1,
    ringOff0: -1,
    ringLen0: -1,
    ringOff1: -1,
    ringAvail: -1,
  };
}

/** The WSARecv/WSASend call failed: no packet will ever come for it. */
export const postFailed = (op: OpState): boolean =>
  op.postResult !== -1 && op.postResult !== 0 && op.postResult !== 997;

/** Issued and neither dequeued nor failed: a completion packet is still owed. */
export const isOutstanding = (op: OpState): boolean => op.dequeueIndex < 0 && !postFailed(op);

/** Nothing more is expected for this op: its I/O is over and its +1 was balanced. */
export const isSettled = (op: OpState): boolean =>
  op.decIndex >= 0 &&
  (op.incIndex >= 0 || op.postIndex >= 0) &&
  (postFailed(op) || (op.dequeueIndex >= 0 && op.postIndex >= 0));

export function outstandingOps(s: SessionState): OpState[] {
  return s.ops.filter(isOutstanding);
}

// ---- cloning ---------------------------------------------------------------

const cloneThread = (t: ThreadState): ThreadState => ({
  ...t,
  handling: t.handling.slice(),
  locksHeld: t.locksHeld.slice(),
});

export const cloneOp = (o: OpState): OpState => ({
  ioId: o.ioId,
  op: o.op,
  incIndex: o.incIndex,
  incTid: o.incTid,
  postIndex: o.postIndex,
  postTid: o.postTid,
  postResult: o.postResult,
  requestedBytes: o.requestedBytes,
  bufCount: o.bufCount,
  queuedIndex: o.queuedIndex,
  dequeueIndex: o.dequeueIndex,
  dequeueTid: o.dequeueTid,
  status: o.status,
  bytes: o.bytes,
  decIndex: o.decIndex,
  overlapped: o.overlapped,
  ringOff0: o.ringOff0,
  ringLen0: o.ringLen0,
  ringOff1: o.ringOff1,
  ringAvail: o.ringAvail,
});

/** A copy that can be mutated without touching `s` (ops copied; immutable leaves shared). */
export function cloneSession(s: SessionState, rev: number = s.rev): SessionState {
  const ops = new Array<OpState>(s.ops.length);
  for (let i = 0; i < ops.length; i++) ops[i] = cloneOp(s.ops[i]!);
  // Written out (not spread) to keep one hidden class: this runs for every session on seek.
  return {
    id: s.id,
    slot: s.slot,
    socket: s.socket,
    peerStr: s.peerStr,
    lifecycle: s.lifecycle,
    ioCount: s.ioCount,
    reportedIoCount: s.reportedIoCount,
    createdIndex: s.createdIndex,
    acceptIndex: s.acceptIndex,
    creatorTid: s.creatorTid,
    disconnectIndex: s.disconnectIndex,
    disconnectReason: s.disconnectReason,
    disconnectError: s.disconnectError,
    socketClosedIndex: s.socketClosedIndex,
    releasedIndex: s.releasedIndex,
    releaseCount: s.releaseCount,
    ops,
    holds: s.holds.slice(),
    orphanDecrements: s.orphanDecrements,
    recentOps: s.recentOps.slice(),
    completions: s.completions,
    recvBytes: s.recvBytes,
    sentBytes: s.sentBytes,
    lastIndex: s.lastIndex,
    complete: s.complete,
    fromSnapshot: s.fromSnapshot,
    recvCap: s.recvCap,
    sendCap: s.sendCap,
    rev,
  };
}

/**
 * Copy everything except the sessions, which are shared with `st` (`sessions`
 * is a new Map over the same objects). Safe only for a Replayer, which copies a
 * session before its first write (see SessionState.rev).
 */
export function cloneStateSharingSessions(st: ReplayState): ReplayState {
  const threads = new Map<number, ThreadState>();
  for (const [k, t] of st.threads) threads.set(k, cloneThread(t));
  const locks = new Map<number, LockState>();
  for (const [k, l] of st.locks) locks.set(k, { ...l, waiters: l.waiters.slice() });
  return {
    ...st,
    threads,
    port: { ...st.port, queue: st.port.queue.clone(), waiting: st.port.waiting.slice() },
    sessions: new Map(st.sessions),
    // Released sessions are frozen: nothing mutates a session once it is in this list.
    recentReleased: st.recentReleased.slice(),
    locks,
  };
}

/** A deep, independent copy (immutable leaves are shared). */
export function cloneState(st: ReplayState): ReplayState {
  const out = cloneStateSharingSessions(st);
  for (const [k, s] of out.sessions) out.sessions.set(k, cloneSession(s));
  return out;
}
