// The main thread's side of a findings pass (findings-worker.ts): it starts
// the worker, keeps the findings in the order they were found (bounded: the
// runner caps them per rule), the progress and the outcome, and answers the
// findings route from them.
//
// Follow mode (a trace being written) posts each chunk's records to the
// worker as they are written, transferred, not copied. The worker's backlog
// is bounded: past `maxBacklogEvents` not yet walked, chunks are skipped up to
// the next part's first chunk (parts open on their own), where the walk
// resumes; the events skipped are counted and reported.

import type { Finding, RuleId } from '@iocpscope/analysis';
import type { Worker } from 'node:worker_threads';
import { spawnThread } from '../port/threads.ts';
import type {
  FindingsWorkerInput,
  FindingsWorkerMessage,
  FollowMessage,
} from './findings-worker.ts';

export type FindingsState = 'running' | 'done' | 'failed';

/** What GET /api/traces/:id/findings answers (bigints become "0x..." in JSON). */
export interface FindingsView {
  state: FindingsState;
  /** Events walked so far (the index of the next one, for a walk that started later). */
  walked: number;
  /** Findings found so far: the list's length. */
  total: number;
  /** Index in the list of the first finding given. */
  from: number;
  /** Findings [from, from + limit) of the list, in the order they were found. */
  findings: Finding[];
  /** Findings over the per-rule cap, counted, by rule. */
  suppressed: Partial<Record<RuleId, number>>;
  /** When done: whether the end-of-trace checks ran (the trace covers the server's exit). */
  endOfRun?: boolean;
  /** When done: the trace could not be read to its end (findings cover the part before). */
  damaged?: boolean;
  /** Follow mode: events not walked because the walk fell too far behind. */
  skipped?: number;
  /** When failed. */
  error?: { code: string; message: string };
}

export interface FollowChunk {
  part: number;
  path: string;
  offset: number;
  bytes: number;
  first: number;
  local: number;
  records: Uint32Array;
  strings: Array<[number, string]>;
}

export class FindingsJob {
  state: FindingsState = 'running';
  readonly findings: Finding[] = [];
  walked = 0;
  bytesRead = 0;
  totalBytes = 0;
  suppressed: Partial<Record<RuleId, number>> = {};
  endOfRun: boolean | undefined;
  damaged: boolean | undefined;
  error: { code: string; message: string } | undefined;
  /** Follow mode: events skipped, and events posted to the worker so far (its end). */
  skipped = 0;
  #posted = 0;
  #skipping = false;
  #worker: Worker | null = null;
  #queue: Array<[FollowMessage, ArrayBuffer[]]> | null = [];
  #closed = false;
  readonly #maxBacklog: number;
  readonly #onCheckpoint: ((part: number, k: number, records: Uint32Array) => void) | undefined;
  readonly #done: Promise<void>;
  #resolveDone!: () => void;

  private constructor(
    input: FindingsWorkerInput,
    opts: {
      maxBacklogEvents?: number;
      onCheckpoint?: (part: number, k: number, records: Uint32Array) => void;
    } = {},
  ) {
    this.#maxBacklog = opts.maxBacklogEvents ?? 4_000_000;
    this.#onCheckpoint = opts.onCheckpoint;
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
    void this.#start(input);
  }

  /**
   * Walk a trace file (read whole, or up to its damage). `indexing` (1 while
   * the file's index is being built, then 0 with Atomics.notify) makes the
   * walk yield to that build meanwhile.
   */
  static file(file: string, indexing?: Int32Array): FindingsJob {
    return new FindingsJob({ mode: 'file', file, ...(indexing ? { indexing } : {}) });
  }

  /** Follow a trace being written: give it every chunk with chunk(), then end(). */
  static follow(opts: {
    checkpointInterval: number;
    maxBacklogEvents?: number;
    onCheckpoint?: (part: number, k: number, records: Uint32Array) => void;
  }): FindingsJob {
    return new FindingsJob({ mode: 'follow', interval: opts.checkpointInterval }, opts);
  }

  /** Resolves once the walk is done or failed (or the job closed). */
  whenDone(): Promise<void> {
    return this.#done;
  }

  /** Follow mode: the next chunk written (its records are transferred to the worker). */
  chunk(c: FollowChunk): void {
    if (this.#closed || this.state !== 'running') return;
    const n = c.records.length / 8;
    if (this.#skipping) {
      if (c.local !== 0) {
        this.skipped += n;
        return;
      }
      this.#skipping = false;
      this.#send({ type: 'resume', first: c.first }, []);
    } else if (c.first - this.walked > this.#maxBacklog) {
      // The walk is too far behind: skip to the next part's start.
      this.#skipping = true;
      this.skipped += n;
      return;
    }
    this.#posted = c.first + n;
    this.#send({ type: 'chunk', ...c }, [c.records.buffer as ArrayBuffer]);
  }

  /** Follow mode: the trace ended; `damaged` as for a file. */
  end(damaged = false): void {
    this.#send({ type: 'end', damaged }, []);
  }

  /** Events posted to the worker (follow mode). */
  get posted(): number {
    return this.#posted;
  }

  view(from: number, limit: number): FindingsView {
    const v: FindingsView = {
      state: this.state,
      walked: this.walked,
      total: this.findings.length,
      from,
      findings: this.findings.slice(from, from + limit),
      suppressed: this.suppressed,
    };
    if (this.endOfRun !== undefined) v.endOfRun = this.endOfRun;
    if (this.damaged !== undefined) v.damaged = this.damaged;
    if (this.skipped > 0) v.skipped = this.skipped;
    if (this.error !== undefined) v.error = this.error;
    return v;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#resolveDone();
    await this.#worker?.terminate();
    this.#worker = null;
  }

  #send(m: FollowMessage, transfer: ArrayBuffer[]): void {
    if (this.#closed) return;
    if (this.#queue !== null) this.#queue.push([m, transfer]);
    else this.#worker?.postMessage(m, transfer);
  }

  async #start(input: FindingsWorkerInput): Promise<void> {
    let w: Worker;
    try {
      w = await spawnThread(new URL('./findings-worker.ts', import.meta.url), {
        workerData: input,
        name: 'iocpscope findings',
      });
    } catch (e) {
      this.#fail('FINDINGS_FAILED', `cannot start the findings thread: ${String(e)}`);
      return;
    }
    if (this.#closed) {
      await w.terminate();
      return;
    }
    this.#worker = w;
    w.on('message', (m: FindingsWorkerMessage) => this.#onMessage(m));
    w.on('error', (e) => this.#fail('FINDINGS_FAILED', e.message));
    w.on('exit', (code) => {
      if (this.state === 'running' && !this.#closed && input.mode === 'file') {
        this.#fail('FINDINGS_FAILED', `findings thread exited (${code})`);
      }
    });
    for (const [m, t] of this.#queue ?? []) w.postMessage(m, t);
    this.#queue = null;
  }

  #onMessage(m: FindingsWorkerMessage): void {
    switch (m.type) {
      case 'findings':
        this.findings.push(...m.findings);
        this.walked = m.walked;
        this.suppressed = Object.fromEntries(m.suppressed);
        return;
      case 'progress':
        this.walked = m.walked;
        this.bytesRead = m.bytesRead;
        this.totalBytes = m.totalBytes;
        return;
      case 'checkpoint':
        this.#onCheckpoint?.(m.part, m.k, m.records);
        return;
      case 'done':
        this.walked = m.walked;
        this.suppressed = Object.fromEntries(m.suppressed);
        this.endOfRun = m.endOfRun;
        this.damaged = m.damaged;
        this.state = 'done';
        this.#resolveDone();
        void this.#worker?.terminate();
        return;
      case 'error':
        this.#fail(m.code, m.message);
        return;
    }
  }

  #fail(code: string, message: string): void {
    if (this.state !== 'running') return;
    this.state = 'failed';
    this.error = { code, message };
    this.#resolveDone();
    void this.#worker?.terminate();
  }
}
