import { describe, expect, it } from 'vitest';
import { EventKind, RECORD_WORDS, kindAt, tidAt, tsAt, writeRecord } from '@iocpscope/protocol';
import { EXIT_HISTORY, LiveState } from './live-state.ts';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Records as [kind, tid, ts] triples, for comparison. */
function triples(w: Uint32Array): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let i = 0; i < w.length / RECORD_WORDS; i++)
    out.push([kindAt(w, i), tidAt(w, i), tsAt(w, i)]);
  return out;
}

describe('LiveState', () => {
  it('matches a naive model of live threads, latest states and the port for random streams', () => {
    for (const seed of [7, 8, 9]) {
      const rnd = mulberry32(seed);
      const state = new LiveState();
      // Naive model: the full event list, scanned on demand.
      const all: Array<[number, number, number]> = [];
      const n = 3000;
      const w = new Uint32Array(n * RECORD_WORDS);
      for (let i = 0; i < n; i++) {
        const r = rnd();
        const tid = Math.floor(rnd() * 6);
        const kind =
          r < 0.1
            ? EventKind.ThreadStart
            : r < 0.15
              ? EventKind.ThreadExit
              : r < 0.5
                ? EventKind.ThreadState
                : r < 0.52
                  ? EventKind.PortCreated
                  : EventKind.GqcsEnter;
        writeRecord(w, i, kind, 0, tid, 0, i, 0, 0, 0, 0);
        all.push([kind, tid, i]);
      }
      // Feed in random slices.
      for (let off = 0; off < n;) {
        const len = 1 + Math.floor(rnd() * 50);
        state.observeRecords(w.subarray(off * RECORD_WORDS, Math.min(n, off + len) * RECORD_WORDS));
        off += len;
      }
      const model = (
        from: number,
        to: number,
        withExits: boolean,
      ): Array<[number, number, number]> => {
        const live = new Map<number, { start: number; state: number }>();
        const exits: Array<{ start: number; exit: number }> = [];
        let port = -1;
        all.forEach(([k, tid], i) => {
          if (k === EventKind.ThreadStart) live.set(tid, { start: i, state: -1 });
          else if (k === EventKind.ThreadState && live.has(tid)) live.get(tid)!.state = i;
          else if (k === EventKind.ThreadExit && live.has(tid)) {
            exits.push({ start: live.get(tid)!.start, exit: i });
            live.delete(tid);
          } else if (k === EventKind.PortCreated) port = i;
        });
        const idx = [port, ...[...live.values()].flatMap((t) => [t.start, t.state])];
        if (withExits) idx.push(...exits.slice(-EXIT_HISTORY).flatMap((e) => [e.start, e.exit]));
        return idx
          .filter((i) => i >= from && i < to)
          .sort((a, b) => a - b)
          .map((i) => all[i]!);
      };
      expect(triples(state.recordsBetween(0, n, false))).toEqual(model(0, n, false));
      expect(triples(state.recordsBetween(1000, 2500, true))).toEqual(model(1000, 2500, true));
      expect(state.eventCount).toBe(n);
    }
  });

  it('counts strings that contradict the table instead of throwing', () => {
    const state = new LiveState();
    state.observeStrings([
      [1, 'a'],
      [2, 'b'],
    ]);
    state.observeStrings([
      [1, 'a'],
      [1, 'not a'],
      [0, 'zero'],
    ]);
    expect(state.strings.get(1)).toBe('a');
    expect(state.rejectedStrings).toBe(2);
  });
});
