import { IoCountCause, WinError } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 2: release while I/O is pending / completion for a released session', () => {
  it('reports a release while a recv is still pending', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    w.disconnect(s);
    const rel = w.release(s, 0);
    const fs = findingsOf(sv.b, { rules: ['use-after-release'] });
    expect(checksOf(fs)).toEqual(['use-after-release/io-pending']);
    expect(fs[0]!.index).toBe(rel);
    expect(fs[0]!.evidence).toContain(recv.incIndex);
    expect(fs[0]!.message).toMatch(/recv io #\d+ \(issued at event \d+\) was still pending/);
  });

  it('reports a release at IOCount 2 while two dequeued completions are still being handled', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 8 });
    w0.dequeue(recv);
    const send = w0.send(s, { bytes: 8 });
    const r2 = w0.recv(s);
    w0.completed(recv);
    w0.gqcs();
    sv.b.complete(send);
    sv.b.complete(r2, { bytes: 0 });
    w0.dequeue(send);
    w1.dequeue(r2);
    w1.disconnect(s);
    w1.closeSocket(s);
    w1.release(s);
    const fs = findingsOf(sv.b, { rules: ['use-after-release'] });
    expect(checksOf(fs)).toEqual(['use-after-release/count-not-zero']);
    expect(fs[0]!.message).toMatch(
      /saw IOCount 2: the send completion .* the recv completion .* still use it/,
    );
  });

  it('reports a completion dequeued for a session after its release', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 8 });
    w.dequeue(recv);
    const send = w.send(s, { bytes: 8 });
    w.completed(recv);
    w.dec(s, IoCountCause.Completion, recv.ioId); // the bug: 0 while the send is pending
    const rel = w.release(s, 0);
    w.gqcs();
    sv.b.complete(send, { status: WinError.OperationAborted });
    const late = w.dequeue(send);
    const fs = findingsOf(sv.b, { rules: ['use-after-release'] });
    // One finding per session: the release with the send pending explains the late completion.
    expect(checksOf(fs)).toEqual(['use-after-release/io-pending']);
    expect(fs[0]!.index).toBe(rel);
    expect(late).toBeGreaterThan(rel);
  });

  it('reports a post on a session after its release', () => {
    const sv = server();
    const w = sv.w[0]!;
    const s = sv.b.accept(sv.acc);
    sv.acc.hold(s);
    sv.acc.unhold(s);
    const rel = sv.acc.release(s);
    const io = w.recv(s);
    const fs = findingsOf(sv.b, { rules: ['use-after-release'] });
    expect(checksOf(fs)).toEqual(['use-after-release/after-release']);
    expect(fs[0]!.evidence).toEqual([rel, io.incIndex]);
  });

  it('accepts a lookup that takes and drops a hold on a session that was just released', () => {
    const sv = server();
    const s = sv.b.accept(sv.acc);
    sv.acc.hold(s);
    sv.acc.unhold(s);
    sv.acc.release(s);
    sv.main.inc(s, IoCountCause.HoldAcquire);
    sv.main.dec(s, IoCountCause.HoldRelease);
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('accepts FALSE/995 completions after a local close, released only after the last one', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 8 });
    w0.dequeue(recv);
    const send = w0.send(s, { bytes: 8 });
    const r2 = w0.recv(s);
    w0.completed(recv);
    w0.gqcs();
    // A bad packet: the server kicks the session and closes the socket itself.
    sv.main.disconnect(s, 7);
    sv.main.closeSocket(s);
    sv.b.complete(send, { status: WinError.OperationAborted });
    sv.b.complete(r2, { status: WinError.OperationAborted });
    w0.dequeue(send);
    w1.dequeue(r2);
    w0.completed(send);
    w0.gqcs();
    w1.completed(r2);
    w1.release(s);
    w1.gqcs();
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('matches a post that failed before it found the socket (key 0, WSAENOTSOCK) to the +1 its thread just counted', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 8 });
    w.dequeue(recv);
    // Another thread closed the socket: the send's call fails and its record has no key.
    const send = w.send(s, { posted: false });
    w.posted({ ...send, session: 0n }, WinError.NotSocket);
    w.postFailed(send);
    w.completed(recv);
    w.release(s);
    w.gqcs();
    expect(findingsOf(sv.b, { rules: ['use-after-release', 'iocount-balance'] })).toEqual([]);
  });
});
