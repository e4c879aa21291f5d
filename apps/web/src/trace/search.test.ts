import {
  EventKind,
  RECORD_WORDS,
  ThreadRole,
  encodeEvent,
  type TraceEvent,
} from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { randomRecords } from './randomTrace.test-util.ts';
import { matchesAt, parseSearch, SearchIndex, type CompiledSearch } from './search.ts';
import { WebTrace } from './webTrace.ts';

function compiled(text: string, trace: WebTrace | null = null): CompiledSearch {
  const p = parseSearch(text, trace);
  if (!p.ok) throw new Error(p.error);
  return p.query;
}

/** Naive model: decode each record's fields by kind, the way FORMAT.md lays them out. */
function naiveMatch(
  w: Uint32Array,
  i: number,
  f: { io?: number; session?: bigint; op?: number; tid?: number; error?: number; kind?: number },
): boolean {
  const o = i * RECORD_WORDS;
  const kind = w[o]! & 0xff;
  const a = (w[o]! >>> 8) & 0xff;
  const tid = w[o]! >>> 16;
  const session = (BigInt(w[o + 5]!) << 32n) | BigInt(w[o + 4]!);
  const withIo = [6, 7, 8, 9, 10, 21, 22, 30].includes(kind) && !(kind === 6 && !(a & 0x20));
  const withOp = [6, 7, 8, 9, 21, 22].includes(kind);
  const withSession = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 23, 27, 30, 33];
  let err = -1;
  if (kind === 6 && !(a & 0x10)) err = w[o + 6]!;
  if (kind === 9 && w[o + 6] !== 0 && w[o + 6] !== 997) err = w[o + 6]!;
  if ((kind === 7 || kind === 14) && w[o + 6] !== 0) err = w[o + 6]!;
  if (f.io !== undefined && !(withIo && w[o + 7] === f.io)) return false;
  if (f.session !== undefined && !(withSession.includes(kind) && session === f.session))
    return false;
  if (f.op !== undefined && !(withOp && (a & 0x0f) === f.op)) return false;
  if (f.tid !== undefined && tid !== f.tid) return false;
  if (f.error !== undefined && err !== f.error) return false;
  if (f.kind !== undefined && kind !== f.kind) return false;
  return true;
}

describe('event search', () => {
  const w = randomRecords(21, 5000);
  const t = WebTrace.from(w);

  it('matches exactly the events a field-by-field decode of the records says, for every field', () => {
    const cases: Array<[string, Parameters<typeof naiveMatch>[2]]> = [
      ['io:6', { io: 6 }],
      ['io 3', { io: 3 }],
      ['5', { io: 5 }],
      ['0x1', { session: 1n }],
      ['session:2', { session: 2n }],
      ['s:0x100010003', { session: 0x1_0001_0003n }],
      ['session:18446744073709551615', { session: 0xffff_ffff_ffff_ffffn }],
      ['recv', { op: 1 }],
      ['op:send', { op: 2 }],
      ['thread:2', { tid: 2 }],
      ['tid:0', { tid: 0 }],
      ['error:995', { error: 995 }],
      ['err:ERROR_NETNAME_DELETED', { error: 64 }],
      ['ERROR_OPERATION_ABORTED', { error: 995 }],
      ['64', { io: 64 }],
      ['packet-queued error 64', { kind: 7, error: 64 }],
      ['gqcs-return', { kind: 6 }],
      ['kind:iocount', { kind: 10 }],
      ['recv thread:1', { op: 1, tid: 1 }],
      ['gqcs-return error 995 recv', { kind: 6, error: 995, op: 1 }],
    ];
    for (const [text, f] of cases) {
      const q = compiled(text, t);
      const idx = new SearchIndex(q);
      idx.update(t);
      const want: number[] = [];
      for (let i = 0; i < t.count; i++) if (naiveMatch(t.words, i, f)) want.push(i);
      expect([...idx.matches()], text).toEqual(want);
      if (!['64'].includes(text)) expect(want.length, `${text} finds something`).toBeGreaterThan(0);
    }
  });

  it('keeps its matches current as a live trace grows', () => {
    const q = compiled('recv');
    const idx = new SearchIndex(q);
    const live = new WebTrace();
    for (let at = 0; at < 5000; at += 777) {
      live.append(w.subarray(at * RECORD_WORDS, Math.min(5000, at + 777) * RECORD_WORDS));
      idx.update(live);
      const want: number[] = [];
      for (let i = 0; i < live.count; i++) if (matchesAt(q, live.words, i)) want.push(i);
      expect([...idx.matches()]).toEqual(want);
    }
    idx.update(t);
    expect(idx.count).toBe(
      [...Array(t.count).keys()].filter((i) => matchesAt(q, t.words, i)).length,
    );
  });

  it('finds threads by name, spaces and all, and says how it read the query', () => {
    const events: TraceEvent[] = [
      {
        kind: EventKind.ThreadStart,
        tsNs: 0,
        tid: 1,
        role: ThreadRole.Worker,
        nameStr: 1,
        osThreadId: 0,
      },
      {
        kind: EventKind.ThreadStart,
        tsNs: 1,
        tid: 2,
        role: ThreadRole.Worker,
        nameStr: 2,
        osThreadId: 0,
      },
      {
        kind: EventKind.ThreadStart,
        tsNs: 2,
        tid: 3,
        role: ThreadRole.Accept,
        nameStr: 3,
        osThreadId: 0,
      },
    ];
    const ww = new Uint32Array(events.length * RECORD_WORDS);
    events.forEach((e, i) => encodeEvent(ww, i, e));
    const tr = WebTrace.from(
      ww,
      new Map([
        [1, 'worker 1'],
        [2, 'worker 10'],
        [3, 'accept'],
      ]),
    );
    const one = compiled('worker 1 kind:thread-start', tr);
    expect([...one.tids!]).toEqual([1]);
    expect(one.description).toBe('thread worker 1 · kind thread-start');
    expect([...compiled('thread:"worker 10"', tr).tids!]).toEqual([2]);
    // "accept" alone is the Accept kind; the accept thread needs thread:.
    expect(compiled('accept', tr).kind).toBe(EventKind.Accept);
    expect([...compiled('thread:accept', tr).tids!]).toEqual([3]);
  });

  it('refuses what it cannot read, naming the term', () => {
    expect(parseSearch('', null)).toEqual({ ok: false, error: 'empty query' });
    expect(parseSearch('io:x', null)).toMatchObject({ ok: false, error: 'not an io id: "io:x"' });
    expect(parseSearch('banana', null)).toMatchObject({ ok: false });
    expect(parseSearch('op:fly', null)).toMatchObject({ ok: false, error: 'not an op: "op:fly"' });
    expect(parseSearch('io', null)).toMatchObject({ ok: false, error: '"io" needs a value' });
    expect(parseSearch('colour:red', null)).toMatchObject({ ok: false });
  });
});
