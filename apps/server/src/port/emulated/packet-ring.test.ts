import { describe, expect, it } from 'vitest';
import { HEADER_WORDS, P_WORDS } from './layout.ts';
import { PacketRing } from './packet-ring.ts';
import { intBelow, seeded } from './random.test-util.ts';

type Packet = [number, number, number, number, number, number, number];

function makeRing(capacity: number): PacketRing {
  const u32 = new Uint32Array(new SharedArrayBuffer((HEADER_WORDS + capacity * P_WORDS) * 4));
  return new PacketRing(u32, HEADER_WORDS, capacity);
}

function shift(ring: PacketRing): Packet | null {
  const out = new Uint32Array(P_WORDS);
  if (!ring.shiftInto(out, 0)) return null;
  return Array.from(out.subarray(0, 7)) as Packet;
}

/** expect() only on a mismatch: thousands of passing expect calls cost seconds. */
function check(actual: unknown, expected: unknown, seed: number, step: number): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    expect(actual, `seed ${seed} step ${step}`).toEqual(expected);
  }
}

describe('PacketRing', () => {
  it('behaves like an array queue with a capacity under random pushes, shifts and clears', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const rnd = seeded(seed);
      const capacity = 1 + intBelow(rnd, 9);
      const ring = makeRing(capacity);
      const model: Packet[] = [];
      for (let step = 0; step < 1000; step++) {
        const r = rnd();
        if (r < 0.5) {
          const p = Array.from({ length: 7 }, () => intBelow(rnd, 2 ** 32)) as Packet;
          const pushed = ring.push(...p);
          check(pushed, model.length < capacity, seed, step);
          if (pushed) model.push(p);
        } else if (r < 0.98) {
          check(shift(ring), model.shift() ?? null, seed, step);
        } else {
          ring.clear();
          model.length = 0;
        }
        check(ring.count, model.length, seed, step);
      }
    }
  });

  it('keeps full 32-bit values intact', () => {
    const ring = makeRing(2);
    ring.push(0xffffffff, 0xfffffffe, 0x80000000, 1, 995, 3, 0xffffffff);
    expect(shift(ring)).toEqual([0xffffffff, 0xfffffffe, 0x80000000, 1, 995, 3, 0xffffffff]);
  });
});
