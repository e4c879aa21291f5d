// Entry of the chat server's accept thread: the session layer's blocking
// accept loop (../session/worker-loop.ts) handing each connection to ChatCore.accepted().

import { ThreadRole } from '@iocpscope/protocol';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { attachPort } from '../port/index.ts';
import { SessionTable } from '../session/session-table.ts';
import type { ServerThreadInput } from '../session/threads.ts';
import { runAcceptLoop } from '../session/worker-loop.ts';
import { attachRecorder } from '../trace/recorder.ts';
import { ChatCore, type ChatThreadInput } from './core.ts';
import { ChatState } from './state.ts';

const input = workerData as ServerThreadInput;
const chat = input.appInput as ChatThreadInput;
const rec = attachRecorder(input.trace, {
  role: ThreadRole.Accept,
  name: 'accept',
  osThreadId: threadId,
});
const port = await attachPort(input.port, rec);
const table = SessionTable.attach(input.table);
const state = ChatState.attach(chat.state);
const core = new ChatCore(table, port.arena, rec, port, port, input.faultWords, state, chat.t0Ms);
parentPort!.postMessage({ type: 'ready', tid: rec.tid });

const exitCode = runAcceptLoop(port, input.listenSocket, core);
port.detach();
rec.exit(exitCode);
parentPort!.postMessage({ type: 'exiting', code: exitCode });
