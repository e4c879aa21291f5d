import { DisconnectReason } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checksOf, echoRound, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 5: recv not re-posted', () => {
  it('reports a worker that handled a recv with data and went back to GQCS without a new recv', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 20 });
    const d = w.dequeue(recv);
    w.send(s, { bytes: 20 });
    w.completed(recv);
    const back = w.gqcs();
    const fs = findingsOf(sv.b, { rules: ['recv-reposted'] });
    expect(checksOf(fs)).toEqual(['recv-reposted/not-reposted']);
    expect(fs[0]!.evidence).toEqual([d, back]);
    expect(fs[0]!.message).toMatch(/handled a 20-byte recv completion/);
  });

  it('reports a session that went deaf and was released (its closed socket settles nothing)', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 20 });
    w.dequeue(recv);
    w.completed(recv);
    w.release(s);
    w.closeSocket(s);
    w.gqcs();
    expect(checksOf(findingsOf(sv.b, { rules: ['recv-reposted'] }))).toEqual([
      'recv-reposted/not-reposted',
    ]);
  });

  it("accepts another thread's disconnect recorded just after the handler went back to GQCS", () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s, recv } = openSession(sv);
    const send = w1.send(s);
    sv.b.complete(recv, { bytes: 20 });
    sv.b.complete(send, { status: 64 });
    w1.dequeue(send);
    // w1 set the disconnect flag here; w0's RecvPost then refused to post...
    w0.dequeue(recv);
    w0.completed(recv);
    w0.gqcs();
    sv.b.wait(1e6);
    // ...and w1's Disconnect record lands after w0 is back in GQCS.
    w1.disconnect(s, 2, 64);
    w1.closeSocket(s);
    w1.completed(send);
    w1.release(s);
    w1.gqcs();
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('reports it when the disconnect comes later than the grace period', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 20 });
    w.dequeue(recv);
    w.completed(recv);
    const back = w.gqcs();
    sv.b.wait(200e6);
    sv.main.disconnect(s);
    const fs = findingsOf(sv.b, { rules: ['recv-reposted'] });
    expect(checksOf(fs)).toEqual(['recv-reposted/not-reposted']);
    expect(fs[0]!.index).toBe(back);
  });

  it('accepts a worker that kicks the session instead of re-posting (bad length)', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 20 });
    w.dequeue(recv);
    w.disconnect(s, DisconnectReason.BadLength);
    w.closeSocket(s);
    w.completed(recv);
    w.release(s);
    w.gqcs();
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('accepts data that arrives on a session another thread is already disconnecting', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.main.disconnect(s, DisconnectReason.Shutdown);
    sv.b.complete(recv, { bytes: 20 });
    w.dequeue(recv);
    w.completed(recv);
    w.gqcs();
    expect(findingsOf(sv.b, { rules: ['recv-reposted'] })).toEqual([]);
  });

  it('accepts a 0-byte recv followed by a disconnect', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    const r2 = echoRound(sv, w, s, recv);
    sv.b.complete(r2, { bytes: 0 });
    w.dequeue(r2);
    w.disconnect(s);
    w.closeSocket(s);
    w.completed(r2);
    w.release(s);
    w.gqcs();
    expect(findingsOf(sv.b)).toEqual([]);
  });
});
