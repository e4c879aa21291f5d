import { Op } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, peerCloses, server } from '../testing/scenarios.ts';

describe('rule 3: SessionID or socket reuse confusion', () => {
  it('reports a SessionID given to a second session', () => {
    const sv = server();
    const { s, recv } = openSession(sv, 3, 1);
    peerCloses(sv, sv.w[0]!, s, recv);
    const again = sv.b.accept(sv.acc, { slot: 3, gen: 1 });
    expect(again).toBe(s);
    const fs = findingsOf(sv.b, { rules: ['session-identity'] });
    expect(checksOf(fs)).toEqual(['session-identity/id-reused']);
  });

  it('accepts a slot and a socket number reused after the previous session was released', () => {
    const sv = server();
    const { s, recv } = openSession(sv, 3, 1);
    peerCloses(sv, sv.w[0]!, s, recv);
    const s2 = sv.b.accept(sv.acc, { slot: 3, gen: 2, socket: 0x104 });
    expect(s2).not.toBe(s);
    sv.acc.hold(s2);
    sv.acc.recv(s2);
    sv.acc.unhold(s2);
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('reports a slot handed out while its previous session is still alive', () => {
    const sv = server();
    openSession(sv, 3, 1);
    sv.b.accept(sv.acc, { slot: 3, gen: 2 });
    expect(checksOf(findingsOf(sv.b, { rules: ['session-identity'] }))).toEqual([
      'session-identity/slot-in-use',
    ]);
  });

  it('reports a completion whose key names no session', () => {
    const sv = server();
    openSession(sv, 3, 1);
    const ghost = {
      session: 3n,
      op: Op.Recv,
      ioId: 77,
      requested: 10,
      incIndex: -1,
      postIndex: -1,
      bytes: 10,
      status: 0,
    };
    sv.b.complete(ghost, { bytes: 10 });
    sv.w[0]!.dequeue(ghost);
    const fs = findingsOf(sv.b, { rules: ['session-identity'] });
    expect(checksOf(fs)).toEqual(['session-identity/unknown-key']);
    expect(fs[0]!.message).toMatch(/key 0x3 was dequeued/);
  });

  it('reports a completion for an I/O its session never posted, decided at the release', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv, 3, 1);
    const foreign = {
      session: s,
      op: Op.Recv,
      ioId: 500,
      requested: 10,
      incIndex: -1,
      postIndex: -1,
      bytes: 0,
      status: 0,
    };
    sv.b.complete(foreign, { bytes: 10 });
    const d = w.dequeue(foreign);
    w.gqcs();
    peerCloses(sv, sv.w[1]!, s, recv);
    const fs = findingsOf(sv.b, { rules: ['session-identity'] });
    expect(checksOf(fs)).toEqual(['session-identity/foreign-completion']);
    expect(fs[0]!.index).toBe(d);
  });
});
