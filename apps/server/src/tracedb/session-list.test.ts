import { describe, expect, it } from 'vitest';
import type { SessionInfo } from './builder.ts';
import { SessionList } from './session-list.ts';

/** Seeded sessions with ids that share low or high words (the hash must tell them apart). */
function sessions(n: number, seed = 7): SessionInfo[] {
  let x = seed;
  const rnd = (m: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % m;
  };
  const out: SessionInfo[] = [];
  for (let k = 0; k < n; k++) {
    // a fifth share their low word, a third (of the rest) their high word
    const id =
      k % 5 === 0
        ? (BigInt(k + 2) << 32n) | 0x100n
        : k % 3 === 0
          ? (1n << 32n) | BigInt(k)
          : (BigInt(rnd(0xffffffff)) << 32n) | BigInt((rnd(0xffffffff) + k) >>> 0);
    const first = rnd(1_000_000);
    const runs: number[] = [];
    for (let r = rnd(4); r >= 0; r--) runs.push(rnd(50), rnd(50) + 50);
    out.push({
      id,
      firstEvent: first,
      lastEvent: first + rnd(1000),
      createdEvent: k % 4 === 0 ? -1 : first,
      releasedEvent: k % 6 === 0 ? -1 : first + 10,
      disconnectEvent: -1,
      peerStr: rnd(100),
      events: rnd(5000),
      runs,
    });
  }
  return out;
}

describe('SessionList: the index sessions in columns', () => {
  it('gives back every session as it was given, by row and by id', () => {
    const want = sessions(5000);
    const list = SessionList.from(want);
    expect(list.length).toBe(want.length);
    want.forEach((s, k) => {
      expect(list.at(k)).toEqual(s);
      expect(list.rowOf(s.id)).toBe(k);
    });
    expect([...list]).toEqual(want);
    expect(list.slice(10, 20)).toEqual(want.slice(10, 20));
    expect(list.slice(4990, 6000)).toEqual(want.slice(4990, 6000));
    expect(list.slice(-5, 3)).toEqual(want.slice(0, 3));
  });

  it('answers -1 and undefined for what it does not hold', () => {
    const want = sessions(300);
    const list = SessionList.from(want);
    const held = new Set(want.map((s) => s.id));
    for (const s of want) {
      for (const probe of [s.id + 1n, s.id ^ (1n << 40n), s.id & 0xffffffffn]) {
        if (!held.has(probe)) expect(list.rowOf(probe)).toBe(-1);
      }
    }
    expect(list.rowOf(-1n)).toBe(-1);
    expect(list.rowOf(1n << 64n)).toBe(-1);
    expect(list.at(-1)).toBeUndefined();
    expect(list.at(300)).toBeUndefined();
    expect(list.at(1.5)).toBeUndefined();
    expect(SessionList.from([]).rowOf(5n)).toBe(-1);
  });

  it('refuses columns that disagree on the number of sessions', () => {
    const l = SessionList.from(sessions(10));
    expect(
      () => new SessionList(l.lo, l.hi.subarray(1), l.nums, l.peer, l.events, l.runsAt, l.runs),
    ).toThrow(RangeError);
    expect(
      () => new SessionList(l.lo, l.hi, l.nums, l.peer, l.events, l.runsAt, l.runs.subarray(0, 1)),
    ).toThrow(RangeError);
  });
});
