// The seam between tracing and its consumers (the live hub, file recorders,
// tests): a TraceFeed delivers the merged event stream as batches of whole
// 32-byte records in timestamp order, each with the strings first used since
// the previous batch. Subscribers are called on the thread that owns the feed.
//
// Late subscribers ask for the state first. requestSnapshot() (feeds that fold
// the stream into a StateTracker: the drainer thread) answers with a v2
// Snapshot bracket (every live thread with its state, session with its
// outstanding I/O, the queue, held locks) at an exact cut of the stream: the
// callback runs after every earlier batch was handed to the listeners and
// before any later one, so a listener it subscribes misses nothing and sees
// nothing twice. snapshot() is the older, structural answer (strings, the
// latest PortCreated, ThreadStart + latest ThreadState of each live thread).
// Records passed to a listener are only valid during the call (copy to keep).
//
// Start-up hold: a feed told to hold (hold()) keeps every batch from the start
// until releaseHold(), so a recording subscribed a moment after the server
// began (serve --record) can still get the whole stream from its first record
// (subscribe(l, { fromStart: true })). Past a size bound the held batches are
// dropped and counted, and a fromStart listener gets a Gap for them first.

import {
  EventKind,
  GapSource,
  NO_THREAD,
  RECORD_WORDS,
  kindAt,
  tidAt,
  tsAt,
  writeRecord,
  type SnapshotReason,
} from '@iocpscope/protocol';
import { setSnapshotReason } from './state-tracker.ts';
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

export interface SubscribeOptions {
  /** Get the batches held since the start first (see FeedFanout.hold()). */
  fromStart?: boolean;
}

export interface TraceFeed {
  /** Returns the unsubscribe function. */
  subscribe(listener: BatchListener, options?: SubscribeOptions): () => void;
  snapshot(): TraceSnapshot;
  /**
   * The state as a Snapshot bracket with `reason`, handed to `deliver` at an
   * exact cut of the stream (after every earlier batch, before any later one).
   */
  requestSnapshot?(reason: SnapshotReason, deliver: (snap: TraceSnapshot) => void): void;
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

/** Held start-up batches beyond this many bytes are dropped (and counted). */
export const HOLD_MAX_BYTES = 256 * 1024 * 1024;

interface SnapshotRequest {
  reason: SnapshotReason;
  deliver: (snap: TraceSnapshot) => void;
}

/** Fan-out plus snapshot bookkeeping, shared by feed implementations. */
export class FeedFanout {
  private readonly listeners = new Set<BatchListener>();
  private readonly strings = new Map<number, string>();
  private portCreated: Uint32Array | null = null;
  /** tid -> [ThreadStart, latest ThreadState or null] of threads that have not exited. */
  private readonly threads = new Map<number, [Uint32Array, Uint32Array | null]>();
  private readonly requests: SnapshotRequest[] = [];
  /** Start-up hold: batches kept since the start (copies), or null when not holding. */
  private held: Array<[Uint32Array, StringEntry[]]> | null = null;
  private heldBytes = 0;
  private heldDropped = 0;
  private heldDroppedTs = 0;

  subscribe(listener: BatchListener, options: SubscribeOptions = {}): () => void {
    if (options.fromStart === true && this.held !== null) {
      for (const [records, strings] of this.held) safeCall(listener, records, strings);
      if (this.heldDropped > 0) {
        const gap = new Uint32Array(RECORD_WORDS);
        const lost = this.heldDropped;
        writeRecord(
          gap,
          0,
          EventKind.Gap,
          GapSource.RingOverflow,
          NO_THREAD,
          lost % 2 ** 32,
          this.heldDroppedTs,
          0,
          0,
          Math.floor(lost / 2 ** 32),
          0,
        );
        safeCall(listener, gap, []);
      }
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Keep every batch from now until releaseHold() (for subscribe's fromStart). */
  hold(): void {
    this.held ??= [];
  }

  /** Drop the held batches; later fromStart subscribers start live. */
  releaseHold(): void {
    this.held = null;
    this.heldBytes = 0;
  }

  get holding(): boolean {
    return this.held !== null;
  }

  /** Snapshot requests waiting for their answer. */
  get pendingSnapshots(): number {
    return this.requests.length;
  }

  /** Queue a snapshot request; the producer answers it with deliverSnapshot() at a cut. */
  addSnapshotRequest(reason: SnapshotReason, deliver: (snap: TraceSnapshot) => void): void {
    this.requests.push({ reason, deliver });
  }

  /**
   * The producer's answer to every request queued so far: a bracket (any
   * reason; each requester gets its own copy with its reason), called in
   * stream order between two deliver() calls.
   */
  deliverSnapshot(records: Uint32Array, strings: readonly StringEntry[]): void {
    const reqs = this.requests.splice(0);
    const all = strings.map(([id, v]): [number, string] => [id, v]);
    for (const r of reqs) {
      const copy = records.slice();
      setSnapshotReason(copy, r.reason);
      try {
        r.deliver({ records: copy, strings: all });
      } catch (e) {
        console.error('iocpscope: snapshot subscriber threw:', e);
      }
    }
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
    if (this.held !== null) this.keep(records, strings);
    for (const l of this.listeners) safeCall(l, records, strings);
  }

  private keep(records: Uint32Array, strings: readonly StringEntry[]): void {
    const n = records.length / RECORD_WORDS;
    if (this.heldBytes + records.byteLength > HOLD_MAX_BYTES) {
      // Bounded: the strings stay (later records may use them), the records are counted.
      this.heldDropped += n;
      if (n > 0) this.heldDroppedTs = tsAt(records, n - 1);
      if (strings.length > 0) this.held!.push([new Uint32Array(0), [...strings]]);
      return;
    }
    this.heldBytes += records.byteLength;
    this.held!.push([records.slice(), [...strings]]);
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

function safeCall(l: BatchListener, records: Uint32Array, strings: readonly StringEntry[]): void {
  try {
    l(records, strings);
  } catch (e) {
    // A broken subscriber must not starve the others; say so loudly.
    console.error('iocpscope: trace subscriber threw:', e);
  }
}

function copyRecord(w: Uint32Array, i: number): Uint32Array {
  return w.slice(i * RECORD_WORDS, (i + 1) * RECORD_WORDS);
}
