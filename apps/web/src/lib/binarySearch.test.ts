import { describe, expect, it } from 'vitest';
import { lowerBound, lowerBoundBy, upperBound, upperBoundBy } from './binarySearch.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const naiveLower = (a: ArrayLike<number>, v: number, lo: number, hi: number): number => {
  for (let i = lo; i < hi; i++) if (a[i]! >= v) return i;
  return hi;
};
const naiveUpper = (a: ArrayLike<number>, v: number, lo: number, hi: number): number => {
  for (let i = lo; i < hi; i++) if (a[i]! > v) return i;
  return hi;
};

describe('binary search', () => {
  it('agrees with a linear scan on random sorted arrays with duplicates and sub-ranges', () => {
    const r = rng(42);
    for (let round = 0; round < 120; round++) {
      const n = Math.floor(r() * 40);
      const a = new Uint32Array(n);
      let v = 0;
      for (let i = 0; i < n; i++) a[i] = v += Math.floor(r() * 3);
      const lo = Math.floor(r() * (n + 1));
      const hi = lo + Math.floor(r() * (n - lo + 1));
      for (let q = -1; q <= v + 1; q++) {
        expect(lowerBound(a, q, lo, hi)).toBe(naiveLower(a, q, lo, hi));
        expect(upperBound(a, q, lo, hi)).toBe(naiveUpper(a, q, lo, hi));
        const key = (i: number): number => a[i]!;
        expect(lowerBoundBy(key, q, lo, hi)).toBe(naiveLower(a, q, lo, hi));
        expect(upperBoundBy(key, q, lo, hi)).toBe(naiveUpper(a, q, lo, hi));
      }
    }
  });

  it('searches the whole array by default and handles the empty array', () => {
    expect(lowerBound([1, 3, 5], 4)).toBe(2);
    expect(upperBound([1, 3, 3, 5], 3)).toBe(3);
    expect(lowerBound([], 1)).toBe(0);
  });
});
