// Entry of the echo server's accept thread: a blocking accept loop
// (../session/worker-loop.ts) handing each connection to EchoCore.accepted().

import { ThreadRole } from '@iocpscope/protocol';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { attachPort } from '../port/index.ts';
import { SessionTable } from '../session/session-table.ts';
import type { ServerThreadInput } from '../session/threads.ts';
import { runAcceptLoop } from '../session/worker-loop.ts';
import { attachRecorder } from '../trace/recorder.ts';
import { EchoCore } from './core.ts';

const input = workerData as ServerThreadInput;
const rec = attachRecorder(input.trace, {
  role: ThreadRole.Accept,
  name: 'accept',
  osThreadId: threadId,
});
const port = await attachPort(input.port, rec);
const table = SessionTable.attach(input.table);
const core = new EchoCore(table, port.arena, rec, port, port, input.faultWords);
parentPort!.postMessage({ type: 'ready', tid: rec.tid });

const exitCode = runAcceptLoop(port, input.listenSocket, core);
port.detach();
rec.exit(exitCode);
parentPort!.postMessage({ type: 'exiting', code: exitCode });
