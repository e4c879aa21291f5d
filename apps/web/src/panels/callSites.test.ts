import { describe, expect, it } from 'vitest';
import {
  EventKind,
  IoCountCause,
  RECORD_WORDS,
  StringTable,
  ThreadRole,
  encodeEvent,
  type TraceEvent,
} from '@iocpscope/protocol';
import { WebTrace } from '../trace/index.ts';
import { traceContext } from './context.ts';
import { describeEvent } from './describe.ts';
import { buildLedger } from './ledger.ts';

const S = 0x10001n;

/** A foreign server's trace (iocpscope.h): two decrements from two lines of its code. */
function foreignTrace(): WebTrace {
  const events: TraceEvent[] = [
    {
      kind: EventKind.ThreadStart,
      tsNs: 0,
      tid: 0,
      role: ThreadRole.Worker,
      nameStr: 1,
      osThreadId: 9,
    },
    { kind: EventKind.CallSite, tsNs: 1, tid: 0, siteId: 3, fileStr: 2, line: 212, funcStr: 3 },
    { kind: EventKind.CallSite, tsNs: 1, tid: 0, siteId: 4, fileStr: 2, line: 230, funcStr: 3 },
    { kind: EventKind.SessionCreated, tsNs: 2, tid: 0, session: S, peerStr: 0, socket: 5, slot: 1 },
    {
      kind: EventKind.IoCount,
      tsNs: 3,
      tid: 0,
      cause: IoCountCause.RecvPost,
      session: S,
      value: 1,
      delta: 1,
      ioId: 7,
      site: 3,
    },
    {
      kind: EventKind.IoCount,
      tsNs: 4,
      tid: 0,
      cause: IoCountCause.Completion,
      session: S,
      value: 0,
      delta: -1,
      ioId: 7,
      site: 4,
    },
    {
      kind: EventKind.IoCount,
      tsNs: 5,
      tid: 0,
      cause: IoCountCause.Completion,
      session: S,
      value: -1,
      delta: -1,
      ioId: 7,
      site: 9,
    },
  ];
  const w = new Uint32Array(events.length * RECORD_WORDS);
  events.forEach((e, i) => encodeEvent(w, i, e));
  const strings = new StringTable();
  strings.set(1, 'worker 1');
  strings.set(2, 'C:\\src\\GameServer\\Session.cpp');
  strings.set(3, 'Session::OnRecv');
  return WebTrace.from(w, strings);
}

describe('call sites of a foreign server', () => {
  it('name the line of the user\u2019s code in the event details', () => {
    const t = foreignTrace();
    const d = describeEvent(t.words, 5, traceContext(t));
    expect(d.fields).toContainEqual(['call site', 'Session::OnRecv (Session.cpp:230)']);
  });

  it('mark each ledger row with its call site, and none for an undefined site', () => {
    const t = foreignTrace();
    const list = t.sessionEvents(S);
    const rows = buildLedger(t.words, list, list.length, traceContext(t));
    const byIndex = new Map(rows.map((r) => [r.index, r.site]));
    expect(byIndex.get(4)).toBe('Session::OnRecv (Session.cpp:212)');
    expect(byIndex.get(5)).toBe('Session::OnRecv (Session.cpp:230)');
    expect(byIndex.get(6)).toBeUndefined();
  });

  it('leave events without a site alone', () => {
    const t = foreignTrace();
    const d = describeEvent(t.words, 3, traceContext(t));
    expect(d.fields.some(([k]) => k === 'call site')).toBe(false);
  });
});
