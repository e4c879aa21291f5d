// Producer thread for command-queue.test.ts: enqueues `count` commands
// (id, seq, checksum), waiting briefly whenever the ring is full.
import { workerData } from 'node:worker_threads';
import { CommandQueue } from './command-queue.ts';
import { C_DATA_WORDS } from './layout.ts';

const { control, base, capacity, id, count } = workerData as {
  control: SharedArrayBuffer;
  base: number;
  capacity: number;
  id: number;
  count: number;
};
const q = new CommandQueue(new Int32Array(control), base, capacity);
const cmd = new Int32Array(C_DATA_WORDS);
const nap = new Int32Array(new SharedArrayBuffer(4));
for (let seq = 0; seq < count; seq++) {
  cmd[0] = id;
  cmd[1] = seq;
  cmd[2] = id * 1_000_003 + seq;
  while (!q.enqueue(cmd)) Atomics.wait(nap, 0, 0, 0.05);
}
