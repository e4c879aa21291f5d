// Seeded pseudo-random numbers for the load generator. Everything random in a
// load run (payload bytes, stream phases, which connection to reset and when)
// derives from the run's seed, so a failing run can be replayed exactly.
// mulberry32: 32-bit state, period 2^32, good enough for test data; not for crypto.

export interface Random {
  /** Next unsigned 32-bit integer. */
  u32(): number;
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n) for 1 <= n <= 2^32. */
  int(n: number): number;
}

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const u32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const float = (): number => u32() / 4294967296;
  return { u32, float, int: (n) => Math.floor(float() * n) };
}

/** A stateless 32-bit mix of up to three integers (murmur3's finaliser over a combined word). */
export function mix32(a: number, b = 0, c = 0): number {
  let h = (a ^ Math.imul(b ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(c ^ 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
