import { GapSource, WinError } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 6: buffers or OVERLAPPED reused while I/O uses them', () => {
  it('reports a second recv posted while the first still owns RecvQ', () => {
    const sv = server();
    const { s, recv } = openSession(sv);
    const second = sv.w[0]!.recv(s);
    const fs = findingsOf(sv.b, { rules: ['buffer-in-use'] });
    expect(checksOf(fs)).toEqual(['buffer-in-use/two-recvs']);
    expect(fs[0]!.evidence).toEqual([recv.incIndex, second.incIndex]);
  });

  it("does not judge a session created while another thread's recorder is still losing records", () => {
    // Seen on a spinning fault: worker 1's ring overflowed (its Gap placed where the loss began)
    // and it dequeued and handled the first recv while losing; only worker 2's records remain.
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    sv.b.gap(5000, w0.tid, GapSource.RingOverflow);
    const { s } = openSession(sv);
    w1.recv(s); // looks like a second recv: the first one's completion is among the lost records
    expect(findingsOf(sv.b, { rules: ['buffer-in-use'] })).toEqual([]);
    // Once worker 1 writes again its loss is over, and sessions created after that are judged.
    w0.marker('back');
    const next = openSession(sv, 2);
    w1.recv(next.s);
    expect(checksOf(findingsOf(sv.b, { rules: ['buffer-in-use'] }))).toEqual([
      'buffer-in-use/two-recvs',
    ]);
  });

  it('reports an OVERLAPPED posted again while its I/O is in flight', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    const send = w.send(s);
    w.send(s, { ioId: send.ioId });
    expect(checksOf(findingsOf(sv.b, { rules: ['buffer-in-use'] }))).toEqual([
      'buffer-in-use/overlapped-reused',
    ]);
  });

  it('accepts one recv and one send outstanding together', () => {
    const sv = server();
    const { s } = openSession(sv);
    sv.w[0]!.send(s);
    expect(findingsOf(sv.b, { rules: ['buffer-in-use'] })).toEqual([]);
  });

  it('reports a send issued with the OVERLAPPED of a send still in flight', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    const first = w.send(s, { overlapped: 0x102 });
    const second = w.send(s, { overlapped: 0x102 });
    const fs = findingsOf(sv.b, { rules: ['buffer-in-use'] });
    expect(checksOf(fs)).toEqual(['buffer-in-use/overlapped-in-use']);
    expect(fs[0]!.evidence).toEqual([first.incIndex, second.incIndex, second.postIndex + 1]);
    expect(fs[0]!.message).toMatch(/OVERLAPPED 0x102, which its io #\d+ .* still uses/);
  });

  it("reports a new session's recv on an OVERLAPPED an old session's pending recv still uses", () => {
    const sv = server();
    const old = sv.b.accept(sv.acc, { slot: 1, gen: 1 });
    sv.acc.hold(old);
    sv.acc.recv(old, { overlapped: 0x5 });
    sv.acc.unhold(old);
    sv.w[0]!.release(old, 1); // released with its recv still pending
    const s = sv.b.accept(sv.acc, { slot: 1, gen: 2 });
    sv.acc.hold(s);
    sv.acc.recv(s, { overlapped: 0x5 });
    const fs = findingsOf(sv.b, { rules: ['buffer-in-use'] });
    expect(checksOf(fs)).toEqual(['buffer-in-use/overlapped-in-use']);
    expect(fs[0]!.message).toMatch(/Session 0x5eed000100000001 \(slot 1\)'s io/);
  });

  it('accepts an OVERLAPPED reused once its completion was dequeued, or after a post that failed', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    const a = w.send(s, { overlapped: 0x102 });
    sv.b.complete(a);
    w.dequeue(a);
    w.completed(a);
    const b2 = w.send(s, { overlapped: 0x102, result: WinError.ConnectionReset });
    w.postFailed(b2);
    w.send(s, { overlapped: 0x102 });
    expect(findingsOf(sv.b, { rules: ['buffer-in-use'] })).toEqual([]);
  });

  it('accepts a post whose completion was dequeued before its own records (the call had not returned)', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s } = openSession(sv);
    const a = w0.send(s, { posted: false });
    sv.b.complete(a);
    w1.dequeue(a);
    w1.completed(a);
    w1.send(s, { overlapped: 0x102 });
    w0.posted(a, 0, 1, { overlapped: 0x102 });
    expect(findingsOf(sv.b, { rules: ['buffer-in-use'] })).toEqual([]);
  });
});
