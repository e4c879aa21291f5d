import { EventKind, NO_THREAD, RECORD_WORDS, WinError } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { randomRecords, rng } from './randomTrace.test-util.ts';
import { SESSION_KINDS } from './flags.ts';
import { NONE } from './lanes.ts';
import { computeRangeStats, percentiles, type OpRow } from './rangeStats.ts';
import { WebTrace } from './webTrace.ts';

/** Naive model: objects and linear scans over the records of the range. */
function naive(t: WebTrace, startNs: number, endNs: number, tids: number[] | null) {
  const w = t.words;
  const on = (tid: number) => tids === null || tids.includes(tid);
  const ops = new Map<string, number>();
  const add = (key: string) => ops.set(key, (ops.get(key) ?? 0) + 1);
  const bytes = new Map<number, number>();
  const sessions = new Map<bigint, number>();
  const lat: number[] = [];
  const waits: number[] = [];
  let events = 0;
  for (let i = 0; i < t.count; i++) {
    const ts = t.timeAt(i);
    if (ts < startNs || ts > endNs) continue;
    const o = i * RECORD_WORDS;
    const kind = w[o]! & 0xff;
    const a = (w[o]! >>> 8) & 0xff;
    const tid = w[o]! >>> 16;
    if (!on(tid) || !t.laneOfTid(tid)) continue;
    events++;
    if (SESSION_KINDS[kind] === 1 && (w[o + 4]! | w[o + 5]!) !== 0) {
      const id = (BigInt(w[o + 5]!) << 32n) | BigInt(w[o + 4]!);
      sessions.set(id, (sessions.get(id) ?? 0) + 1);
    }
    const op = a & 7;
    if (kind === EventKind.GqcsReturn) {
      const ok = (a & 0x10) !== 0;
      const ov = (a & 0x20) !== 0;
      if (ov && ok) {
        add(`dequeued:${op}:ok`);
        bytes.set(op, (bytes.get(op) ?? 0) + w[o + 1]!);
      } else if (ov) add(`dequeued:${op}:${w[o + 6]}`);
      else if (ok) add('dequeued:3:ok');
      else add(`empty:0:${w[o + 6]}`);
      if (ov) {
        const k = t.returns.idx.lowerBound(i);
        const p = t.postedOf(k);
        if (p !== NONE) lat.push(ts - t.timeAt(p));
      }
      // The GqcsEnter this return ends: back on the thread, before any other return.
      for (let j = i - 1; j >= 0; j--) {
        if (w[j * RECORD_WORDS]! >>> 16 !== tid) continue;
        const kj = w[j * RECORD_WORDS]! & 0xff;
        if (kj === EventKind.GqcsEnter) {
          waits.push(ts - t.timeAt(j));
          break;
        }
        if (kj === EventKind.GqcsReturn) break;
      }
    } else if (kind === EventKind.IoPosted) {
      const r = w[o + 6]!;
      add(`posted:${op}:${r === WinError.IoPending ? 'pending' : r === 0 ? 'done' : r}`);
    } else if (kind === EventKind.PacketQueued) {
      add(`queued:${op}:${w[o + 6] === 0 ? 'ok' : w[o + 6]}`);
    } else if (kind === EventKind.Pqcs) {
      add('posted:3:done');
    }
  }
  return { ops, bytes, sessions, lat, waits, events };
}

function opKey(r: OpRow): string {
  return `${r.what}:${r.op}:${r.result}`;
}

function stats(a: number[]) {
  const s = [...a].sort((x, y) => x - y);
  return s.length === 0
    ? null
    : {
        count: s.length,
        p50Ns: s[Math.floor(0.5 * s.length)],
        p90Ns: s[Math.floor(0.9 * s.length)],
        maxNs: s.at(-1),
      };
}

describe('computeRangeStats', () => {
  const t = WebTrace.from(randomRecords(11, 6000));

  it('counts, sums and measures exactly what a scan of the range finds, for random ranges and threads', () => {
    const r = rng(5);
    const tidsAll = t.lanes.map((l) => l.tid);
    for (let n = 0; n < 40; n++) {
      const a = t.startNs + r() * (t.endNs - t.startNs);
      const b = a + r() * (t.endNs - a);
      const tids =
        n % 3 === 0 ? null : tidsAll.filter(() => r() < 0.5).concat(n % 2 ? [NO_THREAD] : []);
      const got = computeRangeStats(t, { startNs: a, endNs: b, tids });
      const want = naive(t, a, b, tids);
      expect(got.events).toBe(want.events);
      expect(new Map(got.ops.map((o) => [opKey(o), o.count]))).toEqual(want.ops);
      expect(got.bytesByOp).toEqual(want.bytes);
      expect(got.sessionCount).toBe(want.sessions.size);
      for (const s of got.sessions) expect(s.events).toBe(want.sessions.get(s.id));
      expect(got.latency && { ...got.latency, meanNs: 0, p99Ns: 0 }).toEqual(
        want.lat.length ? { ...stats(want.lat), meanNs: 0, p99Ns: 0 } : null,
      );
      expect(got.gqcsWait?.count ?? 0).toBe(want.waits.length);
      expect(got.gqcsWait?.maxNs).toBe(stats(want.waits)?.maxNs);
    }
  });

  it('finds the most packets queued at once, starting from the depth in force', () => {
    const r = rng(9);
    const q = t.queueDepth;
    for (let n = 0; n < 60; n++) {
      const a = t.startNs + r() * (t.endNs - t.startNs);
      const b = a + r() * r() * (t.endNs - a);
      const got = computeRangeStats(t, { startNs: a, endNs: b, tids: null });
      const i0 = t.lowerBoundTime(a);
      const i1 = t.upperBoundTime(b);
      const k0 = q.idx.lowerBound(i0);
      let max = q.valueAfter(t.words, k0 - 1);
      expect(got.queueAtStart).toBe(max);
      for (let k = k0; k < q.length && q.idx.get(k) < i1; k++) {
        max = Math.max(max, q.valueAfter(t.words, k));
      }
      expect(got.queueMax).toBe(max);
    }
  });

  it("times each chosen thread's running, waiting and blocked time within the range", () => {
    const a = t.startNs + (t.endNs - t.startNs) * 0.3;
    const b = t.startNs + (t.endNs - t.startNs) * 0.6;
    const tid = t.lanes.find((l) => l.states.length > 0)!.tid;
    const got = computeRangeStats(t, { startNs: a, endNs: b, tids: [tid] });
    expect(got.threads.map((x) => x.tid)).toEqual([tid]);
    const x = got.threads[0]!;
    const lane = t.laneOfTid(tid)!;
    const before = new Float64Array(3);
    const after = new Float64Array(3);
    t.stateTimeBefore(lane, a, before);
    t.stateTimeBefore(lane, b, after);
    expect([x.waitingNs, x.runningNs, x.blockedNs]).toEqual([
      after[0]! - before[0]!,
      after[1]! - before[1]!,
      after[2]! - before[2]!,
    ]);
    expect(x.waitingNs + x.runningNs + x.blockedNs).toBeLessThanOrEqual(b - a + 1e-6);
  });

  it('gives empty numbers for a range with no events', () => {
    const got = computeRangeStats(t, { startNs: t.endNs + 10, endNs: t.endNs + 20, tids: null });
    expect(got.events).toBe(0);
    expect(got.ops).toEqual([]);
    expect(got.latency).toBeNull();
    expect(got.sessions).toEqual([]);
  });

  it('takes percentiles by rank', () => {
    const a = Float64Array.from([5, 1, 4, 2, 3, 10, 9, 8, 7, 6]);
    expect(percentiles(a, 10)).toEqual({
      count: 10,
      meanNs: 5.5,
      p50Ns: 6,
      p90Ns: 10,
      p99Ns: 10,
      maxNs: 10,
    });
    expect(percentiles(a, 0)).toBeNull();
  });

  it('selects the same percentiles as a sort would, for random samples with repeats', () => {
    const r = rng(3);
    for (let n = 1; n < 400; n += 7) {
      const a = new Float64Array(n);
      for (let j = 0; j < n; j++) a[j] = Math.floor(r() * (n / 3 + 1)) * 10;
      const sorted = [...a].sort((x, y) => x - y);
      const at = (p: number) => sorted[Math.min(n - 1, Math.floor(p * n))];
      const got = percentiles(a, n)!;
      expect([got.p50Ns, got.p90Ns, got.p99Ns, got.maxNs]).toEqual([
        at(0.5),
        at(0.9),
        at(0.99),
        sorted[n - 1],
      ]);
    }
  });
});
