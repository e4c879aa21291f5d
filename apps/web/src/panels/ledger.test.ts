import { describe, expect, it } from 'vitest';
import {
  EventKind,
  IoCountCause,
  Op,
  RECORD_WORDS,
  WinError,
  encodeEvent,
  type TraceEvent,
} from '@iocpscope/protocol';
import { applyPairings, buildLedger, pairBadge } from './ledger.ts';
import { sessionHistory } from '@iocpscope/analysis';

const S = 0x1_0000_0007n;
const ctx = {
  threadName: (t: number) => `T${t}`,
  text: (id: number) => (id === 1 ? '10.0.0.1:5000' : ''),
};

function words(events: TraceEvent[]): Uint32Array {
  const w = new Uint32Array(events.length * RECORD_WORDS);
  events.forEach((e, i) => encodeEvent(w, i, e));
  return w;
}

// One accepted session: hold, recv posted (io 7), hold dropped, recv completes, -1, release.
const LIFE: TraceEvent[] = [
  { kind: EventKind.Accept, tsNs: 10, tid: 0, session: S, peerStr: 1, socket: 3 },
  { kind: EventKind.SessionCreated, tsNs: 11, tid: 0, session: S, peerStr: 1, socket: 3, slot: 7 },
  {
    kind: EventKind.IoCount,
    tsNs: 12,
    tid: 0,
    cause: IoCountCause.AcceptHold,
    session: S,
    value: 1,
    delta: 1,
    ioId: 0,
  },
  {
    kind: EventKind.IoCount,
    tsNs: 13,
    tid: 0,
    cause: IoCountCause.RecvPost,
    session: S,
    value: 2,
    delta: 1,
    ioId: 7,
  },
  {
    kind: EventKind.IoPosted,
    tsNs: 14,
    tid: 0,
    op: Op.Recv,
    bufCount: 2,
    requestedBytes: 100,
    session: S,
    result: WinError.IoPending,
    ioId: 7,
  },
  {
    kind: EventKind.IoCount,
    tsNs: 15,
    tid: 0,
    cause: IoCountCause.AcceptRelease,
    session: S,
    value: 1,
    delta: -1,
    ioId: 0,
  },
  {
    kind: EventKind.PacketQueued,
    tsNs: 20,
    tid: 1,
    op: Op.Recv,
    bytes: 0,
    key: S,
    status: 0,
    ioId: 7,
  },
  {
    kind: EventKind.GqcsReturn,
    tsNs: 21,
    tid: 2,
    ok: true,
    hasOverlapped: true,
    op: Op.Recv,
    bytes: 0,
    key: S,
    error: 0,
    ioId: 7,
  },
  {
    kind: EventKind.IoCount,
    tsNs: 22,
    tid: 2,
    cause: IoCountCause.Completion,
    session: S,
    value: 0,
    delta: -1,
    ioId: 7,
  },
  { kind: EventKind.SessionReleased, tsNs: 23, tid: 2, session: S, ioCount: 0 },
];

describe('buildLedger', () => {
  const w = words(LIFE);
  const idx = LIFE.map((_, i) => i);
  const l = buildLedger(w, idx, idx.length, ctx);

  it('lists every event of the session in order with its kind', () => {
    expect(l.map((e) => e.kind)).toEqual([
      'lifecycle',
      'lifecycle',
      'count',
      'count',
      'post',
      'count',
      'queue',
      'dequeue',
      'count',
      'lifecycle',
    ]);
    expect(l[1]!.text).toContain('10.0.0.1:5000');
  });

  it('ties each IOCount change to its cause', () => {
    expect(l[2]).toMatchObject({ delta: 1, value: 1, link: 0 }); // accept hold -> Accept
    expect(l[3]).toMatchObject({ delta: 1, value: 2, link: 4 }); // recv +1 -> the WSARecv after it
    expect(l[5]).toMatchObject({ delta: -1, value: 1, link: 0 }); // hold dropped -> Accept
    expect(l[8]).toMatchObject({ delta: -1, value: 0, link: 7 }); // completion -1 -> the dequeue
  });

  it('ties posts and queued packets forward to their dequeue and the dequeue back to its post', () => {
    expect(l[4]!.link).toBe(7);
    expect(l[6]!.link).toBe(7);
    expect(l[7]!.link).toBe(4);
    expect(l[7]!.text).toContain('peer closed');
  });

  it('flags a release with a non-zero IOCount and a count below zero', () => {
    const bad = words([
      {
        kind: EventKind.IoCount,
        tsNs: 1,
        tid: 2,
        cause: IoCountCause.Completion,
        session: S,
        value: -1,
        delta: -1,
        ioId: 9,
      },
      { kind: EventKind.SessionReleased, tsNs: 2, tid: 2, session: S, ioCount: 1 },
    ]);
    const r = buildLedger(bad, [0, 1], 2, ctx);
    expect(r[0]!.tone).toBe('bad');
    expect(r[0]!.text).toContain('no dequeue recorded');
    expect(r[1]!.tone).toBe('bad');
  });

  it('finds the right post when an ioId is reused, by position', () => {
    const reuse = words([
      {
        kind: EventKind.IoCount,
        tsNs: 1,
        tid: 0,
        cause: IoCountCause.RecvPost,
        session: S,
        value: 1,
        delta: 1,
        ioId: 5,
      },
      {
        kind: EventKind.IoPosted,
        tsNs: 2,
        tid: 0,
        op: Op.Recv,
        bufCount: 1,
        requestedBytes: 8,
        session: S,
        result: WinError.IoPending,
        ioId: 5,
      },
      {
        kind: EventKind.GqcsReturn,
        tsNs: 3,
        tid: 2,
        ok: true,
        hasOverlapped: true,
        op: Op.Recv,
        bytes: 8,
        key: S,
        error: 0,
        ioId: 5,
      },
      {
        kind: EventKind.IoCount,
        tsNs: 4,
        tid: 2,
        cause: IoCountCause.RecvPost,
        session: S,
        value: 2,
        delta: 1,
        ioId: 5,
      },
      {
        kind: EventKind.IoPosted,
        tsNs: 5,
        tid: 2,
        op: Op.Recv,
        bufCount: 1,
        requestedBytes: 8,
        session: S,
        result: WinError.IoPending,
        ioId: 5,
      },
      {
        kind: EventKind.IoCount,
        tsNs: 6,
        tid: 2,
        cause: IoCountCause.Completion,
        session: S,
        value: 1,
        delta: -1,
        ioId: 5,
      },
    ]);
    const r = buildLedger(reuse, [0, 1, 2, 3, 4, 5], 6, ctx);
    expect(r[0]!.link).toBe(1);
    expect(r[3]!.link).toBe(4);
    expect(r[5]!.link).toBe(2);
  });

  it('takes the balancing ±1 of each count from the analysis ledger', () => {
    const entries = buildLedger(w, idx, idx.length, ctx);
    const h = sessionHistory({ words: w, length: LIFE.length }, S);
    applyPairings(entries, h.ledger);
    expect(entries[2]!.pair).toBe(5); // accept hold <-> hold dropped
    expect(entries[5]!.pair).toBe(2);
    expect(entries[3]!.pair).toBe(8); // recv +1 <-> completion -1
    expect(entries[8]!.pair).toBe(3);
    expect(entries[4]!.pair).toBe(-2); // not a count
  });

  it('badges each ±1 with what holds over the whole trace, never an orphan for a healthy -1 (§8)', () => {
    const entries = buildLedger(w, idx, idx.length, ctx);
    applyPairings(entries, sessionHistory({ words: w, length: LIFE.length }, S).ledger);
    // The badge takes no cursor: the same before the session starts as after it ends.
    for (const e of entries.filter((x) => x.kind === 'count')) {
      const b = pairBadge(e)!;
      expect(b.tone).toBe('muted');
      expect(b.text).toBe(`⇄${e.pair}`);
      expect(b.goTo).toBe(e.pair);
    }
    expect(pairBadge(entries[4]!)).toBeNull();
  });

  it('calls a -1 an orphan and a +1 open only when the trace never balances them', () => {
    // The completion decrements twice: the second -1 balances nothing.
    const twice: TraceEvent[] = [
      ...LIFE.slice(0, 9),
      { ...(LIFE[8] as Extract<TraceEvent, { kind: 10 }>), tsNs: 22, value: -1 },
    ];
    const w2 = words(twice);
    const i2 = Array.from(twice.keys());
    const entries = buildLedger(w2, i2, i2.length, ctx);
    applyPairings(entries, sessionHistory({ words: w2, length: twice.length }, S).ledger);
    expect(pairBadge(entries[9]!)).toMatchObject({ text: 'orphan', tone: 'bad' });
    // A +1 with no -1 at all (the trace ends first): open, over the whole trace.
    const cut = LIFE.slice(0, 5);
    const w3 = words(cut);
    const i3 = Array.from(cut.keys());
    const e3 = buildLedger(w3, i3, i3.length, ctx);
    applyPairings(e3, sessionHistory({ words: w3, length: cut.length }, S).ledger);
    expect(pairBadge(e3[3]!)).toMatchObject({ text: 'open', tone: 'warn' });
    expect(pairBadge(e3[3]!, true)!.title).toBe('not balanced by a -1 yet');
  });

  it('words v2 records (an OVERLAPPED, the session buffers) briefly, never "event kind 21"', () => {
    const v2: TraceEvent[] = [
      { kind: EventKind.SessionRings, tsNs: 1, tid: 0, session: S, recvCap: 16384, sendCap: 8192 },
      {
        kind: EventKind.IoDetail,
        tsNs: 2,
        tid: 0,
        op: Op.Recv,
        session: S,
        overlapped: 0x7ff0_1234n,
        skipOnSuccess: false,
        ioId: 7,
      },
    ];
    const w2 = words(v2);
    const r = buildLedger(w2, [0, 1], 2, ctx);
    expect(r[0]!.text).toBe('buffers: RecvQ 16,384 B, SendQ 8,192 B');
    expect(r[1]!.text).toBe('recv OVERLAPPED 0x7ff01234 (io 7)');
    for (const e of r) expect(e.text).not.toMatch(/event kind/);
  });
});
