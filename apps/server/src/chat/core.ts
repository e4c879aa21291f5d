// The chat server (issue 18 §1): the course notes' capstone on the shared
// session layer (../session/core.ts: accept, RecvPost, IOCount, release,
// timeouts). What it adds, in the seeds' words:
//
// - PacketSession / PacketHandler: onPackets() cuts RecvQ into packets (the
//   echo header) and dispatches them by type through the handler table
//   below; a bad length or type kicks the session.
// - Rooms are JobQueues. Any thread may push a job (enter, leave, chat, tick);
//   the pusher whose add takes the room's job count from 0 flushes the queue,
//   running every job until the count returns to 0, so exactly one thread
//   runs a room at a time and nobody holds a lock across the broadcast. Only
//   that thread touches the room's members and sequence numbers.
// - SendBuffer pooling: a chat is written once into a pooled SendBuffer (the
//   handler acquires it: refcount 1), the room's flusher numbers it and
//   shares it with every member's send (AddRef per member, each send takes a
//   reference that its completion releases), then drops its own reference;
//   the last Release returns it to the pool. The pool is bounded: running dry
//   is recorded (PoolEmpty) and the handler waits for a buffer (bounded).
// - Each session sends from a queue of SendBuffer ids, one WSASend at a time
//   (the send flag), two buffers per send at most (two WSABUFs, gathered).
//   A member whose queue is full (it does not read) is kicked (SendOverflow).
// - A JobTimer: each room ticks every tickMs. Workers wait in GQCS no longer
//   than the next due timer and, after every return, push the due ticks onto
//   their rooms' queues; a tick job schedules the next one (the seeds' DoTimer).
// - Two locks, reader-writer: `users` (the user directory: names, written at
//   login) and `rooms` (each room's population, written by enter and leave).
//   The rule is users before rooms.
//
// Lifetime: a session in a room is held by the room (IOCount HoldAcquire,
// taken by the handler that pushes Enter, dropped by the Leave job), so the
// flusher can send to every member without a lookup. Leaving is exactly once:
// whoever swaps the session's room word to 0 (the Leave handler, a room
// switch, or the first worker to notice a disconnect) pushes the Leave job.
// The main thread (shutdown, timeouts) only disconnects; the recv it aborts
// completes on a worker, which notices.
//
// Fault switches (faults.ts) break these for real: job-queue-two-flushers
// (the count's add is not atomic), send-buffer-early-release (a completion
// releases twice), broadcast-under-room-lock (jobs run under a room lock,
// across every WSASend), lock-order-inversion (enter takes rooms before
// users).

import {
  BlockReason,
  DisconnectReason,
  EventKind,
  FlushPhase,
  IoCountCause,
  JobKind,
  SendBufferOp,
  TimerPhase,
} from '@iocpscope/protocol';
import { ERROR_IO_PENDING, INFINITE, type CompletionPort } from '../port/index.ts';
import type { TraceRecorder } from '../trace/recorder.ts';
import { SessionCore, ovSend, type HostIo } from '../session/core.ts';
import type { FaultWords } from '../session/fault-words.ts';
import { LOCK_EXCLUSIVE, LOCK_SHARED, SharedLock, SharedRwLock } from '../session/lock.ts';
import {
  S_DISCONNECTED,
  S_RECV_R,
  S_RECV_W,
  S_SEND_FLAG,
  S_SOCKET,
  type SessionTable,
} from '../session/session-table.ts';
import {
  BROADCAST_FIXED_BYTES,
  ChatPacket,
  HEADER_BYTES,
  MAX_CLIENT_PAYLOAD,
  MAX_NAME_BYTES,
  SEND_BUFFER_BYTES,
  clientPayloadRange,
} from './protocol.ts';
import {
  B_LEN,
  B_REF,
  CS_INF_A,
  CS_INF_B,
  CS_INF_LEN,
  CS_LOGGED_IN,
  CS_NAME,
  CS_NAME_LEN,
  CS_ROOM,
  H_BROADCASTS,
  H_CHATS,
  H_DELIVERIES,
  H_DROPPED,
  H_FLUSH_ID,
  H_JOB_ID,
  H_MEASURE,
  H_NEXT_DUE,
  H_OVERFLOW_KICKS,
  H_POOL_EMPTY,
  H_ROOMS_LOCK,
  H_TICKS_STARTED,
  H_TIMER_ID,
  H_TIMER_LOCK,
  H_USERS_LOCK,
  JOBQ_CAP,
  J_ARG,
  J_HI,
  J_ID,
  J_KIND,
  J_LO,
  J_SLOT,
  R_FLUSHING,
  R_JOB_COUNT,
  R_LOCK,
  R_MEMBERS,
  R_POPULATION,
  R_Q_HEAD,
  R_Q_LOCK,
  R_Q_TAIL,
  R_SEQ,
  R_TIMER_ARMED,
  R_TIMER_DUE,
  R_TIMER_ID,
  type ChatState,
} from './state.ts';

export const USERS_LOCK_ID = 10;
export const ROOMS_LOCK_ID = 11;
/** Room r's lock (broadcast-under-room-lock) has id ROOM_LOCK_BASE + r. */
export const ROOM_LOCK_BASE = 100;
/**
 * job-queue-two-flushers: the buggy push, having read a job count of 0, logs
 * that it starts a flush before it adds its job, a blocking write this long (µs).
 * The window of a real `count++` is a few instructions; this one makes two
 * pushers meet in it under a demo load within seconds.
 */
export const FLUSH_RACE_WORK_US = 1000;
/** How long a handler waits for a SendBuffer when the pool is empty before it drops the packet. */
const POOL_WAIT_TRIES = 50;
const POOL_WAIT_US = 200;

/** Where the chat server's clock starts (Date.now() is the one clock all threads share). */
export interface ChatThreadInput {
  state: SharedArrayBuffer;
  /** Date.now() when the chat state was created: timer due times are ms since then. */
  t0Ms: number;
}

export class ChatCore extends SessionCore {
  private readonly cs: ChatState;
  private readonly c32: Int32Array;
  private readonly users: SharedRwLock;
  private readonly roomsLock: SharedRwLock;
  private readonly roomLocks: SharedLock[];
  private readonly poolBase: number;
  private readonly t0Ms: number;
  /** Each flush's current job, per nesting depth: a job may flush another room. */
  private readonly scratch: Int32Array[] = [];
  private depth = 0;
  /** The room whose lock this thread holds (broadcast-under-room-lock), -1 if none. */
  private heldRoom = -1;

  constructor(
    table: SessionTable,
    arena: Uint8Array,
    rec: TraceRecorder,
    port: CompletionPort | null,
    host: HostIo,
    fw: FaultWords,
    state: ChatState,
    t0Ms: number,
  ) {
    super(table, arena, rec, port, host, fw);
    this.cs = state;
    this.c32 = state.i32;
    this.t0Ms = t0Ms;
    this.poolBase = table.arenaBytes;
    this.users = new SharedRwLock(this.c32, H_USERS_LOCK, USERS_LOCK_ID, 'users', rec, port);
    this.roomsLock = new SharedRwLock(this.c32, H_ROOMS_LOCK, ROOMS_LOCK_ID, 'rooms', rec, port);
    this.roomLocks = Array.from(
      { length: state.rooms },
      (_, r) =>
        new SharedLock(
          this.c32,
          state.room(r) + R_LOCK,
          ROOM_LOCK_BASE + r,
          `room ${r}`,
          rec,
          port,
        ),
    );
  }

  protected sendRingBytes(): number {
    return 0; // no SendQ ring: a session sends from its queue of SendBuffers
  }

  // ---- PacketSession: cut RecvQ into packets, dispatch them ---------------------

  protected onPackets(slot: number): boolean {
    const i = this.i32;
    const b = this.base(slot);
    const a = this.arena;
    const rBase = this.table.recvBase(slot);
    const mask = this.recvCap - 1;
    let r = i[b + S_RECV_R]!;
    const w = i[b + S_RECV_W]!;
    let used = (w - r) | 0;
    while (used >= HEADER_BYTES) {
      const len = a[rBase + (r & mask)]! | (a[rBase + ((r + 1) & mask)]! << 8);
      const type = a[rBase + ((r + 2) & mask)]! | (a[rBase + ((r + 3) & mask)]! << 8);
      const range = clientPayloadRange(type);
      if (range === null) {
        this.disconnect(slot, DisconnectReason.BadType, 0);
        return false;
      }
      if (len < range[0] || len > range[1] || len > MAX_CLIENT_PAYLOAD) {
        this.disconnect(slot, DisconnectReason.BadLength, 0);
        return false;
      }
      const n = HEADER_BYTES + len;
      if (used < n) break;
      if (!this.handle(slot, type, (r + HEADER_BYTES) | 0, len)) return false;
      r = (r + n) | 0;
      used -= n;
      i[b + S_RECV_R] = r;
    }
    return true;
  }

  /** The PacketHandler table. `p` is the payload's RecvQ position (ring, may wrap). */
  private handle(slot: number, type: number, p: number, len: number): boolean {
    switch (type) {
      case ChatPacket.Login:
        return this.onLogin(slot, p, len);
      case ChatPacket.Enter:
        return this.onEnter(slot, this.recvByte(slot, p) | (this.recvByte(slot, p + 1) << 8));
      case ChatPacket.Leave:
        if (!this.loggedIn(slot)) return this.kick(slot);
        this.leaveRoom(slot, true);
        return true;
      case ChatPacket.Chat:
        return this.onChat(slot, p, len);
      default:
        return true; // Ping: activity only
    }
  }

  private recvByte(slot: number, pos: number): number {
    return this.arena[this.table.recvBase(slot) + (pos & (this.recvCap - 1))]!;
  }

  private kick(slot: number): boolean {
    this.disconnect(slot, DisconnectReason.Kicked, 0);
    return false;
  }

  private loggedIn(slot: number): boolean {
    return this.c32[this.cs.session(slot) + CS_LOGGED_IN] !== 0;
  }

  private onLogin(slot: number, p: number, len: number): boolean {
    const s = this.cs.session(slot);
    if (this.loggedIn(slot)) return this.kick(slot);
    const t = this.table;
    const lo = t.idLo(slot);
    const hi = t.idHi(slot);
    const u8 = this.cs.u8;
    const nameAt = (s + CS_NAME) * 4;
    // The user directory: a name is taken once (users, exclusive), then the
    // welcome lists each room's population (rooms, shared): users before rooms.
    this.users.acquireExclusive(lo, hi);
    let taken = false;
    for (let other = 0; other < this.cs.maxSessions && !taken; other++) {
      const o = this.cs.session(other);
      if (other === slot || Atomics.load(this.c32, o + CS_LOGGED_IN) === 0) continue;
      if (this.c32[o + CS_NAME_LEN] !== len) continue;
      let same = true;
      for (let k = 0; k < len && same; k++)
        same = u8[(o + CS_NAME) * 4 + k] === this.recvByte(slot, p + k);
      taken = same;
    }
    if (!taken) {
      for (let k = 0; k < len; k++) u8[nameAt + k] = this.recvByte(slot, p + k);
      this.c32[s + CS_NAME_LEN] = len;
      Atomics.store(this.c32, s + CS_LOGGED_IN, 1);
    }
    let buf = 0;
    if (!taken) {
      this.roomsLock.acquireShared(lo, hi);
      buf = this.acquireBuffer(lo, hi);
      if (buf !== 0) {
        const rooms = this.cs.rooms;
        const at = this.bufferAt(buf);
        this.header(at, ChatPacket.LoginOk, 4 + 2 * rooms);
        this.u16(at + 4, rooms);
        this.u16(at + 6, 0);
        for (let r = 0; r < rooms; r++)
          this.u16(at + 8 + 2 * r, this.c32[this.cs.room(r) + R_POPULATION]!);
        this.c32[this.cs.buf(buf) + B_LEN] = 8 + 2 * rooms;
      }
      this.roomsLock.release(LOCK_SHARED, lo, hi);
    }
    this.users.release(LOCK_EXCLUSIVE, lo, hi);
    if (taken) return this.kick(slot);
    if (buf === 0) return this.kick(slot);
    this.sendTo(slot, lo, hi, buf);
    this.releaseBuffer(buf, 0, 0, 0);
    return true;
  }

  private onEnter(slot: number, room: number): boolean {
    if (!this.loggedIn(slot) || room >= this.cs.rooms) return this.kick(slot);
    const t = this.table;
    const lo = t.idLo(slot);
    const hi = t.idHi(slot);
    const s = this.cs.session(slot);
    this.leaveRoom(slot, true);
    // The room holds the session from its Enter job to its Leave job.
    this.inc(slot, IoCountCause.HoldAcquire, 0);
    this.post(room, JobKind.Enter, slot, lo, hi, 0);
    Atomics.store(this.c32, s + CS_ROOM, room + 1);
    // A disconnect that swapped the room word before we published it left no Leave: push it now.
    if (Atomics.load(this.i32, this.base(slot) + S_DISCONNECTED) !== 0) this.leaveRoom(slot, false);
    return true;
  }

  private onChat(slot: number, p: number, len: number): boolean {
    const s = this.cs.session(slot);
    const room = Atomics.load(this.c32, s + CS_ROOM) - 1;
    if (!this.loggedIn(slot) || room < 0) return this.kick(slot);
    const t = this.table;
    const lo = t.idLo(slot);
    const hi = t.idHi(slot);
    this.cs.count(H_CHATS);
    const buf = this.acquireBuffer(lo, hi);
    if (buf === 0) {
      this.cs.count(H_DROPPED);
      this.rec.record(
        EventKind.Marker,
        0,
        this.rec.intern('SendBuffer pool empty: chat dropped'),
        lo,
        hi,
        0,
        0,
      );
      return true;
    }
    // Serialize once: header, room, name length, flags, seq (the flusher fills it in), name, text.
    const at = this.bufferAt(buf);
    const nameLen = this.c32[s + CS_NAME_LEN]!;
    const a = this.arena;
    this.header(at, ChatPacket.Broadcast, BROADCAST_FIXED_BYTES + nameLen + len);
    this.u16(at + 4, room);
    a[at + 6] = nameLen;
    a[at + 7] = 0;
    this.u32(at + 8, 0);
    const u8 = this.cs.u8;
    const nameAt = (s + CS_NAME) * 4;
    for (let k = 0; k < nameLen; k++) a[at + 12 + k] = u8[nameAt + k]!;
    const rBase = this.table.recvBase(slot);
    const mask = this.recvCap - 1;
    const textAt = at + 12 + nameLen;
    const start = p & mask;
    const first = Math.min(len, this.recvCap - start);
    a.copyWithin(textAt, rBase + start, rBase + start + first);
    if (first < len) a.copyWithin(textAt + first, rBase, rBase + (len - first));
    this.c32[this.cs.buf(buf) + B_LEN] = HEADER_BYTES + BROADCAST_FIXED_BYTES + nameLen + len;
    this.post(room, JobKind.Chat, slot, lo, hi, buf);
    return true;
  }

  /**
   * Leave the session's room, exactly once: whoever swaps the room word to 0
   * pushes the Leave job (`reply`: tell the client with LeaveOk). Main thread
   * callers do nothing: a worker will notice the disconnect (the recv the
   * close aborted completes there).
   */
  private leaveRoom(slot: number, reply: boolean): void {
    if (this.port === null) return;
    const room = Atomics.exchange(this.c32, this.cs.session(slot) + CS_ROOM, 0) - 1;
    if (room < 0) return;
    const t = this.table;
    this.post(room, JobKind.Leave, slot, t.idLo(slot), t.idHi(slot), reply ? 1 : 0);
  }

  protected override onDisconnected(slot: number): void {
    this.leaveRoom(slot, false);
  }

  // ---- the JobQueue --------------------------------------------------------------

  /**
   * Push a job onto room r's queue; the pusher that takes the job count from
   * 0 flushes it. Under broadcast-under-room-lock the job runs at once under
   * the room's lock instead.
   */
  private post(
    room: number,
    kind: number,
    slot: number,
    lo: number,
    hi: number,
    arg: number,
  ): void {
    const measure = this.c32[H_MEASURE] !== 0 && kind === JobKind.Chat;
    const t0 = measure ? performance.now() : 0;
    if (this.heldRoom === room) {
      // A job of the room whose lock we hold (a member kicked mid-broadcast leaves): run it now.
      this.run(room, kind, slot, lo, hi, arg);
    } else if (this.fault(this.fw.broadcastUnderRoomLock)) {
      // BUG (on purpose): the seeds' chat before JobQueues: every room operation
      // under the room's lock, the broadcast's WSASends included.
      const lock = this.roomLocks[room]!;
      const outer = this.heldRoom;
      lock.acquire(lo, hi);
      this.heldRoom = room;
      this.run(room, kind, slot, lo, hi, arg);
      this.heldRoom = outer;
      lock.release(lo, hi);
    } else {
      this.push(room, kind, slot, lo, hi, arg);
    }
    if (measure) this.cs.addPathNs((performance.now() - t0) * 1e6);
  }

  private push(
    room: number,
    kind: number,
    slot: number,
    lo: number,
    hi: number,
    arg: number,
  ): void {
    const c = this.c32;
    const cs = this.cs;
    const r0 = cs.room(room);
    const jobId = Atomics.add(c, H_JOB_ID, 1) + 1;
    // Enqueue under the queue's short lock; wait (briefly, outside the port) while it is full.
    for (;;) {
      this.queueLock(r0);
      const head = c[r0 + R_Q_HEAD]!;
      const tail = c[r0 + R_Q_TAIL]!;
      if (((tail - head) | 0) < JOBQ_CAP) {
        const j = cs.job(room, tail);
        c[j + J_KIND] = kind;
        c[j + J_SLOT] = slot;
        c[j + J_LO] = lo;
        c[j + J_HI] = hi;
        c[j + J_ARG] = arg;
        c[j + J_ID] = jobId;
        c[r0 + R_Q_TAIL] = (tail + 1) | 0;
        this.queueUnlock(r0);
        break;
      }
      this.queueUnlock(r0);
      this.pause(BlockReason.Other, 100);
    }
    let idle: boolean;
    let after: number;
    if (this.fault(this.fw.jobQueueTwoFlushers) && Atomics.load(c, r0 + R_JOB_COUNT) === 0) {
      // BUG (on purpose): the count check is not the add:
      //   if (jobCount == 0) { log("room idle: flushing"); jobCount.fetch_add(1); Execute(); }
      //   else jobCount.fetch_add(1);
      // Two pushers that both read 0 before either adds both flush the room.
      this.work(FLUSH_RACE_WORK_US);
      after = Atomics.add(c, r0 + R_JOB_COUNT, 1) + 1;
      idle = true;
    } else {
      after = Atomics.add(c, r0 + R_JOB_COUNT, 1) + 1;
      idle = after === 1;
    }
    this.rec.record(EventKind.JobPush, kind, room, lo, hi, after >>> 0, jobId >>> 0);
    if (idle) this.flush(room);
  }

  /** Run room r's jobs until its job count returns to 0 (the single flusher). */
  private flush(room: number): void {
    const c = this.c32;
    const cs = this.cs;
    const r0 = cs.room(room);
    const flushId = Atomics.add(c, H_FLUSH_ID, 1) + 1;
    Atomics.add(c, r0 + R_FLUSHING, 1);
    this.rec.record(
      EventKind.JobFlush,
      FlushPhase.Begin,
      room,
      0,
      0,
      Math.max(0, Atomics.load(c, r0 + R_JOB_COUNT)) >>> 0,
      flushId,
    );
    let ran = 0;
    const job = (this.scratch[this.depth] ??= new Int32Array(6));
    this.depth++;
    for (;;) {
      // One job at a time, under the queue's short lock.
      this.queueLock(r0);
      const head = c[r0 + R_Q_HEAD]!;
      const have = c[r0 + R_Q_TAIL] !== head;
      if (have) {
        const j = cs.job(room, head);
        for (let f = 0; f < 6; f++) job[f] = c[j + f]!;
        c[r0 + R_Q_HEAD] = (head + 1) | 0;
      }
      this.queueUnlock(r0);
      // Nothing queued: only when another flusher took the jobs (a correct
      // count is <= 0 whenever the queue is empty).
      if (!have) break;
      this.run(room, job[J_KIND]!, job[J_SLOT]!, job[J_LO]! >>> 0, job[J_HI]! >>> 0, job[J_ARG]!);
      ran++;
      // Done when this job's -1 takes the count to 0.
      if (Atomics.sub(c, r0 + R_JOB_COUNT, 1) === 1) break;
    }
    this.depth--;
    Atomics.sub(c, r0 + R_FLUSHING, 1);
    this.rec.record(EventKind.JobFlush, FlushPhase.End, room, 0, 0, ran >>> 0, flushId);
  }

  private queueLock(r0: number): void {
    const c = this.c32;
    const w = r0 + R_Q_LOCK;
    while (Atomics.compareExchange(c, w, 0, 1) !== 0) Atomics.wait(c, w, 1, 1);
  }

  private queueUnlock(r0: number): void {
    Atomics.store(this.c32, r0 + R_Q_LOCK, 0);
    Atomics.notify(this.c32, r0 + R_Q_LOCK, 1);
  }

  /** One job of room r (its flusher, or the room lock's holder). */
  private run(room: number, kind: number, slot: number, lo: number, hi: number, arg: number): void {
    switch (kind) {
      case JobKind.Chat:
        this.runChat(room, arg);
        return;
      case JobKind.Enter:
        this.runEnter(room, slot, lo, hi);
        return;
      case JobKind.Leave:
        this.runLeave(room, slot, lo, hi, arg !== 0);
        return;
      case JobKind.Tick:
        this.schedule(room);
        return;
      default:
        return;
    }
  }

  private runChat(room: number, buf: number): void {
    const c = this.c32;
    const cs = this.cs;
    const r0 = cs.room(room);
    const seq = c[r0 + R_SEQ]!;
    c[r0 + R_SEQ] = (seq + 1) | 0;
    this.u32(this.bufferAt(buf) + 8, seq >>> 0);
    const members = c[r0 + R_MEMBERS]!;
    this.rec.record(EventKind.Broadcast, 0, room, 0, 0, members >>> 0, buf);
    cs.count(H_BROADCASTS);
    const i = this.i32;
    for (let m = 0; m < members; m++) {
      const e = cs.member(room, m);
      const slot = c[e]!;
      if (Atomics.load(i, this.base(slot) + S_DISCONNECTED) !== 0) continue;
      this.sendTo(slot, c[e + 1]! >>> 0, c[e + 2]! >>> 0, buf);
    }
    this.releaseBuffer(buf, 0, 0, 0);
  }

  private runEnter(room: number, slot: number, lo: number, hi: number): void {
    const c = this.c32;
    const cs = this.cs;
    const r0 = cs.room(room);
    // Add the member (the hold the handler took is now the room's), count it
    // in the room directory, and read its name from the user directory.
    if (this.fault(this.fw.lockOrderInversion)) {
      // BUG (on purpose): rooms before users, the reverse of Login's order.
      this.roomsLock.acquireExclusive(lo, hi);
      this.users.acquireShared(lo, hi);
      c[r0 + R_POPULATION] = c[r0 + R_POPULATION]! + 1;
      this.users.release(LOCK_SHARED, lo, hi);
      this.roomsLock.release(LOCK_EXCLUSIVE, lo, hi);
    } else {
      this.users.acquireShared(lo, hi);
      this.roomsLock.acquireExclusive(lo, hi);
      c[r0 + R_POPULATION] = c[r0 + R_POPULATION]! + 1;
      this.roomsLock.release(LOCK_EXCLUSIVE, lo, hi);
      this.users.release(LOCK_SHARED, lo, hi);
    }
    const m = c[r0 + R_MEMBERS]!;
    const e = cs.member(room, m);
    c[e] = slot;
    c[e + 1] = lo;
    c[e + 2] = hi;
    c[r0 + R_MEMBERS] = m + 1;
    this.reply(room, slot, lo, hi, ChatPacket.EnterOk);
  }

  private runLeave(room: number, slot: number, lo: number, hi: number, reply: boolean): void {
    const c = this.c32;
    const cs = this.cs;
    const r0 = cs.room(room);
    const n = c[r0 + R_MEMBERS]!;
    let found = -1;
    for (let m = 0; m < n; m++) {
      const e = cs.member(room, m);
      if (c[e] === slot && c[e + 1]! >>> 0 === lo && c[e + 2]! >>> 0 === hi) {
        found = m;
        break;
      }
    }
    if (found < 0) return; // (only under a fault: two flushers lost the member)
    const last = cs.member(room, n - 1);
    const e = cs.member(room, found);
    c[e] = c[last]!;
    c[e + 1] = c[last + 1]!;
    c[e + 2] = c[last + 2]!;
    c[r0 + R_MEMBERS] = n - 1;
    this.roomsLock.acquireExclusive(lo, hi);
    c[r0 + R_POPULATION] = Math.max(0, c[r0 + R_POPULATION]! - 1);
    this.roomsLock.release(LOCK_EXCLUSIVE, lo, hi);
    if (reply && Atomics.load(this.i32, this.base(slot) + S_DISCONNECTED) === 0)
      this.reply(room, slot, lo, hi, ChatPacket.LeaveOk);
    this.dec(slot, IoCountCause.HoldRelease, 0);
  }

  /** EnterOk / LeaveOk: the room and its next sequence number. */
  private reply(room: number, slot: number, lo: number, hi: number, type: number): void {
    const buf = this.acquireBuffer(lo, hi);
    if (buf === 0) {
      this.disconnect(slot, DisconnectReason.Kicked, 0);
      return;
    }
    const at = this.bufferAt(buf);
    this.header(at, type, 8);
    this.u16(at + 4, room);
    this.u16(at + 6, 0);
    this.u32(at + 8, this.c32[this.cs.room(room) + R_SEQ]! >>> 0);
    this.c32[this.cs.buf(buf) + B_LEN] = 12;
    this.sendTo(slot, lo, hi, buf);
    this.releaseBuffer(buf, 0, 0, 0);
  }

  // ---- the JobTimer ----------------------------------------------------------------

  private nowMs(): number {
    return Date.now() - this.t0Ms;
  }

  /** Arm room r's next tick (TimerJob scheduled). */
  private schedule(room: number): void {
    const c = this.c32;
    const cs = this.cs;
    const tick = cs.tickMs;
    if (tick <= 0) return;
    const r0 = cs.room(room);
    const id = Atomics.add(c, H_TIMER_ID, 1) + 1;
    const due = this.nowMs() + tick;
    Atomics.store(c, r0 + R_TIMER_DUE, due);
    Atomics.store(c, r0 + R_TIMER_ID, id);
    Atomics.store(c, r0 + R_TIMER_ARMED, 1);
    this.rec.record(EventKind.TimerJob, TimerPhase.Scheduled, room, 0, 0, tick, id);
    // Lower the next-due hint (a stale hint only wakes a worker early).
    for (;;) {
      const next = Atomics.load(c, H_NEXT_DUE);
      if (next >= 0 && next <= due) break;
      if (Atomics.compareExchange(c, H_NEXT_DUE, next, due) === next) break;
    }
  }

  /** GQCS waits no longer than the next due tick. */
  gqcsTimeoutMs(): number {
    const next = Atomics.load(this.c32, H_NEXT_DUE);
    if (this.cs.tickMs <= 0) return INFINITE;
    if (Atomics.load(this.c32, H_TICKS_STARTED) === 0) return 0;
    if (next < 0) return INFINITE;
    return Math.max(1, Math.min(1000, next - this.nowMs()));
  }

  /** After every GQCS return: start the ticks once, then push every due tick onto its room. */
  afterGqcs(): void {
    const c = this.c32;
    const cs = this.cs;
    if (cs.tickMs <= 0) return;
    if (Atomics.load(c, H_TICKS_STARTED) === 0) {
      if (Atomics.compareExchange(c, H_TICKS_STARTED, 0, 1) === 0) {
        for (let r = 0; r < cs.rooms; r++) this.schedule(r);
      }
      return;
    }
    const now = this.nowMs();
    const next = Atomics.load(c, H_NEXT_DUE);
    if (next < 0 || now < next) return;
    if (Atomics.compareExchange(c, H_TIMER_LOCK, 0, 1) !== 0) return; // another worker distributes
    let soonest = -1;
    const due: number[] = [];
    for (let r = 0; r < cs.rooms; r++) {
      const r0 = cs.room(r);
      if (Atomics.load(c, r0 + R_TIMER_ARMED) === 0) continue;
      const at = Atomics.load(c, r0 + R_TIMER_DUE);
      if (at <= now) {
        Atomics.store(c, r0 + R_TIMER_ARMED, 0);
        this.rec.record(
          EventKind.TimerJob,
          TimerPhase.Fired,
          r,
          0,
          0,
          cs.tickMs,
          Atomics.load(c, r0 + R_TIMER_ID),
        );
        due.push(r);
      } else if (soonest < 0 || at < soonest) soonest = at;
    }
    Atomics.store(c, H_NEXT_DUE, soonest);
    Atomics.store(c, H_TIMER_LOCK, 0);
    for (const r of due) this.post(r, JobKind.Tick, 0, 0, 0, 0);
  }

  // ---- SendBuffers -------------------------------------------------------------------

  private bufferAt(buf: number): number {
    return this.poolBase + (buf - 1) * SEND_BUFFER_BYTES;
  }

  /** Take a buffer from the pool (refcount 1); waits a little when it is empty; 0 if it stays empty. */
  private acquireBuffer(lo: number, hi: number): number {
    const cs = this.cs;
    for (let tries = 0; ; tries++) {
      const buf = cs.popBuffer();
      if (buf !== 0) {
        this.rec.record(EventKind.SendBuffer, SendBufferOp.Acquire, buf, lo, hi, 1, cs.poolFree);
        return buf;
      }
      if (tries === 0) {
        cs.count(H_POOL_EMPTY);
        this.rec.record(EventKind.SendBuffer, SendBufferOp.PoolEmpty, 0, lo, hi, cs.poolCap, 0);
      }
      if (tries >= POOL_WAIT_TRIES) return 0;
      this.pause(BlockReason.Other, POOL_WAIT_US);
    }
  }

  /**
   * refcount += delta by CAS, stamped like IOCount (bump()): a change that
   * follows another in the count also follows it in the trace, so a Release
   * never lands after the Returned its successor caused.
   */
  private refAdd(buf: number, delta: number): number {
    const c = this.c32;
    const w = this.cs.buf(buf) + B_REF;
    let old = Atomics.load(c, w);
    for (;;) {
      this.stamp = this.rec.now();
      const seen = Atomics.compareExchange(c, w, old, (old + delta) | 0);
      if (seen === old) return (old + delta) | 0;
      old = seen;
    }
  }

  /** Drop one reference; the last one returns the buffer to the pool. */
  private releaseBuffer(buf: number, lo: number, hi: number, ioId: number): void {
    const cs = this.cs;
    const left = this.refAdd(buf, -1);
    this.rec.recordAt(
      this.stamp,
      EventKind.SendBuffer,
      SendBufferOp.Release,
      buf,
      lo,
      hi,
      left >>> 0,
      ioId,
    );
    if (left === 0) {
      // Recorded before the push: once pushed, another thread may Acquire it (and record that).
      this.rec.record(EventKind.SendBuffer, SendBufferOp.Returned, buf, 0, 0, 0, cs.poolFree + 1);
      cs.pushBuffer(buf);
    }
  }

  /** Queue `buf` for the session (AddRef: its send will hold a reference) and SendPost. */
  private sendTo(slot: number, lo: number, hi: number, buf: number): void {
    const cs = this.cs;
    const ref = this.refAdd(buf, 1);
    this.rec.recordAt(
      this.stamp,
      EventKind.SendBuffer,
      SendBufferOp.AddRef,
      buf,
      lo,
      hi,
      ref >>> 0,
      0,
    );
    cs.count(H_DELIVERIES);
    if (!cs.sendQueuePush(slot, buf)) {
      // A member this far behind does not read: kick it rather than queue without bound.
      this.releaseBuffer(buf, lo, hi, 0);
      cs.count(H_OVERFLOW_KICKS);
      this.disconnect(slot, DisconnectReason.SendOverflow, 0);
      return;
    }
    this.sendPost(slot);
  }

  /** One WSASend at a time per session, of the next one or two queued buffers. */
  sendPost(slot: number): void {
    const i = this.i32;
    const b = this.base(slot);
    const cs = this.cs;
    const c = this.c32;
    const s = cs.session(slot);
    const port = this.port!;
    for (;;) {
      if (Atomics.load(i, b + S_DISCONNECTED) !== 0) return;
      if (Atomics.exchange(i, b + S_SEND_FLAG, 1) === 1) return;
      const first = cs.sendQueuePop(slot);
      if (first !== 0) {
        const second = cs.sendQueuePop(slot);
        const len0 = c[cs.buf(first) + B_LEN]!;
        const len1 = second !== 0 ? c[cs.buf(second) + B_LEN]! : 0;
        c[s + CS_INF_A] = first;
        c[s + CS_INF_B] = second;
        c[s + CS_INF_LEN] = len0 + len1;
        const ioId = port.allocIoId();
        this.inc(slot, IoCountCause.SendPost, ioId);
        const ret = port.wsaSend(
          i[b + S_SOCKET]!,
          ovSend(slot),
          this.bufferAt(first),
          len0,
          second !== 0 ? this.bufferAt(second) : 0,
          len1,
          ioId,
        );
        if (ret !== 0 && ret !== ERROR_IO_PENDING) {
          this.releaseInFlight(slot, 0);
          Atomics.store(i, b + S_SEND_FLAG, 0);
          this.disconnect(slot, DisconnectReason.IoError, ret);
          this.dec(slot, IoCountCause.PostFailed, ioId);
        }
        return;
      }
      Atomics.store(i, b + S_SEND_FLAG, 0);
      // Lost wake-up guard: a buffer written after we looked, while the flag was still ours.
      if (!cs.sendQueueReady(slot)) return;
    }
  }

  protected onSend(slot: number, bytes: number, ioId: number): void {
    const i = this.i32;
    const b = this.base(slot);
    if (bytes !== this.c32[this.cs.session(slot) + CS_INF_LEN]) {
      // An overlapped send completes with all its bytes or fails.
      this.disconnect(slot, DisconnectReason.IoError, 0);
      this.releaseInFlight(slot, ioId);
    } else {
      this.releaseInFlight(slot, ioId);
      Atomics.store(i, b + S_SEND_FLAG, 0);
      if (this.cs.sendQueueReady(slot)) this.sendPost(slot);
    }
    this.dec(slot, IoCountCause.Completion, ioId);
  }

  protected override onSendFailed(slot: number, ioId: number): void {
    this.releaseInFlight(slot, ioId);
  }

  /** The send in flight is done (or failed): release its buffers' references. */
  private releaseInFlight(slot: number, ioId: number): void {
    const c = this.c32;
    const s = this.cs.session(slot);
    const t = this.table;
    const lo = t.idLo(slot);
    const hi = t.idHi(slot);
    const twice = this.fault(this.fw.sendBufferEarlyRelease);
    for (const f of [CS_INF_A, CS_INF_B]) {
      const buf = c[s + f]!;
      if (buf === 0) continue;
      c[s + f] = 0;
      this.releaseBuffer(buf, lo, hi, ioId);
      // BUG (on purpose): the completion handler and the queue's pop both release.
      if (twice) this.releaseBuffer(buf, lo, hi, ioId);
    }
    c[s + CS_INF_LEN] = 0;
  }

  protected override onReleased(slot: number): void {
    const c = this.c32;
    const cs = this.cs;
    const s = cs.session(slot);
    const t = this.table;
    const lo = t.idLo(slot);
    const hi = t.idHi(slot);
    // Buffers queued but never sent.
    for (;;) {
      const buf = cs.sendQueuePop(slot);
      if (buf === 0) break;
      this.releaseBuffer(buf, lo, hi, 0);
    }
    if (c[s + CS_INF_A] !== 0 || c[s + CS_INF_B] !== 0) this.releaseInFlight(slot, 0);
    Atomics.store(c, s + CS_LOGGED_IN, 0);
    c[s + CS_NAME_LEN] = 0;
    Atomics.store(c, s + CS_ROOM, 0);
  }

  // ---- writing packets into the arena ----------------------------------------------

  private header(at: number, type: number, payload: number): void {
    this.u16(at, payload);
    this.u16(at + 2, type);
  }

  private u16(at: number, v: number): void {
    this.arena[at] = v & 0xff;
    this.arena[at + 1] = (v >>> 8) & 0xff;
  }

  private u32(at: number, v: number): void {
    const a = this.arena;
    a[at] = v & 0xff;
    a[at + 1] = (v >>> 8) & 0xff;
    a[at + 2] = (v >>> 16) & 0xff;
    a[at + 3] = (v >>> 24) & 0xff;
  }
}

export { MAX_NAME_BYTES };
