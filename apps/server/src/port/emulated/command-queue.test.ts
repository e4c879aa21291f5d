import { describe, expect, it } from 'vitest';
import { spawnThread } from '../threads.ts';
import { CommandQueue } from './command-queue.ts';
import { C_DATA_WORDS, C_WORDS, HEADER_WORDS } from './layout.ts';
import { intBelow, seeded } from './random.test-util.ts';

function makeQueue(capacity: number): { q: CommandQueue; control: SharedArrayBuffer } {
  const control = new SharedArrayBuffer((HEADER_WORDS + capacity * C_WORDS) * 4);
  const q = new CommandQueue(new Int32Array(control), HEADER_WORDS, capacity);
  q.init();
  return { q, control };
}

/** expect() only on a mismatch: thousands of passing expect calls cost seconds. */
function check(actual: unknown, expected: unknown, ctx: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual, ctx).toEqual(expected);
}

describe('CommandQueue', () => {
  it('behaves like a bounded FIFO under random enqueues and dequeues, across position wrap-around', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const rnd = seeded(seed);
      const capacity = 2 ** (1 + intBelow(rnd, 4));
      const { q } = makeQueue(capacity);
      const model: number[][] = [];
      const cmd = new Int32Array(C_DATA_WORDS);
      const out = new Int32Array(C_DATA_WORDS);
      for (let step = 0; step < 3000; step++) {
        const ctx = `seed ${seed} step ${step}`;
        // Biased towards enqueue, so the ring is often full and positions wrap.
        if (rnd() < 0.55) {
          for (let k = 0; k < C_DATA_WORDS; k++) cmd[k] = intBelow(rnd, 2 ** 32) | 0;
          const ok = q.enqueue(cmd);
          check(ok, model.length < capacity, ctx);
          if (ok) model.push(Array.from(cmd));
        } else {
          const ok = q.dequeue(out);
          check(ok, model.length > 0, ctx);
          if (ok) check(Array.from(out), model.shift(), ctx);
        }
        check(q.hasReady(), model.length > 0, ctx);
      }
    }
  });

  it('rejects a capacity that is not a power of two', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(4096));
    expect(() => new CommandQueue(i32, 0, 12)).toThrow(RangeError);
  });

  it('delivers every command of concurrent producer threads once, in each producer order', async () => {
    const capacity = 64; // small, so producers often find it full
    const perProducer = 5000;
    const { q, control } = makeQueue(capacity);
    const entry = new URL('./command-queue.producer.test-worker.ts', import.meta.url);
    const producers = await Promise.all(
      [1, 2].map((id) =>
        spawnThread(entry, {
          workerData: { control, base: HEADER_WORDS, capacity, id, count: perProducer },
        }),
      ),
    );
    const exited = producers.map((w) => new Promise((r) => w.once('exit', r)));
    const next = new Map([
      [1, 0],
      [2, 0],
    ]);
    const out = new Int32Array(C_DATA_WORDS);
    let received = 0;
    while (received < 2 * perProducer) {
      if (!q.dequeue(out)) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const [id, seq, sum] = [out[0]!, out[1]!, out[2]!];
      check([seq, sum], [next.get(id), id * 1_000_003 + seq], `producer ${id}`);
      next.set(id, seq + 1);
      received++;
    }
    await Promise.all(exited);
    expect(q.dequeue(out)).toBe(false);
  });
});
