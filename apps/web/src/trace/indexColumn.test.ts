import { describe, expect, it } from 'vitest';
import {
  BitIndexColumn,
  DeltaIndexColumn,
  FlowEndColumn,
  INDEX_BLOCK,
  IndexColumn,
} from './indexColumn.ts';
import { NONE } from './lanes.ts';
import { rng } from './randomTrace.test-util.ts';

/** Ascending event indices with gaps from dense (1) to far beyond 16 bits. */
function ascending(seed: number, n: number): number[] {
  const r = rng(seed);
  const out: number[] = [];
  let i = Math.floor(r() * 1000);
  for (let k = 0; k < n; k++) {
    const x = r();
    i +=
      x < 0.6
        ? 1 + Math.floor(r() * 8)
        : x < 0.95
          ? Math.floor(r() * 3000)
          : Math.floor(r() * 200_000);
    out.push(i);
  }
  return out;
}

function naiveLower(a: number[], v: number, lo: number, hi: number): number {
  for (let k = lo; k < hi; k++) if (a[k]! >= v) return k;
  return hi;
}

function naiveUpper(a: number[], v: number, lo: number, hi: number): number {
  for (let k = lo; k < hi; k++) if (a[k]! > v) return k;
  return hi;
}

describe('IndexColumn', () => {
  it('returns every pushed event index, including offsets that do not fit 16 bits', () => {
    for (const seed of [1, 2, 3]) {
      const want = ascending(seed, 5000);
      const c = new IndexColumn();
      for (const i of want) c.push(i);
      expect(c.length).toBe(want.length);
      expect(Array.from(c.toArray())).toEqual(want);
      for (let k = 0; k < want.length; k += 7) expect(c.get(k)).toBe(want[k]);
    }
  });

  it('answers lower and upper bounds like a linear scan over the same values', () => {
    const r = rng(9);
    const want = ascending(4, 3000);
    const c = new IndexColumn();
    for (const i of want) c.push(i);
    const top = want[want.length - 1]! + 10;
    for (let q = 0; q < 300; q++) {
      const v = q % 3 === 0 ? want[Math.floor(r() * want.length)]! : Math.floor(r() * top);
      const lo = Math.floor(r() * want.length);
      const hi = lo + Math.floor(r() * (want.length - lo + 1));
      expect(c.lowerBound(v, lo, hi)).toBe(naiveLower(want, v, lo, hi));
      expect(c.upperBound(v, lo, hi)).toBe(naiveUpper(want, v, lo, hi));
    }
  });

  it('keeps its values through reserve and trim, and trim leaves no spare capacity', () => {
    const want = ascending(5, 1234);
    const c = new IndexColumn(10);
    for (let k = 0; k < 600; k++) c.push(want[k]!);
    c.reserve(5000);
    for (let k = 600; k < want.length; k++) c.push(want[k]!);
    c.trim();
    expect(c.lo.length).toBe(want.length);
    expect(c.base.length).toBe(Math.ceil(want.length / INDEX_BLOCK));
    expect(Array.from(c.toArray())).toEqual(want);
    // Still growable after a trim (a live trace keeps appending).
    c.push(want[want.length - 1]! + 70_000);
    expect(c.get(want.length)).toBe(want[want.length - 1]! + 70_000);
  });

  it('costs about 2 bytes per entry on a dense series', () => {
    const c = new IndexColumn();
    for (let i = 0; i < 100_000; i++) c.push(i * 4);
    c.trim();
    expect(c.bytes).toBeLessThanOrEqual(100_000 * 2.2);
  });
});

describe('FlowEndColumn', () => {
  it('returns every flow end (or NONE) given its return, near or far back', () => {
    const r = rng(11);
    const col = new FlowEndColumn();
    const rets: number[] = [];
    const ends: number[] = [];
    let ret = 10;
    for (let k = 0; k < 5000; k++) {
      ret += 1 + Math.floor(r() * 50);
      const x = r();
      const end =
        x < 0.1
          ? NONE
          : x < 0.9
            ? ret - 1 - Math.floor(r() * Math.min(ret - 1, 5000))
            : ret - 1 - Math.floor(r() * (ret - 1));
      rets.push(ret);
      ends.push(end);
      col.push(ret, end);
    }
    col.trim();
    expect(col.back.length).toBe(5000);
    for (let k = 0; k < rets.length; k++) expect(col.get(k, rets[k]!)).toBe(ends[k]);
  });

  it('stays at one byte per entry while ends are near, and widens when many are far', () => {
    const near = new FlowEndColumn();
    const far = new FlowEndColumn();
    const r = rng(12);
    const rets: number[] = [];
    const nearEnds: number[] = [];
    const farEnds: number[] = [];
    let ret = 100_000;
    for (let k = 0; k < 4000; k++) {
      ret += 1 + Math.floor(r() * 20);
      rets.push(ret);
      // Near: 1 in 100 beyond a byte. Far: half of them.
      const a = ret - 1 - Math.floor(r() * (r() < 0.01 ? 90_000 : 200));
      const b = ret - 1 - Math.floor(r() * (r() < 0.5 ? 90_000 : 200));
      nearEnds.push(a);
      farEnds.push(b);
      near.push(ret, a);
      far.push(ret, b);
    }
    expect(near.back).toBeInstanceOf(Uint8Array);
    expect(far.back).toBeInstanceOf(Uint16Array);
    for (let k = 0; k < rets.length; k++) {
      expect(near.get(k, rets[k]!)).toBe(nearEnds[k]);
      expect(far.get(k, rets[k]!)).toBe(farEnds[k]);
    }
  });

  it('refuses an end that is not before its return (an indexing bug, not input)', () => {
    const col = new FlowEndColumn();
    expect(() => col.push(5, 5)).toThrow(RangeError);
  });
});

describe('BitIndexColumn', () => {
  /** Strictly ascending indices (one bit cannot hold a repeat), dense and sparse. */
  function strict(seed: number, n: number): number[] {
    return ascending(seed, n).map((v, k) => v + k);
  }

  it('returns every pushed event index by position and by sequential steps', () => {
    for (const seed of [1, 2, 3]) {
      const want = strict(seed, 4000);
      const c = new BitIndexColumn();
      for (const i of want) c.push(i);
      expect(c.length).toBe(want.length);
      expect(Array.from(c.toArray())).toEqual(want);
      const r = rng(seed + 100);
      for (let q = 0; q < 500; q++) {
        const k = Math.floor(r() * want.length);
        expect(c.get(k)).toBe(want[k]);
        if (k > 0) expect(c.getAfter(k, want[k - 1]!)).toBe(want[k]);
        expect(c.getAfter(k, -1)).toBe(want[k]);
        if (k + 1 < want.length) expect(c.getBefore(k, want[k + 1]!)).toBe(want[k]);
      }
    }
  });

  it('finds entries across bit 31 of a word and across empty words', () => {
    const want = [0, 31, 32, 63, 64, 95, 96, 127, 128, 200_000, 200_031, 200_032];
    const c = new BitIndexColumn();
    for (const i of want) c.push(i);
    expect(Array.from(c.toArray())).toEqual(want);
    for (let k = 1; k < want.length; k++) {
      expect(c.nextAfter(want[k - 1]!)).toBe(want[k]);
      expect(c.prevBefore(want[k]!)).toBe(want[k - 1]);
      expect(c.getBefore(k - 1, want[k]!)).toBe(want[k - 1]);
    }
  });

  it('answers lower and upper bounds like a linear scan over the same values', () => {
    const r = rng(19);
    const want = strict(7, 3000);
    const c = new BitIndexColumn();
    for (const i of want) c.push(i);
    const top = want[want.length - 1]! + 10;
    for (let q = 0; q < 300; q++) {
      const v = q % 3 === 0 ? want[Math.floor(r() * want.length)]! : Math.floor(r() * top);
      const lo = Math.floor(r() * want.length);
      const hi = lo + Math.floor(r() * (want.length - lo + 1));
      expect(c.lowerBound(v, lo, hi)).toBe(naiveLower(want, v, lo, hi));
      expect(c.upperBound(v, lo, hi)).toBe(naiveUpper(want, v, lo, hi));
    }
  });

  it('trims to the last entry and keeps growing afterwards', () => {
    const want = strict(8, 1000);
    const c = new BitIndexColumn();
    for (const i of want) c.push(i);
    c.trim();
    const last = want[want.length - 1]!;
    expect(c.bits.length).toBe((last >>> 5) + 1);
    expect(c.base.length).toBe(Math.ceil(want.length / INDEX_BLOCK));
    c.push(last + 1000);
    expect(c.get(want.length)).toBe(last + 1000);
    expect(Array.from(c.toArray().subarray(0, want.length))).toEqual(want);
  });

  it('refuses a repeated or earlier entry', () => {
    const c = new BitIndexColumn();
    c.push(5);
    expect(() => c.push(5)).toThrow(RangeError);
    expect(() => c.push(3)).toThrow(RangeError);
  });

  it('costs well under a byte per entry when one event in four is an entry', () => {
    const c = new BitIndexColumn();
    for (let i = 0; i < 100_000; i++) c.push(i * 4);
    c.trim();
    expect(c.bytes).toBeLessThanOrEqual(100_000 * 0.7);
  });
});

describe('DeltaIndexColumn', () => {
  it('returns every entry of the series it copies, by position and by sequential steps', () => {
    for (const seed of [1, 2, 3]) {
      const want = ascending(seed, 4000);
      const src = new IndexColumn();
      for (const i of want) src.push(i);
      const c = new DeltaIndexColumn(src);
      expect(c.length).toBe(want.length);
      expect(Array.from(c.toArray())).toEqual(want);
      expect(c.bytes).toBe(DeltaIndexColumn.bytesFor(src));
      const r = rng(seed + 200);
      for (let q = 0; q < 500; q++) {
        const k = Math.floor(r() * want.length);
        expect(c.get(k)).toBe(want[k]);
        expect(c.getAfter(k, k > 0 ? want[k - 1]! : -1)).toBe(want[k]);
        if (k + 1 < want.length) expect(c.getBefore(k, want[k + 1]!)).toBe(want[k]);
      }
    }
  });

  it('answers lower and upper bounds like a linear scan over the same values', () => {
    const r = rng(29);
    const want = ascending(6, 3000);
    const src = new IndexColumn();
    for (const i of want) src.push(i);
    const c = new DeltaIndexColumn(src);
    const top = want[want.length - 1]! + 10;
    for (let q = 0; q < 300; q++) {
      const v = q % 3 === 0 ? want[Math.floor(r() * want.length)]! : Math.floor(r() * top);
      const lo = Math.floor(r() * want.length);
      const hi = lo + Math.floor(r() * (want.length - lo + 1));
      expect(c.lowerBound(v, lo, hi)).toBe(naiveLower(want, v, lo, hi));
      expect(c.upperBound(v, lo, hi)).toBe(naiveUpper(want, v, lo, hi));
    }
  });

  it('keeps growing after the copy, near and far steps alike', () => {
    const want = ascending(10, 700);
    const src = new IndexColumn();
    for (const i of want.slice(0, 300)) src.push(i);
    const c = new DeltaIndexColumn(src);
    for (const i of want.slice(300)) c.push(i);
    c.trim();
    expect(c.step.length).toBe(want.length);
    expect(c.base.length).toBe(Math.ceil(want.length / INDEX_BLOCK));
    expect(Array.from(c.toArray())).toEqual(want);
    expect(() => c.push(want[want.length - 1]! - 1)).toThrow(RangeError);
  });

  it('costs about a byte per entry when entries are tens of events apart', () => {
    const src = new IndexColumn();
    for (let i = 0; i < 100_000; i++) src.push(i * 20);
    expect(new DeltaIndexColumn(src).bytes).toBeLessThanOrEqual(100_000 * 1.2);
  });
});
