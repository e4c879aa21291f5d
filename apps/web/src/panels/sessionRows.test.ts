import { describe, expect, it } from 'vitest';
import { WebTrace } from '../trace/index.ts';
import { StringTable } from '@iocpscope/protocol';
import { createTraceAnalysis } from '../state/analysis.ts';
import { syntheticEchoTrace } from '../state/synthetic.test-util.ts';
import {
  defaultSessionSort,
  filterSessionRows,
  nextSessionSort,
  sessionRowAt,
  sortSessionRows,
  type SessionSort,
  type SessionSortKey,
} from './sessionRows.ts';
import { rng } from '../trace/randomTrace.test-util.ts';

function load(opts: Parameters<typeof syntheticEchoTrace>[0]) {
  const t = syntheticEchoTrace(opts);
  const strings = new StringTable();
  for (const [id, s] of t.strings) strings.set(id, s);
  const trace = WebTrace.from(t.records, strings);
  return { trace, analysis: createTraceAnalysis(trace) };
}

describe('sessionRowAt', () => {
  const { trace, analysis } = load({
    sessions: 5,
    workers: 2,
    rounds: 2,
    seed: 3,
    doubleDecrement: [2],
  });
  const t = trace.sessions;

  it('shows a session as not yet existing before its first event', () => {
    const first = t.firstIdx.data[3]!;
    const v = sessionRowAt(trace, 3, first - 1, analysis.stateAt(first - 1));
    expect(v.phase).toBe('future');
    expect(v.ioCount).toBeNull();
  });

  it('shows the replayed IOCount while the session lives, and 0 once it is released', () => {
    const created = t.createdIdx.data[0]!;
    const live = sessionRowAt(trace, 0, created + 3, analysis.stateAt(created + 3));
    expect(live.phase).toBe('live');
    expect(live.ioCount).toBeGreaterThan(0);
    expect(live.peer).toMatch(/^10\.0\.0\.0:/);
    const rel = t.releasedIdx.data[0]!;
    const after = sessionRowAt(trace, 0, rel, analysis.stateAt(rel));
    expect(after.phase).toBe('released');
    expect(after.ioCount).toBe(0);
  });

  it('shows a negative IOCount for the session that decremented twice', () => {
    const last = trace.count - 1;
    const v = sessionRowAt(trace, 2, last, analysis.stateAt(last));
    expect(v.ioCount).toBeLessThan(0);
  });
});

describe('filterSessionRows', () => {
  const { trace } = load({ sessions: 30, workers: 2, rounds: 1, seed: 4 });

  it('matches hex ids with or without 0x, and peers', () => {
    expect(Array.from(filterSessionRows(trace, '0x10000001e', false))).toEqual([29]);
    expect(Array.from(filterSessionRows(trace, '10000001e', false))).toEqual([29]);
    expect(filterSessionRows(trace, '10.0.0.1', false).length).toBe(11); // .1 and .10-.19
    expect(filterSessionRows(trace, '', false).length).toBe(30);
  });

  it('hides sessions released by the end of the trace when asked', () => {
    expect(filterSessionRows(trace, '', true).length).toBe(0);
  });
});

describe('sortSessionRows', () => {
  const { trace, analysis } = load({
    sessions: 40,
    workers: 3,
    rounds: 2,
    seed: 9,
    noRelease: [5, 17],
  });
  const all = filterSessionRows(trace, '', false);

  /** Naive model: keys computed plainly, a comparator sort, ties newest first, desc reverses. */
  function naive(rows: number[], sort: SessionSort, cursor: number): number[] {
    const st = cursor >= 0 ? analysis.stateAt(cursor) : null;
    const key = (r: number): number | string => {
      const t = trace.sessions;
      switch (sort.key) {
        case 'seen':
          return r;
        case 'state': {
          if (cursor >= 0 && t.firstIdx.data[r]! > cursor) return 2;
          const rel = t.releasedIdx.data[r]!;
          return rel !== 0xffffffff && (cursor < 0 || rel <= cursor) ? 1 : 0;
        }
        case 'packets':
          return -sessionRowAt(trace, r, cursor, st).packets;
        case 'iocount':
          return -(sessionRowAt(trace, r, cursor, st).ioCount ?? -Infinity);
        case 'peer': {
          const ps = t.peerStr.data[r]!;
          return (ps !== 0 && trace.string(ps)) || '';
        }
      }
    };
    const sorted = rows.slice().sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      if (ka < kb) return -1;
      if (ka > kb) return 1;
      return sort.key === 'seen' ? 0 : b - a;
    });
    return sort.desc ? sorted.reverse() : sorted;
  }

  it('orders like a plain comparator sort for every key, direction and cursor', () => {
    const r = rng(77);
    const keys: SessionSortKey[] = ['seen', 'state', 'iocount', 'packets', 'peer'];
    for (let q = 0; q < 12; q++) {
      const cursor = q === 0 ? trace.count - 1 : Math.floor(r() * trace.count);
      const rows =
        q % 3 === 0 ? all : filterSessionRows(trace, q % 3 === 1 ? '10.0.0.1' : '2', false);
      const st = analysis.stateAt(cursor);
      for (const key of keys) {
        for (const desc of [false, true]) {
          const sort = { key, desc };
          const got = Array.from(sortSessionRows(trace, rows, sort, cursor, st));
          expect(got, `${key} ${desc} at ${cursor}`).toEqual(naive(Array.from(rows), sort, cursor));
        }
      }
    }
  });

  it('puts open sessions first, newest first, by default in live mode', () => {
    const end = trace.count - 1;
    const got = Array.from(
      sortSessionRows(trace, all, defaultSessionSort(true), end, analysis.stateAt(end)),
    );
    // Sessions 5 and 17 are never released: they lead, the newer one first.
    expect(got.slice(0, 2)).toEqual([17, 5]);
    expect(got.slice(2)).toEqual(
      Array.from(all)
        .filter((x) => x !== 5 && x !== 17)
        .reverse(),
    );
  });

  it('keeps the order of appearance by default for a recording', () => {
    const got = sortSessionRows(trace, all, defaultSessionSort(false), 0, null);
    expect(Array.from(got)).toEqual(Array.from(all));
  });

  it('reverses on a second click on the same column and starts natural on another', () => {
    const s1 = nextSessionSort({ key: 'state', desc: false }, 'packets');
    expect(s1).toEqual({ key: 'packets', desc: false });
    expect(nextSessionSort(s1, 'packets')).toEqual({ key: 'packets', desc: true });
    expect(nextSessionSort({ key: 'packets', desc: true }, 'packets')).toEqual({
      key: 'packets',
      desc: false,
    });
  });
});
