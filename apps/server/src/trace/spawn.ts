// Small helpers around worker threads. Server threads (the echo workers, the
// accept thread, the drainer) start with port/threads.ts spawnThread: their
// entry runs from an esbuild bundle, with no TypeScript loader in the thread.
//
// spawnTsWorker() is the synchronous variant for test fixtures that cannot wait
// for a bundle: it boots the entry through port/thread-boot.mjs (tsx registered
// in the new thread, about 0.3 s per thread), passing `data` for threadData().

import { Worker, workerData, type TransferListItem } from 'node:worker_threads';

const BOOT = new URL('../port/thread-boot.mjs', import.meta.url);

interface BootData {
  entry: string;
  data: unknown;
}

export interface SpawnOptions {
  name?: string;
  transferList?: TransferListItem[];
}

/** Start a worker on a TypeScript entry at once (slow start: see the header). */
export function spawnTsWorker(entry: URL, data: unknown, opts: SpawnOptions = {}): Worker {
  const wd: BootData = { entry: entry.href, data };
  return new Worker(BOOT, {
    execArgv: [],
    argv: [entry.href],
    workerData: wd,
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.transferList !== undefined ? { transferList: opts.transferList } : {}),
  });
}

/** Inside a worker started by spawnTsWorker: the `data` it was given. */
export function threadData<T>(): T {
  return (workerData as BootData).data as T;
}

/** Resolve when the worker exits; reject after timeoutMs (the worker keeps running). */
export function waitExit(w: Worker, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    if (w.threadId === -1) {
      resolve(0);
      return;
    }
    const t = setTimeout(() => {
      w.off('exit', onExit);
      reject(new Error(`thread did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    const onExit = (code: number): void => {
      clearTimeout(t);
      resolve(code);
    };
    w.once('exit', onExit);
  });
}
