// Entry of the drainer thread (started by drainer-thread.ts): pump, post, sleep on the
// stop word for intervalMs, repeat; on stop, pump with final=true until empty.

import { parentPort, workerData } from 'node:worker_threads';
import { Drainer, type DrainBatch } from './drainer.ts';
import {
  DT_LISTENERS,
  DT_STOP,
  type DrainerThreadInput,
  type DrainerThreadMessage,
} from './drainer-protocol.ts';
import { threadRecordsOf } from './feed.ts';
import { TraceShared } from './shared.ts';
import { lowerThreadPriority } from '../port/thread-priority.ts';

// Draining is never latency-critical (a 20 ms reorder window): it yields to the kernel.
lowerThreadPriority();
const input = workerData as DrainerThreadInput;
const port = parentPort!;
const control = new Int32Array(input.control);
const shared = TraceShared.attach({ sab: input.sab });
const drainer = new Drainer(shared, {
  windowNs: input.windowNs,
  maxBatchRecords: input.maxBatchRecords,
});

function post(m: DrainerThreadMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

function deliver(b: DrainBatch): void {
  const threadRecords = threadRecordsOf(b.records);
  const listening = Atomics.load(control, DT_LISTENERS) !== 0;
  const records = listening ? b.records : null;
  const transfer = [threadRecords.buffer as ArrayBuffer];
  if (records) transfer.push(records.buffer as ArrayBuffer);
  post(
    { type: 'batch', records, threadRecords, strings: b.strings, stats: drainer.stats() },
    transfer,
  );
}

port.postMessage({ type: 'ready' });
try {
  while (Atomics.load(control, DT_STOP) === 0) {
    const b = drainer.pump(false);
    if (b) deliver(b);
    if (!b || b.records.length / 8 < input.maxBatchRecords) {
      Atomics.wait(control, DT_STOP, 0, input.intervalMs);
    }
  }
  for (let b = drainer.pump(true); b; b = drainer.pump(true)) deliver(b);
  post({ type: 'done', stats: drainer.stats() });
} catch (e) {
  const err = e as Error & { code?: string };
  post({ type: 'error', message: err.message, code: err.code ?? 'ERR_DRAINER' });
  process.exitCode = 1;
}
