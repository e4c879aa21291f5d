// What the drainer thread and its owner share (drainer-thread.ts starts it,
// drainer-worker.ts runs in it): the control words and the messages. Kept
// apart so the thread's bundle does not pull in the owner's spawning code.

import type { DrainStats, StringEntry } from './drainer.ts';

export const DT_STOP = 0;
/** 1 while the owning thread has subscribers: only then are whole batches posted to it. */
export const DT_LISTENERS = 1;
/** Snapshot requests made so far (the owner adds 1 and wakes the thread; each is answered in order). */
export const DT_SNAP_REQ = 2;
export const DT_CONTROL_WORDS = 4;

export interface DrainerThreadInput {
  sab: SharedArrayBuffer;
  control: SharedArrayBuffer;
  windowNs: number;
  intervalMs: number;
  maxBatchRecords: number;
}

export type DrainerThreadMessage =
  | {
      type: 'batch';
      /** Null when nobody listened (the owner only needs threadRecords then). */
      records: Uint32Array | null;
      threadRecords: Uint32Array;
      strings: StringEntry[];
      stats: DrainStats;
    }
  | {
      type: 'snapshot';
      /** Answers every request up to this count (DT_SNAP_REQ). */
      upTo: number;
      /** A Snapshot bracket (reason RecordingStart: the owner sets each requester's). */
      records: Uint32Array;
      strings: StringEntry[];
    }
  | { type: 'done'; stats: DrainStats }
  | { type: 'error'; message: string; code: string };
