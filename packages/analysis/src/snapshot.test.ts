// Snapshot brackets (v2) and gaps, as the replay and the detectors read them:
// a bracket is state, applied as given and never judged; a gap makes unknown
// what it may have changed, until the trace says it again.

import {
  BlockReason,
  DisconnectReason,
  IoCountCause,
  Op,
  SnapshotReason,
  ThreadRole,
  ThreadStateValue,
  WinError,
} from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checkTrace } from './runner.ts';
import { Replayer } from './replay.ts';
import { outstandingOps, type ReplayState } from './state.ts';
import { checksOf, findingsOf, openSession, server } from './testing/scenarios.ts';
import { TraceBuilder, type ThreadHandle } from './testing/trace-builder.ts';

const replay = (b: TraceBuilder): ReplayState => {
  const t = b.build();
  const r = new Replayer();
  r.advance(t, t.length);
  return r.state;
};

/** A recording started mid-run: kernel, accept and two workers, one session with a pending recv and a hold. */
function midRun(): {
  b: TraceBuilder;
  acc: ThreadHandle;
  w: ThreadHandle[];
  s: bigint;
  recvIoId: number;
} {
  const b = new TraceBuilder();
  let acc!: ThreadHandle;
  const w: ThreadHandle[] = [];
  let s = 0n;
  const recvIoId = 41;
  b.snapshot(
    () => {
      b.port({ workers: 2, concurrency: 2 });
      acc = b.thread('accept', ThreadRole.Accept);
      acc.state(ThreadStateValue.Blocked, { reason: BlockReason.Accept });
      for (const k of [0, 1]) w.push(b.thread(`worker ${k + 1}`, ThreadRole.Worker));
      w[1]!.state(ThreadStateValue.Running, { portThread: true });
      w[0]!.state(ThreadStateValue.Waiting, { portThread: true });
      w[0]!.gqcs();
      // IOCount 2: the pending recv, and a completion worker 2 dequeued before the cut.
      s = b.snapSession(acc, { slot: 3, ioCount: 2, rings: [16384, 32768] });
      w[1]!.recv(s, {
        ioId: recvIoId,
        increment: false,
        overlapped: 13,
        ring: { off0: 100, len0: 16284, avail: 16284 },
      });
    },
    { reason: SnapshotReason.RecordingStart },
  );
  return { b, acc, w, s, recvIoId };
}

describe('a Snapshot bracket', () => {
  it('gives threads, the waiting order, sessions with their count and outstanding I/O, as state', () => {
    const { b, w, s, recvIoId } = midRun();
    const st = replay(b);
    expect(st.inSnapshot).toBe(false);
    expect(st.port.workerCount).toBe(2);
    expect(st.port.waiting).toEqual([w[0]!.tid]);
    expect(st.port.running).toBe(1);
    expect(st.threads.get(w[1]!.tid)!.isPortThread).toBe(true);
    const sess = st.sessions.get(s)!;
    expect(sess.complete).toBe(true);
    expect(sess.fromSnapshot).toBe(true);
    expect(sess.ioCount).toBe(2);
    expect([sess.recvCap, sess.sendCap]).toEqual([16384, 32768]);
    expect(outstandingOps(sess).map((o) => [o.ioId, o.op, o.overlapped, o.ringOff0])).toEqual([
      [recvIoId, Op.Recv, 13, 100],
    ]);
    // The count beyond the listed I/O is one hold of cause Snapshot.
    expect(sess.holds.map((h) => h.cause)).toEqual([IoCountCause.Snapshot]);
  });

  it('lets a recording started mid-run be judged clean when the server is correct', () => {
    const { b, w, s, recvIoId } = midRun();
    const [w1, w2] = [w[0]!, w[1]!];
    // Worker 2 finishes the completion it dequeued before the cut: its -1 closes the snapshot's hold.
    w2.dec(s, IoCountCause.Completion, recvIoId - 1);
    w2.gqcs();
    // The pending recv completes with data, is echoed, and re-posted.
    const recv = {
      session: s,
      op: Op.Recv,
      ioId: recvIoId,
      requested: 16284,
      incIndex: -1,
      postIndex: -1,
      bytes: 0,
      status: 0,
    };
    b.complete(recv, { bytes: 8 });
    w1.dequeue(recv);
    const send = w1.send(s, { bytes: 8, overlapped: 14, ring: { off0: 0, len0: 8, avail: 8 } });
    const next = w1.recv(s, { overlapped: 13, ring: { off0: 108, len0: 16276, avail: 16276 } });
    w1.completed(recv);
    w1.gqcs();
    b.complete(send);
    w2.dequeue(send);
    w2.completed(send);
    w2.gqcs();
    // The peer closes.
    b.complete(next, { bytes: 0 });
    w1.dequeue(next);
    w1.disconnect(s, DisconnectReason.PeerClosed);
    w1.closeSocket(s);
    w1.completed(next);
    w1.release(s);
    w1.gqcs();
    b.traceEnd();
    const res = checkTrace(b.build());
    expect(res.findings.map((f) => `${f.rule}/${f.check}: ${f.message}`)).toEqual([]);
  });

  it('is not evidence: state no detector may judge stays unjudged', () => {
    const b = new TraceBuilder();
    b.snapshot(() => {
      b.port({ workers: 1, concurrency: 1 });
      const main = b.thread('main', ThreadRole.Main);
      const acc = b.thread('accept', ThreadRole.Accept);
      const w = b.thread('worker 1', ThreadRole.Worker);
      w.state(ThreadStateValue.Running, { portThread: true });
      // A released-looking count, an exit packet queued while a session lives, a
      // send and a recv on one OVERLAPPED: all given, none of it happened here.
      const s = b.snapSession(acc, { ioCount: 0 });
      main.pqcsExit();
      w.send(s, { increment: false, overlapped: 7 });
      w.recv(s, { increment: false, overlapped: 7 });
    });
    // The trace stops here, mid-run: nothing can be concluded about its end either.
    expect(findingsOf(b, { endOfRun: false })).toEqual([]);
  });

  it('forgets the sessions and threads it does not list (they ended in what it replaces)', () => {
    const sv = server();
    const gone = openSession(sv, 1).s;
    const kept = openSession(sv, 2);
    sv.b.gap(500);
    sv.b.snapshot(
      () => {
        sv.b.port({ workers: 1, concurrency: 2 });
        const roles: Array<[ThreadHandle, number]> = [
          [sv.b.kernel, ThreadRole.Kernel],
          [sv.acc, ThreadRole.Accept],
          [sv.w[0]!, ThreadRole.Worker],
        ];
        for (const [t, role] of roles) {
          sv.b.rec(1, role, t.tid, 0, 0n, 0, 0);
          t.state(ThreadStateValue.Running, { portThread: role === ThreadRole.Worker });
        }
        const s = sv.b.snapSession(sv.acc, { slot: 2, ioCount: 1 });
        expect(s).toBe(kept.s);
        sv.acc.recv(s, { increment: false, ioId: kept.recv.ioId });
      },
      { reason: SnapshotReason.Resync },
    );
    const st = replay(sv.b);
    expect([...st.sessions.keys()]).toEqual([kept.s]);
    expect(st.sessions.has(gone)).toBe(false);
    expect(st.threads.get(sv.w[1]!.tid)!.state).toBe(ThreadStateValue.Exited);
    expect(st.threads.get(sv.w[0]!.tid)!.known).toBe(true);
    expect(st.port.queueKnown).toBe(true);
    expect(st.sessions.get(kept.s)!.complete).toBe(true);
  });
});

describe('after a gap', () => {
  it("leaves the port's queue unknown, not full of packets that were dequeued in the lost events", () => {
    const sv = server({ workers: 2, concurrency: 2 });
    const sessions = [1, 2, 3].map((k) => openSession(sv, k));
    for (const x of sessions) sv.b.complete(x.recv, { bytes: 8 });
    sv.b.gap(2000);
    const st = replay(sv.b);
    expect(st.port.queueKnown).toBe(false);
    expect(st.port.queue.size).toBe(0);
    expect(st.port.unknownThreads).toBe(2);
    expect(st.port.waiting).toEqual([]);
    expect(st.port.running).toBe(0);
  });

  it('knows a thread again from its next record, and the queue once a worker sleeps with spare concurrency', () => {
    const sv = server({ workers: 2, concurrency: 2 });
    sv.b.gap(100);
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    w0.marker('running again');
    let st = replay(sv.b);
    expect(st.threads.get(w0.tid)!.known).toBe(true);
    expect(st.port.running).toBe(1);
    expect(st.port.unknownThreads).toBe(1);
    w0.gqcs();
    w0.state(ThreadStateValue.Waiting);
    st = replay(sv.b);
    // Worker 2 is still unknown: its state could hold the port's last concurrency slot.
    expect(st.port.queueKnown).toBe(false);
    w1.gqcs();
    w1.state(ThreadStateValue.Waiting);
    st = replay(sv.b);
    expect(st.port.unknownThreads).toBe(0);
    expect(st.port.queueKnown).toBe(true);
    expect(st.port.waiting).toEqual([w0.tid, w1.tid]);
  });

  it("lets a snapshot's hold absorb the -1 of an I/O it counted instead of calling it an orphan", () => {
    const { b, w, s } = midRun();
    w[1]!.dec(s, IoCountCause.Completion, 40);
    w[1]!.dec(s, IoCountCause.Completion, 39); // one more than the count allowed
    const fs = findingsOf(b, { rules: ['iocount-balance'] });
    expect(checksOf(fs)).toEqual(['iocount-balance/orphan-decrement']);
    expect(fs[0]!.index).toBe(b.length - 1);
  });

  it('does not call a failed completion a zombie when a gap may have hidden its -1', () => {
    const trace = (gap: boolean): TraceBuilder => {
      const sv = server();
      const { recv } = openSession(sv);
      sv.b.complete(recv, { status: WinError.NetnameDeleted });
      sv.w[0]!.dequeue(recv);
      if (gap) sv.b.gap(10, sv.w[0]!.tid, 0);
      sv.w[0]!.gqcs();
      return sv.b;
    };
    expect(checksOf(findingsOf(trace(false), { rules: ['gqcs-false'] }))).toEqual([
      'gqcs-false/zombie',
    ]);
    expect(findingsOf(trace(true), { rules: ['gqcs-false'] })).toEqual([]);
  });
});
