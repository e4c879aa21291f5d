// Entry of a chat worker thread: attach to the port, build the ChatCore and
// loop on GQCS (../session/worker-loop.ts); the core's JobTimer bounds each
// wait and pushes the due room ticks after every return.

import { ThreadRole } from '@iocpscope/protocol';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { attachPort } from '../port/index.ts';
import { SessionTable } from '../session/session-table.ts';
import type { ServerThreadInput } from '../session/threads.ts';
import { runWorkerLoop } from '../session/worker-loop.ts';
import { attachRecorder } from '../trace/recorder.ts';
import { ChatCore, type ChatThreadInput } from './core.ts';
import { ChatState } from './state.ts';

const input = workerData as ServerThreadInput;
const chat = input.appInput as ChatThreadInput;
const rec = attachRecorder(input.trace, {
  role: ThreadRole.Worker,
  name: `worker ${input.index + 1}`,
  osThreadId: threadId,
});
const port = await attachPort(input.port, rec);
const table = SessionTable.attach(input.table);
const state = ChatState.attach(chat.state);
const core = new ChatCore(table, port.arena, rec, port, port, input.faultWords, state, chat.t0Ms);
parentPort!.postMessage({ type: 'ready', tid: rec.tid });

const exitCode = runWorkerLoop(port, core, input.gqcsBatch);
port.detach();
rec.exit(exitCode);
parentPort!.postMessage({ type: 'exiting', code: exitCode });
