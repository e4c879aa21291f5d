import { describe, expect, it } from 'vitest';
import { BUCKET_COUNT, Histogram, bucketLow, bucketOf, bucketWidth } from './histogram.ts';
import { createRandom } from './random.ts';

/** The naive model: keep every sample, sort, pick the rank-ceil(q*n) one. */
function naiveQuantile(sorted: number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

const QUANTILES = [0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1];

function samples(seed: number, n: number, kind: 'small' | 'logUniform' | 'latency'): number[] {
  const rnd = createRandom(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (kind === 'small') out.push(rnd.int(300));
    else if (kind === 'logUniform') out.push(Math.floor(2 ** (rnd.float() * 39)));
    // A loopback-like latency: a 40 us floor, a body, and a rare long tail.
    else out.push(40_000 + rnd.int(60_000) + (rnd.float() < 0.01 ? rnd.int(50_000_000) : 0));
  }
  return out;
}

describe('bucket geometry', () => {
  it('maps every value into a bucket whose [low, low + width) range contains it', () => {
    const rnd = createRandom(7);
    const wrong: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const v = i < 1000 ? i : Math.floor(2 ** (rnd.float() * 40));
      const b = bucketOf(v);
      const inRange = b >= 0 && b < BUCKET_COUNT;
      if (!inRange || v < bucketLow(b) || v >= bucketLow(b) + bucketWidth(b)) wrong.push(v);
    }
    expect(wrong).toEqual([]);
  });

  it('tiles the value range with contiguous buckets no wider than 1/64 of their low edge', () => {
    for (let b = 1; b < BUCKET_COUNT; b++) {
      expect(bucketLow(b)).toBe(bucketLow(b - 1) + bucketWidth(b - 1));
      if (b >= 128) expect(bucketWidth(b) / bucketLow(b)).toBeLessThanOrEqual(1 / 64);
    }
  });

  it('puts powers of two and their neighbours on the right side of an octave edge', () => {
    for (let e = 7; e < 40; e++) {
      const p = 2 ** e;
      expect(bucketLow(bucketOf(p))).toBe(p);
      expect(bucketOf(p - 1)).toBe(bucketOf(p) - 1);
    }
  });
});

describe('Histogram against a sorted-array model', () => {
  for (const kind of ['small', 'logUniform', 'latency'] as const) {
    it(`reports every quantile in the same bucket as the exact value (${kind} samples)`, () => {
      for (let seed = 1; seed <= 5; seed++) {
        const values = samples(seed * 101, 1 + seed * 997, kind);
        const h = new Histogram();
        for (const v of values) h.record(v);
        const sorted = [...values].sort((a, b) => a - b);
        const rnd = createRandom(seed);
        for (const q of [...QUANTILES, rnd.float(), rnd.float()]) {
          const exact = naiveQuantile(sorted, q);
          const got = h.valueAtQuantile(q);
          expect(bucketOf(got)).toBe(bucketOf(exact));
          expect(Math.abs(got - exact)).toBeLessThanOrEqual(Math.max(0, exact / 64));
        }
        expect(h.count).toBe(values.length);
        expect(h.min).toBe(sorted[0]);
        expect(h.max).toBe(sorted[sorted.length - 1]);
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        expect(h.mean).toBeCloseTo(mean, 6);
      }
    });
  }

  it('is exact for values below 128', () => {
    const values = samples(3, 5000, 'small').map((v) => v % 128);
    const h = new Histogram();
    for (const v of values) h.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of QUANTILES) expect(h.valueAtQuantile(q)).toBe(naiveQuantile(sorted, q));
  });

  it('merges into the same distribution as recording every sample in one histogram', () => {
    const a = samples(11, 3000, 'latency');
    const b = samples(12, 2000, 'logUniform');
    const ha = new Histogram();
    const hb = new Histogram();
    const all = new Histogram();
    for (const v of a) {
      ha.record(v);
      all.record(v);
    }
    for (const v of b) {
      hb.record(v);
      all.record(v);
    }
    ha.merge(hb);
    expect(ha.count).toBe(all.count);
    expect(ha.min).toBe(all.min);
    expect(ha.max).toBe(all.max);
    for (const q of QUANTILES) expect(ha.valueAtQuantile(q)).toBe(all.valueAtQuantile(q));
  });

  it('floors fractions, treats negatives as 0, clamps huge values and reports 0 when empty', () => {
    const h = new Histogram();
    expect([h.count, h.min, h.max, h.mean, h.valueAtQuantile(0.5)]).toEqual([0, 0, 0, 0, 0]);
    h.record(-5);
    h.record(3.9);
    h.record(1e15);
    expect(h.min).toBe(0);
    expect(h.valueAtQuantile(0.5)).toBe(3);
    expect(h.max).toBe(2 ** 40 - 1);
    h.reset();
    expect(h.count).toBe(0);
    expect(h.valueAtQuantile(0.99)).toBe(0);
  });
});
