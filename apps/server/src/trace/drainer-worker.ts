// Entry of the drainer thread (started by drainer-thread.ts): pump, post, sleep on the
// stop word for intervalMs, repeat; on stop, pump with final=true until empty.
// Every batch is also folded into a StateTracker here, off the busy main
// thread; a snapshot request (DT_SNAP_REQ) is answered between two batches,
// so the bracket is the state at an exact cut of the stream the owner sees.

import { parentPort, workerData } from 'node:worker_threads';
import { Drainer, type DrainBatch } from './drainer.ts';
import { SnapshotReason } from '@iocpscope/protocol';
import {
  DT_LISTENERS,
  DT_SNAP_REQ,
  DT_STOP,
  type DrainerThreadInput,
  type DrainerThreadMessage,
} from './drainer-protocol.ts';
import { threadRecordsOf } from './feed.ts';
import { TraceShared } from './shared.ts';
import { StateTracker } from './state-tracker.ts';
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

const tracker = new StateTracker();
let snapsAnswered = 0;

/** Answer the snapshot requests made so far: the state after every batch posted until now. */
function answerSnapshots(): void {
  const upTo = Atomics.load(control, DT_SNAP_REQ);
  if (upTo === snapsAnswered) return;
  snapsAnswered = upTo;
  const snap = tracker.snapshot(SnapshotReason.RecordingStart);
  post({ type: 'snapshot', upTo, records: snap.records, strings: snap.strings }, [
    snap.records.buffer as ArrayBuffer,
  ]);
}

function deliver(b: DrainBatch): void {
  if (b.strings.length > 0) tracker.observeStrings(b.strings);
  tracker.observe(b.records);
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
    answerSnapshots();
    if (!b || b.records.length / 8 < input.maxBatchRecords) {
      Atomics.wait(control, DT_STOP, 0, input.intervalMs);
    }
  }
  for (let b = drainer.pump(true); b; b = drainer.pump(true)) deliver(b);
  answerSnapshots();
  post({ type: 'done', stats: drainer.stats() });
} catch (e) {
  const err = e as Error & { code?: string };
  post({ type: 'error', message: err.message, code: err.code ?? 'ERR_DRAINER' });
  process.exitCode = 1;
}
