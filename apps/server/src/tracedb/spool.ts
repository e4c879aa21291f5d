// The live spool: while `serve` shows a live source, the recent history on
// disk even when nobody pressed Record, bounded by a byte budget, so a
// dashboard can pause and scroll back through it (the trace id `live`).
//
// Model:
// - A RecordingSink subscribed to the source from its first record (or, for a
//   source already running, from a Snapshot bracket at a cut) writes parts of
//   `partBytes` each, rotated at an exact cut (each part opens with a
//   bracket), into its own directory `<root>/spool-<pid>-<n>`.
// - A LiveTrace follows every written chunk (tracedb/live-trace.ts): the
//   spool is queryable up to its newest chunk, with its findings walked.
// - Past `limitBytes` the oldest parts are deleted (never the part being
//   written); what was deleted is counted and said (`dropped`).
// - It is a cache, not a recording: its directory is deleted when the server
//   stops, and a directory left by a server that was killed (its pid no longer
//   runs) is deleted when the next one starts.
// - `position` counts the source's records the spool has seen: the hub numbers
//   its frames with it (FORMAT.md §5.1), and the LiveTrace's stream map turns
//   those numbers into the spool's event numbers.

import { mkdir, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  RECORD_WORDS,
  SnapshotReason,
  TraceEndReason,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { StreamError } from '../hub/errors.ts';
import type { EventBatchListener, EventSource, TraceSnapshot } from '../hub/types.ts';
import { RecordingSink, type ChunkWritten } from '../record/sink.ts';
import { processAlive } from './alive.ts';
import { LiveTrace } from './live-trace.ts';

export const DEFAULT_SPOOL_BYTES = 2 * 1024 ** 3;
export const DEFAULT_SPOOL_PART_BYTES = 64 * 1024 ** 2;
/** The smallest part the sink writes. */
export const MIN_SPOOL_PART_BYTES = 64 * 1024;
/** Where the spool goes under the recordings directory. */
export const SPOOL_ROOT_NAME = '.spool';
const DIR_PATTERN = /^spool-(\d+)-\d+$/;
const MARKER = 'SPOOL';

export interface SpoolOptions {
  /** The spools' directory (several servers may share it: each has its own below). */
  root: string;
  /** Bytes of parts kept at most (the part being written included, once it is not alone). */
  limitBytes: number;
  /** Bytes per part. Default: 64 MiB, or a quarter of the limit when that is smaller. */
  partBytes?: number;
  source: EventSource;
  header: () => TraceFileHeader;
  /** The source holds its start-up batches (trace/feed.ts): start at its first record. */
  fromStart?: boolean;
  /** A source without brackets: the structural state to open the first part with. */
  snapshot?: () => TraceSnapshot;
  /** LiveTrace tuning (tests). */
  checkpointInterval?: number;
  maxLagMs?: number;
  /** Chunk records at most (tests; default the sink's). */
  chunkRecords?: number;
  /** How long a dropped part stays readable for queries already on it, ms (default 2000). */
  dropGraceMs?: number;
  log?: (line: string) => void;
}

export interface SpoolStatus {
  dir: string;
  /** Bytes of the parts held. */
  bytes: number;
  limitBytes: number;
  partBytes: number;
  parts: number;
  /** The oldest event held, and its time. */
  firstEvent: number;
  firstNs: number;
  /** One past the newest event written (indexed). */
  head: number;
  /** Source records seen (the hub's stream position). */
  stream: number;
  dropped: { events: number; parts: number };
  error?: { code: string; message: string };
}

/** The part size for a budget: `partBytes`, or 64 MiB capped to a quarter of the budget. */
export function spoolPartBytes(limitBytes: number, partBytes?: number): number {
  return (
    partBytes ??
    Math.max(MIN_SPOOL_PART_BYTES, Math.min(DEFAULT_SPOOL_PART_BYTES, Math.floor(limitBytes / 4)))
  );
}

/** Delete the spool directories under `root` whose server no longer runs; returns them. */
export async function cleanStaleSpools(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return []; // no root yet: nothing left behind
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = DIR_PATTERN.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    await rm(join(root, name), { recursive: true, force: true });
    removed.push(join(root, name));
  }
  return removed;
}

let spools = 0;

/**
 * A directory name of this process under `root` for scratch files (a
 * recording's checkpoints while it is written), cleaned like a spool's when
 * its server is gone. Not created here.
 */
export function spoolScratchDir(root: string): string {
  return join(root, `spool-${process.pid}-${++spools}`);
}

/** A fresh directory of this process under `root` (stale ones of dead servers removed first). */
export async function openSpoolDir(root: string): Promise<string> {
  await mkdir(root, { recursive: true });
  await cleanStaleSpools(root);
  const dir = join(root, `spool-${process.pid}-${++spools}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  await writeFile(
    join(dir, MARKER),
    `live spool of iocpscope (pid ${process.pid}): a cache, deleted when that server stops\n`,
  );
  return dir;
}

export class LiveSpool {
  readonly trace: LiveTrace;
  readonly limitBytes: number;
  readonly partBytes: number;
  readonly #sink: RecordingSink;
  readonly #log: (line: string) => void;
  readonly #graceMs: number;
  #position = 0;
  /** Source records seen before the sink began (its stream numbers start there). */
  #streamOffset = 0;
  #unsubscribe: () => void = () => undefined;
  #retention: Promise<unknown> = Promise.resolve();
  readonly #deleting: Array<Promise<unknown>> = [];
  #error: StreamError | undefined;
  #closed: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    o: SpoolOptions,
  ) {
    this.limitBytes = o.limitBytes;
    this.partBytes = spoolPartBytes(o.limitBytes, o.partBytes);
    this.#log = o.log ?? (() => undefined);
    this.#graceMs = o.dropGraceMs ?? 2000;
    const header = o.header();
    this.trace = new LiveTrace({
      scratchDir: join(dir, 'checkpoints'),
      header,
      ...(o.checkpointInterval !== undefined ? { checkpointInterval: o.checkpointInterval } : {}),
      ...(o.maxLagMs !== undefined ? { maxLagMs: o.maxLagMs } : {}),
    });
    const source = o.source;
    const tracked = o.fromStart !== true && source.requestSnapshot !== undefined;
    this.#sink = new RecordingSink({
      path: join(dir, 'part-1.iocptrace'),
      partPath: (_first, n) => join(dir, `part-${n}.iocptrace`),
      header: { ...header, name: 'live spool' },
      maxFileBytes: this.partBytes,
      ...(o.chunkRecords !== undefined ? { chunkRecords: o.chunkRecords } : {}),
      awaitSnapshot: tracked,
      ...(o.fromStart === true || tracked ? {} : { snapshot: o.snapshot?.() }),
      ...(source.requestSnapshot !== undefined
        ? {
            rotateSnapshot: (deliver: (snap: TraceSnapshot) => void): void =>
              source.requestSnapshot!(SnapshotReason.RecordingStart, deliver),
          }
        : {}),
      onChunk: (c) => this.#onChunk(c),
      onError: (err) => {
        this.#error = err;
        this.#log(`live spool stopped: ${err.message}`);
      },
    });
    let writing = !tracked;
    const listener: EventBatchListener = (records, strings) => {
      this.#position += records.length / RECORD_WORDS;
      if (writing) this.#sink.write(records, strings);
    };
    // Count from now on; a source already running opens the first part at a cut.
    this.#unsubscribe = source.subscribe(listener, o.fromStart === true ? { fromStart: true } : {});
    if (tracked) {
      source.requestSnapshot!(SnapshotReason.RecordingStart, (snap) => {
        if (this.#closed !== undefined) return;
        this.#sink.begin(snap);
        this.#streamOffset = this.#position;
        writing = true;
      });
    }
  }

  static async start(o: SpoolOptions): Promise<LiveSpool> {
    if (!Number.isSafeInteger(o.limitBytes) || o.limitBytes <= 0) {
      throw new StreamError(
        'BAD_OPTIONS',
        `spool limit must be a positive byte count, got ${o.limitBytes}`,
      );
    }
    const part = spoolPartBytes(o.limitBytes, o.partBytes);
    if (!Number.isSafeInteger(part) || part < MIN_SPOOL_PART_BYTES || part > o.limitBytes) {
      throw new StreamError(
        'BAD_OPTIONS',
        `spool parts must be ${MIN_SPOOL_PART_BYTES} bytes or more and within the limit (${o.limitBytes}), got ${part}`,
      );
    }
    const dir = await openSpoolDir(o.root);
    return new LiveSpool(dir, o);
  }

  /** Source records seen so far: the stream position (hub frames carry it). */
  get position(): number {
    return this.#position;
  }

  status(): SpoolStatus {
    const parts = this.trace.parts();
    const a = this.trace.available;
    const s: SpoolStatus = {
      dir: this.dir,
      bytes: parts.reduce((n, p) => n + p.bytes, 0),
      limitBytes: this.limitBytes,
      partBytes: this.partBytes,
      parts: parts.length,
      firstEvent: a.firstEvent,
      firstNs: a.firstNs,
      head: this.trace.head,
      stream: this.#position,
      dropped: { ...this.trace.dropped },
    };
    if (this.#error !== undefined)
      s.error = { code: this.#error.code, message: this.#error.message };
    return s;
  }

  /** Stop writing, delete the spool. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#unsubscribe();
      await this.#sink.close(TraceEndReason.Stopped).catch(() => undefined);
      await this.#retention.catch(() => undefined);
      await this.trace.close();
      await Promise.all(this.#deleting);
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.#closed;
  }

  #onChunk(c: ChunkWritten): void {
    if (this.#closed !== undefined) return;
    this.trace.addChunk({
      ...c,
      stream: { ...c.stream, first: c.stream.first + this.#streamOffset },
    });
    this.#retention = this.#retention.then(() => this.#enforce());
  }

  /** Delete the oldest parts while the parts held pass the budget (never the one being written). */
  async #enforce(): Promise<void> {
    for (;;) {
      const parts = this.trace.parts();
      const bytes = parts.reduce((n, p) => n + p.bytes, 0);
      if (bytes <= this.limitBytes || parts.length < 2) return;
      const dropped = this.trace.dropOldest(this.#graceMs);
      if (dropped === undefined) return;
      // Deleted once the queries already reading it are done.
      this.#deleting.push(
        dropped.closed.then(() =>
          unlink(dropped.file).catch((e: unknown) =>
            this.#log(`live spool: cannot delete ${dropped.file}: ${String(e)}`),
          ),
        ),
      );
    }
  }
}
