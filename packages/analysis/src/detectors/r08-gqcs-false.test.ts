import { IoCountCause, WinError } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 8: GQCS FALSE mishandled', () => {
  it('reports a failed completion handled without IOCount-1 (a zombie session)', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { status: WinError.NetnameDeleted });
    const d = w.dequeue(recv);
    w.disconnect(s, 2, WinError.NetnameDeleted);
    w.closeSocket(s);
    const back = w.gqcs();
    const fs = findingsOf(sv.b, { rules: ['gqcs-false'] });
    expect(checksOf(fs)).toEqual(['gqcs-false/zombie']);
    expect(fs[0]!.evidence).toEqual([d, back]);
    expect(fs[0]!.message).toMatch(/error 64 \(ERROR_NETNAME_DELETED\)/);
  });

  it('accepts a failed completion followed by IOCount-1 and the release', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { status: WinError.NetnameDeleted });
    w.dequeue(recv);
    w.disconnect(s, 2, WinError.NetnameDeleted);
    w.closeSocket(s);
    w.completed(recv);
    w.release(s);
    w.gqcs();
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('reports a worker that exits on a GQCS timeout while sessions are live', () => {
    const sv = server();
    const w = sv.w[0]!;
    openSession(sv);
    const t = w.gqcsFailed(WinError.WaitTimeout);
    const exit = w.exit();
    const fs = findingsOf(sv.b, { rules: ['gqcs-false'] });
    expect(checksOf(fs)).toEqual(['gqcs-false/timeout-exit']);
    expect(fs[0]!.evidence).toEqual([t, exit]);
  });

  it('accepts a worker that loops on GQCS timeouts', () => {
    const sv = server();
    const w = sv.w[0]!;
    openSession(sv);
    w.gqcsFailed(WinError.WaitTimeout);
    w.gqcs(100);
    w.gqcsFailed(WinError.WaitTimeout);
    w.gqcs(100);
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('reports a FALSE return with a NULL overlapped handled as a completion', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    w.gqcsFailed(WinError.WaitTimeout);
    w.dec(s, IoCountCause.Completion);
    const fs = findingsOf(sv.b, { rules: ['gqcs-false'] });
    expect(checksOf(fs)).toEqual(['gqcs-false/null-overlapped-used']);
    expect(fs[0]!.subject).toEqual({ kind: 'thread', tid: w.tid });
  });
});
