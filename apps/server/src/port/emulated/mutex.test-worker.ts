// Contender thread for mutex.test.ts: a non-atomic increment under the lock.
import { workerData } from 'node:worker_threads';
import { lock, unlock } from './mutex.ts';

const { shared, count } = workerData as { shared: SharedArrayBuffer; count: number };
const i32 = new Int32Array(shared);
for (let k = 0; k < count; k++) {
  lock(i32, 0);
  i32[1] = i32[1]! + 1;
  unlock(i32, 0);
}
