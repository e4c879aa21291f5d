// The server's open traces, for the query API: a trace is opened by
// catalogue id, its index built in a worker thread (progress reported while
// it runs) or read from the index file beside it, and kept open for queries;
// the least recently used beyond `maxOpen` is closed. Opening a trace also
// starts its findings pass (findings-job.ts), in a worker thread of its own,
// beside the index build.

import { spawnThread } from '../port/threads.ts';
import { CHECKPOINT_EXTENSION, CheckpointFile, buildCheckpoints } from './checkpoints.ts';
import { FindingsJob } from './findings-job.ts';
import { stampOf, writeIndexFile } from './index-file.ts';
import type { Worker } from 'node:worker_threads';
import type { IndexWorkerInput, IndexWorkerMessage, IndexWorkerStart } from './index-worker.ts';
import { IndexedTrace } from './trace.ts';

export type TraceState =
  | { state: 'indexing'; bytesRead: number; totalBytes: number; events: number }
  | { state: 'ready'; trace: IndexedTrace }
  | { state: 'failed'; code: string; message: string };

interface Entry {
  file: string;
  state: TraceState;
  ready: Promise<IndexedTrace>;
  used: number;
  findings: FindingsJob | null;
}

export interface TraceServiceOptions {
  maxOpen?: number;
  cacheDir?: string;
  /** Build in this thread instead of a worker (tests). */
  inline?: boolean;
  /** Run the findings pass for each trace opened. Default true. */
  findings?: boolean;
  /**
   * Keep an index thread started and waiting, so that opening a trace does not
   * wait for a thread to start (about 0.1 s here); the server does. Default false.
   */
  prewarm?: boolean;
}

export class TraceService {
  private readonly entries = new Map<string, Entry>();
  private readonly workers = new Set<{ terminate(): Promise<number> }>();
  private readonly maxOpen: number;
  /** The index thread started ahead (prewarm), waiting for its file; null when none. */
  private spare: Promise<Worker | null> | null = null;
  private closed = false;
  /** Opens that took the spare index thread (prewarm) rather than starting one. */
  sparesTaken = 0;
  /** Index files being written from bytes an index thread handed over; close() waits for them. */
  private readonly writing = new Set<Promise<void>>();

  constructor(private readonly opts: TraceServiceOptions = {}) {
    this.maxOpen = opts.maxOpen ?? 4;
    this.ensureSpare();
  }

  /** Resolves once the spare index thread (prewarm) is loaded and waiting, or at once without one. */
  async warm(): Promise<void> {
    await this.spare;
  }

  /** A thread that waits for its file ('start'); it does not keep the process alive while it waits. */
  private async startSpare(): Promise<Worker | null> {
    try {
      const w = await this.spawnIndexThread(null);
      // A thread that failed to start, or ended, is no spare: the next open starts its own.
      w.on('error', () => undefined);
      // Loaded (its modules evaluated) and waiting: it says 'ready'.
      const online = await new Promise<boolean>((resolve) => {
        w.once('message', (m: IndexWorkerMessage) => resolve(m.type === 'ready'));
        w.once('exit', () => resolve(false));
      });
      if (!online) return null;
      w.unref(); // waiting, it keeps nothing alive; handed a file, it is ref'd again
      return w;
    } catch {
      return null;
    }
  }

  /**
   * An index thread for `input`: the spare when there is one (each spare is
   * handed to one open only), else a new one. The next spare starts once this
   * index is built (ensureSpare()), not beside the build.
   */
  private async indexThread(input: IndexWorkerInput): Promise<Worker> {
    const pending = this.spare;
    this.spare = null;
    const spare = pending === null ? null : await pending;
    if (spare !== null && this.workers.has(spare) && !this.closed) {
      spare.ref();
      this.sparesTaken++;
      const start: IndexWorkerStart = { type: 'start', input };
      spare.postMessage(start);
      return spare;
    }
    return this.spawnIndexThread(input);
  }

  /** An index thread, given its file (workerData) or to wait for one (null); close() ends it. */
  private async spawnIndexThread(input: IndexWorkerInput | null): Promise<Worker> {
    const w = await spawnThread(new URL('./index-worker.ts', import.meta.url), {
      workerData: input,
      name: 'iocpscope index',
    });
    this.workers.add(w);
    w.once('exit', () => this.workers.delete(w));
    return w;
  }

  /** A spare index thread started, when prewarm asks for one and none is there. */
  private ensureSpare(): void {
    if (
      this.opts.prewarm === true &&
      this.opts.inline !== true &&
      !this.closed &&
      this.spare === null
    )
      this.spare = this.startSpare();
  }

  /** The trace's state now; starts opening it (index build) if it is not open. */
  state(key: string, file: string): TraceState {
    return this.entry(key, file).state;
  }

  /** The open trace, once its index is there. */
  open(key: string, file: string): Promise<IndexedTrace> {
    return this.entry(key, file).ready;
  }

  /** The trace's findings pass (started when it was opened); null when turned off. */
  findings(key: string, file: string): FindingsJob | null {
    return this.entry(key, file).findings;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.writing);
    await this.spare;
    this.spare = null;
    for (const w of this.workers) await w.terminate();
    this.workers.clear();
    for (const e of this.entries.values()) {
      await e.findings?.close();
      if (e.state.state === 'ready') await e.state.trace.close();
    }
    this.entries.clear();
  }

  private entry(key: string, file: string): Entry {
    let e = this.entries.get(key);
    if (e !== undefined && e.file === file) {
      e.used = Date.now();
      return e;
    }
    void e?.findings?.close();
    // The findings pass yields to the index build while it runs (findings-worker.ts).
    const indexing = new Int32Array(new SharedArrayBuffer(4));
    indexing[0] = 1;
    const built = (): void => {
      Atomics.store(indexing, 0, 0);
      Atomics.notify(indexing, 0);
    };
    const entry: Entry = {
      file,
      state: { state: 'indexing', bytesRead: 0, totalBytes: 0, events: 0 },
      ready: Promise.resolve(null as never),
      used: Date.now(),
      findings: this.opts.findings === false ? null : FindingsJob.file(file, indexing),
    };
    entry.ready = this.build(entry).then(
      (t) => {
        built();
        entry.state = { state: 'ready', trace: t };
        return t;
      },
      (err: Error & { code?: string }) => {
        built();
        entry.state = { state: 'failed', code: err.code ?? 'INDEX_FAILED', message: err.message };
        throw err;
      },
    );
    entry.ready.catch(() => undefined);
    this.entries.set(key, entry);
    this.evict();
    e = entry;
    return e;
  }

  private async build(entry: Entry): Promise<IndexedTrace> {
    const cacheDir = this.opts.cacheDir;
    // Checkpoints arrive after the index; the trace is usable before them.
    let attach: (t: IndexedTrace) => void = () => undefined;
    let ckpPath: string | null = null;
    let ckpDone = false;
    const progress = { events: 0, checkpoints: 0 };
    // The index the thread built, handed over encoded (set in its message handler).
    let built = null as Handed | null;
    if (this.opts.inline !== true) {
      const input: IndexWorkerInput = { file: entry.file, ...(cacheDir ? { cacheDir } : {}) };
      const w = await this.indexThread(input);
      let traceRef: IndexedTrace | null = null;
      attach = (t) => {
        traceRef = t;
        t.checkpointProgress = progress;
        if (ckpDone && ckpPath !== null) void attachCheckpoints(t, ckpPath);
      };
      await new Promise<void>((resolve, reject) => {
        w.on('message', (m: IndexWorkerMessage) => {
          if (m.type === 'ready') {
            // the spare's, before it was handed this file
          } else if (m.type === 'progress') {
            entry.state = {
              state: 'indexing',
              bytesRead: m.bytesRead,
              totalBytes: m.totalBytes,
              events: m.events,
            };
          } else if (m.type === 'done') {
            if (m.encoded !== undefined) {
              built = { encoded: m.encoded, indexPath: m.indexPath ?? null, buildMs: m.buildMs };
            }
            resolve();
          } else if (m.type === 'checkpoints') {
            progress.events = m.events;
            progress.checkpoints = m.checkpoints;
          } else if (m.type === 'checkpoints-done') {
            ckpDone = true;
            ckpPath = m.path;
            progress.checkpoints = m.checkpoints;
            if (traceRef !== null) void attachCheckpoints(traceRef, m.path);
            void w.terminate();
          } else reject(Object.assign(new Error(m.message), { code: m.code }));
        });
        w.on('error', reject);
        w.on('exit', (c) =>
          c !== 0 && !ckpDone ? reject(new Error(`index thread exited ${c}`)) : undefined,
        );
      }).finally(() => this.ensureSpare());
    }
    const handed =
      built === null
        ? null
        : await IndexedTrace.fromEncoded(
            entry.file,
            built.encoded,
            built.indexPath,
            built.buildMs,
          ).catch(() => null);
    // Handed over: the index file is written now, beside the trace or in the
    // cache directory (the thread chose where), off the open's path. A write
    // that fails leaves no index file: the next open builds it again.
    if (handed !== null && built !== null && built.indexPath !== null)
      this.writeIndex(built.indexPath, built.encoded);
    // Otherwise (inline, or found on disk by the thread, or the file changed
    // meanwhile): open it here, from the index file when it matches.
    const t =
      handed ??
      (await IndexedTrace.open(entry.file, {
        ...(cacheDir ? { cacheDir } : {}),
        onProgress: (p) => {
          entry.state = { state: 'indexing', ...p };
        },
      }));
    if (this.opts.inline === true) {
      const ckp = `${t.indexPath ?? `${entry.file}.idx`}${CHECKPOINT_EXTENSION}`;
      t.checkpointProgress = progress;
      await buildCheckpoints(entry.file, ckp, {
        onProgress: (p) => Object.assign(progress, p),
      });
      await attachCheckpoints(t, ckp);
    } else attach(t);
    return t;
  }

  private writeIndex(at: string, bytes: Uint8Array): void {
    const w = writeIndexFile(at, bytes).catch(() => undefined);
    this.writing.add(w);
    void w.finally(() => this.writing.delete(w));
  }

  private evict(): void {
    while (this.entries.size > this.maxOpen) {
      let oldest: [string, Entry] | null = null;
      for (const kv of this.entries)
        if (oldest === null || kv[1].used < oldest[1].used) oldest = kv;
      if (oldest === null) return;
      this.entries.delete(oldest[0]);
      void oldest[1].findings?.close();
      void oldest[1].ready.then((t) => t.close()).catch(() => undefined);
    }
  }
}

/** An index built by the index thread, as it hands it over. */
interface Handed {
  encoded: Uint8Array;
  indexPath: string | null;
  buildMs: number;
}

async function attachCheckpoints(t: IndexedTrace, path: string): Promise<void> {
  const c = await CheckpointFile.open(path, await stampOf(t.path)).catch(() => null);
  if (c !== null) t.checkpoints = c;
}
