import { describe, expect, it } from 'vitest';
import { WinError } from '@iocpscope/protocol';
import { checksOf, findingsOf, server, type Server } from '../testing/scenarios.ts';
import type { Io } from '../testing/trace-builder.ts';
import type { SessionId } from '../ids.ts';

const CAP = 16384;

/** A session created with SessionRings (RecvQ CAP, SendQ 2*CAP) and its first recv at the rear (0). */
function ringSession(sv: Server, first = { len0: CAP, avail: CAP }): { s: SessionId; recv: Io } {
  const s = sv.b.accept(sv.acc);
  sv.b.rings(sv.acc, s, CAP, 2 * CAP);
  sv.acc.hold(s);
  const recv = sv.acc.recv(s, {
    bytes: first.len0,
    overlapped: 1,
    ring: { off0: 0, len0: first.len0, avail: first.avail },
  });
  sv.acc.unhold(s);
  return { s, recv };
}

/** The recv completes with `bytes` on worker 0, which posts the next recv at `off0`. */
function nextRecv(
  sv: Server,
  s: SessionId,
  recv: Io,
  bytes: number,
  off0: number,
  len0: number,
  total = len0,
  off1 = 0,
): Io {
  const w = sv.w[0]!;
  sv.b.complete(recv, { bytes });
  w.dequeue(recv);
  const next = w.recv(s, {
    bytes: total,
    bufCount: total > len0 ? 2 : 1,
    overlapped: 1,
    ring: { off0, len0, off1, avail: total },
  });
  w.completed(recv);
  w.gqcs();
  return next;
}

describe('rule 7: ring-buffer wrap mistakes', () => {
  it('accepts posts that follow the rear and wrap at the physical end', () => {
    const sv = server();
    const { s, recv } = ringSession(sv);
    // 10,000 bytes in: the rear is at 10,000; the free space (16,384) wraps.
    const r2 = nextRecv(sv, s, recv, 10_000, 10_000, CAP - 10_000, CAP);
    // 8,000 more: the rear wraps to 1,616.
    nextRecv(sv, s, r2, 8_000, (10_000 + 8_000) % CAP, CAP - 1_616, CAP - 1_616);
    expect(findingsOf(sv.b, { rules: ['ring-buffer'] })).toEqual([]);
  });

  it('reports a wrapped post whose first WSABUF stops one byte short of the end', () => {
    const sv = server();
    const { s, recv } = ringSession(sv);
    nextRecv(sv, s, recv, 10_000, 10_000, CAP - 10_000 - 1, CAP);
    const fs = findingsOf(sv.b, { rules: ['ring-buffer'] });
    expect(checksOf(fs)).toEqual(['ring-buffer/wrap-not-at-end']);
    expect(fs[0]!.message).toMatch(
      /ends at 16383, not at the physical end \(16384\): 1 byte is skipped/,
    );
  });

  it('reports a second WSABUF that does not start at the base', () => {
    const sv = server();
    const { s, recv } = ringSession(sv);
    nextRecv(sv, s, recv, 10_000, 10_000, CAP - 10_000, CAP, 4);
    expect(checksOf(findingsOf(sv.b, { rules: ['ring-buffer'] }))).toEqual([
      'ring-buffer/second-not-at-base',
    ]);
  });

  it('reports a post larger than the free space the server computed', () => {
    const sv = server();
    ringSession(sv, { len0: CAP, avail: CAP - 100 });
    expect(checksOf(findingsOf(sv.b, { rules: ['ring-buffer'] }))).toEqual([
      'ring-buffer/beyond-space',
    ]);
  });

  it('reports a recv that does not start where the last completion left the rear', () => {
    const sv = server();
    const { s, recv } = ringSession(sv);
    // 100 bytes arrived, but the next recv starts at 99 (the rear moved by one too few).
    nextRecv(sv, s, recv, 100, 99, CAP - 100);
    const fs = findingsOf(sv.b, { rules: ['ring-buffer'] });
    expect(checksOf(fs)).toEqual(['ring-buffer/pointer-advance']);
    expect(fs[0]!.message).toMatch(/completed with 100 bytes, so the rear is at 100/);
  });

  it('judges a post whose predecessor recorded its IoRing late, once that record arrives', () => {
    const sv = server();
    const { s, recv } = ringSession(sv);
    const w = sv.w[0]!;
    const w1 = sv.w[1]!;
    // Worker 1 posts recv 2 and is preempted before writing its records; the
    // recv completes and worker 0 posts recv 3 and writes everything first.
    sv.b.complete(recv, { bytes: 50 });
    w.dequeue(recv);
    const r2 = w1.recv(s, { bytes: CAP - 50, posted: false });
    w.completed(recv);
    w.gqcs();
    sv.b.complete(r2, { bytes: 30 });
    w.dequeue(r2);
    w.recv(s, {
      bytes: CAP - 80,
      overlapped: 1,
      ring: { off0: 81, len0: CAP - 81, avail: CAP - 80 },
    });
    w1.posted(r2, WinError.IoPending, 1, {
      overlapped: 1,
      ring: { off0: 50, len0: CAP - 50, avail: CAP - 50 },
    });
    const fs = findingsOf(sv.b, { rules: ['ring-buffer'] });
    // Recv 3 started at 81, but recv 2 (from 50) completed with 30: the rear was at 80.
    expect(checksOf(fs)).toEqual(['ring-buffer/pointer-advance']);
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
