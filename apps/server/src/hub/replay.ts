// A replay source: feeds a recorded (or generated) trace to subscribers in
// batches, as the live drainer would, so the hub, transport and recorder can
// run without an echo server (tests, the stream benchmark, `serve` of a file).
// Strings go with the first batch. Between batches it yields one event-loop
// turn (setImmediate), so sockets keep flowing; an optional gate lets a caller
// hold the next batch (e.g. until clients have drained).

import { RECORD_WORDS } from '@iocpscope/protocol';
import type { EventBatchListener, EventSource, StringEntries } from './types.ts';

export interface ReplayRunOptions {
  /** Records per batch. Default 4096. */
  batchRecords?: number;
  /** Awaited before each batch when it returns a promise. */
  gate?: () => Promise<void> | undefined;
  signal?: AbortSignal;
}

export interface ReplayResult {
  events: number;
  batches: number;
  elapsedMs: number;
}

export class ReplaySource implements EventSource {
  readonly #records: Uint32Array;
  readonly #strings: StringEntries;
  readonly #listeners = new Set<EventBatchListener>();

  constructor(trace: { records: Uint32Array; strings: StringEntries }) {
    if (trace.records.length % RECORD_WORDS !== 0) {
      throw new RangeError('replay: records are not whole 8-word records');
    }
    this.#records = trace.records;
    this.#strings = trace.strings;
  }

  get eventCount(): number {
    return this.#records.length / RECORD_WORDS;
  }

  subscribe(listener: EventBatchListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Deliver the whole trace once, as fast as the event loop (and the gate) allow. */
  async run(options: ReplayRunOptions = {}): Promise<ReplayResult> {
    const batch = Math.max(1, Math.floor(options.batchRecords ?? 4096));
    const total = this.eventCount;
    const t0 = performance.now();
    let batches = 0;
    let off = 0;
    while (off < total || (batches === 0 && this.#strings.length > 0)) {
      if (options.signal?.aborted) break;
      const wait = options.gate?.();
      if (wait !== undefined) await wait;
      const end = Math.min(total, off + batch);
      const records = this.#records.subarray(off * RECORD_WORDS, end * RECORD_WORDS);
      const strings = batches === 0 ? this.#strings : [];
      for (const l of this.#listeners) l(records, strings);
      batches++;
      off = end;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { events: off, batches, elapsedMs: performance.now() - t0 };
  }
}
