// Worker-thread entry: build (or check) the index of one trace file off the
// server's main thread, which is the emulated kernel and the dashboard's
// network loop. Posts progress while scanning and 'done' once the index file
// is written (the main thread then opens it: IndexedTrace.open finds it).

import { parentPort, workerData } from 'node:worker_threads';
import { IndexedTrace } from './trace.ts';

export interface IndexWorkerInput {
  file: string;
  cacheDir?: string;
}

export type IndexWorkerMessage =
  | { type: 'progress'; bytesRead: number; totalBytes: number; events: number }
  | { type: 'done'; buildMs: number; events: number }
  | { type: 'error'; code: string; message: string };

const input = workerData as IndexWorkerInput;
const post = (m: IndexWorkerMessage): void => parentPort!.postMessage(m);

try {
  const t = await IndexedTrace.open(input.file, {
    ...(input.cacheDir !== undefined ? { cacheDir: input.cacheDir } : {}),
    onProgress: (p) => post({ type: 'progress', ...p }),
  });
  await t.close();
  post({ type: 'done', buildMs: t.buildMs, events: t.index.events });
} catch (e) {
  const err = e as Error & { code?: string };
  post({ type: 'error', code: err.code ?? 'INDEX_FAILED', message: err.message });
}
