// coarser() against its definition, written the obvious way: element j of the
// next level merges absolute buckets 2(origin + j) and 2(origin + j) + 1 of the
// finer one; a missing bucket counts 0 in a fraction's average, and min/max
// take the one that is there.

import { describe, expect, it } from 'vitest';
import { coarser, pyramid, type SummaryLevel } from './summary.ts';
import { seededRandom } from '../trace/testing.ts';

function definition(l: SummaryLevel): SummaryLevel {
  const origin = Math.floor(l.origin / 2);
  const n = Math.floor((l.origin + l.count - 1) / 2) - origin + 1;
  const at = (j: number, k: 0 | 1): number => 2 * (origin + j) + k - l.origin;
  const has = (r: number): boolean => r >= 0 && r < l.count;
  const pick = (a: Int32Array, f: (x: number, y: number) => number): Int32Array =>
    Int32Array.from({ length: n }, (_, j) => {
      const [r, s] = [at(j, 0), at(j, 1)];
      return has(r) && has(s) ? f(a[r]!, a[s]!) : has(r) ? a[r]! : a[s]!;
    });
  return {
    shift: l.shift + 1,
    origin,
    count: n,
    lanes: l.lanes.map(({ frac, flags }) => ({
      frac: Uint8Array.from({ length: n * 3 }, (_, k) => {
        const j = Math.floor(k / 3);
        const x = has(at(j, 0)) ? frac[at(j, 0) * 3 + (k % 3)]! : 0;
        const y = has(at(j, 1)) ? frac[at(j, 1) * 3 + (k % 3)]! : 0;
        return (x + y + 1) >> 1;
      }),
      flags: Uint8Array.from({ length: n }, (_, j) => {
        const x = has(at(j, 0)) ? flags[at(j, 0)]! : 0;
        const y = has(at(j, 1)) ? flags[at(j, 1)]! : 0;
        return x | y;
      }),
    })),
    queueMin: pick(l.queueMin, Math.min),
    queueMax: pick(l.queueMax, Math.max),
    runMin: pick(l.runMin, Math.min),
    runMax: pick(l.runMax, Math.max),
  };
}

function randomLevel(next: () => number): SummaryLevel {
  const count = 1 + Math.floor(next() * 40);
  const int = (): number => Math.floor(next() * 2000) - 1000;
  return {
    shift: 10,
    origin: Math.floor(next() * 1000),
    count,
    lanes: Array.from({ length: 1 + Math.floor(next() * 3) }, () => ({
      frac: Uint8Array.from({ length: count * 3 }, () => Math.floor(next() * 256)),
      flags: Uint8Array.from({ length: count }, () => Math.floor(next() * 256)),
    })),
    queueMin: Int32Array.from({ length: count }, int),
    queueMax: Int32Array.from({ length: count }, int),
    runMin: Int32Array.from({ length: count }, int),
    runMax: Int32Array.from({ length: count }, int),
  };
}

describe('coarser summary levels', () => {
  it('merge bucket pairs as the definition says, at even and odd origins, 1 to 40 buckets', () => {
    const next = seededRandom(5);
    let odd = 0;
    for (let k = 0; k < 2000; k++) {
      const l = randomLevel(next);
      if (l.origin % 2 === 1) odd++;
      expect(coarser(l), `level ${k}: origin ${l.origin}, count ${l.count}`).toEqual(definition(l));
    }
    expect(odd).toBeGreaterThan(500);
  });

  it('go up to one bucket', () => {
    const levels = pyramid(randomLevel(seededRandom(9)));
    expect(levels[levels.length - 1]!.count).toBe(1);
    for (let k = 1; k < levels.length; k++) expect(levels[k]!.shift).toBe(levels[k - 1]!.shift + 1);
  });
});
