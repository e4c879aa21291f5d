// The reducer: applies one 32-byte record at a time to a mutable ReplayState
// (state.ts), and describes what the event did in `step` so detectors can judge
// it without re-deriving anything.
//
// Matching rules (the event contract is in ../SEMANTICS.md):
// - Operations are matched by (session, ioId). Each event fills the first op of
//   that ioId still missing its phase (+1, post, queue, dequeue, -1), so a
//   completion dequeued before its IoPosted record (the WSARecv-returned race)
//   lands on the same op. A second post of an in-flight ioId makes a second op.
// - A dequeue removes the matching packet from the FIFO (normally the head).
// - PQCS queues its own packet; a PacketQueued record with op=Post is the
//   kernel's echo of it and is not queued twice.
// - A gap marks every existing session and thread incomplete: detectors only
//   judge histories they saw from the start. It also makes unknown what it may
//   have changed: the port's queue (until a snapshot gives it, or a port thread
//   sleeps in GQCS with spare concurrency, which it only does when nothing is
//   queued), the state of the threads whose events were lost (until their next
//   record), and the locks.
// - A Snapshot bracket (v2) gives state, not events: its records set threads,
//   sessions (with their IOCount and outstanding operations), the queue and the
//   held locks as given, replacing what was there. A session's count beyond its
//   listed operations becomes holds of cause Snapshot, which any later -1 of
//   that session may close. Sessions and threads the bracket does not list are
//   forgotten (they ended in the events it stands for).
// Hot path: no allocation for events that do not create objects; sessions are
// found through a small direct-mapped cache before the bigint-keyed Map.

import * as proto from './proto.ts';
import { sessionIdOf as sessionIdOf_ } from './ids.ts';
import type { TraceRecords } from './source.ts';
import { Fifo } from './fifo.ts';
import {
  RECENT_OPS_MAX,
  RECENT_RELEASED_MAX,
  cloneSession as cloneSession_,
  createState as createState_,
  isOutstanding as isOutstanding_,
  isSettled as isSettled_,
  newOp as newOp_,
  newSession as newSession_,
  newThread as newThread_,
  type HandledPacket,
  type HoldEntry,
  type LockState,
  type OpState,
  type QueuedPacket,
  type ReplayState,
  type SessionLifecycle,
  type SessionState,
  type ThreadState,
} from './state.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const sessionIdOf = sessionIdOf_;
const cloneSession = cloneSession_;
const createState = createState_;
const isOutstanding = isOutstanding_;
const isSettled = isSettled_;
const newOp = newOp_;
const newSession = newSession_;
const newThread = newThread_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const {
  BlockReason,
  EventKind,
  IoCountCause,
  NO_THREAD,
  Op,
  RECORD_WORDS,
  TS_HI_MASK,
  ThreadRole,
  ThreadStateValue,
} = proto;
/** IoCountCause.Snapshot (v2), kept local like the others. */
const CAUSE_SNAPSHOT = 9;
/** GapSource.RingOverflow: a recorder's ring was full (the Gap's tid lost records). */
const GAP_RING_OVERFLOW = 0;
/** Snapshot begin `y` bit 0: events were lost before the snapshot (its state may be partial). */
export const SNAPSHOT_PARTIAL = 1;
/** ThreadState `z` bit 0 inside a Snapshot bracket: the thread is one of the port's threads. */
export const SNAPSHOT_PORT_THREAD = 1;
type Op = proto.Op;
type ThreadStateValue = proto.ThreadStateValue;
type BlockReason = proto.BlockReason;

const TWO_32 = 4294967296;
const HANDLING_MAX = 64;

/** What the last applied event did. One instance, overwritten by every apply(). */
export interface Step {
  index: number;
  kind: number;
  tid: number;
  tsNs: number;
  thread: ThreadState | null;
  session: SessionState | null;
  /** The session's lifecycle before this event; null if it was unknown until now. */
  lifecycleBefore: SessionLifecycle | null;
  /** A session with the same id existed and was released; this creation replaced it. */
  replaced: SessionState | null;
  op: OpState | null;
  opIsNew: boolean;
  /** Another op with this ioId was already past this phase (an in-flight OVERLAPPED reused, a second dequeue). */
  opDuplicate: boolean;
  /** A -1 whose op had already been decremented: the index of that earlier -1, else -1. */
  earlierDecIndex: number;
  /** A -1 that matched no open +1. */
  orphanDecrement: boolean;
  /** Hold entry opened or closed by this IoCount event. */
  hold: HoldEntry | null;
  /** Packet queued, or packet removed by a dequeue. */
  packet: QueuedPacket | null;
  /** For a dequeue: what the thread now handles. */
  handled: HandledPacket | null;
  lock: LockState | null;
  /**
   * This record is the first of a thread whose recorder overflowed since its
   * Gap: what the thread did meanwhile is lost too, so the Gap's effects were
   * applied again just before this record (detectors forget as for a Gap).
   */
  gapEnded: boolean;
}

function emptyStep(): Step {
  return {
    index: -1,
    kind: 0,
    tid: NO_THREAD,
    tsNs: 0,
    thread: null,
    session: null,
    lifecycleBefore: null,
    replaced: null,
    op: null,
    opIsNew: false,
    opDuplicate: false,
    earlierDecIndex: -1,
    orphanDecrement: false,
    hold: null,
    packet: null,
    handled: null,
    lock: null,
    gapEnded: false,
  };
}

const isIoCause = (cause: number): boolean =>
  cause === IoCountCause.RecvPost ||
  cause === IoCountCause.SendPost ||
  cause === IoCountCause.Completion ||
  cause === IoCountCause.PostFailed;

const opForCause = (cause: number): Op =>
  cause === IoCountCause.RecvPost ? Op.Recv : cause === IoCountCause.SendPost ? Op.Send : Op.None;

let nextEpoch = 1;

export class Replayer {
  state: ReplayState;
  /** Sessions whose `rev` equals this are ours to mutate; others are copied first. */
  private epoch = nextEpoch++;
  readonly step: Step = emptyStep();
  // A direct-mapped cache in front of the bigint-keyed Map: most events hit a
  // session seen moments ago, and a hit costs no BigInt allocation.
  private readonly cacheMask: number;
  private readonly cacheLo: Float64Array;
  private readonly cacheHi: Float64Array;
  private readonly cacheObj: (SessionState | undefined)[];
  /**
   * Continues from `state`. Sessions are copied before their first change, so
   * `state` may share them with others (unless `owned`: then they are adopted);
   * everything else in it is mutated.
   */
  constructor(
    state: ReplayState = createState(),
    opts: {
      owned?: boolean;
      /** Session cache entries, a power of two (default 4,096; a long pass over many sessions wants more). */
      cacheSize?: number;
    } = {},
  ) {
    this.state = state;
    const size = opts.cacheSize ?? 4096;
    if (!Number.isInteger(size) || size < 1 || (size & (size - 1)) !== 0) {
      throw new Error(`replay: cacheSize must be a power of two, got ${size}`);
    }
    this.cacheMask = size - 1;
    this.cacheLo = new Float64Array(size).fill(-1);
    this.cacheHi = new Float64Array(size).fill(-1);
    this.cacheObj = new Array<SessionState | undefined>(size).fill(undefined);
    // Sessions nobody else references (freshly decoded) can be adopted as they are.
    if (opts.owned === true) for (const s of state.sessions.values()) s.rev = this.epoch;
  }

  /**
   * Give up ownership of every current session: after this, the next change to
   * any of them copies it first, so a snapshot may keep the present objects.
   */
  share(): void {
    this.epoch = nextEpoch++;
  }

  /** The session object this replayer may mutate (copied if shared). */
  private own(s: SessionState): SessionState {
    if (s.rev === this.epoch) return s;
    const c = cloneSession(s, this.epoch);
    this.state.sessions.set(c.id, c);
    const lo = Number(c.id & 0xffffffffn);
    const hi = Number(c.id >> 32n);
    const k = this.cacheSlot(lo, hi);
    this.cacheLo[k] = lo;
    this.cacheHi[k] = hi;
    this.cacheObj[k] = c;
    return c;
  }

  /** Apply records [state.count, toCount) of `src`. */
  advance(src: TraceRecords, toCount: number): void {
    const w = src.words;
    for (let i = this.state.count; i < toCount; i++) this.apply(w, i);
  }

  /**
   * Apply record i; i must equal state.count (events are applied in order).
   * `w` holds records [base, ...): a caller may keep only a window of the
   * trace (record i is at word (i - base) * 8). Default base 0: the whole trace.
   */
  apply(w: Uint32Array, i: number, base = 0): void {
    const st = this.state;
    if (i !== st.count) throw new Error(`replay: expected event ${st.count}, got ${i}`);
    const o = (i - base) * RECORD_WORDS;
    const w0 = w[o]!;
    const kind = w0 & 0xff;
    const a = (w0 >>> 8) & 0xff;
    const tid = w0 >>> 16;
    const tsNs = w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
    const fx = this.step;
    fx.index = i;
    fx.kind = kind;
    fx.tid = tid;
    fx.tsNs = tsNs;
    fx.session = null;
    fx.lifecycleBefore = null;
    fx.replaced = null;
    fx.op = null;
    fx.opIsNew = false;
    fx.opDuplicate = false;
    fx.earlierDecIndex = -1;
    fx.orphanDecrement = false;
    fx.hold = null;
    fx.packet = null;
    fx.handled = null;
    fx.lock = null;
    st.count = i + 1;
    st.tsNs = tsNs;
    const th = tid === NO_THREAD ? null : this.thread(tid, i);
    fx.thread = th;
    if (st.inSnapshot) {
      if (kind === EventKind.Snapshot) this.snapshotEnd(i, a);
      else this.snapshotRecord(w, o, i, kind, a, tid, th);
      return;
    }
    fx.gapEnded = false;
    if (th !== null && th.lossOpen && kind !== EventKind.Gap) {
      // The thread's loss ends here: whatever it did since its Gap is lost too.
      th.lossOpen = false;
      this.gapEffects(tid);
      fx.gapEnded = true;
    }
    // Any record a thread writes after a gap says what it is doing again.
    if (th !== null && !th.known) this.makeKnown(th, i);

    switch (kind) {
      case EventKind.ThreadStart: {
        const t = th!;
        t.role = a as ThreadState['role'];
        t.nameStr = w[o + 1]!;
        t.osThreadId = w[o + 6]!;
        t.startIndex = i;
        t.exitIndex = -1;
        t.complete = true;
        this.setThreadState(t, ThreadStateValue.Running, BlockReason.None, 0, i);
        return;
      }
      case EventKind.ThreadExit: {
        const t = th!;
        t.exitIndex = i;
        if (t.inGqcs) this.leaveWaiting(t);
        this.setThreadState(t, ThreadStateValue.Exited, BlockReason.None, 0, i);
        return;
      }
      case EventKind.ThreadState: {
        const t = th!;
        const state = a as ThreadStateValue;
        if (state === ThreadStateValue.Exited) {
          t.exitIndex = i;
          if (t.inGqcs) this.leaveWaiting(t);
        }
        this.setThreadState(
          t,
          state,
          state === ThreadStateValue.Blocked ? (w[o + 1]! as BlockReason) : BlockReason.None,
          w[o + 6]!,
          i,
        );
        const p = st.port;
        if (
          state === ThreadStateValue.Waiting &&
          t.inGqcs &&
          !p.queueKnown &&
          p.unknownThreads === 0 &&
          p.concurrency > 0 &&
          p.running < p.concurrency
        ) {
          // A port thread only goes to sleep with spare concurrency when nothing is queued.
          p.queue = new Fifo();
          p.queueKnown = true;
        }
        return;
      }
      case EventKind.PortCreated: {
        const p = st.port;
        p.createdIndex = i;
        p.backend = a;
        p.concurrency = w[o + 1]!;
        p.workerCount = w[o + 6]!;
        return;
      }
      case EventKind.GqcsEnter: {
        const t = th;
        if (t === null) return;
        if (!t.isPortThread) {
          t.isPortThread = true;
          if (t.state === ThreadStateValue.Running) st.port.running++;
        }
        if (t.inGqcs) this.leaveWaiting(t);
        t.inGqcs = true;
        // Clones copy `handling`, so it can be reused in place.
        t.handling = [];
        t.lastGqcsEnterIndex = i;
        st.port.waiting.push(t.tid);
        this.setThreadState(t, ThreadStateValue.Waiting, BlockReason.None, 0, i);
        return;
      }
      case EventKind.GqcsReturn:
        this.gqcsReturn(w, o, i, a, th);
        return;
      case EventKind.PacketQueued: {
        const op = (a & 0x0f) as Op;
        if (op === Op.Post) return;
        const lo = w[o + 4]!;
        const hi = w[o + 5]!;
        const s = this.sessionFor(lo, hi, i);
        const pk: QueuedPacket = {
          key: s.id,
          op,
          bytes: w[o + 1]!,
          status: w[o + 6]!,
          ioId: w[o + 7]!,
          hasOverlapped: true,
          posted: false,
          queuedIndex: i,
          tsNs,
          gapEpoch: st.gaps,
        };
        st.port.queue.push(pk);
        st.port.queuedTotal++;
        fx.packet = pk;
        const rec = this.opFor(s, pk.ioId, op, PH_QUEUE);
        rec.queuedIndex = i;
        return;
      }
      case EventKind.Pqcs: {
        const hasOverlapped = (a & 0x20) !== 0;
        const op = (a & 0x0f) as Op;
        const bytes = w[o + 1]!;
        const lo = w[o + 4]!;
        const hi = w[o + 5]!;
        const pk: QueuedPacket = {
          key: sessionIdOf(lo, hi),
          op: op === Op.None ? Op.Post : op,
          bytes,
          status: 0,
          ioId: w[o + 7]!,
          hasOverlapped,
          posted: true,
          queuedIndex: i,
          tsNs,
          gapEpoch: st.gaps,
        };
        st.port.queue.push(pk);
        st.port.queuedTotal++;
        if (!hasOverlapped && lo === 0 && hi === 0 && bytes === 0) st.port.exitPacketsPosted++;
        fx.packet = pk;
        return;
      }
      case EventKind.IoPosted: {
        let lo = w[o + 4]!;
        let hi = w[o + 5]!;
        if (
          lo === 0 &&
          hi === 0 &&
          th !== null &&
          th.lastIncIoId === w[o + 7]! &&
          th.lastIncIoId !== 0
        ) {
          // A call that failed before it found the socket's key (WSAENOTSOCK: closed
          // meanwhile) is the post whose +1 this thread just counted.
          lo = th.lastIncLo;
          hi = th.lastIncHi;
        }
        const s = this.sessionFor(lo, hi, i);
        const op = (a & 0x0f) as Op;
        const rec = this.opFor(s, w[o + 7]!, op, PH_POST);
        // AcceptEx, ConnectEx and DisconnectEx are counted with a receive or send post's
        // cause (the hook DLL's derived +1): the call names the op.
        if (op >= Op.Accept && op <= Op.Disconnect) rec.op = op;
        rec.postIndex = i;
        rec.postTid = tid;
        rec.postResult = w[o + 6]!;
        rec.requestedBytes = w[o + 1]!;
        rec.bufCount = a >>> 4;
        if (th !== null) {
          th.lastPostLo = lo;
          th.lastPostHi = hi;
          th.lastPostIoId = w[o + 7]!;
        }
        this.settle(s, rec);
        return;
      }
      case EventKind.IoDetail: {
        let lo = w[o + 4]!;
        let hi = w[o + 5]!;
        if (lo === 0 && hi === 0 && th !== null && th.lastPostIoId === w[o + 7]!) {
          lo = th.lastPostLo;
          hi = th.lastPostHi;
        }
        const s = this.sessionFor(lo, hi, i);
        const rec = this.postedOp(s, w[o + 7]!);
        if (rec !== null) {
          rec.overlapped = w[o + 1]! + w[o + 6]! * TWO_32;
          if ((a & 0x10) !== 0 && rec.postResult === 0 && rec.dequeueIndex < 0) {
            // skipOnSuccess (v2): done in the call, and no packet will come. It
            // completed here: this record stands for its dequeue.
            rec.dequeueIndex = i;
            rec.dequeueTid = tid;
            rec.status = 0;
            this.settle(s, rec);
          }
        }
        fx.op = rec;
        return;
      }
      case EventKind.IoRing: {
        // Its session field holds off1/avail: the thread's last IoPosted names the session.
        if (th === null || th.lastPostIoId !== w[o + 7]! || th.lastPostIoId === 0) return;
        const s = this.sessionFor(th.lastPostLo, th.lastPostHi, i);
        const rec = this.postedOp(s, w[o + 7]!);
        if (rec !== null) setRing(rec, w, o);
        fx.op = rec;
        return;
      }
      case EventKind.SessionRings: {
        const s = this.sessionFor(w[o + 4]!, w[o + 5]!, i);
        s.recvCap = w[o + 1]!;
        s.sendCap = w[o + 6]!;
        return;
      }
      case EventKind.Snapshot:
        if (a === 0) this.snapshotBegin(i, w[o + 6]!);
        return;
      case EventKind.TraceEnd:
        st.endIndex = i;
        st.endReason = a;
        return;
      case EventKind.CallSite:
        return;
      case EventKind.IoCount:
        this.ioCount(w, o, i, a, tid);
        return;
      case EventKind.SessionCreated:
      case EventKind.Accept: {
        const s = this.createSession(w[o + 4]!, w[o + 5]!, i, kind);
        if (s.creatorTid < 0) s.creatorTid = tid;
        if (s.peerStr < 0 || kind === EventKind.SessionCreated) s.peerStr = w[o + 1]!;
        s.socket = w[o + 6]!;
        if (kind === EventKind.SessionCreated) {
          s.createdIndex = i;
          s.slot = w[o + 7]!;
        } else {
          s.acceptIndex = i;
        }
        return;
      }
      case EventKind.Disconnect: {
        const s = this.sessionFor(w[o + 4]!, w[o + 5]!, i);
        if (s.disconnectIndex < 0) {
          s.disconnectIndex = i;
          s.disconnectReason = a;
          s.disconnectError = w[o + 6]!;
        }
        if (s.lifecycle === 'live') s.lifecycle = 'disconnecting';
        return;
      }
      case EventKind.SocketClosed: {
        const s = this.sessionFor(w[o + 4]!, w[o + 5]!, i);
        // Closing another handle (a stale one kept from the slot's previous
        // session) does not close this session's socket.
        if (s.socketClosedIndex < 0 && (s.socket < 0 || s.socket === w[o + 6]!)) {
          s.socketClosedIndex = i;
        }
        if (s.lifecycle === 'live') s.lifecycle = 'disconnecting';
        this.retireIfDone(s);
        return;
      }
      case EventKind.SessionReleased: {
        const s = this.sessionFor(w[o + 4]!, w[o + 5]!, i);
        if (s.releaseCount === 0) {
          s.releasedIndex = i;
          st.sessionsReleased++;
        }
        s.releaseCount++;
        s.lifecycle = 'released';
        this.retireIfDone(s);
        return;
      }
      case EventKind.LockWait:
      case EventKind.LockAcquire:
      case EventKind.LockRelease:
        this.lockEvent(kind, w[o + 1]!, w[o + 6]!, th, i);
        return;
      case EventKind.Marker:
        return;
      case EventKind.Gap: {
        st.gaps++;
        st.lostEvents += w[o + 1]! + w[o + 6]! * TWO_32;
        this.gapEffects(tid);
        if (th !== null && a === GAP_RING_OVERFLOW) th.lossOpen = true;
        return;
      }
      case EventKind.HandleAssociated:
      case EventKind.CompletionModes:
        // Facts about handles (v2): the skip-on-success a post relies on travels in its IoDetail.
        return;
      default:
        st.unknownEvents++;
    }
  }

  /**
   * What a Gap does to the state: everything that existed becomes incomplete,
   * the port's queue unknown, the locks forgotten; a recorder's own overflow
   * (tid) hides only that thread's state, a client queue's or a file's
   * (NO_THREAD) everyone's.
   */
  private gapEffects(tid: number): void {
    const st = this.state;
    for (const s of [...st.sessions.values()]) this.own(s).complete = false;
    const p = st.port;
    p.queue = new Fifo();
    p.queueKnown = false;
    for (const t of st.threads.values()) {
      t.complete = false;
      if (tid !== NO_THREAD && t.tid !== tid) continue;
      if (!t.known || t.exitIndex >= 0) continue;
      if (t.isPortThread) {
        if (t.state === ThreadStateValue.Running) p.running--;
        p.unknownThreads++;
      }
      if (t.inGqcs) this.leaveWaiting(t);
      t.known = false;
      t.handling = [];
      t.locksHeld = [];
    }
    st.locks.clear();
    for (const t of st.threads.values()) if (t.locksHeld.length > 0) t.locksHeld = [];
  }

  // ---- threads -------------------------------------------------------------

  /** Some thread's recorder overflowed and the thread has not written since (its loss may go on). */
  private lossOpen(): boolean {
    for (const t of this.state.threads.values()) if (t.lossOpen) return true;
    return false;
  }

  private thread(tid: number, i: number): ThreadState {
    let t = this.state.threads.get(tid);
    if (t === undefined) {
      t = newThread(tid, i);
      this.state.threads.set(tid, t);
    }
    return t;
  }

  private setThreadState(
    t: ThreadState,
    state: ThreadStateValue,
    reason: BlockReason,
    detail: number,
    i: number,
  ): void {
    if (t.isPortThread && t.state !== state) {
      if (t.state === ThreadStateValue.Running) this.state.port.running--;
      if (state === ThreadStateValue.Running) this.state.port.running++;
    }
    t.state = state;
    t.reason = reason;
    t.detail = detail;
    t.sinceIndex = i;
  }

  private leaveWaiting(t: ThreadState): void {
    t.inGqcs = false;
    const wq = this.state.port.waiting;
    const k = wq.lastIndexOf(t.tid);
    if (k >= 0) wq.splice(k, 1);
  }

  /** A thread whose state a gap hid wrote a record: it is running again (until the record says otherwise). */
  private makeKnown(t: ThreadState, i: number): void {
    t.known = true;
    if (t.isPortThread && t.exitIndex < 0) this.state.port.unknownThreads--;
    // Not counted as running while unknown: count it now.
    t.state = ThreadStateValue.Blocked;
    this.setThreadState(t, ThreadStateValue.Running, BlockReason.None, 0, i);
  }

  // ---- snapshots -----------------------------------------------------------------

  private snapshotBegin(i: number, flags: number): void {
    const st = this.state;
    st.inSnapshot = true;
    st.snapshotBegin = i;
    st.snapshotPartial = (flags & SNAPSHOT_PARTIAL) !== 0;
    const p = st.port;
    p.queue = new Fifo();
    p.waiting = [];
    st.locks.clear();
    for (const t of st.threads.values()) {
      t.inGqcs = false;
      t.handling = [];
      t.locksHeld = [];
    }
  }

  /** One record inside a bracket: state as given. */
  private snapshotRecord(
    w: Uint32Array,
    o: number,
    i: number,
    kind: number,
    a: number,
    tid: number,
    th: ThreadState | null,
  ): void {
    const st = this.state;
    const fx = this.step;
    const listed = (s: SessionState | undefined): s is SessionState =>
      s !== undefined && s.fromSnapshot && s.lastIndex > st.snapshotBegin;
    switch (kind) {
      case EventKind.ThreadStart: {
        const t = th!;
        t.role = a as ThreadState['role'];
        t.nameStr = w[o + 1]!;
        t.osThreadId = w[o + 6]!;
        if (t.startIndex < 0) t.startIndex = i;
        t.exitIndex = -1;
        t.complete = true;
        // Known once the bracket gives its state (a partial one may not).
        t.known = false;
        t.isPortThread = false;
        t.state = ThreadStateValue.Running;
        t.reason = BlockReason.None;
        t.detail = 0;
        t.sinceIndex = i;
        t.listedIndex = i;
        return;
      }
      case EventKind.ThreadState: {
        const t = th!;
        const state = a as ThreadStateValue;
        t.state = state;
        t.reason =
          state === ThreadStateValue.Blocked ? (w[o + 1]! as BlockReason) : BlockReason.None;
        t.detail = w[o + 6]!;
        t.sinceIndex = i;
        t.known = true;
        if ((w[o + 7]! & SNAPSHOT_PORT_THREAD) !== 0) t.isPortThread = true;
        if (state === ThreadStateValue.Blocked && t.reason === BlockReason.Lock) {
          const l = this.lock(t.detail, 0);
          if (!l.waiters.includes(tid)) l.waiters.push(tid);
        }
        return;
      }
      case EventKind.GqcsEnter: {
        const t = th!;
        t.isPortThread = true;
        t.inGqcs = true;
        t.known = true;
        t.state = ThreadStateValue.Waiting;
        t.reason = BlockReason.None;
        t.lastGqcsEnterIndex = i;
        st.port.waiting.push(tid);
        return;
      }
      case EventKind.PortCreated: {
        const p = st.port;
        p.createdIndex = i;
        p.backend = a;
        p.concurrency = w[o + 1]!;
        p.workerCount = w[o + 6]!;
        return;
      }
      case EventKind.SessionCreated:
      case EventKind.Accept: {
        const lo = w[o + 4]!;
        const hi = w[o + 5]!;
        const id = sessionIdOf(lo, hi);
        const known = st.sessions.get(id);
        if (kind === EventKind.Accept && listed(known)) {
          known.acceptIndex = i;
          return;
        }
        // A session known through its Accept alone (servers that write it first) has no slot.
        const s = newSession(id);
        s.rev = this.epoch;
        s.complete = true;
        s.fromSnapshot = true;
        if (kind === EventKind.SessionCreated) {
          s.createdIndex = i;
          s.slot = w[o + 7]!;
        } else {
          s.acceptIndex = i;
        }
        s.peerStr = w[o + 1]!;
        s.socket = w[o + 6]!;
        s.creatorTid = tid;
        s.lastIndex = i;
        st.sessions.set(id, s);
        this.uncache(id);
        fx.session = s;
        return;
      }
      case EventKind.Disconnect:
      case EventKind.SocketClosed:
      case EventKind.SessionRings:
      case EventKind.SessionReleased:
      case EventKind.IoCount: {
        const s = st.sessions.get(sessionIdOf(w[o + 4]!, w[o + 5]!));
        if (!listed(s)) return;
        if (kind === EventKind.SessionReleased) {
          // Released, but its acceptor has not finished with it yet.
          s.releasedIndex = i;
          s.releaseCount = 1;
          s.lifecycle = 'released';
        } else if (kind === EventKind.Disconnect) {
          s.disconnectIndex = i;
          s.disconnectReason = a;
          s.disconnectError = w[o + 6]!;
          s.lifecycle = 'disconnecting';
        } else if (kind === EventKind.SocketClosed) {
          s.socketClosedIndex = i;
          s.lifecycle = 'disconnecting';
        } else if (kind === EventKind.SessionRings) {
          s.recvCap = w[o + 1]!;
          s.sendCap = w[o + 6]!;
        } else {
          s.ioCount = w[o + 1]! | 0;
          s.reportedIoCount = s.ioCount;
        }
        return;
      }
      case EventKind.IoPosted: {
        const s = st.sessions.get(sessionIdOf(w[o + 4]!, w[o + 5]!));
        if (!listed(s)) return;
        const r = newOp(w[o + 7]!, (a & 0x0f) as Op);
        // Counted: its +1 is part of the count the bracket gives.
        r.incIndex = i;
        r.postIndex = i;
        r.postTid = tid;
        r.postResult = w[o + 6]!;
        r.requestedBytes = w[o + 1]!;
        r.bufCount = a >>> 4;
        s.ops.push(r);
        if (th !== null) {
          th.lastPostLo = w[o + 4]!;
          th.lastPostHi = w[o + 5]!;
          th.lastPostIoId = w[o + 7]!;
        }
        return;
      }
      case EventKind.IoDetail: {
        const s = st.sessions.get(sessionIdOf(w[o + 4]!, w[o + 5]!));
        const r = listed(s) ? s.ops.find((x) => x.ioId === w[o + 7]!) : undefined;
        if (r !== undefined) r.overlapped = w[o + 1]! + w[o + 6]! * TWO_32;
        return;
      }
      case EventKind.IoRing: {
        if (th === null || th.lastPostIoId !== w[o + 7]!) return;
        const s = st.sessions.get(sessionIdOf(th.lastPostLo, th.lastPostHi));
        const r = listed(s) ? s.ops.find((x) => x.ioId === w[o + 7]!) : undefined;
        if (r !== undefined) setRing(r, w, o);
        return;
      }
      case EventKind.PacketQueued:
      case EventKind.Pqcs: {
        const op = (a & 0x0f) as Op;
        if (kind === EventKind.PacketQueued && op === Op.Post) return;
        const lo = w[o + 4]!;
        const hi = w[o + 5]!;
        const posted = kind === EventKind.Pqcs;
        const hasOverlapped = posted ? (a & 0x20) !== 0 : true;
        const key = sessionIdOf(lo, hi);
        const pk: QueuedPacket = {
          key,
          op: posted && op === Op.None ? Op.Post : op,
          bytes: w[o + 1]!,
          status: posted ? 0 : w[o + 6]!,
          ioId: w[o + 7]!,
          hasOverlapped,
          posted,
          queuedIndex: i,
          tsNs: st.tsNs,
          gapEpoch: st.gaps,
        };
        st.port.queue.push(pk);
        if (posted && !hasOverlapped && lo === 0 && hi === 0 && pk.bytes === 0)
          st.port.exitPacketsPosted++;
        if (!posted) {
          const s = st.sessions.get(key);
          const r = s?.ops.find((x) => x.ioId === pk.ioId && x.queuedIndex < 0);
          if (r !== undefined) r.queuedIndex = i;
        }
        return;
      }
      case EventKind.LockAcquire: {
        if (th === null) return;
        const l = this.lock(w[o + 1]!, w[o + 6]!);
        l.owner = tid;
        l.acquiredIndex = i;
        th.locksHeld.push(l.lockId);
        return;
      }
      default:
        return;
    }
  }

  private snapshotEnd(i: number, a: number): void {
    if (a !== 1) return; // a nested begin: ignored (writers never nest brackets)
    const st = this.state;
    const begin = st.snapshotBegin;
    for (const s of [...st.sessions.values()]) {
      if (!(s.fromSnapshot && s.lastIndex > begin)) {
        // Ended in the events the bracket stands for.
        st.sessions.delete(s.id);
        this.uncache(s.id);
        continue;
      }
      if (s.lifecycle === 'released') continue;
      const n = s.ioCount - s.ops.length;
      for (let k = 0; k < n; k++) s.holds.push({ index: i, cause: CAUSE_SNAPSHOT, tid: -1 });
    }
    const p = st.port;
    p.running = 0;
    p.unknownThreads = 0;
    for (const t of st.threads.values()) {
      if (t.listedIndex <= begin) {
        if (t.exitIndex < 0) {
          t.exitIndex = i;
          t.state = ThreadStateValue.Exited;
        }
        t.known = true;
        continue;
      }
      if (!t.known) {
        // Listed without a state (a partial bracket): its state is not known yet.
        if (t.isPortThread || t.role === ThreadRole.Worker) {
          t.isPortThread = true;
          p.unknownThreads++;
        }
        continue;
      }
      if (t.isPortThread && t.state === ThreadStateValue.Running) p.running++;
    }
    p.queueKnown = !st.snapshotPartial;
    st.inSnapshot = false;
    st.snapshotIndex = i;
  }

  private lock(lockId: number, nameStr: number): LockState {
    let l = this.state.locks.get(lockId);
    if (l === undefined) {
      l = { lockId, nameStr, owner: -1, acquiredIndex: -1, waiters: [] };
      this.state.locks.set(lockId, l);
    }
    return l;
  }

  // ---- port ----------------------------------------------------------------

  private gqcsReturn(
    w: Uint32Array,
    o: number,
    i: number,
    a: number,
    th: ThreadState | null,
  ): void {
    const st = this.state;
    const fx = this.step;
    const ok = (a & 0x10) !== 0;
    const hasOverlapped = (a & 0x20) !== 0;
    const op = (a & 0x0f) as Op;
    const bytes = w[o + 1]!;
    const error = w[o + 6]!;
    const ioId = w[o + 7]!;
    const lo = w[o + 4]!;
    const hi = w[o + 5]!;
    if (th !== null) {
      if (!th.isPortThread) {
        th.isPortThread = true;
        if (th.state === ThreadStateValue.Running) st.port.running++;
      }
      if (th.inGqcs) {
        this.leaveWaiting(th);
        th.handling = [];
      } else if (th.handling.length >= HANDLING_MAX) {
        // A server that records no GqcsEnter: keep only the latest call's worth.
        th.handling = [];
      }
      th.lastGqcsReturnIndex = i;
      th.lastGqcsError = ok ? 0 : error;
      th.lastGqcsNullOverlapped = !hasOverlapped;
      if (th.state !== ThreadStateValue.Running) {
        this.setThreadState(th, ThreadStateValue.Running, BlockReason.None, 0, i);
      }
    }
    // FALSE with a NULL overlapped: nothing was dequeued (timeout, port closed).
    if (!ok && !hasOverlapped) return;

    const q = st.port.queue;
    // Socket I/O of a session: recv and send, and (v2) AcceptEx, ConnectEx and DisconnectEx.
    const isIo =
      hasOverlapped &&
      (op === Op.Recv || op === Op.Send || (op >= Op.Accept && op <= Op.Disconnect));
    const s = isIo ? this.sessionFor(lo, hi, i) : null;
    const key = s !== null ? s.id : sessionIdOf(lo, hi);
    const head = q.at(0);
    let pos =
      head !== undefined &&
      head.ioId === ioId &&
      head.hasOverlapped === hasOverlapped &&
      head.key === key
        ? 0
        : q.findIndex((p) => p.ioId === ioId && p.hasOverlapped === hasOverlapped && p.key === key);
    let pk: QueuedPacket | null = null;
    if (pos >= 0) {
      if (pos > 0 && st.gaps > 0) {
        // Packets ahead of it from before a gap were most likely dequeued in the lost events.
        let k = 0;
        while (k < pos) {
          if (q.at(k)!.gapEpoch < st.gaps) {
            q.removeAt(k);
            pos--;
          } else k++;
        }
      }
      pk = q.removeAt(pos)!;
      st.port.dequeuedTotal++;
    } else {
      st.port.unmatchedDequeues++;
    }
    fx.packet = pk;
    const handled: HandledPacket = {
      key,
      op,
      ok,
      hasOverlapped,
      bytes,
      error: ok ? 0 : error,
      ioId,
      dequeueIndex: i,
      queuedIndex: pk === null ? -1 : pk.queuedIndex,
    };
    fx.handled = handled;
    if (th !== null) th.handling.push(handled);

    if (s !== null) {
      const rec = this.opFor(s, ioId, op, PH_DEQUEUE);
      rec.dequeueIndex = i;
      rec.dequeueTid = th === null ? -1 : th.tid;
      rec.status = ok ? 0 : error;
      rec.bytes = bytes;
      s.completions++;
      if (ok) {
        if (op === Op.Recv || op === Op.Accept) s.recvBytes += bytes;
        else if (op === Op.Send || op === Op.Connect) s.sentBytes += bytes;
      }
      this.settle(s, rec);
    }
  }

  // ---- sessions ------------------------------------------------------------

  private cacheSlot(lo: number, hi: number): number {
    return (lo ^ Math.imul(hi, 0x9e3779b1)) & this.cacheMask;
  }

  private uncache(id: bigint): void {
    const lo = Number(id & 0xffffffffn);
    const hi = Number(id >> 32n);
    const c = this.cacheSlot(lo, hi);
    if (this.cacheLo[c] === lo && this.cacheHi[c] === hi) {
      this.cacheLo[c] = -1;
      this.cacheObj[c] = undefined;
    }
  }

  /** The session an event refers to; creates it (incomplete) or brings a released one back. */
  private sessionFor(lo: number, hi: number, i: number): SessionState {
    const fx = this.step;
    const c = this.cacheSlot(lo, hi);
    let s: SessionState | undefined;
    if (this.cacheLo[c] === lo && this.cacheHi[c] === hi) {
      s = this.cacheObj[c]!;
      if (s.rev !== this.epoch) s = this.own(s);
    } else {
      const id = sessionIdOf(lo, hi);
      s = this.state.sessions.get(id);
      if (s !== undefined && s.rev !== this.epoch) s = this.own(s);
      if (s === undefined) s = this.revive(id);
      if (s === undefined) {
        s = newSession(id);
        s.rev = this.epoch;
        this.state.sessions.set(id, s);
        fx.session = s;
        fx.lifecycleBefore = null;
        s.lastIndex = i;
        this.cacheLo[c] = lo;
        this.cacheHi[c] = hi;
        this.cacheObj[c] = s;
        return s;
      }
      this.cacheLo[c] = lo;
      this.cacheHi[c] = hi;
      this.cacheObj[c] = s;
    }
    fx.session = s;
    fx.lifecycleBefore = s.lifecycle;
    s.lastIndex = i;
    return s;
  }

  /** Move a recently released session back into `sessions` (late activity on it). */
  private revive(id: bigint): SessionState | undefined {
    const rr = this.state.recentReleased;
    for (let k = rr.length - 1; k >= 0; k--) {
      if (rr[k]!.id === id) {
        // Entries of recentReleased may be shared with snapshots: never mutate them.
        const s = cloneSession(rr[k]!, this.epoch);
        rr.splice(k, 1);
        this.state.sessions.set(id, s);
        return s;
      }
    }
    return undefined;
  }

  private createSession(lo: number, hi: number, i: number, kind: number): SessionState {
    const st = this.state;
    const fx = this.step;
    const id = sessionIdOf(lo, hi);
    let s = st.sessions.get(id);
    if (s !== undefined) s = this.own(s);
    else s = this.revive(id);
    const isCreate = kind === EventKind.SessionCreated;
    if (s !== undefined && !isCreate) {
      // Accept for a known session (the acceptor handing it over, possibly late:
      // after its release, which rule 11 reports) never creates a new one.
      fx.lifecycleBefore = s.lifecycle;
    } else if (s !== undefined && s.lifecycle === 'released') {
      // The id comes back after its release: a new session replaces the old record.
      fx.replaced = s;
      fx.lifecycleBefore = s.lifecycle;
      st.sessions.delete(id);
      s = undefined;
    } else if (s !== undefined && isCreate && s.createdIndex >= 0) {
      fx.replaced = s;
      fx.lifecycleBefore = s.lifecycle;
      st.sessions.delete(id);
      s = undefined;
    } else if (s !== undefined) {
      fx.lifecycleBefore = s.lifecycle;
      if (s.createdIndex < 0 && s.acceptIndex < 0 && s.lastIndex < 0) s.complete = true;
    }
    if (s === undefined) {
      s = newSession(id);
      s.rev = this.epoch;
      // While another thread's recorder is still losing records (its Gap came, its
      // next record has not), what that thread does to the new session is missing:
      // the session is not judged, as one that lived through a gap.
      s.complete = !this.lossOpen();
      st.sessions.set(id, s);
      st.sessionsCreated++;
    }
    this.uncache(id);
    fx.session = s;
    s.lastIndex = i;
    return s;
  }

  private retireIfDone(s: SessionState): void {
    if (s.lifecycle !== 'released' || s.ioCount !== 0) return;
    for (let k = 0; k < s.ops.length; k++) if (isOutstanding(s.ops[k]!)) return;
    const st = this.state;
    st.sessions.delete(s.id);
    this.uncache(s.id);
    st.recentReleased.push(s);
    if (st.recentReleased.length > RECENT_RELEASED_MAX) st.recentReleased.shift();
  }

  // ---- operations ------------------------------------------------------------

  /** The op of `s` with this ioId that still lacks phase `ph`, or a new one. */
  private opFor(s: SessionState, ioId: number, op: Op, ph: number): OpState {
    const fx = this.step;
    const ops = s.ops;
    let dup = false;
    for (let k = 0; k < ops.length; k++) {
      const r = ops[k]!;
      if (r.ioId !== ioId) continue;
      if (missing(r, ph)) {
        if (r.op === Op.None) r.op = op;
        fx.op = r;
        return r;
      }
      dup = true;
    }
    if (ph === PH_INC) {
      // A +1 after its op already completed (incremented after the post): attach it
      // to that op. recentOps entries may be shared with snapshots, so copy first.
      const ro = s.recentOps;
      for (let k = ro.length - 1; k >= 0; k--) {
        if (ro[k]!.ioId === ioId && ro[k]!.incIndex < 0) {
          const r = { ...ro[k]! };
          ro[k] = r;
          fx.op = r;
          return r;
        }
      }
    }
    const r = newOp(ioId, op);
    ops.push(r);
    fx.op = r;
    fx.opIsNew = true;
    // A later phase arriving for an op that is still in flight means the same
    // OVERLAPPED is in use twice. (Reuse after settlement is normal.)
    fx.opDuplicate = dup;
    return r;
  }

  /** The op of `s` whose IoPosted with this ioId came last (IoDetail and IoRing follow it). */
  private postedOp(s: SessionState, ioId: number): OpState | null {
    const ops = s.ops;
    for (let k = ops.length - 1; k >= 0; k--) {
      if (ops[k]!.ioId === ioId && ops[k]!.postIndex >= 0) return ops[k]!;
    }
    // Settled already (its completion was handled before the call returned):
    // recentOps entries may be shared with snapshots, so copy first.
    const ro = s.recentOps;
    for (let k = ro.length - 1; k >= 0; k--) {
      if (ro[k]!.ioId === ioId && ro[k]!.postIndex >= 0) {
        const r = { ...ro[k]! };
        ro[k] = r;
        return r;
      }
    }
    return null;
  }

  private settle(s: SessionState, r: OpState): void {
    if (!isSettled(r)) return;
    const k = s.ops.indexOf(r);
    if (k < 0) return; // already among recentOps
    s.ops.splice(k, 1);
    s.recentOps.push(r);
    if (s.recentOps.length > RECENT_OPS_MAX) s.recentOps.shift();
    this.retireIfDone(s);
  }

  private ioCount(w: Uint32Array, o: number, i: number, cause: number, tid: number): void {
    const fx = this.step;
    const s = this.sessionFor(w[o + 4]!, w[o + 5]!, i);
    const delta = w[o + 6]! | 0;
    const ioId = w[o + 7]!;
    s.ioCount += delta;
    s.reportedIoCount = w[o + 1]! | 0;
    if (delta > 0) {
      if ((cause === IoCountCause.RecvPost || cause === IoCountCause.SendPost) && ioId !== 0) {
        const th = tid === NO_THREAD ? undefined : this.state.threads.get(tid);
        if (th !== undefined) {
          th.lastIncLo = w[o + 4]!;
          th.lastIncHi = w[o + 5]!;
          th.lastIncIoId = ioId;
        }
        const rec = this.opFor(s, ioId, opForCause(cause), PH_INC);
        rec.incIndex = i;
        rec.incTid = tid;
        this.settle(s, rec);
      } else {
        const h: HoldEntry = { index: i, cause, tid };
        s.holds.push(h);
        fx.hold = h;
      }
    } else if (delta < 0) {
      if (isIoCause(cause) && ioId !== 0) {
        let rec: OpState | null = null;
        for (let k = 0; k < s.ops.length; k++) {
          const r = s.ops[k]!;
          if (r.ioId === ioId && r.decIndex < 0) {
            rec = r;
            break;
          }
        }
        if (rec !== null) {
          rec.decIndex = i;
          fx.op = rec;
          // Its +1 was part of a snapshot's count: that hold is this op's.
          if (rec.incIndex < 0) takeSnapshotHold(s);
          this.settle(s, rec);
        } else if (takeSnapshotHold(s)) {
          // The -1 of an I/O a snapshot counted (dequeued before it, or posted after it).
        } else {
          s.orphanDecrements++;
          fx.orphanDecrement = true;
          const prev = findDecremented(s, ioId);
          if (prev !== null) {
            fx.op = prev;
            fx.earlierDecIndex = prev.decIndex;
          }
        }
      } else {
        let k = findHold(s.holds, cause, tid);
        if (k < 0) k = snapshotHold(s.holds);
        if (k >= 0) {
          fx.hold = s.holds[k]!;
          s.holds.splice(k, 1);
        } else {
          s.orphanDecrements++;
          fx.orphanDecrement = true;
        }
      }
      this.retireIfDone(s);
    }
  }

  // ---- locks -------------------------------------------------------------------

  private lockEvent(
    kind: number,
    lockId: number,
    nameStr: number,
    th: ThreadState | null,
    i: number,
  ): void {
    let l = this.state.locks.get(lockId);
    if (l === undefined) {
      l = { lockId, nameStr, owner: -1, acquiredIndex: -1, waiters: [] };
      this.state.locks.set(lockId, l);
    }
    this.step.lock = l;
    if (th === null) {
      if (l.owner < 0 && l.waiters.length === 0) this.state.locks.delete(lockId);
      return;
    }
    if (kind === EventKind.LockWait) {
      if (!l.waiters.includes(th.tid)) l.waiters.push(th.tid);
      this.setThreadState(th, ThreadStateValue.Blocked, BlockReason.Lock, lockId, i);
    } else if (kind === EventKind.LockAcquire) {
      const k = l.waiters.indexOf(th.tid);
      if (k >= 0) l.waiters.splice(k, 1);
      l.owner = th.tid;
      l.acquiredIndex = i;
      th.locksHeld.push(lockId);
      if (th.state === ThreadStateValue.Blocked && th.reason === BlockReason.Lock) {
        this.setThreadState(th, ThreadStateValue.Running, BlockReason.None, 0, i);
      }
    } else {
      if (l.owner === th.tid) l.owner = -1;
      const k = th.locksHeld.lastIndexOf(lockId);
      if (k >= 0) th.locksHeld.splice(k, 1);
    }
    if (l.owner < 0 && l.waiters.length === 0) this.state.locks.delete(lockId);
  }
}

// Op phases, in the order a normal op goes through them.
const PH_INC = 0;
const PH_POST = 1;
const PH_QUEUE = 2;
const PH_DEQUEUE = 3;

function missing(r: OpState, ph: number): boolean {
  switch (ph) {
    case PH_INC:
      return r.incIndex < 0;
    case PH_POST:
      return r.postIndex < 0;
    case PH_QUEUE:
      return r.queuedIndex < 0 && r.dequeueIndex < 0;
    default:
      return r.dequeueIndex < 0;
  }
}

function setRing(r: OpState, w: Uint32Array, o: number): void {
  r.ringOff0 = w[o + 1]!;
  r.ringLen0 = w[o + 6]!;
  r.ringOff1 = w[o + 4]!;
  r.ringAvail = w[o + 5]!;
}

function snapshotHold(holds: HoldEntry[]): number {
  for (let k = holds.length - 1; k >= 0; k--) if (holds[k]!.cause === CAUSE_SNAPSHOT) return k;
  return -1;
}

/** Close one hold of cause Snapshot, if there is one. */
function takeSnapshotHold(s: SessionState): boolean {
  const k = snapshotHold(s.holds);
  if (k < 0) return false;
  s.holds.splice(k, 1);
  return true;
}

function findDecremented(s: SessionState, ioId: number): OpState | null {
  for (let k = s.ops.length - 1; k >= 0; k--) {
    const r = s.ops[k]!;
    if (r.ioId === ioId && r.decIndex >= 0) return r;
  }
  for (let k = s.recentOps.length - 1; k >= 0; k--) {
    const r = s.recentOps[k]!;
    if (r.ioId === ioId && r.decIndex >= 0) return r;
  }
  return null;
}

/** The hold a -1 closes: its matching cause, preferring the same thread and the newest. */
function findHold(holds: HoldEntry[], cause: number, tid: number): number {
  const want =
    cause === IoCountCause.AcceptRelease
      ? IoCountCause.AcceptHold
      : cause === IoCountCause.HoldRelease
        ? IoCountCause.HoldAcquire
        : cause === IoCountCause.Completion || cause === IoCountCause.PostFailed
          ? -2 // an untagged I/O -1: closes an untagged I/O +1
          : -1; // Other: anything
  let best = -1;
  for (let k = holds.length - 1; k >= 0; k--) {
    const h = holds[k]!;
    const fits =
      want === -1 ||
      h.cause === want ||
      (want === -2 && (h.cause === IoCountCause.RecvPost || h.cause === IoCountCause.SendPost));
    if (!fits) continue;
    if (h.tid === tid) return k;
    if (best < 0) best = k;
  }
  if (best < 0 && want !== -1) {
    // Fall back to any open hold rather than calling a legal -1 an orphan.
    for (let k = holds.length - 1; k >= 0; k--)
      if (holds[k]!.cause === IoCountCause.Other) return k;
  }
  return best;
}
