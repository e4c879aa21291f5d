import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

describe('rule 7: ring-buffer wrap mistakes', () => {
  it('accepts a recv posted as two WSABUFs when the free space wraps', () => {
    const sv = server();
    const { s } = openSession(sv);
    sv.w[0]!.send(s, { bufCount: 2 });
    expect(findingsOf(sv.b, { rules: ['ring-buffer'] })).toEqual([]);
  });

  it('reports a post with three WSABUFs', () => {
    const sv = server();
    const { s } = openSession(sv);
    sv.w[0]!.send(s, { bufCount: 3 });
    const fs = findingsOf(sv.b, { rules: ['ring-buffer'] });
    expect(checksOf(fs)).toEqual(['ring-buffer/wsabuf-count']);
  });

  it('reports a recv posted with no free space', () => {
    const sv = server();
    const s = sv.b.accept(sv.acc);
    sv.acc.hold(s);
    sv.acc.recv(s, { bytes: 0 });
    const fs = findingsOf(sv.b, { rules: ['ring-buffer'] });
    expect(checksOf(fs)).toEqual(['ring-buffer/zero-length']);
    expect(fs[0]!.message).toMatch(/look exactly like the peer closing/);
  });

  it('reports a completion larger than what was posted', () => {
    const sv = server();
    const s = sv.b.accept(sv.acc);
    sv.acc.hold(s);
    const r = sv.acc.recv(s, { bytes: 100 });
    sv.b.complete(r, { bytes: 150 });
    const d = sv.w[0]!.dequeue(r);
    const fs = findingsOf(sv.b, { rules: ['ring-buffer'] });
    expect(checksOf(fs)).toEqual(['ring-buffer/overrun']);
    expect(fs[0]!.evidence).toEqual([r.postIndex, d]);
  });
});
