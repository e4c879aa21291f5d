// Entry of an echo worker thread: attach to the port, build the EchoCore and
// loop on GQCS (../session/worker-loop.ts) until an exit packet or the port closes.

import { ThreadRole } from '@iocpscope/protocol';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { attachPort } from '../port/index.ts';
import { SessionTable } from '../session/session-table.ts';
import type { ServerThreadInput } from '../session/threads.ts';
import { runWorkerLoop } from '../session/worker-loop.ts';
import { attachRecorder } from '../trace/recorder.ts';
import { EchoCore } from './core.ts';

const input = workerData as ServerThreadInput;
const rec = attachRecorder(input.trace, {
  role: ThreadRole.Worker,
  name: `worker ${input.index + 1}`,
  osThreadId: threadId,
});
const port = await attachPort(input.port, rec);
const table = SessionTable.attach(input.table);
const core = new EchoCore(table, port.arena, rec, port, port, input.faultWords);
parentPort!.postMessage({ type: 'ready', tid: rec.tid });

const exitCode = runWorkerLoop(port, core, input.gqcsBatch);
port.detach();
rec.exit(exitCode);
parentPort!.postMessage({ type: 'exiting', code: exitCode });
