import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 6: buffers or OVERLAPPED reused while I/O uses them', () => {
  it('reports a second recv posted while the first still owns RecvQ', () => {
    const sv = server();
    const { s, recv } = openSession(sv);
    const second = sv.w[0]!.recv(s);
    const fs = findingsOf(sv.b, { rules: ['buffer-in-use'] });
    expect(checksOf(fs)).toEqual(['buffer-in-use/two-recvs']);
    expect(fs[0]!.evidence).toEqual([recv.incIndex, second.incIndex]);
  });

  it('reports an OVERLAPPED posted again while its I/O is in flight', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    const send = w.send(s);
    w.send(s, { ioId: send.ioId });
    expect(checksOf(findingsOf(sv.b, { rules: ['buffer-in-use'] }))).toEqual([
      'buffer-in-use/overlapped-reused',
    ]);
  });

  it('accepts one recv and one send outstanding together', () => {
    const sv = server();
    const { s } = openSession(sv);
    sv.w[0]!.send(s);
    expect(findingsOf(sv.b, { rules: ['buffer-in-use'] })).toEqual([]);
  });
});
