// Append-only .iocptrace writer: the file header once, then one chunk per
// flush with the records and the strings first used since the previous chunk.
// Every chunk is complete on disk before the next is started, so a crash loses
// at most the last flush interval. Runs wherever the drained stream is (the
// drainer thread for `serve --record`), using synchronous writes because that
// thread does nothing else.

import { closeSync, openSync, writeSync } from 'node:fs';
import {
  RECORD_WORDS,
  encodeChunk,
  encodeFileHeader,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import type { StringEntry } from './drainer.ts';

export interface FileSinkOptions {
  path: string;
  header: TraceFileHeader;
  /** Longest time records wait in memory. Default 250 ms. */
  flushIntervalMs?: number;
  /** Records per chunk before a flush regardless of time. Default 32768 (1 MiB). */
  chunkRecords?: number;
}

export class FileSinkError extends Error {
  readonly code = 'ERR_RECORD_FILE';
}

export class FileSink {
  private fd: number | null;
  private pending: Uint32Array[] = [];
  private pendingRecords = 0;
  private pendingStrings: StringEntry[] = [];
  private lastFlushMs = performance.now();
  private readonly flushIntervalMs: number;
  private readonly chunkRecords: number;
  bytes = 0;
  records = 0;

  constructor(private readonly opts: FileSinkOptions) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 250;
    this.chunkRecords = opts.chunkRecords ?? 32768;
    let header: Uint8Array;
    try {
      header = encodeFileHeader(opts.header);
    } catch (e) {
      throw new FileSinkError(`bad trace file header: ${(e as Error).message}`);
    }
    try {
      this.fd = openSync(opts.path, 'w');
    } catch (e) {
      throw new FileSinkError(`cannot create ${opts.path}: ${(e as Error).message}`);
    }
    this.write(header);
  }

  /** Queue a batch (copied: the caller may reuse or transfer its buffer). */
  append(records: Uint32Array, strings: readonly StringEntry[]): void {
    if (records.length > 0) {
      this.pending.push(records.slice());
      this.pendingRecords += records.length / RECORD_WORDS;
    }
    for (const s of strings) this.pendingStrings.push(s);
    if (this.pendingRecords >= this.chunkRecords) this.flush();
    else this.tick();
  }

  /** Flush when the interval has passed. Call often. */
  tick(): void {
    if (performance.now() - this.lastFlushMs >= this.flushIntervalMs) this.flush();
  }

  flush(): void {
    this.lastFlushMs = performance.now();
    if (this.pendingRecords === 0 && this.pendingStrings.length === 0) return;
    const all = new Uint32Array(this.pendingRecords * RECORD_WORDS);
    let o = 0;
    for (const p of this.pending) {
      all.set(p, o);
      o += p.length;
    }
    const chunk = encodeChunk(all, this.pendingStrings);
    this.pending = [];
    this.pendingStrings = [];
    this.records += this.pendingRecords;
    this.pendingRecords = 0;
    this.write(chunk);
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }

  private write(bytes: Uint8Array): void {
    if (this.fd === null) throw new FileSinkError('trace file is closed');
    let off = 0;
    try {
      while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    } catch (e) {
      throw new FileSinkError(`cannot write ${this.opts.path}: ${(e as Error).message}`);
    }
    this.bytes += bytes.length;
  }
}
