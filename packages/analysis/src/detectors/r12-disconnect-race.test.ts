import { WinError } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 12: disconnect racing with new posts', () => {
  it('reports a post issued after the socket was closed that the kernel accepted', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    sv.main.disconnect(s);
    const closed = sv.main.closeSocket(s);
    const io = w.send(s);
    const fs = findingsOf(sv.b, { rules: ['disconnect-race'] });
    expect(checksOf(fs)).toEqual(['disconnect-race/post-after-close']);
    expect(fs[0]!.evidence).toEqual(expect.arrayContaining([closed, io.incIndex]));
  });

  it("does not take the close of another handle (the slot's previous session's) for the session's", () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    // A stale handle closed under this session's id: its own socket is open.
    sv.main.closeSocket(s, 0x9990);
    w.send(s);
    expect(findingsOf(sv.b, { rules: ['disconnect-race'] })).toEqual([]);
  });

  it('accepts a post after the close that fails (refused)', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    sv.main.disconnect(s);
    sv.main.closeSocket(s);
    const io = w.send(s, { result: WinError.NotSocket });
    w.postFailed(io);
    expect(findingsOf(sv.b, { rules: ['disconnect-race'] })).toEqual([]);
  });

  it('accepts a post racing the disconnect that closesocket then aborts with 995', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.main.disconnect(s);
    const send = w.send(s);
    sv.main.closeSocket(s);
    sv.b.complete(recv, { status: WinError.OperationAborted });
    sv.b.complete(send, { status: WinError.OperationAborted });
    w.dequeue(recv);
    w.completed(recv);
    w.gqcs();
    w.dequeue(send);
    w.completed(send);
    w.release(s);
    w.gqcs();
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('reports a post issued after the disconnect that nothing cancels', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    const d = sv.main.disconnect(s); // a CancelIoEx-style disconnect: the socket stays open
    sv.b.complete(recv, { status: WinError.OperationAborted });
    w.dequeue(recv);
    const late = w.recv(s);
    w.completed(recv);
    w.gqcs();
    sv.b.wait(2e9);
    sv.main.marker('later');
    const fs = findingsOf(sv.b, { rules: ['disconnect-race'] });
    expect(checksOf(fs)).toEqual(['disconnect-race/not-cancelled']);
    expect(fs[0]!.evidence).toEqual(expect.arrayContaining([d, late.incIndex]));
    expect(fs[0]!.message).toMatch(/still pending/);
  });
});
