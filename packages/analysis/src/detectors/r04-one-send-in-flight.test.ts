import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 4: two sends in flight on one session', () => {
  it('reports a second WSASend while the first is in flight', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const { s } = openSession(sv);
    const first = w0.send(s);
    const second = w1.send(s);
    const fs = findingsOf(sv.b, { rules: ['one-send-in-flight'] });
    expect(checksOf(fs)).toEqual(['one-send-in-flight/two-in-flight']);
    expect(fs[0]!.evidence).toEqual([first.incIndex, second.incIndex]);
  });

  it('accepts a send posted right after the previous one was dequeued', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    const first = w.send(s);
    w.gqcs();
    sv.b.complete(first);
    w.dequeue(first);
    w.send(s);
    w.completed(first);
    expect(findingsOf(sv.b, { rules: ['one-send-in-flight'] })).toEqual([]);
  });

  it('accepts a new send after one whose WSASend failed at once', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    const failed = w.send(s, { result: 10054 });
    w.postFailed(failed);
    w.send(s);
    expect(findingsOf(sv.b, { rules: ['one-send-in-flight'] })).toEqual([]);
  });
});
