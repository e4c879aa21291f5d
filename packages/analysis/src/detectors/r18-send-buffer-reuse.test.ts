import { describe, expect, it } from 'vitest';
import { SendBufferOp as Op } from '@iocpscope/protocol';
import { checksOf, findingsOf, server } from '../testing/scenarios.ts';

const A = 0x10001n;
const B = 0x10002n;

describe('rule 18: a pooled SendBuffer returned and reused while a send still reads it', () => {
  it('accepts a broadcast whose every member reference is released once before the buffer returns', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    w0.sendBuffer(Op.Acquire, 7, A, 1, 99);
    w0.broadcast(0, 2, 7);
    w0.sendBuffer(Op.AddRef, 7, A, 2);
    w0.sendBuffer(Op.AddRef, 7, B, 3);
    w0.sendBuffer(Op.Release, 7, 0n, 2);
    w1.sendBuffer(Op.Release, 7, A, 1, 11);
    w0.sendBuffer(Op.Release, 7, B, 0, 12);
    w0.sendBuffer(Op.Returned, 7, 0n, 0, 100);
    w1.sendBuffer(Op.Acquire, 7, B, 1, 99);
    expect(findingsOf(sv.b, { rules: ['send-buffer-reuse'] })).toEqual([]);
  });

  it('reports the second release of one send and the reuse of the buffer while another member still holds it', () => {
    const sv = server();
    const [w0, w1] = [sv.w[0]!, sv.w[1]!];
    const acq = w0.sendBuffer(Op.Acquire, 7, A, 1, 99);
    w0.sendBuffer(Op.AddRef, 7, A, 2);
    const addB = w0.sendBuffer(Op.AddRef, 7, B, 3);
    w0.sendBuffer(Op.Release, 7, 0n, 2);
    w1.sendBuffer(Op.Release, 7, A, 1, 11);
    const twice = w1.sendBuffer(Op.Release, 7, A, 0, 11);
    const ret = w1.sendBuffer(Op.Returned, 7, 0n, 0, 100);
    const again = w0.sendBuffer(Op.Acquire, 7, A, 1, 99);
    const fs = findingsOf(sv.b, { rules: ['send-buffer-reuse'] });
    expect(checksOf(fs)).toEqual([
      'send-buffer-reuse/released-twice',
      'send-buffer-reuse/reused-while-sending',
    ]);
    expect(fs[0]!.evidence).toEqual([acq, twice]);
    expect(fs[0]!.message).toMatch(/io #11.*dropped twice/);
    expect(fs[1]!.evidence).toEqual([addB, ret, again]);
    expect(fs[1]!.subject).toEqual({ kind: 'session', session: B });
    expect(fs[1]!.message).toMatch(/acquired again .* still held it/);
  });

  it('does not judge a buffer whose acquisition the trace does not hold', () => {
    const sv = server();
    const w0 = sv.w[0]!;
    w0.sendBuffer(Op.Release, 9, A, 0, 5);
    w0.sendBuffer(Op.Returned, 9, 0n, 0, 10);
    w0.sendBuffer(Op.Acquire, 9, A, 1, 9);
    expect(findingsOf(sv.b, { rules: ['send-buffer-reuse'] })).toEqual([]);
  });
});
