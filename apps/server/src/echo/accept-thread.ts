// Entry of the accept thread: the course's dedicated thread calling a blocking
// accept (not AcceptEx). It hands each connection to EchoCore.accepted() and
// leaves when the listening socket is closed (accept fails with WSAEINTR).

import { ThreadRole } from '@iocpscope/protocol';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { INFINITE, WSAETIMEDOUT, attachPort } from '../port/index.ts';
import { attachRecorder } from '../trace/recorder.ts';
import { EchoCore } from './core.ts';
import { SessionTable } from './session-table.ts';
import type { EchoThreadInput } from './threads.ts';

const input = workerData as EchoThreadInput;
const rec = attachRecorder(input.trace, {
  role: ThreadRole.Accept,
  name: 'accept',
  osThreadId: threadId,
});
const port = await attachPort(input.port, rec);
const table = SessionTable.attach(input.table);
const core = new EchoCore(table, port.arena, rec, port, port, input.faultWords);
parentPort!.postMessage({ type: 'ready', tid: rec.tid });

// WSAEINTR (the listening socket was closed) is the normal way out.
let exitCode: number;
for (;;) {
  const r = port.accept(input.listenSocket, INFINITE);
  if (r === null) {
    if (port.lastError === WSAETIMEDOUT) continue;
    exitCode = port.lastError;
    break;
  }
  core.accepted(r.socket, `${r.peerAddress}:${r.peerPort}`);
}
port.detach();
rec.exit(exitCode);
parentPort!.postMessage({ type: 'exiting', code: exitCode });
