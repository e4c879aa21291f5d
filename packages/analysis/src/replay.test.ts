import {
  BlockReason,
  EventKind,
  IoCountCause,
  Op,
  RECORD_WORDS,
  ThreadStateValue,
  WinError,
  aAt,
  kindAt,
  opAt,
  sessionAt,
  tidAt,
  xAt,
  yAt,
  zAt,
} from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { Replayer } from './replay.ts';
import { outstandingOps, type ReplayState } from './state.ts';
import { Rng, synthesize, type SynthFault } from './synth.ts';
import type { TraceRecords } from './source.ts';
import { openSession, server } from './testing/scenarios.ts';

const replay = (t: TraceRecords, count = t.length): ReplayState => {
  const r = new Replayer();
  r.advance(t, count);
  return r.state;
};

/**
 * The obvious, slow model: recompute what the state at `count` must say by
 * reading the events from the start, with no shared bookkeeping.
 */
function naive(t: TraceRecords, count: number) {
  const w = t.words;
  const ioCount = new Map<bigint, number>();
  const lifecycle = new Map<bigint, string>();
  const issued = new Map<bigint, Set<number>>();
  const done = new Map<bigint, Set<number>>();
  const queue: { key: bigint; ioId: number; hasOv: boolean; at: number }[] = [];
  const state = new Map<number, number>();
  const portThread = new Set<number>();
  let waiting: number[] = [];
  const add = (m: Map<bigint, Set<number>>, s: bigint, v: number): void => {
    if (!m.has(s)) m.set(s, new Set());
    m.get(s)!.add(v);
  };
  for (let i = 0; i < count; i++) {
    const kind = kindAt(w, i);
    const tid = tidAt(w, i);
    const s = sessionAt(w, i);
    switch (kind) {
      case EventKind.ThreadStart:
        state.set(tid, ThreadStateValue.Running);
        break;
      case EventKind.ThreadExit:
        state.set(tid, ThreadStateValue.Exited);
        waiting = waiting.filter((x) => x !== tid);
        break;
      case EventKind.ThreadState:
        state.set(tid, aAt(w, i));
        if (aAt(w, i) === ThreadStateValue.Exited) waiting = waiting.filter((x) => x !== tid);
        break;
      case EventKind.GqcsEnter:
        portThread.add(tid);
        state.set(tid, ThreadStateValue.Waiting);
        waiting = waiting.filter((x) => x !== tid);
        waiting.push(tid);
        break;
      case EventKind.GqcsReturn: {
        portThread.add(tid);
        state.set(tid, ThreadStateValue.Running);
        waiting = waiting.filter((x) => x !== tid);
        const ok = (aAt(w, i) & 0x10) !== 0;
        const hasOv = (aAt(w, i) & 0x20) !== 0;
        if (!ok && !hasOv) break;
        const k = queue.findIndex((p) => p.key === s && p.ioId === zAt(w, i) && p.hasOv === hasOv);
        if (k >= 0) queue.splice(k, 1);
        if (hasOv && (opAt(w, i) === Op.Recv || opAt(w, i) === Op.Send)) add(done, s, zAt(w, i));
        break;
      }
      case EventKind.PacketQueued:
        if (opAt(w, i) !== Op.Post) {
          queue.push({ key: s, ioId: zAt(w, i), hasOv: true, at: i });
          add(issued, s, zAt(w, i));
        }
        break;
      case EventKind.Pqcs:
        queue.push({ key: s, ioId: zAt(w, i), hasOv: (aAt(w, i) & 0x20) !== 0, at: i });
        break;
      case EventKind.IoPosted: {
        add(issued, s, zAt(w, i));
        const res = yAt(w, i);
        if (res !== 0 && res !== WinError.IoPending) add(done, s, zAt(w, i));
        break;
      }
      case EventKind.IoCount: {
        ioCount.set(s, (ioCount.get(s) ?? 0) + (yAt(w, i) | 0));
        const cause = aAt(w, i);
        if (
          (cause === IoCountCause.RecvPost || cause === IoCountCause.SendPost) &&
          zAt(w, i) !== 0
        ) {
          add(issued, s, zAt(w, i));
        }
        if (!lifecycle.has(s)) lifecycle.set(s, 'live');
        break;
      }
      case EventKind.SessionCreated:
      case EventKind.Accept:
        if (
          !lifecycle.has(s) ||
          (kind === EventKind.SessionCreated && lifecycle.get(s) === 'released')
        ) {
          lifecycle.set(s, 'live');
          ioCount.set(s, 0);
          issued.delete(s);
          done.delete(s);
        }
        break;
      case EventKind.Disconnect:
      case EventKind.SocketClosed:
        if ((lifecycle.get(s) ?? 'live') === 'live') lifecycle.set(s, 'disconnecting');
        break;
      case EventKind.SessionReleased:
        lifecycle.set(s, 'released');
        break;
      case EventKind.LockWait:
        state.set(tid, ThreadStateValue.Blocked);
        break;
      case EventKind.LockAcquire:
        if (state.get(tid) === ThreadStateValue.Blocked) state.set(tid, ThreadStateValue.Running);
        break;
    }
  }
  let running = 0;
  for (const tid of portThread) if (state.get(tid) === ThreadStateValue.Running) running++;
  const outstanding = new Map<bigint, number[]>();
  for (const [s, ids] of issued) {
    const d = done.get(s) ?? new Set();
    outstanding.set(
      s,
      [...ids].filter((x) => !d.has(x)).sort((a, b) => a - b),
    );
  }
  return {
    ioCount,
    lifecycle,
    queue: queue.map((p) => p.at),
    state,
    running,
    waiting,
    outstanding,
  };
}

function expectMatchesNaive(t: TraceRecords, count: number): void {
  const st = replay(t, count);
  const n = naive(t, count);
  const mine = {
    queue: st.port.queue.toArray().map((p) => p.queuedIndex),
    waiting: st.port.waiting,
    running: st.port.running,
    threads: [...st.threads].map(([tid, th]) => [tid, th.state]),
    sessions: [...st.sessions].map(([id, s]) => [
      id,
      s.ioCount,
      s.lifecycle,
      outstandingOps(s)
        .map((o) => o.ioId)
        .sort((a, b) => a - b),
    ]),
  };
  const model = {
    queue: n.queue,
    waiting: n.waiting,
    running: n.running,
    threads: [...st.threads.keys()].map((tid) => [tid, n.state.get(tid)]),
    sessions: [...st.sessions.keys()].map((id) => [
      id,
      n.ioCount.get(id),
      n.lifecycle.get(id),
      n.outstanding.get(id) ?? [],
    ]),
  };
  expect(mine).toEqual(model);
  // Every session the naive model still sees alive is in the state.
  const missing = [...n.lifecycle].filter(([id, lc]) => lc !== 'released' && !st.sessions.has(id));
  expect(missing).toEqual([]);
}

describe('Replayer', () => {
  it('matches a naive model at random points of clean and faulty synthetic traces', () => {
    const rng = new Rng(42);
    const cases: { faults: SynthFault[]; maxEntries: number }[] = [
      { faults: [], maxEntries: 1 },
      { faults: [], maxEntries: 4 },
      { faults: ['release-with-io-pending', 'iocount-double-decrement'], maxEntries: 1 },
      {
        faults: ['two-sends-in-flight', 'release-without-atomic-flag', 'lock-across-send'],
        maxEntries: 2,
      },
    ];
    for (const [k, c] of cases.entries()) {
      const t = synthesize({
        seed: 100 + k,
        events: 5_000,
        sessions: 16,
        faults: c.faults,
        maxEntries: c.maxEntries,
        faultRate: 0.3,
      });
      for (let n = 0; n < 4; n++) expectMatchesNaive(t, rng.int(0, t.length));
      expectMatchesNaive(t, t.length);
    }
  });

  it('keeps a recv that was dequeued before its WSARecv returned as one operation', () => {
    const sv = server();
    const w = sv.w[0]!;
    const s = sv.b.accept(sv.acc);
    sv.acc.hold(s);
    const r = sv.acc.recv(s, { posted: false });
    sv.b.complete(r, { bytes: 5 });
    w.dequeue(r);
    const mid = replay(sv.b.build());
    const op = mid.sessions.get(s)!.ops.find((o) => o.ioId === r.ioId)!;
    expect(op.dequeueIndex).toBeGreaterThan(op.incIndex);
    expect(op.postIndex).toBe(-1);
    w.completed(r);
    sv.acc.posted(r);
    const st = replay(sv.b.build());
    const ss = st.sessions.get(s)!;
    expect(ss.ops).toEqual([]);
    expect(ss.recentOps.map((o) => [o.ioId, o.postIndex >= 0, o.decIndex >= 0])).toEqual([
      [r.ioId, true, true],
    ]);
    expect(ss.ioCount).toBe(1);
    expect(ss.holds.map((h) => h.cause)).toEqual([IoCountCause.AcceptHold]);
  });

  it('releases waiting threads from the port in LIFO order and counts running threads', () => {
    const sv = server({ workers: 3, concurrency: 2 });
    let st = replay(sv.b.build());
    expect(st.port.waiting).toEqual(sv.w.map((t) => t.tid));
    expect(st.port.running).toBe(0);
    const { recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 3 });
    sv.w[2]!.dequeue(recv);
    sv.w[1]!.block(BlockReason.Lock, 9);
    st = replay(sv.b.build());
    expect(st.port.waiting).toEqual([sv.w[0]!.tid, sv.w[1]!.tid]);
    expect(st.port.running).toBe(1);
    expect(st.threads.get(sv.w[2]!.tid)!.handling.map((h) => h.ioId)).toEqual([recv.ioId]);
  });

  it('tracks locks only while they are held or waited for', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    w0.lockAcquire(5, 'a');
    w1.lockWait(5, 'a');
    let st = replay(sv.b.build());
    expect(st.locks.get(5)).toMatchObject({ owner: w0.tid, waiters: [w1.tid] });
    expect(st.threads.get(w1.tid)).toMatchObject({
      state: ThreadStateValue.Blocked,
      reason: BlockReason.Lock,
      detail: 5,
    });
    w0.lockRelease(5, 'a');
    w1.lockAcquire(5, 'a');
    w1.lockRelease(5, 'a');
    st = replay(sv.b.build());
    expect(st.locks.size).toBe(0);
    expect(st.threads.get(w1.tid)!.state).toBe(ThreadStateValue.Running);
  });

  it('marks existing sessions and threads incomplete after a gap, and new ones complete', () => {
    const sv = server();
    const a = openSession(sv, 1).s;
    sv.b.gap(10);
    const b = openSession(sv, 2).s;
    const st = replay(sv.b.build());
    expect(st.gaps).toBe(1);
    expect(st.lostEvents).toBe(10);
    expect(st.sessions.get(a)!.complete).toBe(false);
    expect(st.sessions.get(b)!.complete).toBe(true);
    expect([...st.threads.values()].every((t) => !t.complete)).toBe(true);
  });

  it('keeps SessionIDs above 2^53 exact', () => {
    const sv = server();
    const id = 0xfedcba9876543211n;
    sv.b.accept(sv.acc, { id });
    const st = replay(sv.b.build());
    expect([...st.sessions.keys()]).toEqual([id]);
  });

  it('moves a released, settled session to recentReleased and brings it back on late activity', () => {
    const sv = server();
    const s = sv.b.accept(sv.acc);
    sv.acc.hold(s);
    sv.acc.unhold(s);
    sv.acc.release(s);
    let st = replay(sv.b.build());
    expect(st.sessions.has(s)).toBe(false);
    expect(st.recentReleased.map((x) => x.id)).toEqual([s]);
    sv.w[0]!.recv(s);
    st = replay(sv.b.build());
    expect(st.sessions.get(s)!.lifecycle).toBe('released');
    expect(st.recentReleased).toEqual([]);
  });

  it('counts unknown event kinds and otherwise ignores them', () => {
    const sv = server();
    sv.b.rec(200, 0, 0, 0, 0n, 0, 0);
    const st = replay(sv.b.build());
    expect(st.unknownEvents).toBe(1);
  });

  it('refuses events out of order', () => {
    const t = server().b.build();
    const r = new Replayer();
    expect(() => r.apply(t.words, 1)).toThrow(/expected event 0/);
    expect(t.words.length).toBe(t.length * RECORD_WORDS);
    expect(xAt(t.words, 0)).toBeGreaterThanOrEqual(0);
  });
});
