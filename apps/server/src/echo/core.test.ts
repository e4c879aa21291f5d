import { beforeEach, describe, expect, it } from 'vitest';
import {
  BlockReason,
  DisconnectReason,
  EventKind,
  IoCountCause,
  NO_THREAD,
  Op,
} from '@iocpscope/protocol';
import {
  ERROR_IO_PENDING,
  ERROR_OPERATION_ABORTED,
  WSAECONNRESET,
  newCompletionEntry,
  type AcceptResult,
  type CompletionEntry,
  type CompletionPort,
} from '../port/index.ts';
import type { TraceRecorder } from '../trace/recorder.ts';
import { EchoCore, RACE_WORK_US, ovRecv, ovSend } from './core.ts';
import { FAULT_WORDS, FaultSwitches, type FaultName } from './faults.ts';
import {
  HEADER_WORDS,
  SLOT_WORDS,
  S_ID_HI,
  S_ID_LO,
  S_JOINED,
  SessionTable,
} from '../session/session-table.ts';

interface Post {
  op: 'recv' | 'send';
  socket: number;
  ov: number;
  bufs: [number, number, number, number];
  ioId: number;
}

/** A port double: records posts, answers with a configurable result, never blocks. */
class FakePort implements CompletionPort {
  readonly posts: Post[] = [];
  readonly closed: number[] = [];
  nextResult = ERROR_IO_PENDING;
  lastError = 0;
  lastIoId = 0;
  private io = 0;
  readonly concurrency = 1;
  constructor(readonly arena: Uint8Array) {}
  getQueuedCompletionStatus(): boolean {
    throw new Error('not used');
  }
  getQueuedCompletionStatusEx(): number {
    throw new Error('not used');
  }
  postQueuedCompletionStatus(): boolean {
    return true;
  }
  allocIoId(): number {
    return ++this.io;
  }
  wsaRecv(
    socket: number,
    ov: number,
    o0: number,
    l0: number,
    o1: number,
    l1: number,
    ioId = 0,
  ): number {
    this.posts.push({ op: 'recv', socket, ov, bufs: [o0, l0, o1, l1], ioId });
    return this.nextResult;
  }
  wsaSend(
    socket: number,
    ov: number,
    o0: number,
    l0: number,
    o1: number,
    l1: number,
    ioId = 0,
  ): number {
    this.posts.push({ op: 'send', socket, ov, bufs: [o0, l0, o1, l1], ioId });
    return this.nextResult;
  }
  closesocket(socket: number): number {
    this.closed.push(socket);
    return 0;
  }
  accept(): AcceptResult | null {
    return null;
  }
  associate(): boolean {
    return true;
  }
  /** Blocks (reason, detail) in call order; onBlock runs inside the wait (another thread's turn). */
  readonly blocks: Array<[number, number]> = [];
  onBlock: (() => void) | null = null;
  blockBegin(reason: number, detail: number): void {
    this.blocks.push([reason, detail]);
    const hook = this.onBlock;
    this.onBlock = null;
    hook?.();
  }
  blockEnd(): void {}
  detach(): void {}
}

type Rec = [kind: number, a: number, x: number, lo: number, hi: number, y: number, z: number];

class MemoryRecorder implements TraceRecorder {
  readonly tid = NO_THREAD;
  readonly enabled = true;
  readonly records: Rec[] = [];
  readonly strings: string[] = [''];
  /** Runs right after a record is taken: lets a test interleave another "thread" at that point. */
  onRecord: ((r: Rec) => void) | null = null;
  now(): number {
    return 0;
  }
  recordAt(
    _ts: number,
    kind: number,
    a: number,
    x: number,
    lo: number,
    hi: number,
    y: number,
    z: number,
  ): void {
    this.record(kind, a, x, lo, hi, y, z);
  }
  record(kind: number, a: number, x: number, lo: number, hi: number, y: number, z: number): void {
    const r: Rec = [kind, a, x, lo, hi, y, z];
    this.records.push(r);
    const hook = this.onRecord;
    if (hook) hook(r);
  }
  intern(s: string): number {
    const i = this.strings.indexOf(s);
    return i >= 0 ? i : this.strings.push(s) - 1;
  }
  internOnce(s: string): number {
    return this.strings.push(s) - 1;
  }
  idle(): void {}
  exit(): void {}
  of(kind: number): Rec[] {
    return this.records.filter((r) => r[0] === kind);
  }
}

let table: SessionTable;
let arena: Uint8Array;
let port: FakePort;
let rec: MemoryRecorder;
let core: EchoCore;
let faults: FaultSwitches;

beforeEach(() => {
  table = SessionTable.create({ maxSessions: 4, recvBytes: 16384, sendBytes: 16384 });
  arena = new Uint8Array(table.arenaBytes);
  port = new FakePort(arena);
  rec = new MemoryRecorder();
  core = new EchoCore(table, arena, rec, port, port, FAULT_WORDS);
  faults = new FaultSwitches(table);
});

function packet(len: number, type = 1, fill = 0): Uint8Array {
  const p = new Uint8Array(4 + len);
  p[0] = len & 0xff;
  p[1] = len >> 8;
  p[2] = type & 0xff;
  p[3] = type >> 8;
  for (let k = 0; k < len; k++) p[4 + k] = (fill + k * 7) & 0xff;
  return p;
}

function lastPost(op: 'recv' | 'send'): Post {
  const p = [...port.posts].reverse().find((x) => x.op === op);
  if (!p) throw new Error(`no ${op} posted`);
  return p;
}

/** Deliver `bytes` into the last posted recv's WSABUFs and complete it. */
function completeRecv(slot: number, bytes: Uint8Array): void {
  const p = lastPost('recv');
  const [o0, l0, o1, l1] = p.bufs;
  expect(bytes.length).toBeLessThanOrEqual(l0 + l1);
  arena.set(bytes.subarray(0, Math.min(l0, bytes.length)), o0);
  if (bytes.length > l0) arena.set(bytes.subarray(l0), o1);
  core.onCompletion(entry(slot, p, bytes.length, 0));
}

function completeSend(slot: number, error = 0): Uint8Array {
  const p = lastPost('send');
  const [o0, l0, o1, l1] = p.bufs;
  const out = new Uint8Array(l0 + l1);
  out.set(arena.subarray(o0, o0 + l0), 0);
  out.set(arena.subarray(o1, o1 + l1), l0);
  core.onCompletion(entry(slot, p, error ? 0 : out.length, error));
  return out;
}

function entry(slot: number, p: Post, bytes: number, error: number): CompletionEntry {
  const e = newCompletionEntry();
  e.bytes = bytes;
  e.keyLo = table.idLo(slot);
  e.keyHi = table.idHi(slot);
  e.overlapped = p.ov;
  e.error = error;
  e.ioId = p.ioId;
  return e;
}

function ioCountValues(): number[] {
  return rec.of(EventKind.IoCount).map((r) => r[2] | 0);
}

function acceptOne(): number {
  const slot = core.accepted(100, '127.0.0.1:5000');
  expect(slot).toBeGreaterThanOrEqual(0);
  return slot;
}

/** EchoCore with a point right after an IOCount change's CAS, where another thread may run. */
class InterleavedCore extends EchoCore {
  afterBump: (() => void) | null = null;
  protected override bump(slot: number, delta: number): number {
    const v = super.bump(slot, delta);
    const h = this.afterBump;
    this.afterBump = null;
    h?.();
    return v;
  }
  decrement(slot: number, ioId: number): number {
    return this.decOnly(slot, IoCountCause.Completion, ioId);
  }
}

describe('EchoCore', () => {
  it('names the session it decremented in the IoCount record, even when the slot holds the next session by then', () => {
    const ic = new InterleavedCore(table, arena, rec, port, port, FAULT_WORDS);
    core = ic;
    const s = acceptOne();
    const [lo, hi] = [table.idLo(s), table.idHi(s)];
    // Right after this thread's -1, another takes the count to 0, releases, and the
    // acceptor's next session takes the slot (its id words change).
    ic.afterBump = () => {
      const b = HEADER_WORDS + s * SLOT_WORDS;
      table.i32[b + S_ID_LO] = (lo + 0x10000) | 0;
      table.i32[b + S_ID_HI] = hi | 0;
    };
    ic.decrement(s, 42);
    const last = rec.of(EventKind.IoCount).at(-1)!;
    expect(last[6]).toBe(42);
    expect([last[3], last[4]]).toEqual([lo, hi]);
  });

  it('holds an IOCount across the first RecvPost and hands the session over before dropping it', () => {
    const s = acceptOne();
    const kinds = rec.records.map((r) => r[0]);
    expect(kinds).toEqual([
      EventKind.SessionCreated,
      EventKind.SessionRings,
      EventKind.IoCount,
      EventKind.IoCount,
      EventKind.IoRing,
      EventKind.Accept,
      EventKind.IoCount,
    ]);
    // The rings' capacities, and the first recv's geometry: all of RecvQ from its base.
    const [rings] = rec.of(EventKind.SessionRings);
    expect([rings![2], rings![5]]).toEqual([table.recvBytes, table.sendBytes]);
    // IoRing: op recv, off0 0, off1 0 (one WSABUF), avail 16384 free, len0 16384, its ioId.
    const [ring] = rec.of(EventKind.IoRing);
    expect(ring!.slice(1, 6)).toEqual([Op.Recv, 0, 0, 16384, 16384]);
    expect(ring![6]).toBe(lastPost('recv').ioId);
    expect(rec.of(EventKind.IoCount).map((r) => r[1])).toEqual([
      IoCountCause.AcceptHold,
      IoCountCause.RecvPost,
      IoCountCause.AcceptRelease,
    ]);
    expect(table.ioCount(s)).toBe(1);
    expect(lastPost('recv')).toMatchObject({
      op: 'recv',
      socket: 100,
      ov: ovRecv(s),
      bufs: [table.recvBase(s), 16384, 0, 0],
    });
  });

  it('echoes complete packets unchanged and keeps a partial one until it is whole', () => {
    const s = acceptOne();
    const a = packet(10, 1, 1);
    const b = packet(300, 2, 9);
    const stream = new Uint8Array([...a, ...b]);
    completeRecv(s, stream.subarray(0, 20));
    expect(lastPost('send').bufs[1]).toBe(14);
    expect(Array.from(completeSend(s))).toEqual(Array.from(a));
    completeRecv(s, stream.subarray(20));
    expect(Array.from(completeSend(s))).toEqual(Array.from(b));
    expect(table.ioCount(s)).toBe(1); // just the recv
  });

  it('posts RecvQ free space as two WSABUFs when it wraps and echoes packets that straddle the end', () => {
    const s = acceptOne();
    const big = packet(8192, 3, 5);
    // Advance RecvQ and SendQ to 16380 bytes: two max packets minus 8.
    for (const p of [big, packet(8180, 3, 1)]) {
      completeRecv(s, p);
      completeSend(s);
    }
    const r = lastPost('recv');
    expect(r.bufs).toEqual([table.recvBase(s) + 16380, 4, table.recvBase(s), 16380]);
    const straddle = packet(100, 7, 3);
    completeRecv(s, straddle);
    const send = lastPost('send');
    expect(send.bufs).toEqual([table.sendBase(s) + 16380, 4, table.sendBase(s), 100]);
    expect(Array.from(completeSend(s))).toEqual(Array.from(straddle));
  });

  it('kicks a length above 8192 with reason BadLength and a type outside 1..0x7fff with BadType', () => {
    const s = acceptOne();
    completeRecv(s, packet(8193).subarray(0, 4));
    expect(rec.of(EventKind.Disconnect)[0]![1]).toBe(DisconnectReason.BadLength);
    expect(port.closed).toEqual([100]);
    const t = core.accepted(101, 'p');
    completeRecv(t, packet(1, 0));
    expect(rec.of(EventKind.Disconnect)[1]![1]).toBe(DisconnectReason.BadType);
    const u = core.accepted(102, 'p');
    completeRecv(u, packet(1, 0x8000));
    expect(rec.of(EventKind.Disconnect)[2]![1]).toBe(DisconnectReason.BadType);
    // A kicked session posts nothing more; its pending recv's 995 releases it.
    const before = port.posts.length;
    core.onCompletion(entry(s, lastPost('recv'), 0, ERROR_OPERATION_ABORTED));
    expect(port.posts.length).toBe(before);
  });

  it('keeps one send in flight and sends what was queued meanwhile when it completes', () => {
    const s = acceptOne();
    completeRecv(s, packet(5, 1, 1));
    const firstSend = lastPost('send');
    completeRecv(s, packet(6, 1, 2));
    expect(port.posts.filter((p) => p.op === 'send')).toEqual([firstSend]);
    expect(Array.from(completeSend(s))).toEqual(Array.from(packet(5, 1, 1)));
    expect(lastPost('send')).not.toBe(firstSend);
    expect(Array.from(completeSend(s))).toEqual(Array.from(packet(6, 1, 2)));
  });

  it('releases exactly once when a peer close brings IOCount to 0, and closes the socket once', () => {
    const s = acceptOne();
    const id = table.sessionId(s);
    completeRecv(s, new Uint8Array(0));
    expect(rec.of(EventKind.Disconnect).map((r) => r[1])).toEqual([DisconnectReason.PeerClosed]);
    expect(rec.of(EventKind.SessionReleased)).toHaveLength(1);
    expect(rec.of(EventKind.SessionReleased)[0]!.slice(2, 5)).toEqual([
      0,
      Number(id & 0xffffffffn),
      Number(id >> 32n),
    ]);
    expect(port.closed).toEqual([100]);
    expect(table.active).toBe(0);
    expect(ioCountValues().at(-1)).toBe(0);
  });

  it('undoes the IOCount at once when a post fails without pending', () => {
    port.nextResult = WSAECONNRESET;
    const s = core.accepted(100, 'p');
    expect(rec.of(EventKind.IoCount).map((r) => [r[1], r[2]])).toEqual([
      [IoCountCause.AcceptHold, 1],
      [IoCountCause.RecvPost, 2],
      [IoCountCause.PostFailed, 1],
      [IoCountCause.AcceptRelease, 0],
    ]);
    expect(rec.of(EventKind.SessionReleased)).toHaveLength(1);
    expect(table.isReleased(s)).toBe(true);
  });

  it('lets the main thread hold, disconnect and release a live session at shutdown', () => {
    const s = acceptOne();
    const main = new EchoCore(table, arena, rec, null, port, FAULT_WORDS);
    expect(main.holdAndDisconnect(s, DisconnectReason.Shutdown)).toBe(true);
    expect(rec.of(EventKind.Disconnect).at(-1)![1]).toBe(DisconnectReason.Shutdown);
    core.onCompletion(entry(s, lastPost('recv'), 0, ERROR_OPERATION_ABORTED));
    expect(rec.of(EventKind.SessionReleased)).toHaveLength(1);
    expect(main.holdAndDisconnect(s, DisconnectReason.Shutdown)).toBe(false);
  });
});

describe('EchoCore fault switches', () => {
  const on = (f: FaultName): void => faults.enable(f);

  it('iocount-double-decrement: a recv completion decrements twice, the session is released with a recv pending, IOCount goes below 0', () => {
    on('iocount-double-decrement');
    const s = acceptOne();
    completeRecv(s, packet(4)); // 1 -> +send +recv -1 -1 = 1
    completeSend(s); // -> 0: released while the recv is still pending
    expect(rec.of(EventKind.SessionReleased)).toHaveLength(1);
    core.onCompletion(entry(s, lastPost('recv'), 0, ERROR_OPERATION_ABORTED));
    expect(Math.min(...ioCountValues())).toBe(-1);
  });

  it('release-with-io-pending: a disconnect releases before the pending recv completes', () => {
    on('release-with-io-pending');
    const s = acceptOne();
    completeRecv(s, packet(300).subarray(0, 2)); // partial: recv reposted, nothing to send
    const main = new EchoCore(table, arena, rec, null, port, FAULT_WORDS);
    main.holdAndDisconnect(s, DisconnectReason.Kicked);
    expect(rec.of(EventKind.SessionReleased)).toHaveLength(1);
    expect(table.ioCount(s)).toBeGreaterThan(0);
  });

  it('recv-not-reposted: after data the worker posts no recv', () => {
    on('recv-not-reposted');
    const s = acceptOne();
    const recvs = port.posts.filter((p) => p.op === 'recv').length;
    completeRecv(s, packet(4));
    expect(port.posts.filter((p) => p.op === 'recv').length).toBe(recvs);
  });

  it('two-sends-in-flight: a second send is posted while the first is outstanding', () => {
    on('two-sends-in-flight');
    const s = acceptOne();
    completeRecv(s, packet(4));
    completeRecv(s, packet(5));
    expect(port.posts.filter((p) => p.op === 'send')).toHaveLength(2);
  });

  it('no-decrement-on-failure: a failed completion leaves the session a zombie', () => {
    on('no-decrement-on-failure');
    const s = acceptOne();
    core.onCompletion(entry(s, lastPost('recv'), 0, 64));
    expect(table.ioCount(s)).toBe(1);
    expect(rec.of(EventKind.SessionReleased)).toHaveLength(0);
  });

  it("the acceptor does OnClientJoin's work after the first RecvPost, under its hold", () => {
    table.setJoinWorkUs(300);
    const worker = new EchoCore(table, arena, rec, port, port, FAULT_WORDS);
    // A worker's turn inside the join work: the client already left (0-byte recv).
    port.onBlock = () => worker.onCompletion(entry(0, lastPost('recv'), 0, 0));
    const t0 = performance.now();
    const s = core.accepted(100, 'p');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(0.3);
    expect(port.blocks).toEqual([[BlockReason.Sleep, 300]]);
    const kinds = rec.records.map((r) => r[0]);
    // The hold kept it alive: released only when the acceptor dropped the hold.
    expect(kinds.indexOf(EventKind.Accept)).toBeLessThan(kinds.indexOf(EventKind.SessionReleased));
    expect(rec.of(EventKind.SessionReleased)).toHaveLength(1);
    expect(table.isReleased(s)).toBe(true);
  });

  it('no-accept-hold: a worker releases the session during OnClientJoin, before the acceptor is done', () => {
    on('no-accept-hold');
    table.setJoinWorkUs(300);
    const worker = new EchoCore(table, arena, rec, port, port, FAULT_WORDS);
    port.onBlock = () => worker.onCompletion(entry(0, lastPost('recv'), 0, 0));
    core.accepted(100, 'p');
    const kinds = rec.records.map((r) => r[0]);
    expect(kinds.indexOf(EventKind.SessionReleased)).toBeLessThan(kinds.indexOf(EventKind.Accept));
  });

  it('no-accept-hold: the session can be released before the acceptor hands it over', () => {
    on('no-accept-hold');
    port.nextResult = WSAECONNRESET;
    core.accepted(100, 'p');
    const kinds = rec.records.map((r) => r[0]);
    expect(kinds.indexOf(EventKind.SessionReleased)).toBeLessThan(kinds.indexOf(EventKind.Accept));
  });

  it('no-accept-hold: the acceptor then writes to the released slot and names the session from it', () => {
    on('no-accept-hold');
    table.setJoinWorkUs(300);
    const worker = new EchoCore(table, arena, rec, port, port, FAULT_WORDS);
    port.onBlock = () => worker.onCompletion(entry(0, lastPost('recv'), 0, 0));
    const slot = core.accepted(100, 'p');
    // The slot is free again, yet the acceptor marked it joined: a write to released memory.
    expect(table.liveSlots()).not.toContain(slot);
    expect(table.i32[table.w(slot, S_JOINED)]).toBe(1);
    const [created] = rec.of(EventKind.SessionCreated);
    const [accept] = rec.of(EventKind.Accept);
    expect([accept![3], accept![4]]).toEqual([created![3], created![4]]);
  });

  it('ring-wrap-off-by-one: a recv whose free space wraps stops WSABUF[0] one byte before the end', () => {
    const s = acceptOne();
    completeRecv(s, packet(10)); // RecvQ's rear is now 14: the free space wraps
    const [o0, l0, o1, l1] = lastPost('recv').bufs;
    expect([o0 - table.recvBase(s), l0, o1, l1]).toEqual([14, 16384 - 14, table.recvBase(s), 14]);
    on('ring-wrap-off-by-one');
    completeRecv(s, packet(10));
    const [p0, q0, , q1] = lastPost('recv').bufs;
    expect([p0 - table.recvBase(s), q0, q1]).toEqual([28, 16384 - 28 - 1, 29]);
    const ring = rec.of(EventKind.IoRing).at(-1)!;
    expect([ring[2], ring[5]]).toEqual([28, 16384 - 28 - 1]);
  });

  it('short-send-ignored: posts one byte less than it counts, then moves SendQ by the count', () => {
    on('short-send-ignored');
    const s = acceptOne();
    completeRecv(s, packet(20)); // a 24-byte echo
    const [, l0, , l1] = lastPost('send').bufs;
    expect(l0 + l1).toBe(23);
    completeSend(s);
    // No disconnect for the short completion, and the front moved by 24.
    expect(rec.of(EventKind.Disconnect)).toHaveLength(0);
    completeRecv(s, packet(20));
    const sends = rec.of(EventKind.IoRing).filter((r) => r[1] === Op.Send);
    expect(sends.map((r) => r[2])).toEqual([0, 24]);
  });

  it('send-overflow-ignored: an echo that does not fit in SendQ overwrites unsent bytes instead of a disconnect', () => {
    const full = (): void => {
      const s = acceptOne();
      port.nextResult = ERROR_IO_PENDING; // the sends stay in flight: SendQ fills
      for (let k = 0; k < 3; k++) completeRecv(s, packet(8000));
    };
    full();
    expect(rec.of(EventKind.Disconnect).map((r) => r[1])).toEqual([DisconnectReason.SendOverflow]);
    rec.records.length = 0;
    on('send-overflow-ignored');
    full();
    expect(rec.of(EventKind.Disconnect)).toHaveLength(0);
  });

  it('zero-byte-recv-reposted: a 0-byte recv is posted again instead of disconnecting', () => {
    on('zero-byte-recv-reposted');
    const s = acceptOne();
    const recvs = port.posts.filter((p) => p.op === 'recv').length;
    completeRecv(s, new Uint8Array(0));
    expect(port.posts.filter((p) => p.op === 'recv').length).toBe(recvs + 1);
    expect(rec.of(EventKind.Disconnect)).toHaveLength(0);
  });

  it('lock-across-send: SendPost holds the send lock across WSASend', () => {
    on('lock-across-send');
    const s = acceptOne();
    const from = rec.records.length;
    completeRecv(s, packet(4));
    const kinds = rec.records.slice(from).map((r) => r[0]);
    const acq = kinds.indexOf(EventKind.LockAcquire);
    const rel = kinds.indexOf(EventKind.LockRelease);
    expect(acq).toBeGreaterThanOrEqual(0);
    expect(rel).toBeGreaterThan(acq);
    // The send's IoCount+1 (and the port's IoPosted) happen while the lock is held.
    expect(
      rec.records
        .slice(from + acq, from + rel)
        .some((r) => r[0] === EventKind.IoCount && r[1] === IoCountCause.SendPost),
    ).toBe(true);
  });

  it("release-without-atomic-flag: a hold that lands inside another thread's release releases the session again", () => {
    on('release-without-atomic-flag');
    const s = acceptOne();
    const main = new EchoCore(table, arena, rec, null, port, FAULT_WORDS);
    let raced = false;
    rec.onRecord = (r) => {
      // The worker is inside releaseBody (SessionReleased recorded, flag not yet set):
      // the main thread's shutdown sweep takes a hold on the same session now.
      if (r[0] === EventKind.SessionReleased && !raced) {
        raced = true;
        main.holdAndDisconnect(s, DisconnectReason.Shutdown);
      }
    };
    core.onCompletion(entry(s, lastPost('recv'), 0, 64)); // the recv fails: IOCount 1 -> 0
    rec.onRecord = null;
    expect(rec.of(EventKind.SessionReleased)).toHaveLength(2);
  });

  it('release-without-atomic-flag: the release decision is separated from the decrement by blocking work', () => {
    on('release-without-atomic-flag');
    const s = acceptOne();
    port.blocks.length = 0;
    core.onCompletion(entry(s, lastPost('recv'), 0, 64));
    // The handler's log write after the decrement, then the release's own before the flag.
    expect(port.blocks).toEqual([
      [BlockReason.SyncIo, RACE_WORK_US],
      [BlockReason.SyncIo, RACE_WORK_US],
    ]);
    expect(rec.of(EventKind.SessionReleased)).toHaveLength(1);
  });

  it('the combined CAS makes the same interleaving release once', () => {
    const s = acceptOne();
    const main = new EchoCore(table, arena, rec, null, port, FAULT_WORDS);
    let raced = false;
    rec.onRecord = (r) => {
      if (r[0] === EventKind.SessionReleased && !raced) {
        raced = true;
        expect(main.holdAndDisconnect(s, DisconnectReason.Shutdown)).toBe(false);
      }
    };
    core.onCompletion(entry(s, lastPost('recv'), 0, 64));
    rec.onRecord = null;
    expect(rec.of(EventKind.SessionReleased)).toHaveLength(1);
  });

  it('can be switched at runtime: set() replaces the whole set', () => {
    faults.set(['recv-not-reposted', 'lock-across-send']);
    expect(faults.active()).toEqual(['recv-not-reposted', 'lock-across-send']);
    faults.set([]);
    expect(faults.active()).toEqual([]);
    expect(() => faults.set(['nope' as FaultName])).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_FAULT' }),
    );
    expect(ovSend(3)).not.toBe(ovRecv(3));
  });
});
