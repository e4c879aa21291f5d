import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, server } from '../testing/scenarios.ts';

const X = 0;
const S = 1;

describe('rule 19: locks taken in opposite orders on two paths', () => {
  it('reports the cycle of two paths that take users and rooms in opposite orders, with no deadlock in the run', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    // Login: users (exclusive), then rooms (shared).
    const a1 = w0.lockAcquire(10, 'users', X);
    const a2 = w0.lockAcquire(11, 'rooms', S);
    w0.lockRelease(11, 'rooms', S);
    w0.lockRelease(10, 'users', X);
    // Enter, later, on another thread: rooms (exclusive), then users (shared).
    const b1 = w1.lockAcquire(11, 'rooms', X);
    const b2 = w1.lockAcquire(10, 'users', S);
    w1.lockRelease(10, 'users', S);
    w1.lockRelease(11, 'rooms', X);
    const fs = findingsOf(sv.b, { rules: ['lock-order'] });
    expect(checksOf(fs)).toEqual(['lock-order/cycle']);
    expect(fs[0]!.evidence).toEqual([a1, a2, b1, b2]);
    expect(fs[0]!.message).toMatch(
      /took lock 'users' \(#10\) \(shared.*while holding lock 'rooms' \(#11\)/,
    );
    expect(fs[0]!.message).toMatch(/whether or not this run hit it/);
  });

  it('accepts one order everywhere, and two shared acquisitions in either order', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    for (const w of [w0, w1]) {
      w.lockAcquire(10, 'users', S);
      w.lockAcquire(11, 'rooms', X);
      w.lockRelease(11, 'rooms', X);
      w.lockRelease(10, 'users', S);
    }
    w0.lockAcquire(12, 'a', S);
    w0.lockAcquire(13, 'b', S);
    w0.lockRelease(13, 'b', S);
    w0.lockRelease(12, 'a', S);
    w1.lockAcquire(13, 'b', S);
    w1.lockAcquire(12, 'a', S);
    expect(findingsOf(sv.b, { rules: ['lock-order'] })).toEqual([]);
  });

  it('reports the cycle of a deadlock that happened: each thread waits for the lock the other holds', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const a1 = w0.lockAcquire(10, 'users', X);
    const b1 = w1.lockAcquire(11, 'rooms', X);
    const a2 = w0.lockWait(11, 'rooms', S);
    const b2 = w1.lockWait(10, 'users', S);
    const fs = findingsOf(sv.b, { rules: ['lock-order'] });
    expect(checksOf(fs)).toEqual(['lock-order/cycle']);
    expect(fs[0]!.evidence).toEqual([a1, b1, a2, b2]);
    expect(fs[0]!.message).toMatch(/waited for lock 'users'/);
  });

  it('finds a three-lock cycle built by three threads', () => {
    const sv = server({ workers: 3 });
    const [w0, w1, w2] = [sv.w[0]!, sv.w[1]!, sv.w[2]!];
    const pairs: Array<[typeof w0, number, number]> = [
      [w0, 1, 2],
      [w1, 2, 3],
      [w2, 3, 1],
    ];
    for (const [w, a, b] of pairs) {
      w.lockAcquire(a);
      w.lockAcquire(b);
      w.lockRelease(b);
      w.lockRelease(a);
    }
    const fs = findingsOf(sv.b, { rules: ['lock-order'] });
    expect(checksOf(fs)).toEqual(['lock-order/cycle']);
    expect(fs[0]!.evidence).toHaveLength(6);
  });
});
