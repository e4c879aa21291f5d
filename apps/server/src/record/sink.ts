// The recording file sink: every batch it is given goes to disk as the
// protocol's append-only chunks (header, then CRC-checked chunks), so that a
// crash at any moment leaves a file whose every completed chunk reads back.
//
// Model:
// - Batches are copied into a pending buffer; a chunk is cut when the buffer
//   holds chunkRecords records and at least every flushMs (timer), so data
//   reaches the OS within flushMs plus one write.
// - Each file starts with a header and a snapshot chunk: a v2 Snapshot
//   bracket given by the source (every live thread, session with its
//   outstanding I/O, the queue, held locks), or, from a source without one,
//   every string and the live threads' ThreadStart/ThreadState and the
//   PortCreated. Any file, first or rotated, opens on its own.
// - Rotation happens between chunks, once the file is within one chunk of
//   maxFileBytes. With `rotateSnapshot` the sink asks for a bracket and
//   rotates when it arrives (at an exact cut of the stream: records before it
//   go to the old file, after it to the new one); otherwise at once, with the
//   structural snapshot, which is exact because nothing is pending then.
// - A file that ends as planned ends with a TraceEnd record (v2): Stopped
//   when the recording is stopped, ServerExit when the server it records
//   stopped, SizeCap for a file closed by rotation. A file without one was
//   cut short (a crash, a kill).
// - Writes are queued and done one at a time, each chunk in one write call;
//   onChunk reports a chunk once its write has completed, with its bytes and
//   which of the records given to write() it holds (a follower, such as the
//   live spool's index, reads the files without reading them back).
// - The queue is bounded (maxQueuedBytes). Only when the disk cannot keep up
//   beyond that are records dropped, and the loss is written as a Gap record
//   (GapSource.File) in the next chunk: loss is never silent.
// - An I/O error stops the sink; `failed` holds a RECORD_IO error.

import { open, type FileHandle } from 'node:fs/promises';
import {
  EventKind,
  GapSource,
  NO_THREAD,
  RECORD_BYTES,
  RECORD_WORDS,
  TraceEndReason,
  encodeChunk,
  encodeFileHeader,
  kindAt,
  tsAt,
  writeRecord,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { StreamError } from '../hub/errors.ts';
import { LiveState } from '../hub/live-state.ts';
import type { StringEntries, TraceSnapshot } from '../hub/types.ts';

export interface RecordingSinkOptions {
  /** The first file. Rotated files are named by `partPath`. */
  path: string;
  /** File header metadata (`name` gets " (part N)" in rotated files). */
  header: TraceFileHeader;
  /**
   * State at the moment recording starts: a Snapshot bracket (written as the
   * first chunk as it is), or structural records (Hub.snapshot()). With
   * `awaitSnapshot`, none yet: begin() gives it before the first batch.
   */
  snapshot?: TraceSnapshot;
  /** The first chunk waits for begin(snapshot) (the source answers a request a moment later). */
  awaitSnapshot?: boolean;
  /** Ask the source for a bracket to open a rotated file with (called once per rotation). */
  rotateSnapshot?: (deliver: (snap: TraceSnapshot) => void) => void;
  /** Cut a chunk at least this often, ms. Default 100, at most 250. */
  flushMs?: number;
  /** Records per chunk at most. Default 32768 (1 MiB). */
  chunkRecords?: number;
  /** Rotate before a file would pass this size. Default 256 MiB. */
  maxFileBytes?: number;
  /** Bytes of chunks waiting for the disk before records are dropped. Default 256 MiB. */
  maxQueuedBytes?: number;
  /** Create files with O_EXCL (never overwrite). Default true. */
  exclusive?: boolean;
  /** Name of part n >= 2. Default: "x.iocptrace" → "x.part2.iocptrace". */
  partPath?: (first: string, n: number) => string;
  /** A chunk's write completed. */
  onChunk?: (info: ChunkWritten) => void;
  /** The sink stopped on an I/O error. */
  onError?: (err: StreamError) => void;
}

export interface ChunkWritten {
  file: string;
  /** Chunk index within its file (0 = the snapshot chunk). */
  index: number;
  records: number;
  bytes: number;
  /** File size after this chunk. */
  fileBytes: number;
  /** Where the chunk starts in its file. */
  offset: number;
  /** The chunk as written (header, sections, CRC). */
  data: Uint8Array;
  /**
   * Which records given to write() it holds, counted from the first ever
   * given: its records [at, at + count) are those [first, first + count).
   * The rest are the sink's own: a file's opening snapshot, a Gap for
   * records dropped before it, a TraceEnd.
   */
  stream: { first: number; count: number; at: number };
}

export interface RecordedFile {
  path: string;
  bytes: number;
  /** Records written, snapshot chunk included. */
  records: number;
  chunks: number;
}

export interface RecordingSummary {
  files: RecordedFile[];
  /** Events received by the sink (snapshot records not counted). */
  events: number;
  /** Events dropped because the disk could not keep up (reported as Gap records). */
  dropped: number;
  error?: StreamError;
}

type Op =
  | { kind: 'open'; path: string; header: Uint8Array }
  | {
      kind: 'chunk';
      bytes: Uint8Array;
      records: number;
      stream: { first: number; count: number; at: number };
    };

export function defaultPartPath(first: string, n: number): string {
  const m = /^(.*?)(\.iocptrace)?$/i.exec(first)!;
  return `${m[1]}.part${n}${m[2] ?? '.iocptrace'}`;
}

const MAX_FLUSH_MS = 250;

export class RecordingSink {
  readonly #opts: Required<
    Omit<
      RecordingSinkOptions,
      'snapshot' | 'onChunk' | 'onError' | 'awaitSnapshot' | 'rotateSnapshot'
    >
  > &
    Pick<RecordingSinkOptions, 'onChunk' | 'onError' | 'rotateSnapshot'>;
  readonly #state = new LiveState();
  readonly #pending: Uint32Array;
  #pendingLen = 0;
  /** String table position written to the current file. */
  #fileStringMark = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #queue: Op[] = [];
  #queuedBytes = 0;
  #writing = false;
  #idle: Array<() => void> = [];
  #fh: FileHandle | undefined;
  readonly #files: RecordedFile[] = [];
  /** Bytes the current file will have once its queued ops are written. */
  #plannedFileBytes = 0;
  #part = 1;
  #events = 0;
  /** Records given to write() that went into chunks or were dropped (the next chunk's first). */
  #cutSource = 0;
  #dropped = 0;
  #unreportedDrop = 0;
  #lastTs = 0;
  /** Timestamp of the last dropped record (where the Gap record goes). */
  #dropTs = 0;
  #closed = false;
  /** A rotation waits for its bracket. */
  #rotating = false;
  /** Records in the current file so far (for its TraceEnd). */
  #fileRecords = 0;
  #opened: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void };
  #error: StreamError | undefined;

  constructor(options: RecordingSinkOptions) {
    const flushMs = options.flushMs ?? 100;
    if (!Number.isInteger(flushMs) || flushMs < 1 || flushMs > MAX_FLUSH_MS) {
      throw new StreamError('BAD_OPTIONS', `flushMs must be an integer in [1, ${MAX_FLUSH_MS}]`);
    }
    const maxFileBytes = options.maxFileBytes ?? 256 * 1024 * 1024;
    if (!Number.isInteger(maxFileBytes) || maxFileBytes < 64 * 1024) {
      throw new StreamError('BAD_OPTIONS', 'maxFileBytes must be an integer >= 64 KiB');
    }
    const chunkRecords = Math.min(
      options.chunkRecords ?? 32768,
      Math.floor(maxFileBytes / 4 / RECORD_BYTES),
    );
    if (!Number.isInteger(chunkRecords) || chunkRecords < 1) {
      throw new StreamError('BAD_OPTIONS', 'chunkRecords must be a positive integer');
    }
    const maxQueuedBytes = options.maxQueuedBytes ?? 256 * 1024 * 1024;
    if (!Number.isInteger(maxQueuedBytes) || maxQueuedBytes < 1024 * 1024) {
      throw new StreamError('BAD_OPTIONS', 'maxQueuedBytes must be an integer >= 1 MiB');
    }
    this.#opts = {
      path: options.path,
      header: options.header,
      flushMs,
      chunkRecords,
      maxFileBytes,
      maxQueuedBytes,
      exclusive: options.exclusive ?? true,
      partPath: options.partPath ?? defaultPartPath,
      onChunk: options.onChunk,
      onError: options.onError,
      rotateSnapshot: options.rotateSnapshot,
    };
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined); // observed through opened()
    this.#opened = { promise, resolve, reject };
    // Fail fast on bad metadata, before anything is on disk.
    encodeFileHeader(options.header);
    this.#pending = new Uint32Array(chunkRecords * RECORD_WORDS);
    this.#openFile(options.path);
    if (options.awaitSnapshot !== true) this.begin(options.snapshot);
    this.#timer = setInterval(() => this.flush(), flushMs);
    this.#timer.unref();
  }

  /**
   * The state the recording starts from (with awaitSnapshot): written as the
   * first chunk. Batches written before it are not allowed.
   */
  begin(snapshot: TraceSnapshot | undefined): void {
    if (this.#closed) return;
    const bracket = snapshot !== undefined && isBracket(snapshot.records) ? snapshot : undefined;
    if (snapshot !== undefined) {
      this.#state.observeStrings(snapshot.strings);
      this.#state.observeRecords(snapshot.records);
      const n = snapshot.records.length / RECORD_WORDS;
      if (n > 0) this.#lastTs = tsAt(snapshot.records, n - 1);
    }
    this.#snapshotChunk(bracket);
  }

  /** The batch listener: subscribe it to the drainer. */
  readonly write = (records: Uint32Array, strings: StringEntries): void => {
    if (this.#closed) return;
    if (strings.length > 0) this.#state.observeStrings(strings);
    this.#state.observeRecords(records);
    const total = records.length / RECORD_WORDS;
    this.#events += total;
    if (total > 0) this.#lastTs = tsAt(records, total - 1);
    const cap = this.#opts.chunkRecords;
    let off = 0;
    while (off < total) {
      const take = Math.min(cap - this.#pendingLen, total - off);
      this.#pending.set(
        records.subarray(off * RECORD_WORDS, (off + take) * RECORD_WORDS),
        this.#pendingLen * RECORD_WORDS,
      );
      this.#pendingLen += take;
      off += take;
      if (this.#pendingLen === cap) this.flush();
    }
  };

  /** Resolves once the first file is created with its header; rejects with RECORD_IO. */
  opened(): Promise<void> {
    return this.#opened.promise;
  }

  get events(): number {
    return this.#events;
  }
  get failed(): StreamError | undefined {
    return this.#error;
  }
  /** Files so far, with the bytes written to each. */
  get files(): readonly RecordedFile[] {
    return this.#files;
  }
  get bytesWritten(): number {
    return this.#files.reduce((n, f) => n + f.bytes, 0);
  }
  /**
   * What the files will hold of what was taken so far: written, queued for the
   * disk, and the records not yet cut into a chunk (at their 32 bytes each).
   */
  get bytesTaken(): number {
    return this.bytesWritten + this.#queuedBytes + this.#pendingLen * RECORD_BYTES;
  }

  /** Cut a chunk of what is pending (and rotate if the file is full). */
  flush(): void {
    this.#cut(null);
  }

  /** Cut a chunk of what is pending, followed by `tail` (a TraceEnd) if given. */
  #cut(tail: Uint32Array | null): void {
    if (this.#closed && this.#pendingLen === 0 && tail === null) return;
    const newStrings = this.#state.strings.size > this.#fileStringMark;
    if (this.#pendingLen === 0 && !newStrings && this.#unreportedDrop === 0 && tail === null)
      return;
    if (this.#error !== undefined) {
      this.#pendingLen = 0;
      return;
    }
    let records = this.#pending.subarray(0, this.#pendingLen * RECORD_WORDS);
    if (this.#unreportedDrop > 0) {
      const withGap = new Uint32Array(records.length + RECORD_WORDS);
      writeGap(withGap, 0, this.#dropTs, this.#unreportedDrop);
      withGap.set(records, RECORD_WORDS);
      records = withGap;
    }
    if (tail !== null) {
      const withTail = new Uint32Array(records.length + tail.length);
      withTail.set(records);
      withTail.set(tail, records.length);
      records = withTail;
    }
    const n = records.length / RECORD_WORDS;
    if (this.#queuedBytes + records.byteLength > this.#opts.maxQueuedBytes) {
      // The disk is not keeping up: drop, and say so in the next chunk.
      this.#dropped += this.#pendingLen;
      this.#unreportedDrop += this.#pendingLen;
      this.#dropTs = this.#lastTs;
      this.#cutSource += this.#pendingLen;
      this.#pendingLen = 0;
      return;
    }
    const stream = {
      first: this.#cutSource,
      count: this.#pendingLen,
      at: this.#unreportedDrop > 0 ? 1 : 0,
    };
    this.#cutSource += this.#pendingLen;
    this.#unreportedDrop = 0;
    const strings = this.#state.strings.entriesFrom(this.#fileStringMark);
    this.#fileStringMark = this.#state.strings.size;
    this.#pendingLen = 0;
    this.#enqueue({ kind: 'chunk', bytes: encodeChunk(records, strings), records: n, stream });
    this.#fileRecords += n;
    const chunkBound = this.#opts.chunkRecords * RECORD_BYTES + 64 * 1024;
    if (
      tail === null &&
      !this.#closed &&
      !this.#rotating &&
      this.#plannedFileBytes + chunkBound > this.#opts.maxFileBytes
    ) {
      this.#rotate();
    }
  }

  #rotate(): void {
    const ask = this.#opts.rotateSnapshot;
    if (ask === undefined) {
      this.#cut(this.#traceEnd(TraceEndReason.SizeCap));
      this.#part++;
      this.#openFile(this.#opts.partPath(this.#opts.path, this.#part));
      this.#snapshotChunk(undefined);
      return;
    }
    // Rotate where the bracket cuts the stream: what came before it stays in this file.
    this.#rotating = true;
    ask((snap) => {
      this.#rotating = false;
      if (this.#closed || this.#error !== undefined) return;
      this.#cut(this.#traceEnd(TraceEndReason.SizeCap));
      this.#part++;
      this.#openFile(this.#opts.partPath(this.#opts.path, this.#part));
      this.#state.observeStrings(snap.strings);
      this.#snapshotChunk(isBracket(snap.records) ? snap : undefined);
    });
  }

  /** A TraceEnd record counting the records of the current file before it. */
  #traceEnd(reason: number): Uint32Array {
    const w = new Uint32Array(RECORD_WORDS);
    const n = this.#fileRecords + this.#pendingLen + (this.#unreportedDrop > 0 ? 1 : 0);
    writeRecord(
      w,
      0,
      EventKind.TraceEnd,
      reason,
      NO_THREAD,
      n % 2 ** 32,
      this.#lastTs,
      0,
      0,
      Math.floor(n / 2 ** 32),
      0,
    );
    return w;
  }

  /**
   * Stop: write what is pending and a TraceEnd record with `reason`
   * (TraceEndReason: Stopped by default, ServerExit when the server stopped),
   * wait for the disk, close the file.
   */
  async close(reason: number = TraceEndReason.Stopped): Promise<RecordingSummary> {
    if (!this.#closed) {
      if (this.#error === undefined) this.#cut(this.#traceEnd(reason));
      this.#closed = true;
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    await this.#whenIdle();
    if (this.#fh !== undefined) {
      const fh = this.#fh;
      this.#fh = undefined;
      await fh.close().catch((e: unknown) => this.#fail(e));
    }
    const summary: RecordingSummary = {
      files: this.#files.map((f) => ({ ...f })),
      events: this.#events,
      dropped: this.#dropped,
    };
    if (this.#error !== undefined) summary.error = this.#error;
    return summary;
  }

  #openFile(path: string): void {
    const h = this.#opts.header;
    const header = encodeFileHeader(
      this.#part === 1 ? h : { ...h, name: `${h.name ?? 'recording'} (part ${this.#part})` },
    );
    this.#enqueue({ kind: 'open', path, header });
    this.#plannedFileBytes = header.length;
    this.#fileRecords = 0;
  }

  /** The file's first chunk: the bracket given, or the structural records the sink knows. */
  #snapshotChunk(bracket: TraceSnapshot | undefined): void {
    const snap = bracket?.records ?? this.#state.recordsBetween(0, this.#state.eventCount, false);
    const strings = this.#state.strings.entriesFrom(0);
    this.#fileStringMark = this.#state.strings.size;
    const n = snap.length / RECORD_WORDS;
    this.#fileRecords += n;
    this.#enqueue({
      kind: 'chunk',
      bytes: encodeChunk(snap, strings),
      records: n,
      stream: { first: this.#cutSource, count: 0, at: 0 },
    });
  }

  #enqueue(op: Op): void {
    const bytes = op.kind === 'chunk' ? op.bytes.length : op.header.length;
    this.#queue.push(op);
    this.#queuedBytes += bytes;
    this.#plannedFileBytes += op.kind === 'chunk' ? bytes : 0;
    if (!this.#writing) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      const op = this.#queue.shift()!;
      const bytes = op.kind === 'chunk' ? op.bytes.length : op.header.length;
      if (this.#error === undefined) {
        try {
          await this.#apply(op);
        } catch (e) {
          this.#fail(e);
        }
      }
      this.#queuedBytes -= bytes;
    }
    this.#writing = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  async #apply(op: Op): Promise<void> {
    if (op.kind === 'open') {
      if (this.#fh !== undefined) await this.#fh.close();
      this.#fh = undefined;
      this.#fh = await open(op.path, this.#opts.exclusive ? 'wx' : 'w');
      await writeAll(this.#fh, op.header);
      this.#files.push({ path: op.path, bytes: op.header.length, records: 0, chunks: 0 });
      this.#opened.resolve();
      return;
    }
    await writeAll(this.#fh!, op.bytes);
    const f = this.#files[this.#files.length - 1]!;
    const offset = f.bytes;
    f.bytes += op.bytes.length;
    f.records += op.records;
    f.chunks++;
    this.#opts.onChunk?.({
      file: f.path,
      index: f.chunks - 1,
      records: op.records,
      bytes: op.bytes.length,
      fileBytes: f.bytes,
      offset,
      data: op.bytes,
      stream: op.stream,
    });
  }

  #fail(e: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = new StreamError('RECORD_IO', `recording stopped: ${String(e)}`, { cause: e });
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#opened.reject(this.#error);
    this.#opts.onError?.(this.#error);
  }

  #whenIdle(): Promise<void> {
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
    off += bytesWritten;
  }
}

/** Records that start with a Snapshot begin. */
function isBracket(records: Uint32Array): boolean {
  return records.length >= 2 * RECORD_WORDS && kindAt(records, 0) === EventKind.Snapshot;
}

function writeGap(w: Uint32Array, i: number, tsNs: number, lost: number): void {
  const TWO_32 = 4294967296;
  writeRecord(
    w,
    i,
    EventKind.Gap,
    GapSource.File,
    NO_THREAD,
    lost % TWO_32,
    tsNs,
    0,
    0,
    Math.floor(lost / TWO_32),
    0,
  );
}
