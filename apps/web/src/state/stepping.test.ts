import { describe, expect, it } from 'vitest';
import { lowerBound, nextAfter, prevBefore, stepBy, stepInList } from './stepping.ts';

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('stepping over sorted index lists', () => {
  it('agrees with a linear scan for random lists and cursors', () => {
    const rnd = mulberry32(42);
    for (let k = 0; k < 300; k++) {
      const n = Math.floor(rnd() * 40);
      const set = new Set<number>();
      while (set.size < n) set.add(Math.floor(rnd() * 100));
      const arr = [...set].sort((a, b) => a - b);
      // Valid prefix only: extra garbage after `length` must be ignored.
      const list = new Uint32Array([...arr, 7, 3, 999]);
      const l = { list, length: arr.length };
      for (let x = -2; x < 102; x += 1 + Math.floor(rnd() * 3)) {
        const next = arr.find((v) => v > x) ?? -1;
        const prev = [...arr].reverse().find((v) => v < x) ?? -1;
        const lb = arr.findIndex((v) => v >= x);
        if (nextAfter(l, x) !== next || prevBefore(l, x) !== prev) {
          expect({ arr, x, next: nextAfter(l, x), prev: prevBefore(l, x) }).toEqual({
            arr,
            x,
            next,
            prev,
          });
        }
        expect(lowerBound(l, x)).toBe(lb < 0 ? arr.length : lb);
      }
    }
  });

  it('clamps single steps to the trace and enters an unset cursor at the right end', () => {
    expect(stepBy(-1, 1, 10)).toBe(0);
    expect(stepBy(-1, -1, 10)).toBe(9);
    expect(stepBy(9, 1, 10)).toBe(9);
    expect(stepBy(0, -5, 10)).toBe(0);
    expect(stepBy(3, 100, 10)).toBe(9);
    expect(stepBy(3, 1, 0)).toBe(-1);
  });

  it('stays put when a list has nothing further in that direction', () => {
    const l = { list: [2, 5, 9], length: 3 };
    expect(stepInList(l, 5, 1)).toBe(9);
    expect(stepInList(l, 9, 1)).toBe(9);
    expect(stepInList(l, 2, -1)).toBe(2);
    expect(stepInList(undefined, 4, 1)).toBe(4);
  });
});
