import { ThreadRole, ThreadStateValue, WinError } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import {
  checksOf,
  findingsOf,
  openSession,
  peerCloses,
  server,
  shutdownAll,
} from '../testing/scenarios.ts';
import { TraceBuilder } from '../testing/trace-builder.ts';

describe('rule 10: shutdown', () => {
  it('accepts one exit packet per worker and every thread exiting', () => {
    const sv = server({ workers: 3 });
    const { s, recv } = openSession(sv);
    peerCloses(sv, sv.w[0]!, s, recv);
    shutdownAll(sv);
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('reports fewer exit packets than workers when the trace ends with a worker in GQCS', () => {
    const sv = server({ workers: 3 });
    sv.acc.exit();
    const posts = [sv.main.pqcsExit(), sv.main.pqcsExit()];
    for (const t of sv.w.slice(0, 2)) {
      t.dequeueExit();
      t.exit();
    }
    const fs = findingsOf(sv.b, { rules: ['shutdown'] });
    expect(checksOf(fs)).toEqual(['shutdown/too-few-exit-packets']);
    expect(fs[0]!.evidence).toEqual(expect.arrayContaining(posts));
    expect(fs[0]!.subject).toEqual({ kind: 'thread', tid: sv.w[2]!.tid });
    expect(fs[0]!.message).toMatch(/posted 2 exit packets .* for 3 workers/);
  });

  it('does not conclude a worker never exited when its records were lost up to the end', () => {
    // A spinning worker overflows its recorder from before the shutdown to its
    // exit: its Gap sits where the loss began, and its exit packet and exit
    // are among what was lost.
    const sv = server({ workers: 2 });
    sv.b.gap(5000, sv.w[1]!.tid, 0);
    sv.acc.exit();
    sv.main.pqcsExit();
    sv.main.pqcsExit();
    sv.w[0]!.dequeueExit();
    sv.w[0]!.exit();
    sv.main.exit();
    expect(findingsOf(sv.b, { rules: ['shutdown'] })).toEqual([]);
  });

  it('reports it as soon as the port is closed under the forgotten worker', () => {
    const sv = server({ workers: 2 });
    sv.main.pqcsExit();
    sv.w[0]!.dequeueExit();
    sv.w[0]!.exit();
    const closed = sv.w[1]!.gqcsFailed(WinError.AbandonedWait0);
    const fs = findingsOf(sv.b, { rules: ['shutdown'] });
    expect(checksOf(fs)).toEqual(['shutdown/too-few-exit-packets']);
    expect(fs[0]!.index).toBe(closed);
  });

  it('warns when exit packets are posted while sessions are alive', () => {
    const sv = server();
    openSession(sv);
    shutdownAll(sv);
    const fs = findingsOf(sv.b, { rules: ['shutdown'] });
    expect(checksOf(fs)).toEqual(['shutdown/exit-before-drain']);
    expect(fs[0]!.severity).toBe('warning');
  });

  it('warns when the main thread exits before the others', () => {
    const sv = server();
    sv.main.exit();
    expect(checksOf(findingsOf(sv.b, { rules: ['shutdown'] }))).toEqual(['shutdown/threads-alive']);
  });

  it('reports the idle worker the trace never showed entering GQCS, woken only by the port closing', () => {
    // Under LIFO the forgotten worker is the one at the bottom of the stack,
    // waiting since before the trace began.
    const sv = server({ workers: 3, concurrency: 1, inGqcs: false });
    sv.acc.exit();
    sv.main.pqcsExit();
    sv.main.pqcsExit();
    for (const t of sv.w.slice(1)) {
      t.dequeueExit();
      t.exit();
    }
    const closed = sv.w[0]!.gqcsFailed(WinError.AbandonedWait0);
    sv.w[0]!.exit(WinError.AbandonedWait0);
    const fs = findingsOf(sv.b, { rules: ['shutdown'] });
    expect(checksOf(fs)).toEqual(['shutdown/too-few-exit-packets']);
    expect(fs[0]!.index).toBe(closed);
    expect(fs[0]!.subject).toEqual({ kind: 'thread', tid: sv.w[0]!.tid });
    expect(fs[0]!.message).toMatch(/posted 2 exit packets .* for 3 workers/);
  });

  it('takes the roster and the waiting order from a snapshot', () => {
    const b = new TraceBuilder();
    let ws: ReturnType<TraceBuilder['thread']>[] = [];
    let main!: ReturnType<TraceBuilder['thread']>;
    b.snapshot(() => {
      b.port({ workers: 3, concurrency: 1 });
      main = b.thread('main', ThreadRole.Main);
      ws = [0, 1, 2].map((k) => b.thread(`worker-${k}`, ThreadRole.Worker));
      for (const t of ws) t.state(ThreadStateValue.Waiting, { portThread: true });
      for (const t of ws) t.gqcs();
    });
    main.pqcsExit();
    main.pqcsExit();
    // LIFO: the last to start waiting gets the first packet.
    for (const t of [ws[2]!, ws[1]!]) {
      t.dequeueExit();
      t.exit();
    }
    ws[0]!.gqcsFailed(WinError.AbandonedWait0);
    const fs = findingsOf(b, { rules: ['shutdown'] });
    expect(checksOf(fs)).toEqual(['shutdown/too-few-exit-packets']);
    expect(fs[0]!.subject).toEqual({ kind: 'thread', tid: ws[0]!.tid });
  });

  it('counts exit packets where they are consumed: extras a worker passes on are not new ones', () => {
    const sv = server({ workers: 2 });
    sv.acc.exit();
    sv.main.pqcsExit();
    sv.main.pqcsExit();
    // Worker 0's GQCS-Ex takes both; it keeps one and posts the other again.
    sv.w[0]!.dequeueExit();
    sv.w[0]!.dequeueExit();
    sv.w[0]!.pqcsExit();
    sv.w[0]!.exit();
    sv.w[1]!.dequeueExit();
    sv.w[1]!.exit();
    sv.main.exit();
    expect(findingsOf(sv.b, { rules: ['shutdown'] })).toEqual([]);
  });

  it('reports an exit packet swallowed by a GQCS-Ex batch that was not passed on', () => {
    const sv = server({ workers: 2 });
    sv.acc.exit();
    sv.main.pqcsExit();
    sv.main.pqcsExit();
    sv.w[0]!.dequeueExit();
    sv.w[0]!.dequeueExit();
    sv.w[0]!.exit();
    const closed = sv.w[1]!.gqcsFailed(WinError.AbandonedWait0);
    const fs = findingsOf(sv.b, { rules: ['shutdown'] });
    expect(checksOf(fs)).toEqual(['shutdown/too-few-exit-packets']);
    expect(fs[0]!.index).toBe(closed);
    expect(fs[0]!.message).toMatch(/posted 2 exit packets .* for 2 workers .*, and 1 was dequeued/);
  });
});
