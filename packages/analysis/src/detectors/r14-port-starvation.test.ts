import { BlockReason } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 14: workers blocked outside GQCS while packets wait; sustained overcommit', () => {
  it('accepts a LIFO hot thread doing all the work at low load', () => {
    const sv = server({ workers: 4, concurrency: 2 });
    const hot = sv.w[3]!; // the last to wait is released first, every time
    const { s, recv } = openSession(sv);
    let r = recv;
    for (let k = 0; k < 50; k++) {
      sv.b.wait(1e6);
      sv.b.complete(r, { bytes: 16 });
      hot.dequeue(r);
      const send = hot.send(s, { bytes: 16 });
      const next = hot.recv(s);
      hot.completed(r);
      hot.gqcs();
      sv.b.complete(send);
      hot.dequeue(send);
      hot.completed(send);
      hot.gqcs();
      r = next;
    }
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('accepts a short overcommit right after a blocked thread wakes', () => {
    const sv = server({ workers: 2, concurrency: 1 });
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 8 });
    w0.dequeue(recv);
    w0.block(BlockReason.Sleep); // frees the slot: w1 may run
    const r2 = w0.recv(s);
    sv.b.complete(r2, { bytes: 8 });
    w1.dequeue(r2);
    w0.run(); // two threads run with concurrency 1, briefly
    sv.b.wait(2e6);
    w0.completed(recv);
    w0.recv(s);
    w0.gqcs();
    w1.completed(r2);
    w1.gqcs();
    expect(findingsOf(sv.b, { rules: ['port-starvation'] })).toEqual([]);
  });

  it('warns about more threads running than the concurrency value for long', () => {
    const sv = server({ workers: 2, concurrency: 1 });
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 8 });
    w0.dequeue(recv);
    w0.block(BlockReason.Sleep);
    const r2 = w0.recv(s);
    sv.b.complete(r2, { bytes: 8 });
    w1.dequeue(r2);
    const start = w0.run();
    sv.b.wait(80e6);
    const end = w1.marker('still both running');
    const fs = findingsOf(sv.b, { rules: ['port-starvation'] });
    expect(checksOf(fs)).toEqual(['port-starvation/overcommit']);
    expect(fs[0]!.evidence).toEqual([start, end]);
    expect(fs[0]!.severity).toBe('warning');
  });

  it('reports packets waiting while every worker is blocked on a lock', () => {
    const sv = server({ workers: 2, concurrency: 2 });
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const a = openSession(sv, 1);
    const b2 = openSession(sv, 2);
    sv.main.lockAcquire(1, 'table-lock');
    sv.b.complete(a.recv, { bytes: 8 });
    w0.dequeue(a.recv);
    const wait0 = w0.lockWait(1, 'table-lock');
    w1.gqcsFailed(258);
    const wait1 = w1.lockWait(1, 'table-lock');
    const queued = sv.b.complete(b2.recv, { bytes: 8 });
    sv.b.wait(20e6);
    const still = sv.main.marker('still waiting');
    const fs = findingsOf(sv.b, { rules: ['port-starvation'] });
    expect(checksOf(fs)).toEqual(['port-starvation/starved']);
    expect(fs[0]!.message).toMatch(/blocked on lock 'table-lock'/);
    // The episode starts when the packet is queued with both workers blocked, and names both waits.
    expect(fs[0]!.evidence).toEqual([wait0, wait1, queued, still]);
  });

  it('does not judge an episode a gap may have hidden part of', () => {
    const sv = server({ workers: 2, concurrency: 2 });
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const a = openSession(sv, 1);
    const b2 = openSession(sv, 2);
    sv.main.lockAcquire(1, 'table-lock');
    sv.b.complete(a.recv, { bytes: 8 });
    w0.dequeue(a.recv);
    w0.lockWait(1, 'table-lock');
    w1.gqcsFailed(258);
    w1.lockWait(1, 'table-lock');
    // Events were lost: the workers may have woken and the queue drained meanwhile.
    sv.b.gap(40);
    sv.b.complete(b2.recv, { bytes: 8 });
    sv.b.wait(20e6);
    sv.main.marker('after the gap');
    expect(findingsOf(sv.b, { rules: ['port-starvation'] })).toEqual([]);
  });

  it('accepts a queue that builds while every worker is busy running', () => {
    const sv = server({ workers: 2, concurrency: 2 });
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const a = openSession(sv, 1);
    const b2 = openSession(sv, 2);
    const c = openSession(sv, 3);
    sv.b.complete(a.recv, { bytes: 8 });
    sv.b.complete(b2.recv, { bytes: 8 });
    w0.dequeue(a.recv);
    w1.dequeue(b2.recv);
    sv.b.complete(c.recv, { bytes: 8 });
    sv.b.wait(50e6);
    sv.main.marker('busy');
    expect(findingsOf(sv.b, { rules: ['port-starvation'] })).toEqual([]);
  });
});
