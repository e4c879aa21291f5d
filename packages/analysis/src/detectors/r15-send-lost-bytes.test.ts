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

  it('reports a send posted while SendQ held more than its capacity', () => {
    const sv = server();
    const w = sv.w[0]!;
    const s = sv.b.accept(sv.acc);
    sv.b.rings(sv.acc, s, 16384, 32768);
    sv.acc.hold(s);
    sv.acc.recv(s, { overlapped: 1 });
    sv.acc.unhold(s);
    // The echo was queued past a full SendQ: 40,000 bytes in a 32,768-byte ring.
    w.send(s, { bytes: 32768, overlapped: 2, ring: { off0: 0, len0: 32768, avail: 40000 } });
    const fs = findingsOf(sv.b, { rules: ['send-lost-bytes'] });
    expect(checksOf(fs)).toEqual(['send-lost-bytes/sendq-over-capacity']);
    expect(fs[0]!.message).toMatch(/SendQ held 40000 bytes in a 32768-byte ring/);
  });

  it('reports a send that starts past the bytes the previous send really sent', () => {
    const sv = server();
    const w = sv.w[0]!;
    const s = sv.b.accept(sv.acc);
    sv.b.rings(sv.acc, s, 16384, 32768);
    sv.acc.hold(s);
    sv.acc.recv(s, { overlapped: 1 });
    sv.acc.unhold(s);
    const a = w.send(s, { bytes: 100, overlapped: 2, ring: { off0: 0, len0: 100, avail: 101 } });
    w.gqcs();
    sv.b.complete(a);
    w.dequeue(a);
    // 100 bytes were sent from offset 0; the next send starts at 101: one byte skipped.
    w.send(s, { bytes: 50, overlapped: 2, ring: { off0: 101, len0: 50, avail: 50 } });
    w.completed(a);
    w.gqcs();
    const fs = findingsOf(sv.b);
    expect(checksOf(fs)).toEqual(['send-lost-bytes/unsent-skipped']);
    expect(fs[0]!.message).toMatch(
      /the kernel reported 100 bytes sent, so SendQ's front was at 100; .* 1 byte of the echo/,
    );
  });

  it('accepts sends that follow SendQ around its end', () => {
    const sv = server();
    const w = sv.w[0]!;
    const s = sv.b.accept(sv.acc);
    sv.b.rings(sv.acc, s, 16384, 32768);
    sv.acc.hold(s);
    sv.acc.recv(s, { overlapped: 1 });
    sv.acc.unhold(s);
    let off = 0;
    for (const n of [30000, 2768, 5000]) {
      const len0 = Math.min(n, 32768 - off);
      const send = w.send(s, {
        bytes: n,
        bufCount: n > len0 ? 2 : 1,
        overlapped: 2,
        ring: { off0: off, len0, avail: n },
      });
      sv.b.complete(send);
      w.dequeue(send);
      w.completed(send);
      w.gqcs();
      off = (off + n) % 32768;
    }
    expect(findingsOf(sv.b)).toEqual([]);
  });
});
