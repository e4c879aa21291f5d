import { EventKind, Op, WinError } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { applicableRules, whyNotOnDerived } from './derived.ts';
import { RULES } from './findings.ts';
import { checkTrace, DetectorRunner } from './runner.ts';
import { checksOf, findingsOf, openSession, server } from './testing/scenarios.ts';
import type { Io } from './testing/trace-builder.ts';

const ALL = RULES.map((r) => r.id);

describe('a trace whose IOCount is derived (the hook DLL)', () => {
  it('runs only the rules that are sound without the server’s own count, and says why not the others', () => {
    const runs = applicableRules(ALL, 'derived');
    expect(runs).toEqual(['session-identity', 'buffer-in-use', 'disconnect-race']);
    for (const r of ALL) {
      if (runs.includes(r)) expect(whyNotOnDerived(r)).toBeUndefined();
      else expect(whyNotOnDerived(r)).toMatch(/\w/);
    }
    expect(applicableRules(ALL, 'application')).toEqual(ALL);
    expect(applicableRules(ALL, undefined)).toEqual(ALL);
  });

  it('keeps the accept hold to the server: no accept-hold finding on a derived trace', () => {
    const sv = server();
    const s = sv.b.accept(sv.acc, { slot: 1 });
    sv.acc.recv(s); // no hold: the hook cannot see one
    expect(checksOf(findingsOf(sv.b, { rules: ['accept-hold'] }))).toEqual(['accept-hold/no-hold']);
    expect(findingsOf(sv.b, { ioCount: 'derived' })).toEqual([]);
  });

  it('does not call several outstanding recvs a bug, and still sees an OVERLAPPED in use twice', () => {
    const sv = server();
    const { s } = openSession(sv);
    sv.w[0]!.recv(s, { overlapped: 0x10 });
    expect(checksOf(findingsOf(sv.b, { rules: ['buffer-in-use'] }))).toEqual([
      'buffer-in-use/two-recvs',
    ]);
    expect(findingsOf(sv.b, { ioCount: 'derived' })).toEqual([]);
    sv.w[0]!.recv(s, { overlapped: 0x10 });
    expect(checksOf(findingsOf(sv.b, { ioCount: 'derived' }))).toEqual([
      'buffer-in-use/overlapped-in-use',
    ]);
  });

  it('filters rules asked for by name the same way', () => {
    const sv = server();
    const s = sv.b.accept(sv.acc, { slot: 1 });
    sv.acc.recv(s);
    const r = new DetectorRunner({ rules: ['accept-hold', 'buffer-in-use'], ioCount: 'derived' });
    const t = sv.b.build();
    r.feed(t);
    r.finish();
    expect(r.findings).toEqual([]);
  });
});

/** An op of kind `op` posted on `s` with its OVERLAPPED, as the hook records it. */
function postOp(
  sv: ReturnType<typeof server>,
  s: bigint,
  op: number,
  overlapped: number,
  result: number = WinError.IoPending,
  skip = false,
): Io {
  const w = sv.w[0]!;
  const o = { result, increment: true, posted: false };
  const io = op === Op.Send ? w.send(s, o) : w.recv(s, o);
  io.op = op as Io['op'];
  w.posted(io, result);
  sv.b.rec(EventKind.IoDetail, op | (skip ? 0x10 : 0), w.tid, overlapped, s, 0, io.ioId);
  return io;
}

describe('the replay of v2 operations', () => {
  it('settles a post that succeeded at once on a skip-on-success socket (no packet will come)', () => {
    const sv = server();
    const { s } = openSession(sv);
    const w = sv.w[0]!;
    const a = postOp(sv, s, Op.Send, 0x40, 0, true);
    w.completed(a);
    const b = postOp(sv, s, Op.Send, 0x40, 0, true); // the same OVERLAPPED, free again
    w.completed(b);
    const t = sv.b.build();
    expect(checkTrace(t, { rules: ['buffer-in-use', 'iocount-balance'] }).findings).toEqual([]);
    const r = new DetectorRunner();
    r.feed(t);
    const sess = r.replayer.state.sessions.get(s)!;
    expect(sess.ops.filter((o) => o.op === Op.Send)).toEqual([]);
  });

  it('still waits for the packet of an immediate success without skip-on-success', () => {
    const sv = server();
    const { s } = openSession(sv);
    postOp(sv, s, Op.Send, 0x40, 0, false);
    postOp(sv, s, Op.Send, 0x40, 0, false);
    expect(checksOf(findingsOf(sv.b, { rules: ['buffer-in-use'] }))).toContain(
      'buffer-in-use/overlapped-in-use',
    );
  });

  it('matches an AcceptEx completion to its post, so its OVERLAPPED is free again afterwards', () => {
    const sv = server();
    const listener = sv.b.accept(sv.acc, { slot: 9 });
    const w = sv.w[0]!;
    const a = postOp(sv, listener, Op.Accept, 0x80);
    sv.b.complete(a, { bytes: 0 });
    w.dequeue(a);
    w.completed(a);
    const b = postOp(sv, listener, Op.Accept, 0x80);
    sv.b.complete(b, { bytes: 0 });
    w.dequeue(b);
    w.completed(b);
    const t = sv.b.build();
    expect(checkTrace(t, { ioCount: 'derived' }).findings).toEqual([]);
    const r = new DetectorRunner();
    r.feed(t);
    const l = r.replayer.state.sessions.get(listener)!;
    expect(l.ops).toEqual([]);
    expect(l.recentOps.map((o) => o.op)).toEqual([Op.Accept, Op.Accept]);
    expect(l.ioCount).toBe(0);
  });
});
