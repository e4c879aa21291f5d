import { IoCountCause } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 9: 0-byte completions', () => {
  it('reports a recv posted again after a 0-byte recv completion', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 0 });
    const d = w.dequeue(recv);
    const again = w.recv(s);
    w.completed(recv);
    w.gqcs();
    const fs = findingsOf(sv.b, { rules: ['zero-byte'] });
    expect(checksOf(fs)).toEqual(['zero-byte/recv-after-close']);
    expect(fs[0]!.evidence).toEqual([d, again.incIndex]);
  });

  it('reports a worker that keeps going after an exit packet', () => {
    const sv = server();
    const w = sv.w[0]!;
    sv.main.pqcsExit();
    const d = w.dequeueExit();
    const back = w.gqcs();
    const fs = findingsOf(sv.b, { rules: ['zero-byte'] });
    expect(checksOf(fs)).toEqual(['zero-byte/exit-ignored']);
    expect(fs[0]!.evidence).toEqual([d, back]);
  });

  it('reports an exit packet handled as an I/O completion', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    sv.main.pqcsExit();
    w.dequeueExit();
    w.dec(s, IoCountCause.Completion);
    expect(checksOf(findingsOf(sv.b, { rules: ['zero-byte'] }))).toEqual([
      'zero-byte/exit-as-completion',
    ]);
  });

  it('accepts a worker that exits on its exit packet', () => {
    const sv = server();
    const w = sv.w[0]!;
    sv.main.pqcsExit();
    w.dequeueExit();
    w.exit();
    expect(findingsOf(sv.b, { rules: ['zero-byte'] })).toEqual([]);
  });

  it('accepts a GQCS-Ex batch with an exit packet and a completion, the completion handled first', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 0 });
    sv.main.pqcsExit();
    // One GQCS-Ex call returns both: the 0-byte recv, then the exit packet.
    w.dequeue(recv);
    w.dequeueExit();
    w.disconnect(s);
    w.closeSocket(s);
    w.completed(recv);
    w.release(s);
    w.exit();
    expect(findingsOf(sv.b, { rules: ['zero-byte'] })).toEqual([]);
  });

  it('reports a decrement after an exit packet for a session the batch did not hold', () => {
    const sv = server();
    const w = sv.w[0]!;
    const a = openSession(sv, 1);
    const b2 = openSession(sv, 2);
    sv.b.complete(a.recv, { bytes: 0 });
    sv.main.pqcsExit();
    w.dequeue(a.recv);
    w.dequeueExit();
    w.completed(a.recv); // right: a completion of this batch
    w.dec(b2.s, IoCountCause.Completion); // wrong: nothing of b2 was dequeued
    expect(checksOf(findingsOf(sv.b, { rules: ['zero-byte'] }))).toEqual([
      'zero-byte/exit-as-completion',
    ]);
  });
});
