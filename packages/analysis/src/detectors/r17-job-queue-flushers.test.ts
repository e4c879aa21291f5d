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
    expect(checksOf(fs)).toEqual([
      'job-queue-flushers/not-from-zero',
      'job-queue-flushers/two-flushers',
    ]);
    const two = fs.find((f) => f.check.endsWith('two-flushers'))!;
    expect(two.evidence).toEqual([first, second]);
    expect(two.subject).toEqual({ kind: 'thread', tid: w1.tid });
    expect(two.message).toMatch(/room 3.*out of order/);
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

  it('reports a flusher that began first from a push that found the count above 0', () => {
    // The fault: A read 0, then added (the count was already 1: it finds 2) and flushes;
    // B took the count from 0 and flushes too.
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    w0.jobPush(3, JobKind.Chat, 2);
    w0.flushBegin(3, 1);
    w1.jobPush(3, JobKind.Chat, 1);
    w1.flushBegin(3, 2);
    w1.flushEnd(3, 2);
    w0.flushEnd(3, 1);
    const fs = findingsOf(sv.b, { rules: ['job-queue-flushers'] });
    expect(checksOf(fs)).toEqual([
      'job-queue-flushers/not-from-zero',
      'job-queue-flushers/two-flushers',
    ]);
  });

  it('reports a pusher that flushes though its add found the count above 0, even when the flushes did not overlap', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    w0.jobPush(3, JobKind.Chat, 1);
    w0.flushBegin(3, 1);
    w0.flushEnd(3, 1);
    // w1 read 0 before w0's push, added after it (2), and flushes what is left.
    const push = w1.jobPush(3, JobKind.Chat, 2);
    const begin = w1.flushBegin(3, 2);
    w1.flushEnd(3, 2);
    const fs = findingsOf(sv.b, { rules: ['job-queue-flushers'] });
    expect(checksOf(fs)).toEqual(['job-queue-flushers/not-from-zero']);
    expect(fs[0]!.evidence).toEqual([push, begin]);
    expect(fs[0]!.message).toMatch(/found 1 job already counted/);
  });

  it('accepts a flush end recorded late: the next pusher took the count from 0, so the first flusher had finished', () => {
    // Seen on a loaded box: worker 1's last decrement took the count to 0, then it was
    // preempted before its end record; worker 2 pushed (count 0 -> 1) and began flushing.
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    w0.jobPush(3, JobKind.Chat, 1);
    w0.flushBegin(3, 1);
    w1.jobPush(3, JobKind.Chat, 1);
    w1.flushBegin(3, 2);
    w0.flushEnd(3, 1);
    w1.flushEnd(3, 2);
    // And a third flusher later, one at a time again.
    w0.jobPush(3, JobKind.Chat, 1);
    w0.flushBegin(3, 3);
    w0.flushEnd(3, 3);
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
