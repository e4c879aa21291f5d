import { describe, expect, it } from 'vitest';
import { HEADER_WORDS } from './layout.ts';
import { IdleStack } from './idle-stack.ts';
import { intBelow, seeded } from './random.test-util.ts';

function makeStack(capacity: number): IdleStack {
  const i32 = new Int32Array(new SharedArrayBuffer((HEADER_WORDS + capacity) * 4));
  return new IdleStack(i32, HEADER_WORDS, capacity);
}

/** expect() only on a mismatch: thousands of passing expect calls cost seconds. */
function check(actual: unknown, expected: unknown, ctx: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual, ctx).toEqual(expected);
}

describe('IdleStack', () => {
  it('behaves like an array used as a stack with removal under random operations', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const rnd = seeded(seed);
      const capacity = 1 + intBelow(rnd, 12);
      const stack = makeStack(capacity);
      const model: number[] = [];
      for (let step = 0; step < 1000; step++) {
        const r = rnd();
        const ctx = `seed ${seed} step ${step}`;
        if (r < 0.45) {
          // A thread can only wait once: push an index that is not in the stack.
          const free = Array.from({ length: capacity }, (_, i) => i).filter(
            (i) => !model.includes(i),
          );
          if (free.length === 0) continue;
          const t = free[intBelow(rnd, free.length)]!;
          stack.push(t);
          model.push(t);
        } else if (r < 0.75) {
          check(stack.pop(), model.pop() ?? -1, ctx);
        } else {
          const t = intBelow(rnd, capacity);
          const at = model.indexOf(t);
          check(stack.remove(t), at >= 0, ctx);
          if (at >= 0) model.splice(at, 1);
        }
        check(stack.toArray(), model, ctx);
        check(stack.size, model.length, ctx);
      }
    }
  });

  it('pops the most recent waiter first', () => {
    const stack = makeStack(4);
    for (const t of [3, 0, 2]) stack.push(t);
    expect([stack.pop(), stack.pop(), stack.pop(), stack.pop()]).toEqual([2, 0, 3, -1]);
  });

  it('refuses to hold more threads than its capacity', () => {
    const stack = makeStack(1);
    stack.push(0);
    expect(() => stack.push(0)).toThrow(/overflow/);
  });
});
