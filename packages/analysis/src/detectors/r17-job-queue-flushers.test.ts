import { describe, expect, it } from 'vitest';
import { JobKind } from '@iocpscope/protocol';
import { checksOf, findingsOf, server } from '../testing/scenarios.ts';

describe('rule 17: two threads flush one JobQueue at once', () => {
  it('reports a flush of a room that begins while another thread is still flushing it', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    w0.jobPush(3, JobKind.Chat, 1);
    const first = w0.flushBegin(3, 1);
    w1.jobPush(3, JobKind.Chat, 2);
    const second = w1.flushBegin(3, 2);
    w1.flushEnd(3, 2);
    w0.flushEnd(3, 1);
    const fs = findingsOf(sv.b, { rules: ['job-queue-flushers'] });
    expect(checksOf(fs)).toEqual(['job-queue-flushers/two-flushers']);
    expect(fs[0]!.evidence).toEqual([first, second]);
    expect(fs[0]!.subject).toEqual({ kind: 'thread', tid: w1.tid });
    expect(fs[0]!.message).toMatch(/room 3.*out of order/);
  });

  it('accepts one flusher at a time, whichever thread it is, and different rooms at once', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    w0.flushBegin(3, 1);
    w0.flushEnd(3, 1);
    w1.flushBegin(3, 2);
    w0.flushBegin(4, 3);
    w0.flushEnd(4, 3);
    w1.flushEnd(3, 2);
    // A flush that runs a job of another room (nested) on the same thread.
    w0.flushBegin(5, 4);
    w0.flushBegin(6, 5);
    w0.flushEnd(6, 5);
    w0.flushEnd(5, 4);
    expect(findingsOf(sv.b, { rules: ['job-queue-flushers'] })).toEqual([]);
  });

  it('forgets open flushes at a gap: a flush whose end was lost is not a second flusher', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    w0.flushBegin(3, 1);
    sv.b.gap(10);
    w1.flushBegin(3, 2);
    w1.flushEnd(3, 2);
    expect(findingsOf(sv.b, { rules: ['job-queue-flushers'] })).toEqual([]);
  });
});
