// Entry of a worker thread: attach to the port and loop on GQCS (or GQCS-Ex
// when gqcsBatch > 1) until an exit packet PQCS(0,0,NULL) arrives or the port
// is closed. A timeout is not a shutdown (bug 8), and every entry of a batch is
// handled before an exit packet in it is obeyed, so no completion is dropped.
// A GQCS-Ex batch can hold several exit packets (one per worker): this worker
// keeps one and posts the others again, or those workers would never exit.

import { ThreadRole } from '@iocpscope/protocol';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import {
  INFINITE,
  WAIT_TIMEOUT,
  attachPort,
  newCompletionEntry,
  type CompletionEntry,
} from '../port/index.ts';
import { attachRecorder } from '../trace/recorder.ts';
import { EchoCore } from './core.ts';
import { SessionTable } from './session-table.ts';
import type { EchoThreadInput } from './threads.ts';

const input = workerData as EchoThreadInput;
const rec = attachRecorder(input.trace, {
  role: ThreadRole.Worker,
  name: `worker ${input.index + 1}`,
  osThreadId: threadId,
});
const port = await attachPort(input.port, rec);
const table = SessionTable.attach(input.table);
const core = new EchoCore(table, port.arena, rec, port, port, input.faultWords);
const batch = input.gqcsBatch;
const entries: CompletionEntry[] = Array.from({ length: batch }, newCompletionEntry);
const first = entries[0]!;
parentPort!.postMessage({ type: 'ready', tid: rec.tid });

let exitCode = 0;
for (;;) {
  let n: number;
  if (batch === 1) {
    const ok = port.getQueuedCompletionStatus(first, INFINITE);
    n = ok || first.overlapped !== 0 ? 1 : 0;
  } else {
    n = port.getQueuedCompletionStatusEx(entries, batch, INFINITE);
  }
  if (n === 0) {
    const err = batch === 1 ? first.error : port.lastError;
    if (err === WAIT_TIMEOUT) continue;
    // ERROR_ABANDONED_WAIT_0 / ERROR_INVALID_HANDLE: the port is gone.
    exitCode = err;
    break;
  }
  let exits = 0;
  for (let k = 0; k < n; k++) {
    const e = entries[k]!;
    if (e.overlapped === 0) {
      if (e.bytes === 0 && e.keyLo === 0 && e.keyHi === 0) exits++;
      continue;
    }
    core.onCompletion(e);
  }
  if (exits > 0) {
    // One exit packet is ours; the others in this batch belong to other workers.
    for (let k = 1; k < exits; k++) port.postQueuedCompletionStatus(0, 0, 0, 0);
    break;
  }
}
port.detach();
rec.exit(exitCode);
parentPort!.postMessage({ type: 'exiting', code: exitCode });
