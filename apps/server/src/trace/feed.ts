// The seam between tracing and its consumers (the live hub, file recorders,
// tests): a TraceFeed delivers the merged event stream as batches of whole
// 32-byte records in timestamp order, each with the strings first used since
// the previous batch. Subscribers are called on the thread that owns the feed.
//
// Late subscribers call snapshot() first: every string delivered so far, the
// latest PortCreated, and ThreadStart + latest ThreadState of each live thread,
// so a dashboard that connects mid-run can name threads and show their state.
// Records passed to a listener are only valid during the call (copy to keep).

import { EventKind, RECORD_WORDS, kindAt, tidAt, tsAt } from '@iocpscope/protocol';
import type { DrainStats, StringEntry } from './drainer.ts';
import type { TraceDescriptor } from './shared.ts';

export type BatchListener = (records: Uint32Array, strings: readonly StringEntry[]) => void;

/** What a late subscriber needs before live batches make sense (same shape as hub/types.ts). */
export interface TraceSnapshot {
  /** The latest PortCreated, then ThreadStart and latest ThreadState of each live thread, by time. */
  records: Uint32Array;
  /** Every string delivered so far (the newest 2^20). */
  strings: Array<[number, string]>;
}

export interface TraceFeed {
  /** Returns the unsubscribe function. */
  subscribe(listener: BatchListener): () => void;
  snapshot(): TraceSnapshot;
  stats(): DrainStats;
  /** For attaching recorders in other threads. */
  readonly descriptor: TraceDescriptor;
}

const MAX_SNAPSHOT_STRINGS = 1 << 20;

/** Picks the records a snapshot needs out of a batch (run where the batch is made). */
export function threadRecordsOf(records: Uint32Array): Uint32Array {
  const n = records.length / RECORD_WORDS;
  let m = 0;
  for (let i = 0; i < n; i++) if (isThreadKind(kindAt(records, i))) m++;
  const out = new Uint32Array(m * RECORD_WORDS);
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (!isThreadKind(kindAt(records, i))) continue;
    out.set(records.subarray(i * RECORD_WORDS, (i + 1) * RECORD_WORDS), j * RECORD_WORDS);
    j++;
  }
  return out;
}

const isThreadKind = (k: number): boolean =>
  k === EventKind.ThreadStart ||
  k === EventKind.ThreadState ||
  k === EventKind.ThreadExit ||
  k === EventKind.PortCreated;

/** Fan-out plus snapshot bookkeeping, shared by feed implementations. */
export class FeedFanout {
  private readonly listeners = new Set<BatchListener>();
  private readonly strings = new Map<number, string>();
  private portCreated: Uint32Array | null = null;
  /** tid -> [ThreadStart, latest ThreadState or null] of threads that have not exited. */
  private readonly threads = new Map<number, [Uint32Array, Uint32Array | null]>();

  subscribe(listener: BatchListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** True once the ThreadStart of `tid` was delivered (and it has not exited). */
  knowsThread(tid: number): boolean {
    return this.threads.has(tid);
  }

  /**
   * Fold a batch into the snapshot state and hand it to the listeners.
   * `threadRecords` (ThreadStart/ThreadState/ThreadExit/PortCreated only), when the
   * producer already picked them out, saves scanning `records` here; `records`
   * is null when the producer skipped them because nobody listened.
   */
  deliver(
    records: Uint32Array | null,
    strings: readonly StringEntry[],
    threadRecords?: Uint32Array,
  ): void {
    for (const [id, s] of strings) {
      if (this.strings.size >= MAX_SNAPSHOT_STRINGS) {
        const oldest = this.strings.keys().next().value as number;
        this.strings.delete(oldest);
      }
      this.strings.set(id, s);
    }
    const scan = threadRecords ?? records;
    if (scan) this.noteThreads(scan);
    if (!records) return;
    for (const l of this.listeners) {
      try {
        l(records, strings);
      } catch (e) {
        // A broken subscriber must not starve the others; say so loudly.
        console.error('iocpscope: trace subscriber threw:', e);
      }
    }
  }

  private noteThreads(records: Uint32Array): void {
    const n = records.length / RECORD_WORDS;
    for (let i = 0; i < n; i++) {
      const k = kindAt(records, i);
      if (k === EventKind.ThreadStart) {
        this.threads.set(tidAt(records, i), [copyRecord(records, i), null]);
      } else if (k === EventKind.ThreadState) {
        const t = this.threads.get(tidAt(records, i));
        if (t) t[1] = copyRecord(records, i);
      } else if (k === EventKind.ThreadExit) {
        this.threads.delete(tidAt(records, i));
      } else if (k === EventKind.PortCreated) {
        this.portCreated = copyRecord(records, i);
      }
    }
  }

  snapshot(): TraceSnapshot {
    const recs: Uint32Array[] = [];
    if (this.portCreated) recs.push(this.portCreated);
    for (const [start, state] of this.threads.values()) {
      recs.push(start);
      if (state) recs.push(state);
    }
    recs.sort((a, b) => tsAt(a, 0) - tsAt(b, 0));
    const out = new Uint32Array(recs.length * RECORD_WORDS);
    recs.forEach((r, i) => out.set(r, i * RECORD_WORDS));
    return { records: out, strings: [...this.strings.entries()] };
  }
}

function copyRecord(w: Uint32Array, i: number): Uint32Array {
  return w.slice(i * RECORD_WORDS, (i + 1) * RECORD_WORDS);
}
