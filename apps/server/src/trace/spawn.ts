// Start a worker thread that runs a TypeScript module (via boot.mjs). The
// module reads its own input with `threadData<T>()`.

import { Worker, workerData, type TransferListItem } from 'node:worker_threads';

const BOOT = new URL('./boot.mjs', import.meta.url);

interface BootData {
  entry: string;
  data: unknown;
}

export interface SpawnOptions {
  name?: string;
  transferList?: TransferListItem[];
}

export function spawnTsWorker(entry: URL, data: unknown, opts: SpawnOptions = {}): Worker {
  const wd: BootData = { entry: entry.href, data };
  return new Worker(BOOT, {
    execArgv: [],
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
