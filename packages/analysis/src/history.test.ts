import { IoCountCause, Op } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { sessionHistory } from './history.ts';
import { echoRound, openSession, peerCloses, server } from './testing/scenarios.ts';

describe('sessionHistory', () => {
  it('lists a session’s events and ties each IOCount change to its I/O or hold and its balancing change', () => {
    const sv = server();
    const w = sv.w[0]!;
    const other = openSession(sv, 2).s;
    const { s, recv } = openSession(sv, 1);
    const r2 = echoRound(sv, w, s, recv, 10);
    peerCloses(sv, w, s, r2);
    const t = sv.b.build();
    const h = sessionHistory(t, s);
    expect(h.truncated).toBe(false);
    expect(h.events.length).toBeGreaterThan(10);
    // Every entry is balanced once the session is released.
    expect(h.ledger.every((e) => e.pairIndex >= 0)).toBe(true);
    const hold = h.ledger.find((e) => e.cause === IoCountCause.AcceptHold)!;
    expect(h.ledger.find((e) => e.index === hold.pairIndex)!.cause).toBe(
      IoCountCause.AcceptRelease,
    );
    const first = h.ledger.find((e) => e.cause === IoCountCause.RecvPost)!;
    expect(first).toMatchObject({
      ioId: recv.ioId,
      op: Op.Recv,
      postIndex: recv.postIndex,
      delta: 1,
    });
    const minus = h.ledger.find((e) => e.index === first.pairIndex)!;
    expect(minus).toMatchObject({ cause: IoCountCause.Completion, ioId: recv.ioId, delta: -1 });
    expect(first.dequeueIndex).toBeGreaterThan(first.postIndex);
    expect(h.ledger.at(-1)!.value).toBe(0);
    expect(sessionHistory(t, other).ledger.map((e) => e.cause)).toEqual([
      IoCountCause.AcceptHold,
      IoCountCause.RecvPost,
      IoCountCause.AcceptRelease,
    ]);
  });

  it('leaves an orphan decrement unpaired and stops at the limit', () => {
    const sv = server();
    const { s } = openSession(sv);
    sv.w[0]!.dec(s, IoCountCause.Completion, 4242);
    const t = sv.b.build();
    const h = sessionHistory(t, s);
    expect(h.ledger.at(-1)).toMatchObject({ ioId: 4242, pairIndex: -1 });
    const cut = sessionHistory(t, s, { limit: 3 });
    expect(cut.truncated).toBe(true);
    expect(cut.events.length).toBe(3);
    expect(() => sessionHistory(t, s, { from: 5, to: 2 })).toThrow(/bad history range/);
  });
});
