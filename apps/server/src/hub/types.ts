// What the streaming side consumes from the rest of the server, as small
// interfaces so that hub/, record/ and transport/ can be fed by the live
// drainer (trace/), by a replay of a recording, or by synthetic records in
// tests, without knowing which.

import type { SnapshotReason } from '@iocpscope/protocol';

/** (id, string) pairs: strings first used by a batch of records. */
export type StringEntries = ReadonlyArray<readonly [number, string]>;

/**
 * One timestamp-ordered batch. `records` is whole 32-byte records (8 u32
 * words each) and is only valid during the call: the producer may reuse its
 * buffer afterwards, so listeners copy what they keep.
 */
export type EventBatchListener = (records: Uint32Array, strings: StringEntries) => void;

/** A producer of event batches: the drainer, a replay, a test source. */
export interface EventSource {
  /**
   * Start receiving batches; returns the unsubscribe function. `fromStart`
   * (sources that hold their start-up batches, trace/feed.ts): get those first.
   */
  subscribe(listener: EventBatchListener, options?: { fromStart?: boolean }): () => void;
  /**
   * Sources that track the stream's state (the drainer): hand `deliver` a v2
   * Snapshot bracket (FORMAT.md §3.2) with `reason`, at an exact cut of the
   * stream: after every batch before it reached the listeners, before any
   * later one. A listener subscribed inside `deliver` continues exactly there.
   */
  requestSnapshot?(reason: SnapshotReason, deliver: (snap: TraceSnapshot) => void): void;
}

/** The state a late subscriber needs before live batches make sense. */
export interface TraceSnapshot {
  /**
   * A Snapshot bracket (requestSnapshot), or the older structural records
   * (ThreadStart and latest ThreadState of live threads and the latest
   * PortCreated, in stream order).
   */
  records: Uint32Array;
  /** Every string defined so far. */
  strings: Array<[number, string]>;
}
