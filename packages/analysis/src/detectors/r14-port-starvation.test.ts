import { BlockReason } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import type { SessionId } from '../ids.ts';
import { checksOf, findingsOf, openSession, server, type Server } from '../testing/scenarios.ts';
import { SLOW_HOLD_FACTOR } from './r14-port-starvation.ts';

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

  // Two workers wait for a lock main holds, while a packet waits in the port; `under`
  // is what main does under the lock first, `ms` how long the episode lasts.
  function lockEpisode(under: (sv: Server, s: SessionId) => void, ms = 20) {
    const sv = server({ workers: 2, concurrency: 2 });
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const a = openSession(sv, 1);
    const b2 = openSession(sv, 2);
    sv.main.lockAcquire(1, 'table-lock');
    under(sv, a.s);
    sv.b.complete(a.recv, { bytes: 8 });
    w0.dequeue(a.recv);
    const wait0 = w0.lockWait(1, 'table-lock');
    w1.gqcsFailed(258);
    const wait1 = w1.lockWait(1, 'table-lock');
    const queued = sv.b.complete(b2.recv, { bytes: 8 });
    sv.b.wait(ms * 1e6);
    const still = sv.main.marker('still waiting');
    return { fs: findingsOf(sv.b, { rules: ['port-starvation'] }), wait0, wait1, queued, still };
  }

  it('reports packets waiting while every worker is blocked on a lock held across a WSASend', () => {
    const { fs, wait0, wait1, queued, still } = lockEpisode((sv, s) =>
      sv.main.send(s, { bytes: 8 }),
    );
    expect(checksOf(fs)).toEqual(['port-starvation/starved']);
    expect(fs[0]!.severity).toBe('error');
    expect(fs[0]!.message).toMatch(/blocked on lock 'table-lock'.*held by main .*called WSASend/);
    // The episode starts when the packet is queued with both workers blocked, and names both waits.
    expect(fs[0]!.evidence).toEqual([wait0, wait1, queued, still]);
  });

  it('reports workers waiting for a lock whose holder slept under it', () => {
    const { fs } = lockEpisode((sv) => {
      sv.main.block(BlockReason.Sleep);
      sv.main.run();
    });
    expect(checksOf(fs)).toEqual(['port-starvation/starved']);
    expect(fs[0]!.message).toMatch(/held by main .*slept/);
  });

  it('reports workers deadlocked on two locks while packets wait', () => {
    const sv = server({ workers: 2, concurrency: 2 });
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const a = openSession(sv, 1);
    const b2 = openSession(sv, 2);
    const c = openSession(sv, 3);
    sv.b.complete(a.recv, { bytes: 8 });
    sv.b.complete(b2.recv, { bytes: 8 });
    w0.dequeue(a.recv);
    w1.dequeue(b2.recv);
    w0.lockAcquire(1, 'users');
    w1.lockAcquire(2, 'rooms');
    w0.lockWait(2, 'rooms');
    w1.lockWait(1, 'users');
    sv.b.complete(c.recv, { bytes: 8 });
    sv.b.wait(20e6);
    sv.main.marker('deadlocked');
    const fs = findingsOf(sv.b, { rules: ['port-starvation'] });
    expect(checksOf(fs)).toEqual(['port-starvation/starved']);
    expect(fs[0]!.message).toMatch(/cycle \(a deadlock\)/);
  });

  it('does not blame the server for a short critical section whose holder was not scheduled', () => {
    // Seen in CI on a loaded 2-core box: the holder of a 2 µs section was descheduled for 22 ms.
    const { fs } = lockEpisode(() => undefined, 22);
    expect(fs).toEqual([]);
  });

  it('warns once a holder that did nothing recorded keeps workers off the port for long', () => {
    const { fs } = lockEpisode(() => undefined, 10 * SLOW_HOLD_FACTOR + 5);
    expect(checksOf(fs)).toEqual(['port-starvation/starved']);
    expect(fs[0]!.severity).toBe('warning');
    expect(fs[0]!.message).toMatch(/held by main \(thread \d+\) since event \d+.*not scheduled/);
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
