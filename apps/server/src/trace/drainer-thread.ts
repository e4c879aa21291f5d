// Runs the Drainer on its own worker thread, so that merging costs the busy
// main thread nothing but one message per batch (and nothing at all while no
// one subscribes).
// Batches arrive on the owning thread as transferred buffers and fan out to
// subscribers there.
//
// Lifecycle: start() -> batches flow -> stop() after every producer thread has
// exited: the worker pumps with final=true (reports residual loss), posts its
// last batches and 'done', and exits. Every batch reaches the subscribers
// before stop() resolves, so a recording subscribed here misses nothing.

import type { Worker } from 'node:worker_threads';
import { spawnThread } from '../port/threads.ts';
import type { SnapshotReason } from '@iocpscope/protocol';
import {
  DT_CONTROL_WORDS,
  DT_LISTENERS,
  DT_SNAP_REQ,
  DT_STOP,
  type DrainerThreadInput,
  type DrainerThreadMessage,
} from './drainer-protocol.ts';
import type { DrainStats } from './drainer.ts';
import {
  FeedFanout,
  type BatchListener,
  type SubscribeOptions,
  type TraceFeed,
  type TraceSnapshot,
} from './feed.ts';
import type { TraceShared } from './shared.ts';
import { waitExit } from './spawn.ts';
import { partialBracket } from './state-tracker.ts';

export interface DrainerThreadOptions {
  windowNs?: number;
  intervalMs?: number;
  maxBatchRecords?: number;
}

export interface DrainerStopResult {
  stats: DrainStats;
  /** Why draining failed, if it did. */
  error: DrainerThreadError | null;
}

export class DrainerThreadError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export class DrainerThread implements TraceFeed {
  private readonly fan = new FeedFanout();
  private readonly control = new Int32Array(new SharedArrayBuffer(DT_CONTROL_WORDS * 4));
  private worker: Worker | null = null;
  private lastStats: DrainStats = {
    batches: 0,
    records: 0,
    lateRecords: 0,
    lostRecords: 0,
    lostStrings: 0,
    threads: 0,
  };
  private done: Promise<DrainStats> | null = null;
  private failure: DrainerThreadError | null = null;
  private finished = false;

  constructor(
    private readonly shared: TraceShared,
    private readonly opts: DrainerThreadOptions = {},
  ) {}

  get descriptor(): TraceShared['descriptor'] {
    return this.shared.descriptor;
  }

  /** Start the worker; resolves once it runs. */
  async start(): Promise<void> {
    if (this.worker) throw new Error('drainer thread already started');
    const input: DrainerThreadInput = {
      sab: this.shared.sab,
      control: this.control.buffer as SharedArrayBuffer,
      windowNs: this.opts.windowNs ?? 20_000_000,
      intervalMs: this.opts.intervalMs ?? 5,
      maxBatchRecords: this.opts.maxBatchRecords ?? 65536,
    };
    const w = await spawnThread(new URL('./drainer-worker.ts', import.meta.url), {
      workerData: input,
      name: 'iocpscope drainer',
    });
    this.worker = w;
    let started!: () => void;
    let failedToStart!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      started = res;
      failedToStart = rej;
    });
    this.done = new Promise((resolve, reject) => {
      w.on('message', (m: DrainerThreadMessage | { type: 'ready' }) => {
        if (m.type === 'ready') started();
        else if (m.type === 'batch') {
          this.lastStats = m.stats;
          this.fan.deliver(m.records, m.strings, m.threadRecords);
        } else if (m.type === 'snapshot') {
          this.fan.deliverSnapshot(m.records, m.strings);
          this.updateListening();
        } else if (m.type === 'done') {
          this.lastStats = m.stats;
          this.finished = true;
          this.answerLate();
          resolve(m.stats);
        } else if (m.type === 'error') {
          this.failure = new DrainerThreadError(m.message, m.code);
          failedToStart(this.failure);
          reject(this.failure);
        }
      });
      w.on('error', (e) => {
        this.failure = new DrainerThreadError(String(e), 'ERR_DRAINER_THREAD');
        failedToStart(this.failure);
        reject(this.failure);
      });
      w.on('exit', (code) => {
        const e = new DrainerThreadError(
          `drainer thread exited early (${code})`,
          'ERR_DRAINER_THREAD',
        );
        failedToStart(e);
        reject(e);
      });
    });
    // Keep an unhandled-rejection-free chain; stop() reports the failure.
    this.done.catch(() => undefined);
    await ready;
  }

  subscribe(listener: BatchListener, options?: SubscribeOptions): () => void {
    const off = this.fan.subscribe(listener, options);
    Atomics.store(this.control, DT_LISTENERS, 1);
    return () => {
      off();
      this.updateListening();
    };
  }

  /**
   * The state as a Snapshot bracket, at an exact cut of the stream: the
   * drainer thread answers between two batches (see feed.ts). Whole batches
   * are posted from the request on, so one subscribed in `deliver` misses
   * nothing.
   */
  requestSnapshot(reason: SnapshotReason, deliver: (snap: TraceSnapshot) => void): void {
    this.fan.addSnapshotRequest(reason, deliver);
    Atomics.store(this.control, DT_LISTENERS, 1);
    if (this.finished) {
      this.answerLate();
      return;
    }
    Atomics.add(this.control, DT_SNAP_REQ, 1);
    Atomics.notify(this.control, DT_STOP);
  }

  /** Keep every batch from now on until releaseHold() (serve --record: see feed.ts). */
  hold(): void {
    this.fan.hold();
    Atomics.store(this.control, DT_LISTENERS, 1);
  }

  releaseHold(): void {
    this.fan.releaseHold();
    this.updateListening();
  }

  /** After the drainer thread ended: the stream is over, its last state is the structural one. */
  private answerLate(): void {
    if (this.fan.pendingSnapshots === 0) return;
    const snap = this.fan.snapshot();
    this.fan.deliverSnapshot(partialBracket(snap.records, 0), snap.strings);
  }

  private updateListening(): void {
    const on = this.fan.listenerCount > 0 || this.fan.pendingSnapshots > 0 || this.fan.holding;
    Atomics.store(this.control, DT_LISTENERS, on ? 1 : 0);
  }

  snapshot(): TraceSnapshot {
    return this.fan.snapshot();
  }

  /**
   * Resolves true once the snapshot names every thread in `tids` (their
   * ThreadStart records made it through the merge window), false after timeoutMs.
   */
  async threadsKnown(tids: readonly number[], timeoutMs = 5000): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!tids.every((t) => this.fan.knowsThread(t))) {
      if (performance.now() > deadline || this.failure) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
    return true;
  }

  stats(): DrainStats {
    return { ...this.lastStats };
  }

  /**
   * Final drain. Call after every recording thread has exited. Resolves with the
   * final stats once the last batch was delivered.
   */
  async stop(timeoutMs = 10_000): Promise<DrainerStopResult> {
    const w = this.worker;
    if (!w || !this.done) throw new Error('drainer thread not started');
    Atomics.store(this.control, DT_STOP, 1);
    Atomics.notify(this.control, DT_STOP);
    let result: DrainerStopResult;
    try {
      result = { stats: await this.done, error: null };
    } catch (e) {
      // The stream already delivered stays delivered; report why the rest is missing.
      result = { stats: this.stats(), error: e as DrainerThreadError };
    }
    if (
      !(await waitExit(w, timeoutMs).then(
        () => true,
        () => false,
      ))
    )
      await w.terminate();
    return result;
  }

  get error(): DrainerThreadError | null {
    return this.failure;
  }
}
