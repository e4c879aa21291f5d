import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 15: send flood and lost bytes', () => {
  it('reports a short send that the session carried on after', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    const send = w.send(s, { bytes: 300 });
    w.gqcs();
    sv.b.complete(send, { bytes: 100 });
    const d = w.dequeue(send);
    w.completed(send);
    w.gqcs();
    const fs = findingsOf(sv.b, { rules: ['send-lost-bytes'] });
    expect(checksOf(fs)).toEqual(['send-lost-bytes/short-send-ignored']);
    expect(fs[0]!.index).toBe(d);
    expect(fs[0]!.message).toMatch(/only 100 of 300 bytes/);
  });

  it('accepts a short send treated as a failure (disconnect)', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    const send = w.send(s, { bytes: 300 });
    w.gqcs();
    sv.b.complete(send, { bytes: 100 });
    w.dequeue(send);
    w.disconnect(s, 2);
    w.closeSocket(s);
    w.completed(send);
    w.gqcs();
    expect(findingsOf(sv.b, { rules: ['send-lost-bytes'] })).toEqual([]);
  });

  it('accepts a send overflow handled by a disconnect', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 4000 });
    w.dequeue(recv);
    w.disconnect(s, 5);
    w.closeSocket(s);
    w.completed(recv);
    w.release(s);
    w.gqcs();
    expect(findingsOf(sv.b)).toEqual([]);
  });
});
