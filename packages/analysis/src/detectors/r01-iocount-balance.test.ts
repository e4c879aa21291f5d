import { IoCountCause } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import {
  checksOf,
  echoRound,
  findingsOf,
  openSession,
  peerCloses,
  server,
  shutdownAll,
} from '../testing/scenarios.ts';

describe('rule 1: IOCount decremented twice or in the wrong place', () => {
  it('reports nothing for a session that echoes, closes and is released', () => {
    const sv = server();
    const { s, recv } = openSession(sv);
    const r2 = echoRound(sv, sv.w[1]!, s, recv);
    peerCloses(sv, sv.w[1]!, s, r2);
    shutdownAll(sv);
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('reports a completion decremented twice, with both decrements as evidence', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 8 });
    w.dequeue(recv);
    const send = w.send(s, { bytes: 8 });
    w.recv(s);
    w.completed(recv);
    w.gqcs();
    sv.b.complete(send);
    w.dequeue(send);
    const first = w.completed(send);
    const second = w.completed(send);
    const fs = findingsOf(sv.b, { rules: ['iocount-balance'] });
    expect(checksOf(fs)).toEqual(['iocount-balance/double-decrement']);
    expect(fs[0]!.evidence).toEqual(expect.arrayContaining([first, second]));
    expect(fs[0]!.index).toBe(second);
    expect(fs[0]!.message).toMatch(/decremented twice for one send completion/);
    expect(fs[0]!.ruleNumber).toBe(1);
  });

  it('reports IOCount going below zero', () => {
    const sv = server();
    const s = sv.b.accept(sv.acc);
    sv.acc.hold(s);
    sv.acc.unhold(s);
    const bad = sv.acc.unhold(s);
    const fs = findingsOf(sv.b, { rules: ['iocount-balance'] });
    expect(checksOf(fs)).toEqual(['iocount-balance/negative']);
    expect(fs[0]!.index).toBe(bad);
    expect(fs[0]!.message).toMatch(/went to -1 at event/);
  });

  it('reports a decrement for an I/O the session never counted', () => {
    const sv = server();
    const { s } = openSession(sv);
    sv.w[0]!.dec(s, IoCountCause.Completion, 9999);
    expect(checksOf(findingsOf(sv.b, { rules: ['iocount-balance'] }))).toEqual([
      'iocount-balance/orphan-decrement',
    ]);
  });

  it('reports a completion decrement taken before the completion was dequeued', () => {
    const sv = server();
    const { s, recv } = openSession(sv);
    sv.acc.hold(s);
    sv.acc.completed(recv);
    expect(checksOf(findingsOf(sv.b, { rules: ['iocount-balance'] }))).toEqual([
      'iocount-balance/early-decrement',
    ]);
  });

  it('reports a failed-post decrement for a post that returned pending', () => {
    const sv = server();
    const s = sv.b.accept(sv.acc);
    sv.acc.hold(s);
    const r = sv.acc.recv(s);
    sv.acc.postFailed(r);
    const fs = findingsOf(sv.b, { rules: ['iocount-balance'] });
    expect(checksOf(fs)).toEqual(['iocount-balance/failed-post-on-success']);
    expect(fs[0]!.message).toMatch(/997 \(pending\)/);
  });

  it('does not report the failed-post decrement of a post that really failed', () => {
    const sv = server();
    const s = sv.b.accept(sv.acc);
    sv.acc.hold(s);
    const r = sv.acc.recv(s, { result: 10054 });
    sv.acc.postFailed(r);
    sv.acc.unhold(s);
    sv.acc.release(s);
    expect(findingsOf(sv.b)).toEqual([]);
  });

  it('reports a successful completion whose handler returned to GQCS without its decrement', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 8 });
    const d = w.dequeue(recv);
    w.recv(s);
    const back = w.gqcs();
    const fs = findingsOf(sv.b, { rules: ['iocount-balance'] });
    expect(checksOf(fs)).toEqual(['iocount-balance/no-decrement']);
    expect(fs[0]!.evidence).toEqual([d, back]);
  });

  it('reports an IOCount +1 recorded after its completion was dequeued', () => {
    const sv = server();
    const w = sv.w[0]!;
    const s = sv.b.accept(sv.acc);
    sv.acc.hold(s);
    const r = sv.acc.recv(s, { increment: false });
    sv.b.complete(r, { bytes: 4 });
    w.dequeue(r);
    w.recv(s);
    w.completed(r);
    w.gqcs();
    const late = sv.acc.inc(s, IoCountCause.RecvPost, r.ioId);
    const fs = findingsOf(sv.b, { rules: ['iocount-balance'] });
    expect(checksOf(fs)).toEqual(['iocount-balance/increment-after-post']);
    expect(fs[0]!.index).toBe(late);
    expect(fs[0]!.message).toMatch(/Increment IOCount before calling WSARecv/);
  });

  it('accepts a recv dequeued and handled before its WSARecv call returned, when the +1 came first', () => {
    const sv = server();
    const w = sv.w[0]!;
    const s = sv.b.accept(sv.acc);
    sv.acc.hold(s);
    const r = sv.acc.recv(s, { posted: false });
    sv.b.complete(r, { bytes: 16 });
    w.dequeue(r);
    const send = w.send(s, { bytes: 16 });
    const r2 = w.recv(s);
    w.completed(r);
    w.gqcs();
    sv.acc.posted(r);
    sv.acc.unhold(s);
    sv.b.complete(send);
    w.dequeue(send);
    w.completed(send);
    w.gqcs();
    peerCloses(sv, w, s, r2);
    expect(findingsOf(sv.b)).toEqual([]);
  });
});
