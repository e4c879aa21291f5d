// Test worker for thread-priority.test.ts: lower this thread's priority twice
// and report what the OS says about this thread.
import { readlinkSync } from 'node:fs';
import { getPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from './thread-priority.ts';

const { nice } = workerData as { nice: number };
const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
const before = getPriority(tid);
const first = lowerThreadPriority(nice);
const second = lowerThreadPriority(nice - 1);
parentPort!.postMessage({ tid, before, first, second, after: getPriority(tid) });
