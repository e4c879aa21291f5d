import { WinError } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import {
  checksOf,
  findingsOf,
  openSession,
  peerCloses,
  server,
  shutdownAll,
} from '../testing/scenarios.ts';

describe('rule 10: shutdown', () => {
  it('accepts one exit packet per worker and every thread exiting', () => {
    const sv = server({ workers: 3 });
    const { s, recv } = openSession(sv);
    peerCloses(sv, sv.w[0]!, s, recv);
    shutdownAll(sv);
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('reports fewer exit packets than workers when the trace ends with a worker in GQCS', () => {
    const sv = server({ workers: 3 });
    sv.acc.exit();
    const posts = [sv.main.pqcsExit(), sv.main.pqcsExit()];
    for (const t of sv.w.slice(0, 2)) {
      t.dequeueExit();
      t.exit();
    }
    const fs = findingsOf(sv.b, { rules: ['shutdown'] });
    expect(checksOf(fs)).toEqual(['shutdown/too-few-exit-packets']);
    expect(fs[0]!.evidence).toEqual(expect.arrayContaining(posts));
    expect(fs[0]!.subject).toEqual({ kind: 'thread', tid: sv.w[2]!.tid });
    expect(fs[0]!.message).toMatch(/posted 2 exit packets .* for 3 workers/);
  });

  it('reports it as soon as the port is closed under the forgotten worker', () => {
    const sv = server({ workers: 2 });
    sv.main.pqcsExit();
    sv.w[0]!.dequeueExit();
    sv.w[0]!.exit();
    const closed = sv.w[1]!.gqcsFailed(WinError.AbandonedWait0);
    const fs = findingsOf(sv.b, { rules: ['shutdown'] });
    expect(checksOf(fs)).toEqual(['shutdown/too-few-exit-packets']);
    expect(fs[0]!.index).toBe(closed);
  });

  it('warns when exit packets are posted while sessions are alive', () => {
    const sv = server();
    openSession(sv);
    shutdownAll(sv);
    const fs = findingsOf(sv.b, { rules: ['shutdown'] });
    expect(checksOf(fs)).toEqual(['shutdown/exit-before-drain']);
    expect(fs[0]!.severity).toBe('warning');
  });

  it('warns when the main thread exits before the others', () => {
    const sv = server();
    sv.main.exit();
    expect(checksOf(findingsOf(sv.b, { rules: ['shutdown'] }))).toEqual(['shutdown/threads-alive']);
  });
});
