import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 16: a lock held across WSASend while other workers wait for it', () => {
  it('reports a WSASend under a lock another worker waits for', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s } = openSession(sv);
    const acq = w0.lockAcquire(7, 'send-lock');
    const wait = w1.lockWait(7, 'send-lock');
    const send = w0.send(s);
    w0.lockRelease(7, 'send-lock');
    w1.lockAcquire(7, 'send-lock');
    const fs = findingsOf(sv.b, { rules: ['lock-across-send'] });
    expect(checksOf(fs)).toEqual(['lock-across-send/held-across-send']);
    expect(fs[0]!.evidence).toEqual([acq, wait, send.postIndex]);
    expect(fs[0]!.subject).toEqual({ kind: 'lock', lockId: 7, tid: w0.tid });
    expect(fs[0]!.message).toMatch(
      /held lock 'send-lock' \(#7\) .* across WSASend .* while worker-1/,
    );
  });

  it('reports it when the wait begins after the send, during the same hold', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s } = openSession(sv);
    w0.lockAcquire(7);
    w0.send(s);
    const wait = w1.lockWait(7);
    const fs = findingsOf(sv.b, { rules: ['lock-across-send'] });
    expect(checksOf(fs)).toEqual(['lock-across-send/held-across-send']);
    expect(fs[0]!.index).toBe(wait);
  });

  it('accepts copying into SendQ under the lock and sending after releasing it', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s } = openSession(sv);
    w0.lockAcquire(7);
    w1.lockWait(7);
    w0.lockRelease(7);
    w1.lockAcquire(7);
    w0.send(s);
    w1.lockRelease(7);
    expect(findingsOf(sv.b, { rules: ['lock-across-send'] })).toEqual([]);
  });

  it('accepts a lock held across WSASend when nobody waits for it', () => {
    const sv = server();
    const { s } = openSession(sv);
    sv.w[0]!.lockAcquire(7);
    sv.w[0]!.send(s);
    sv.w[0]!.lockRelease(7);
    expect(findingsOf(sv.b, { rules: ['lock-across-send'] })).toEqual([]);
  });

  it('warns about a lock held across WSASend that another worker also takes, though no wait overlapped', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s } = openSession(sv);
    const acq = w0.lockAcquire(7, 'send-lock');
    const send = w0.send(s);
    w0.lockRelease(7, 'send-lock');
    const other = w1.lockAcquire(7, 'send-lock');
    w1.lockRelease(7, 'send-lock');
    const fs = findingsOf(sv.b, { rules: ['lock-across-send'] });
    expect(checksOf(fs)).toEqual(['lock-across-send/shared-across-send']);
    expect(fs[0]!.severity).toBe('warning');
    expect(fs[0]!.evidence).toEqual([acq, send.postIndex, other]);
  });
});
