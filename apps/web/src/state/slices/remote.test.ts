// The windowed model (issue 15 §2) against a naive model: a seeded synthetic
// trace served by a fake trace query API (routes and answers as FORMAT.md §12
// gives them: meta, window, next, at, sessions, findings), opened under a
// budget that forces windows of 8 K events. Every move (seek anywhere, step by
// event, thread and session across window edges, go to a finding, first and
// last) must land where a naive scan of the records says, with the window's
// record at the cursor equal to the trace's.
//
// The fake's window "bracket" is the whole prefix before the window (the
// records [0, from)), not a folded Snapshot bracket: the state it gives is the
// same (the real bracket is checked against the whole replay on the server,
// tracedb/checkpoints.test.ts), and the index mapping and edge crossing are
// what this test is about.

import { describe, expect, it } from 'vitest';
import { RECORD_WORDS, encodeFrame } from '@iocpscope/protocol';
import { Rng, synthesize } from '@iocpscope/analysis';
import { createAppStore } from '../store.ts';
import { ManualTimers } from '../../connection/fakeSocket.test-util.ts';
import { globalIndexOf } from '../selectors.ts';
import { RAW_CACHE_MAX, windowEventsFor, windowStartFor } from '../remote.ts';

/** Events per window under the test's budget (8 MB). */
const W = 8192;
const SESSION_KINDS = new Set([
  6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 23, 27, 30, 33,
]);

function makeTrace() {
  const t = synthesize({ events: 120_000, seed: 11, sessions: 24, workers: 3, maxEntries: 16 });
  const n = t.length;
  const words = t.words.slice(0, n * RECORD_WORDS);
  const strings = [...t.strings.entries()].filter(([id]) => id !== 0) as Array<[number, string]>;
  return { n, words, strings };
}

const T = makeTrace();
const tid = (g: number): number => T.words[g * 8]! >>> 16;
const sid = (g: number): bigint | null => {
  if (!SESSION_KINDS.has(T.words[g * 8]! & 0xff)) return null;
  const lo = T.words[g * 8 + 4]!;
  const hi = T.words[g * 8 + 5]!;
  return (lo | hi) === 0 ? null : (BigInt(hi) << 32n) | BigInt(lo);
};
const tsOf = (g: number): number =>
  T.words[g * 8 + 2]! + (T.words[g * 8 + 3]! & 0x1fffff) * 2 ** 32;

function json(v: unknown, status = 200): Response {
  return new Response(
    JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x)),
    { status, headers: { 'content-type': 'application/json' } },
  );
}

/** The trace API over T, naive in every answer. */
function fakeApi(requests: string[]) {
  const findings = [
    { g: 1234, rule: 'one-send-in-flight' },
    { g: 93_333, rule: 'iocount-balance' },
  ].map((f) => ({
    rule: f.rule,
    ruleNumber: 4,
    check: 'x',
    title: f.rule,
    severity: 'error',
    subject: { kind: 'thread', tid: tid(f.g) },
    index: f.g,
    tsNs: tsOf(f.g),
    evidence: [f.g - 3, f.g],
    message: 'm',
  }));
  return (async (input: RequestInfo | URL) => {
    const u = new URL(String(input), 'http://test:1');
    requests.push(u.pathname + u.search);
    const q = (k: string): number => Number(u.searchParams.get(k));
    if (u.pathname === '/api/traces/big') {
      return json({
        state: 'ready',
        events: T.n,
        startNs: tsOf(0),
        endNs: tsOf(T.n - 1),
        chunks: 1,
        lanes: [],
        levels: [],
        sessions: 0,
        gaps: [],
        markers: 0,
        checkpoints: { interval: 4096, built: 0, done: true },
        snapshots: 0,
        traceEnd: -1,
        damage: null,
        validBytes: 0,
        totalBytes: 0,
      });
    }
    if (u.pathname === '/api/traces/big/window') {
      const from = q('from');
      const end = Math.min(T.n, from + q('count'));
      const records = T.words.slice(0, end * RECORD_WORDS);
      return new Response(encodeFrame({ seq: 0, records, strings: T.strings }).slice(), {
        headers: { 'x-first-event': String(from), 'x-bracket-records': String(from) },
      });
    }
    if (u.pathname === '/api/traces/big/next') {
      const from = q('from');
      const dir = q('dir');
      const t = u.searchParams.get('tid');
      const s = u.searchParams.get('session');
      for (let g = from + dir; g >= 0 && g < T.n; g += dir) {
        if (t !== null && tid(g) !== Number(t)) continue;
        if (s !== null && sid(g) !== BigInt(s)) continue;
        return json({ event: g });
      }
      return json({ event: dir > 0 ? T.n : -1 });
    }
    if (u.pathname === '/api/traces/big/at') {
      const ns = q('ns');
      let g = 0;
      while (g < T.n && tsOf(g) < ns) g++;
      return json({ event: g });
    }
    if (u.pathname === '/api/traces/big/findings') {
      const from = q('from');
      return json({
        state: 'done',
        walked: T.n,
        events: T.n,
        from,
        total: findings.length,
        findings: findings.slice(from),
      });
    }
    if (u.pathname === '/api/recordings') return json({ recordings: [] });
    return json({ code: 'NOT_FOUND', message: u.pathname }, 404);
  }) as typeof fetch;
}

async function openBig(search = '?budget=8M', bytes = 100 * 2 ** 20) {
  const requests: string[] = [];
  const store = createAppStore({
    timers: new ManualTimers(),
    schedule: (cb) => cb(),
    runTask: (cb) => void setTimeout(cb, 0),
    location: { protocol: 'http:', host: 'test:1', search },
    fetch: fakeApi(requests),
    storage: null,
  });
  await store
    .getState()
    // Over the budget: windowed.
    .actions.openRecording({ id: 'big', name: 'big', bytes, createdAt: 0 });
  const s = store.getState();
  expect(s.remote).not.toBeNull();
  return { store, requests };
}

type Store = Awaited<ReturnType<typeof openBig>>['store'];
const g = (store: Store): number => globalIndexOf(store.getState(), store.getState().cursor);
const settle = async (store: Store): Promise<void> => {
  for (let k = 0; k < 100 && store.getState().seeking !== null; k++) {
    await new Promise((r) => setTimeout(r, 0));
  }
  await new Promise((r) => setTimeout(r, 0));
};

/** The window's record under the cursor is the trace's record g. */
function expectCursorRecord(store: Store, want: number): void {
  const s = store.getState();
  expect(g(store)).toBe(want);
  const local = s.cursor;
  expect(Array.from(s.trace!.words.subarray(local * 8, local * 8 + 8))).toEqual(
    Array.from(T.words.subarray(want * 8, want * 8 + 8)),
  );
}

describe('the windowed model', { timeout: 60_000 }, () => {
  it('sizes windows from the budget and aligns them on half windows', () => {
    expect(windowEventsFor(512 * 2 ** 20)).toBe(8192);
    expect(windowEventsFor(4 * 2 ** 20)).toBe(8192);
    expect(windowEventsFor(3 * 2 ** 20)).toBe(4096);
    expect(windowEventsFor(2 * 2 ** 20)).toBe(4096);
    const w = 4096;
    for (const x of [0, 1, 1023, 1024, 3000, 4096, 10_000, 39_999]) {
      const from = windowStartFor(x, w);
      expect(from % (w / 2)).toBe(0);
      expect(x).toBeGreaterThanOrEqual(from);
      expect(x).toBeLessThan(from + w);
    }
  });

  it('seeks anywhere, and the record at the cursor is the trace’s', async () => {
    const { store } = await openBig();
    expect(store.getState().remote!.windowEvents).toBe(W);
    expect(store.getState().trace!.count).toBeLessThan(T.n);
    const rng = new Rng(3);
    for (let k = 0; k < 25; k++) {
      const want = rng.int(0, T.n - 1);
      await store.getState().actions.seekEvent(want);
      expectCursorRecord(store, want);
    }
  });

  it('keeps at most RAW_CACHE_MAX of raw windows under a large budget, and a revisit fetches nothing', async () => {
    // The default budget (512 MB), a file over it: a quarter of the budget would be 128 MB.
    const { store, requests } = await openBig('', 2 ** 30);
    const r = () => store.getState().remote!;
    expect(r().windowEvents).toBe(W);
    const rng = new Rng(5);
    let biggest = 0;
    for (let k = 0; k < 30; k++) {
      const want = rng.int(0, T.n - 1);
      await store.getState().actions.seekEvent(want);
      expectCursorRecord(store, want);
      biggest = Math.max(biggest, (want + W) * RECORD_WORDS * 4);
    }
    // The fake's windows carry their whole prefix (up to ~4 MB each): 30 of them are far over the cap.
    expect(r().heldBytes).toBeLessThanOrEqual(RAW_CACHE_MAX + biggest + 2 ** 20);
    // The window seeked to last is held: going back to it asks the server nothing.
    const last = store.getState().windowFrom;
    await store.getState().actions.seekEvent(0);
    const before = requests.length;
    await store.getState().actions.seekEvent(last + 1);
    expectCursorRecord(store, last + 1);
    expect(requests.slice(before).filter((u) => u.includes('/window'))).toEqual([]);
  });

  it('steps by event across window edges both ways, first to last', async () => {
    const { store } = await openBig();
    const a = () => store.getState().actions;
    a().jumpToStart();
    await settle(store);
    expectCursorRecord(store, 0);
    // Forward over three window edges, one event at a time around each.
    const froms = new Set<number>([store.getState().windowFrom]);
    for (let edge = 0; edge < 3; edge++) {
      const st = store.getState();
      const last = st.windowFrom + (st.trace!.count - st.windowBracket) - 1;
      await a().seekEvent(last - 2);
      for (let want = last - 1; want <= last + 3; want++) {
        a().step('event', 1);
        await settle(store);
        expectCursorRecord(store, want);
      }
      froms.add(store.getState().windowFrom);
    }
    expect(froms.size).toBeGreaterThanOrEqual(3);
    // Back over one.
    const start = store.getState().windowFrom;
    await a().seekEvent(start + 2);
    for (let want = start + 1; want > start - 5; want--) {
      a().step('event', -1);
      await settle(store);
      expectCursorRecord(store, want);
    }
    a().jumpToEnd();
    await settle(store);
    expectCursorRecord(store, T.n - 1);
    // Past the end stays there.
    a().step('event', 1);
    await settle(store);
    expectCursorRecord(store, T.n - 1);
  });

  it('steps by thread and by session across windows like a scan of the records', async () => {
    const { store } = await openBig();
    const a = () => store.getState().actions;
    // Thread: from event 100, ten steps of its thread, over window edges.
    await a().seekEvent(100);
    const t = tid(100);
    let want = 100;
    for (let k = 0; k < 40; k++) {
      do want++;
      while (tid(want) !== t);
      a().step('thread', 1);
      await settle(store);
      expectCursorRecord(store, want);
    }
    // Session: one with events far apart, followed from its first event.
    const lists = new Map<bigint, number[]>();
    for (let i = 0; i < T.n; i++) {
      const s = sid(i);
      if (s !== null) (lists.get(s) ?? lists.set(s, []).get(s)!).push(i);
    }
    const span = (l: number[]): number => l[l.length - 1]! - l[0]!;
    const [id, list] = [...lists].sort((x, y) => span(y[1]) - span(x[1]))[0]!;
    expect(span(list)).toBeGreaterThan(W);
    a().selectSession(id);
    await a().seekEvent(list[0]!);
    const froms = new Set<number>();
    for (let k = 1; k < list.length; k++) {
      a().step('session', 1);
      await settle(store);
      expectCursorRecord(store, list[k]!);
      froms.add(store.getState().windowFrom);
    }
    expect(froms.size).toBeGreaterThanOrEqual(2);
    a().step('session', -1);
    await settle(store);
    expectCursorRecord(store, list[list.length - 2]!);
  });

  it('goes to a finding far away, and the findings are the server’s, numbered in the whole trace', async () => {
    const { store } = await openBig();
    await settle(store);
    for (let k = 0; k < 50 && store.getState().findings.length < 2; k++) await settle(store);
    const s = store.getState();
    expect(s.findings.map((f) => f.anchor)).toEqual([1234, 93_333]);
    expect(s.findings[1]!.ns).toBe(tsOf(93_333));
    s.actions.goToFinding(s.findings[1]!);
    for (let k = 0; k < 50 && g(store) !== 93_333; k++) await settle(store);
    expectCursorRecord(store, 93_333);
    expect(store.getState().evidence).toEqual([93_330, 93_333]);
    // Anomaly stepping walks the global anchors.
    store.getState().actions.step('anomaly', -1);
    for (let k = 0; k < 50 && g(store) !== 1234; k++) await settle(store);
    expectCursorRecord(store, 1234);
  });

  it('a deep link names the event of the whole trace', async () => {
    const { store } = await openBig();
    await store.getState().actions.seekEvent(90_001);
    expect(store.getState().actions.linkUrl()).toContain('cursor=90001');
  });
});

describe('files over the budget', () => {
  it('are refused with OVER_BUDGET naming the command that serves them, keeping what is open', async () => {
    const store = createAppStore({
      timers: new ManualTimers(),
      schedule: (cb) => cb(),
      runTask: (cb) => void setTimeout(cb, 0),
      location: { protocol: 'http:', host: 'test:1', search: '?budget=8M' },
      fetch: (async () => new Response('{}')) as typeof fetch,
      storage: null,
    });
    const big = new Uint8Array(7 * 2 ** 20);
    await store.getState().actions.loadBytes(big, 'huge run.iocptrace');
    const f = store.getState().loadFailure!;
    expect(f.code).toBe('OVER_BUDGET');
    expect(f.message).toContain("iocpscope open 'huge run.iocptrace'");
    expect(f.message).toContain('8 MB');
    expect(store.getState().trace).toBeNull();
  });
});
