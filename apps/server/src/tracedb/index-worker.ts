// Worker-thread entry: build (or check) the index of one trace file off the
// server's main thread, which is the emulated kernel and the dashboard's
// network loop. Posts progress while scanning and 'done' with the index,
// encoded, once it is built (the main thread decodes it and writes the index
// file; when the index was already on disk, it opens that);
// then builds the state checkpoints beside it (checkpoints.ts), posting
// 'checkpoints' progress and 'checkpoints-done'.
//
// Started with its file (workerData), or ahead of one (TraceService's
// prewarm): then it loads, says 'ready' and waits for a 'start' message.

import { parentPort, workerData } from 'node:worker_threads';
import { once } from 'node:events';
import { CHECKPOINT_EXTENSION, CheckpointFile, buildCheckpoints } from './checkpoints.ts';
import { stampOf } from './index-file.ts';
import { IndexedTrace } from './trace.ts';

export interface IndexWorkerInput {
  file: string;
  cacheDir?: string;
}

/**
 * A thread started before it has a file (TraceService's spare, warm when a
 * trace is opened) waits for this message.
 */
export interface IndexWorkerStart {
  type: 'start';
  input: IndexWorkerInput;
}

export type IndexWorkerMessage =
  /** A thread started without a file: loaded, and waiting for IndexWorkerStart. */
  | { type: 'ready' }
  | { type: 'progress'; bytesRead: number; totalBytes: number; events: number }
  | {
      type: 'done';
      buildMs: number;
      events: number;
      /** The index built here, encoded (its buffer transferred), and where the main thread writes it. */
      encoded?: Uint8Array;
      indexPath?: string | null;
    }
  | { type: 'checkpoints'; events: number; checkpoints: number }
  | { type: 'checkpoints-done'; path: string; checkpoints: number }
  | { type: 'error'; code: string; message: string };

const post = (m: IndexWorkerMessage, transfer: ArrayBuffer[] = []): void =>
  parentPort!.postMessage(m, transfer);

async function startMessage(): Promise<IndexWorkerInput> {
  const got = once(parentPort!, 'message');
  post({ type: 'ready' });
  return ((await got)[0] as IndexWorkerStart).input;
}

const input =
  workerData !== null && workerData !== undefined
    ? (workerData as IndexWorkerInput)
    : await startMessage();
try {
  let encoded: Uint8Array | undefined;
  let indexPath: string | null = null;
  const t = await IndexedTrace.open(input.file, {
    ...(input.cacheDir !== undefined ? { cacheDir: input.cacheDir } : {}),
    onProgress: (p) => post({ type: 'progress', ...p }),
    writeLater: true, // the main thread writes the file, once it has the bytes
    onEncoded: (bytes, at) => {
      encoded = bytes;
      indexPath = at;
    },
  });
  await t.close();
  // Built here: hand the encoded index over (moved, not copied) rather than
  // have the main thread read the file back (for 100 M events, 139 MiB); it
  // decodes the bytes in place and writes them to indexPath after, so the
  // write is not on the open's path. (encodeIndex gives a buffer of its own:
  // the whole of it moves.)
  post(
    {
      type: 'done',
      buildMs: t.buildMs,
      events: t.index.events,
      ...(encoded !== undefined ? { encoded, indexPath } : {}),
    },
    encoded !== undefined ? [encoded.buffer as ArrayBuffer] : [],
  );
  // Beside the index when it is there (same directory rules as the index).
  const ckp = `${t.indexPath ?? `${input.file}.idx`}${CHECKPOINT_EXTENSION}`;
  const have = await CheckpointFile.open(ckp, await stampOf(input.file));
  const n =
    have !== null
      ? have.count
      : await buildCheckpoints(input.file, ckp, {
          onProgress: (p) => post({ type: 'checkpoints', ...p }),
        });
  post({ type: 'checkpoints-done', path: ckp, checkpoints: n });
} catch (e) {
  const err = e as Error & { code?: string };
  post({ type: 'error', code: err.code ?? 'INDEX_FAILED', message: err.message });
}
