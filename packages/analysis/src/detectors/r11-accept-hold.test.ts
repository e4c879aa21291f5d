import { EventKind } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 11: accept without a hold', () => {
  it('accepts the reference accept: hold, first RecvPost, drop the hold', () => {
    const sv = server();
    openSession(sv);
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('reports a first RecvPost without a hold', () => {
    const sv = server();
    const s = sv.b.accept(sv.acc);
    const r = sv.acc.recv(s);
    const fs = findingsOf(sv.b, { rules: ['accept-hold'] });
    expect(checksOf(fs)).toEqual(['accept-hold/no-hold']);
    expect(fs[0]!.index).toBe(r.incIndex);
  });

  it('reports the acceptor finishing with a session that was already released', () => {
    const sv = server();
    const w = sv.w[0]!;
    const b = sv.b;
    // The reference server writes Accept when the acceptor is done with the session.
    const s = (BigInt(0x5eed0001) << 32n) | 9n;
    b.rec(EventKind.SessionCreated, 0, sv.acc.tid, 0, s, 0x200, 9);
    const r = sv.acc.recv(s);
    b.complete(r, { bytes: 0 });
    w.dequeue(r);
    w.disconnect(s);
    w.closeSocket(s);
    w.completed(r);
    const rel = w.release(s);
    const late = b.rec(EventKind.Accept, 0, sv.acc.tid, 0, s, 0x200, 0); // too late
    const fs = findingsOf(b, { rules: ['accept-hold'] });
    expect(checksOf(fs)).toEqual(['accept-hold/no-hold', 'accept-hold/join-after-leave']);
    expect(fs[1]!.evidence).toEqual(expect.arrayContaining([rel, late]));
  });
});
