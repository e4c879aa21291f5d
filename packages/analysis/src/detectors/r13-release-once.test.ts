import { IoCountCause } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 13: a broken release', () => {
  it('reports a session released twice by two threads that both saw IOCount 0', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 0 });
    w0.dequeue(recv);
    w0.disconnect(s);
    w0.closeSocket(s);
    w1.inc(s, IoCountCause.HoldAcquire);
    w0.completed(recv);
    w1.dec(s, IoCountCause.HoldRelease);
    const first = w1.release(s);
    const second = w0.release(s);
    const fs = findingsOf(sv.b, { rules: ['release-once'] });
    expect(checksOf(fs)).toEqual(['release-once/released-twice']);
    expect(fs[0]!.evidence).toEqual([first, second]);
    expect(fs[0]!.message).toMatch(/released twice/);
  });

  it("reports a thread that releases the slot's next session after deciding on the one it decremented", () => {
    // The worker's -1 leaves 1 (the acceptor's hold); while it logs, the
    // acceptor drops its hold, sees 0 and releases; the worker then sees 0 too
    // and releases by slot: by then the slot holds a new session.
    const sv = server();
    const w = sv.w[0]!;
    const a = sv.b.accept(sv.acc, { slot: 3, gen: 1 });
    sv.acc.hold(a);
    const recv = sv.acc.recv(a);
    sv.b.complete(recv, { bytes: 0 });
    w.dequeue(recv);
    w.disconnect(a);
    w.closeSocket(a);
    const dec = w.completed(recv);
    sv.acc.unhold(a);
    const first = sv.acc.release(a);
    const b = sv.b.accept(sv.acc, { slot: 3, gen: 2 });
    sv.acc.hold(b);
    sv.acc.recv(b);
    const stale = w.release(b, 2);
    const fs = findingsOf(sv.b, { rules: ['release-once'] });
    expect(checksOf(fs)).toEqual(['release-once/stale-release']);
    expect(fs[0]!.evidence).toEqual(expect.arrayContaining([dec, first, stale]));
    expect(fs[0]!.message).toMatch(/never decremented/);
  });

  it('accepts one release by the thread that took IOCount to 0', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 0 });
    w.dequeue(recv);
    w.disconnect(s);
    w.closeSocket(s);
    w.completed(recv);
    w.release(s);
    w.gqcs();
    expect(findingsOf(sv.b)).toEqual([]);
  });
});
