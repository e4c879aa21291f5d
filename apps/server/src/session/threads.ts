// Starting the server's threads and waiting for them: every thread is a
// worker_thread started from its entry's esbuild bundle (port/threads.ts
// spawnThread: no TypeScript loader in the thread), reading its
// ServerThreadInput from workerData, reporting 'ready' once attached to the port
// and 'exiting' with its exit code just before it ends.

import type { Worker } from 'node:worker_threads';
import type { PortDescriptor } from '../port/index.ts';
import { spawnThread } from '../port/threads.ts';
import type { TraceDescriptor } from '../trace/shared.ts';
import type { FaultWords } from './fault-words.ts';

export interface ServerThreadInput {
  port: PortDescriptor;
  trace: TraceDescriptor | null;
  table: SharedArrayBuffer;
  index: number;
  gqcsBatch: number;
  listenSocket: number;
  faultWords: FaultWords;
  /** What the app's own threads need besides the session table (chat: its shared state). */
  appInput: unknown;
}

export interface ServerThread {
  readonly name: string;
  readonly worker: Worker;
  /** Resolves with the exit code once the thread has ended (never rejects). */
  readonly exited: Promise<number>;
  /** The code it reported before ending (port error, or 0), if it did. */
  reportedCode: number | null;
  /** Uncaught error thrown by the thread, if any. */
  error: Error | null;
  tid: number;
}

export class ThreadStartError extends Error {
  readonly code = 'ERR_THREAD_START';
}

export async function startThread(
  entry: URL,
  name: string,
  input: ServerThreadInput,
  startTimeoutMs = 30_000,
): Promise<ServerThread> {
  const worker = await spawnThread(entry, { workerData: input, name: `iocpscope ${name}` });
  const t: ServerThread = {
    name,
    worker,
    exited: new Promise((resolve) => worker.once('exit', resolve)),
    reportedCode: null,
    error: null,
    tid: -1,
  };
  worker.on('message', (m: { type: string; code?: number; tid?: number }) => {
    if (m.type === 'exiting') t.reportedCode = m.code ?? 0;
  });
  worker.on('error', (e) => {
    t.error = e;
    console.error(`iocpscope: thread ${name} failed:`, e);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new ThreadStartError(`${name} did not start within ${startTimeoutMs} ms`));
    }, startTimeoutMs);
    const onMsg = (m: { type: string; tid?: number }): void => {
      if (m.type !== 'ready') return;
      t.tid = m.tid ?? -1;
      cleanup();
      resolve();
    };
    const onErr = (e: Error): void => {
      cleanup();
      reject(new ThreadStartError(`${name} failed to start: ${e.message}`));
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new ThreadStartError(`${name} exited during start (code ${code})`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      worker.off('message', onMsg);
      worker.off('error', onErr);
      worker.off('exit', onExit);
    };
    worker.on('message', onMsg);
    worker.once('error', onErr);
    worker.once('exit', onExit);
  });
  return t;
}

/** Wait for a thread to end, at most timeoutMs. True if it ended. */
export async function joinThread(t: ServerThread, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const ended = await Promise.race([t.exited.then(() => true as const), timeout]);
  clearTimeout(timer);
  return ended;
}
