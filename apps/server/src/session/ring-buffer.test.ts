import { describe, expect, it } from 'vitest';
import { randInt, seededRandom } from '../trace/testing.ts';
import { copyBetween, freeBufs, newTwoBufs, usedBufs } from './ring-buffer.ts';

/** Arena offsets covered by the buffers, in order. */
function covered(b: ReturnType<typeof newTwoBufs>): number[] {
  const out: number[] = [];
  for (let k = 0; k < b.len0; k++) out.push(b.off0 + k);
  for (let k = 0; k < b.len1; k++) out.push(b.off1 + k);
  return out;
}

describe('ring-buffer arithmetic', () => {
  it('describes the free and used space as one or two WSABUFs, the second at the base, like a naive model', () => {
    const rand = seededRandom(3);
    const cap = 16;
    const base = 1000;
    for (let i = 0; i < 2000; i++) {
      // Counters anywhere in int32, including across the 2^31 wrap.
      const r = (randInt(rand, -40, 40) + (rand() < 0.5 ? 0x7ffffff0 : 0)) | 0;
      const used = randInt(rand, 0, cap);
      const w = (r + used) | 0;
      const free = newTwoBufs();
      expect(freeBufs(free, base, cap, r, w)).toBe(cap - used);
      const expectFree = Array.from(
        { length: cap - used },
        (_, k) => base + (((w + k) | 0) & (cap - 1)),
      );
      expect(covered(free)).toEqual(expectFree);
      if (free.len1 > 0) expect(free.off1).toBe(base);
      const max = randInt(rand, 1, cap);
      const u = newTwoBufs();
      expect(usedBufs(u, base, cap, r, w, max)).toBe(Math.min(used, max));
      const expectUsed = Array.from(
        { length: Math.min(used, max) },
        (_, k) => base + (((r + k) | 0) & (cap - 1)),
      );
      expect(covered(u)).toEqual(expectUsed);
      if (u.len1 > 0) expect(u.off1).toBe(base);
    }
  });

  it('copies a byte range between two rings like a byte-by-byte model', () => {
    const rand = seededRandom(5);
    for (let i = 0; i < 300; i++) {
      const arena = new Uint8Array(96);
      for (let k = 0; k < arena.length; k++) arena[k] = k;
      const model = arena.slice();
      const from = randInt(rand, -100, 100) | 0;
      const to = randInt(rand, -100, 100) | 0;
      const n = randInt(rand, 0, 16);
      for (let k = 0; k < n; k++) model[64 + ((to + k) & 31)] = model[0 + ((from + k) & 15)]!;
      copyBetween(arena, 0, 16, from, 64, 32, to, n);
      expect(Array.from(arena)).toEqual(Array.from(model));
    }
  });
});
