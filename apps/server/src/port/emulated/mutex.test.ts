import { describe, expect, it } from 'vitest';
import { spawnThread } from '../threads.ts';
import { lock, unlock } from './mutex.ts';

describe('mutex', () => {
  it('makes read-modify-write sections of several threads mutually exclusive', async () => {
    const shared = new SharedArrayBuffer(8);
    const perThread = 20000;
    const entry = new URL('./mutex.test-worker.ts', import.meta.url);
    const workers = await Promise.all(
      [0, 1].map(() => spawnThread(entry, { workerData: { shared, count: perThread } })),
    );
    const i32 = new Int32Array(shared);
    // The main thread takes part too, as the kernel does.
    for (let k = 0; k < perThread; k++) {
      lock(i32, 0);
      i32[1] = i32[1]! + 1;
      unlock(i32, 0);
      if (k % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
    expect(i32[1]).toBe(3 * perThread);
    expect(Atomics.load(i32, 0)).toBe(0);
  });
});
