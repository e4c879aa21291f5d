import {
  BlockReason,
  EventKind,
  NO_THREAD,
  Op,
  RECORD_WORDS,
  ThreadStateValue,
  tsAt,
  writeRecord,
} from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { randomRecords, rng } from './randomTrace.test-util.ts';
import {
  BitIndexColumn,
  DeltaIndexColumn,
  INDEX_BLOCK,
  IndexColumn,
  NONE,
  TraceError,
  WebTrace,
} from './index.ts';
import { LATE_POST_WINDOW } from './ioMatch.ts';

// ---- the naive model: objects and linear scans, written from the rules ------

interface NaiveThread {
  state: number;
  reason: number;
  port: boolean;
  entries: { i: number; state: number }[];
}

interface Naive {
  ts: number[];
  threads: Map<number, NaiveThread>;
  running: { i: number; v: number }[];
  queue: { i: number; v: number }[];
  flows: { deq: number; posted: number; queued: number }[];
}

function naiveModel(w: Uint32Array, n: number): Naive {
  const ts: number[] = [];
  const threads = new Map<number, NaiveThread>();
  const running: { i: number; v: number }[] = [];
  const queue: { i: number; v: number }[] = [];
  const flows: { deq: number; posted: number; queued: number }[] = [];
  const posted = new Map<string, number>();
  const queued = new Map<string, number>();
  const early = new Map<string, number>();
  let run = 0;
  let depth = 0;
  let last = -Infinity;
  for (let i = 0; i < n; i++) {
    const o = i * RECORD_WORDS;
    const kind = w[o]! & 0xff;
    const a = (w[o]! >>> 8) & 0xff;
    const tid = w[o]! >>> 16;
    const t = Math.max(last, tsAt(w, i));
    last = t;
    ts.push(t);
    let th = threads.get(tid);
    if (!th) threads.set(tid, (th = { state: -1, reason: 0, port: false, entries: [] }));
    const key = `${w[o + 7]}:${w[o + 4]}:${w[o + 5]}`;
    const set = (state: number, reason: number, gqcs: boolean, always: boolean): void => {
      const was = th.port && th.state === ThreadStateValue.Running;
      if (gqcs) th.port = true;
      if (always || state !== th.state || reason !== th.reason) th.entries.push({ i, state });
      th.state = state;
      th.reason = reason;
      const is = th.port && state === ThreadStateValue.Running;
      if (is !== was) running.push({ i, v: (run += is ? 1 : -1) });
    };
    switch (kind) {
      case EventKind.ThreadStart:
        set(ThreadStateValue.Running, 0, false, false);
        break;
      case EventKind.ThreadExit:
        set(ThreadStateValue.Exited, 0, false, false);
        break;
      case EventKind.ThreadState: {
        const reason = a === ThreadStateValue.Blocked ? w[o + 1]! : 0;
        // Blocked in accept is drawn (and timed) as waiting for work.
        const drawn = a === ThreadStateValue.Blocked && reason === BlockReason.Accept ? 0 : a;
        set(drawn, reason, false, false);
        break;
      }
      case EventKind.GqcsEnter:
        set(ThreadStateValue.Waiting, 0, true, false);
        break;
      case EventKind.LockWait:
        set(ThreadStateValue.Blocked, BlockReason.Lock, false, false);
        break;
      case EventKind.LockAcquire:
        if (th.state === ThreadStateValue.Blocked && th.reason === BlockReason.Lock) {
          set(ThreadStateValue.Running, 0, false, false);
        }
        break;
      case EventKind.GqcsReturn: {
        set(ThreadStateValue.Running, 0, true, true);
        const ok = (a & 0x10) !== 0;
        const ov = (a & 0x20) !== 0;
        if (ov) {
          flows.push({ deq: i, posted: posted.get(key) ?? NONE, queued: queued.get(key) ?? NONE });
          if (!posted.has(key)) early.set(key, i);
          posted.delete(key);
          queued.delete(key);
        } else flows.push({ deq: i, posted: NONE, queued: NONE });
        if ((ok || ov) && depth > 0) queue.push({ i, v: --depth });
        break;
      }
      case EventKind.PacketQueued:
        queued.set(key, i);
        if ((a & 0x0f) !== Op.Post) queue.push({ i, v: ++depth });
        break;
      case EventKind.Pqcs:
        if (a & 0x20) posted.set(key, i);
        queue.push({ i, v: ++depth });
        break;
      case EventKind.IoPosted:
        if (w[o + 6] === 0 || w[o + 6] === 997) {
          // A post recorded after its dequeue (within the window) belongs to that dequeue.
          const d = early.get(key);
          early.delete(key);
          if (d === undefined || i - d > LATE_POST_WINDOW) posted.set(key, i);
        }
        break;
    }
  }
  return { ts, threads, running, queue, flows };
}

function build(w: Uint32Array, chunks: () => number): WebTrace {
  const t = new WebTrace();
  const n = w.length / RECORD_WORDS;
  for (let i = 0; i < n;) {
    const k = Math.min(n - i, chunks());
    t.append(w.slice(i * RECORD_WORDS, (i + k) * RECORD_WORDS));
    i += k;
  }
  return t;
}

const N = 2000;

describe('WebTrace', () => {
  it('indexes states, marks, counters and flows exactly as the naive model, in any chunking', () => {
    for (const seed of [1, 2, 3]) {
      const w = randomRecords(seed, N, seed === 3);
      const m = naiveModel(w, N);
      const r = rng(seed * 7);
      // Trimmed half-way (the pending-I/O tables are compacted), then appended to.
      const resumed = WebTrace.from(w.slice(0, (N / 2) * RECORD_WORDS));
      resumed.append(w.slice((N / 2) * RECORD_WORDS));
      const withSlack = new Uint32Array((N + 5) * RECORD_WORDS);
      withSlack.set(w);
      const traces = [
        WebTrace.from(w),
        build(w, () => 1 + Math.floor(r() * 300)),
        WebTrace.fromOwned(w.slice(), N),
        WebTrace.fromOwned(withSlack, N),
        resumed,
      ];
      for (const t of traces) {
        expect(t.count).toBe(N);
        expect(t.endNs).toBe(m.ts[N - 1]);
        expect(Array.from({ length: N }, (_, i) => t.timeAt(i))).toEqual(m.ts);
        for (const [tid, th] of m.threads) {
          const lane = t.laneOfTid(tid)!;
          expect(lane).toBeDefined();
          expect(Array.from(lane.states.idx.toArray())).toEqual(th.entries.map((e) => e.i));
        }
        expect(Array.from(t.running.idx.toArray())).toEqual(m.running.map((e) => e.i));
        expect(Array.from(t.queueDepth.idx.toArray())).toEqual(m.queue.map((e) => e.i));
        const runVals = m.running.map((_, k) => t.running.valueAfter(t.words, k));
        expect(runVals).toEqual(m.running.map((e) => e.v));
        const queueVals = m.queue.map((_, k) => t.queueDepth.valueAfter(t.words, k));
        expect(queueVals).toEqual(m.queue.map((e) => e.v));
        expect(Array.from(t.returns.idx.toArray())).toEqual(m.flows.map((f) => f.deq));
        expect(Array.from({ length: t.returns.length }, (_, k) => t.postedOf(k))).toEqual(
          m.flows.map((f) => f.posted),
        );
        expect(Array.from({ length: t.returns.length }, (_, k) => t.queuedOf(k))).toEqual(
          m.flows.map((f) => f.queued),
        );
      }
    }
  });

  it('takes a post recorded just after its dequeue out of matching, but not one a window later', () => {
    const n = LATE_POST_WINDOW + 20;
    const w = new Uint32Array(n * RECORD_WORDS);
    const ov = 0x10 | 0x20; // success, with an overlapped
    writeRecord(w, 0, EventKind.ThreadStart, 1, 1, 0, 0, 0, 0, 0, 0);
    for (let i = 1; i < n; i++) writeRecord(w, i, EventKind.Marker, 0, 1, 0, i, 0, 0, 0, 0);
    // io 7 of session 5: dequeued (1), then its post is recorded (2); a second
    // dequeue of io 7 (3) must not be matched to that post.
    writeRecord(w, 1, EventKind.GqcsReturn, ov | Op.Recv, 1, 0, 1, 5, 0, 0, 7);
    writeRecord(w, 2, EventKind.IoPosted, Op.Recv, 1, 0, 2, 5, 0, 997, 7);
    writeRecord(w, 3, EventKind.GqcsReturn, ov | Op.Recv, 1, 0, 3, 5, 0, 0, 7);
    // io 8: dequeued (4) with no post; a post of io 8 long after (n-3) is a new I/O.
    writeRecord(w, 4, EventKind.GqcsReturn, ov | Op.Recv, 1, 0, 4, 5, 0, 0, 8);
    writeRecord(w, n - 3, EventKind.IoPosted, Op.Recv, 1, 0, n - 3, 5, 0, 997, 8);
    writeRecord(w, n - 2, EventKind.GqcsReturn, ov | Op.Recv, 1, 0, n - 2, 5, 0, 0, 8);
    const t = WebTrace.from(w);
    expect(Array.from(t.returns.idx.toArray())).toEqual([1, 3, 4, n - 2]);
    expect(Array.from({ length: t.returns.length }, (_, k) => t.postedOf(k))).toEqual([
      NONE,
      NONE,
      NONE,
      n - 3,
    ]);
    expect(naiveModel(w, n).flows.map((f) => f.posted)).toEqual([NONE, NONE, NONE, n - 3]);
  });

  it('lists gaps and user markers in order', () => {
    const w = randomRecords(6, N);
    const t = WebTrace.from(w);
    const of = (kind: number): number[] => {
      const out: number[] = [];
      for (let i = 0; i < N; i++) if ((w[i * RECORD_WORDS]! & 0xff) === kind) out.push(i);
      return out;
    };
    expect(Array.from(t.gaps.view())).toEqual(of(EventKind.Gap));
    expect(Array.from(t.markers.view())).toEqual(of(EventKind.Marker));
    expect(t.markers.length).toBeGreaterThan(0);
  });

  it('counts and clamps timestamps that go back in time', () => {
    const w = randomRecords(3, N, true);
    const t = WebTrace.from(w);
    expect(t.clampedTimestamps).toBeGreaterThan(0);
    let monotonic = true;
    for (let i = 1; i < N; i++) if (t.timeAt(i) < t.timeAt(i - 1)) monotonic = false;
    expect(monotonic).toBe(true);
  });

  it('finds the event at a time, the next on a thread and the next for a session like a linear scan', () => {
    const w = randomRecords(5, N);
    const t = WebTrace.from(w);
    const r = rng(11);
    for (let q = 0; q < 300; q++) {
      const ns = t.startNs - 10 + r() * (t.endNs - t.startNs + 20);
      let want = 0;
      for (let i = 0; i < N; i++) if (t.timeAt(i) <= ns) want = i;
      expect(t.eventIndexAtTime(ns)).toBe(want);

      const i = Math.floor(r() * N);
      const tid = t.tidAt(i);
      let next = -1;
      for (let j = i + 1; j < N; j++)
        if (t.tidAt(j) === tid) {
          next = j;
          break;
        }
      let prev = -1;
      for (let j = i - 1; j >= 0; j--)
        if (t.tidAt(j) === tid) {
          prev = j;
          break;
        }
      expect(t.nextOnThread(i, 1)).toBe(next);
      expect(t.nextOnThread(i, -1)).toBe(prev);
    }
    for (const [lo, hi] of [
      [1, 0],
      [7, 0x00300000],
      [0xffffffff, 0xffffffff],
    ] as const) {
      const id = (BigInt(hi) << 32n) | BigInt(lo);
      const want: number[] = [];
      for (let i = 0; i < N; i++) {
        const o = i * RECORD_WORDS;
        const k = w[o]! & 0xff;
        const carries =
          k >= EventKind.GqcsReturn &&
          k !== EventKind.Gap &&
          !(k === EventKind.GqcsReturn && !(w[o]! & 0x2000));
        if (carries && w[o + 4] === lo && w[o + 5] === hi) want.push(i);
      }
      expect(Array.from(t.sessionEvents(id))).toEqual(want);
      const row = t.sessions.find(lo, hi);
      expect(t.sessions.events.data[row]).toBe(want.length);
      expect(t.sessions.id(row)).toBe(id);
      expect(t.nextForSession(want[3]!, id, 1)).toBe(want[4]);
      expect(t.nextForSession(want[3]!, id, -1)).toBe(want[2]);
      expect(t.nextForSession(want[want.length - 1]!, id, 1)).toBe(-1);
    }
  });

  it('keeps cached session and thread lists current as events are appended', () => {
    const w = randomRecords(8, N);
    const t = new WebTrace();
    t.append(w.slice(0, 1000 * RECORD_WORDS));
    const before = t.sessionEvents(1n).length;
    const lane = t.laneOfTid(2)!;
    const threadBefore = t.threadEvents(lane).length;
    t.append(w.slice(1000 * RECORD_WORDS));
    const full = WebTrace.from(w);
    expect(Array.from(t.sessionEvents(1n))).toEqual(Array.from(full.sessionEvents(1n)));
    expect(t.sessionEvents(1n).length).toBeGreaterThan(before);
    const all: number[] = [];
    for (let i = 0; i < N; i++) if (t.tidAt(i) === 2) all.push(i);
    expect(Array.from(t.threadEvents(lane))).toEqual(all);
    expect(all.length).toBeGreaterThan(threadBefore);
  });

  it('measures time spent in each state like integrating the naive state intervals', () => {
    const w = randomRecords(9, N);
    const t = WebTrace.from(w);
    const m = naiveModel(w, N);
    const out = new Float64Array(3);
    const r = rng(3);
    for (const [tid, th] of m.threads) {
      const lane = t.laneOfTid(tid)!;
      for (let q = 0; q < 40; q++) {
        const at = t.startNs + r() * (t.endNs - t.startNs);
        const want = [0, 0, 0];
        for (let k = 0; k < th.entries.length; k++) {
          const e = th.entries[k]!;
          const s = m.ts[e.i]!;
          const end = Math.min(
            at,
            k + 1 < th.entries.length ? m.ts[th.entries[k + 1]!.i]! : t.endNs,
          );
          if (s < at && e.state < 3 && end > s) want[e.state]! += end - s;
        }
        t.stateTimeBefore(lane, at, out);
        for (let s = 0; s < 3; s++) expect(out[s]).toBeCloseTo(want[s]!, 3);
      }
    }
  });

  it('orders lanes accept, kernel, workers, other, main and names them from the string table', () => {
    const w = new Uint32Array(6 * RECORD_WORDS);
    writeRecord(w, 0, EventKind.ThreadStart, 0, 0, 11, 0, 0, 0, 0, 0); // main
    writeRecord(w, 1, EventKind.ThreadStart, 1, 3, 12, 1, 0, 0, 0, 0); // worker
    writeRecord(w, 2, EventKind.ThreadStart, 2, 5, 13, 2, 0, 0, 0, 0); // accept
    writeRecord(w, 3, EventKind.ThreadStart, 1, 2, 0, 3, 0, 0, 0, 0); // worker, no name
    writeRecord(w, 4, EventKind.PacketQueued, Op.Recv, NO_THREAD, 1, 4, 1, 0, 0, 1);
    writeRecord(
      w,
      5,
      EventKind.ThreadState,
      ThreadStateValue.Blocked,
      3,
      BlockReason.Sleep,
      5,
      0,
      0,
      0,
      0,
    );
    const names = new Map([
      [11, 'main'],
      [12, 'worker-b'],
      [13, 'acceptor'],
    ]);
    const t = WebTrace.from(w, names);
    expect(t.lanes.map((l) => l.name)).toEqual([
      'acceptor',
      'kernel',
      'worker 2',
      'worker-b',
      'main',
    ]);
    expect(t.lanes[1]!.isKernel).toBe(true);
  });

  it('orders workers by the number in their name, not by thread index (stable: accept, kernel, workers)', () => {
    const w = new Uint32Array(5 * RECORD_WORDS);
    writeRecord(w, 0, EventKind.ThreadStart, 1, 1, 21, 0, 0, 0, 0, 0); // worker 10 at tid 1
    writeRecord(w, 1, EventKind.ThreadStart, 1, 2, 22, 1, 0, 0, 0, 0); // worker 2 at tid 2
    writeRecord(w, 2, EventKind.ThreadStart, 1, 3, 23, 2, 0, 0, 0, 0); // worker 1 at tid 3
    writeRecord(w, 3, EventKind.ThreadStart, 3, 4, 24, 3, 0, 0, 0, 0); // kernel
    writeRecord(w, 4, EventKind.ThreadStart, 2, 5, 25, 4, 0, 0, 0, 0); // accept
    const names = new Map([
      [21, 'worker 10'],
      [22, 'worker 2'],
      [23, 'worker 1'],
      [24, 'kernel'],
      [25, 'accept'],
    ]);
    expect(WebTrace.from(w, names).lanes.map((l) => l.name)).toEqual([
      'accept',
      'kernel',
      'worker 1',
      'worker 2',
      'worker 10',
    ]);
  });

  it('draws a thread blocked in accept as waiting, and times it so', () => {
    const w = new Uint32Array(3 * RECORD_WORDS);
    writeRecord(w, 0, EventKind.ThreadStart, 2, 1, 0, 0, 0, 0, 0, 0);
    writeRecord(
      w,
      1,
      EventKind.ThreadState,
      ThreadStateValue.Blocked,
      1,
      BlockReason.Accept,
      100,
      0,
      0,
      0,
      0,
    );
    writeRecord(w, 2, EventKind.ThreadState, ThreadStateValue.Running, 1, 0, 1100, 0, 0, 0, 0);
    const t = WebTrace.from(w);
    const out = new Float64Array(3);
    t.stateTimeBefore(t.lanes[0]!, 1100, out);
    expect([...out]).toEqual([1000, 100, 0]);
  });

  it('rejects records that are not whole 8-word records with a coded error', () => {
    const t = new WebTrace();
    try {
      t.append(new Uint32Array(9));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TraceError);
      expect((e as TraceError).code).toBe('BAD_RECORDS');
    }
    expect(t.count).toBe(0);
    expect(() => WebTrace.fromOwned(new Uint32Array(8), 2)).toThrow(TraceError);
  });

  it('takes an owned buffer with a little spare room as a view, and copies one with a lot', () => {
    const n = 1000;
    const w = randomRecords(5, n);
    const small = new Uint32Array((n + 10) * RECORD_WORDS);
    small.set(w);
    const a = WebTrace.fromOwned(small, n);
    expect(a.words.buffer).toBe(small.buffer);
    expect(a.words.length).toBe(n * RECORD_WORDS);
    expect(a.bytes).toBeGreaterThanOrEqual(small.byteLength);
    const big = new Uint32Array(2 * n * RECORD_WORDS);
    big.set(w);
    const b = WebTrace.fromOwned(big, n);
    expect(b.words.buffer).not.toBe(big.buffer);
    expect(b.words.length).toBe(n * RECORD_WORDS);
    expect(Array.from(b.words)).toEqual(Array.from(a.words));
  });

  it('drops all spare capacity when built from complete records', () => {
    const n = 20_000;
    const t = WebTrace.from(randomRecords(4, n));
    expect(t.words.length).toBe(n * RECORD_WORDS);
    const cols = [t.returns.idx, t.queueDepth.idx, t.running.idx];
    for (const l of t.lanesById) cols.push(l.states.idx, l.marks.idx);
    for (const c of cols) {
      if (c instanceof IndexColumn) expect(c.lo.length).toBe(c.length);
      else if (c instanceof BitIndexColumn) {
        const last = c.length > 0 ? c.get(c.length - 1) : -1;
        expect(c.bits.length).toBe(last < 0 ? 0 : (last >>> 5) + 1);
      } else if (c instanceof DeltaIndexColumn) expect(c.step.length).toBe(c.length);
      else throw new Error('unknown index column');
      expect((c as IndexColumn | BitIndexColumn | DeltaIndexColumn).base.length).toBe(
        Math.ceil(c.length / INDEX_BLOCK),
      );
    }
    for (const c of [t.retPosted, t.retQueued]) expect(c.back.length).toBe(c.length);
    expect(t.gaps.data.length).toBe(t.gaps.length);
    // Everything but the records is index: a few bytes per event on this marks-heavy mix.
    expect(t.bytes).toBeGreaterThan(n * 32);
  });
});
