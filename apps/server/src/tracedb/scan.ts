// Reading a trace file from disk into an index: large sequential reads through
// the protocol's incremental reader (which checks every chunk's CRC and
// structure and keeps no records), each valid chunk handed to the builder
// with its file offset. A damaged file is indexed up to its first bad chunk,
// as the app opens it; the damage is reported with the protocol's code.

import { open } from 'node:fs/promises';
import {
  TraceFileReader,
  type ProtocolError,
  type StringTable,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { fastCrc32, fastFindInvalidRecord } from './crc.ts';
import type { BuilderOptions, TraceIndex } from './builder.ts';
import { indexBuilder, indexPass, type IndexPass } from './native-index.ts';

const BLOCK = 8 * 1024 * 1024;

export interface ScanProgress {
  bytesRead: number;
  totalBytes: number;
  events: number;
}

export interface ScanResult {
  header: TraceFileHeader | undefined;
  version: number;
  index: TraceIndex;
  strings: StringTable;
  /** Bytes through the last valid chunk. */
  validBytes: number;
  totalBytes: number;
  error?: ProtocolError;
  /** Reading the file alone (without indexing), ms, for the benchmark's ratio. */
  ms: number;
  /** Which index pass built it (native-index.ts). */
  pass: IndexPass;
}

export interface ScanOptions extends BuilderOptions {
  onProgress?: (p: ScanProgress) => void;
  signal?: AbortSignal;
  /** Largest chunk body accepted (default: the protocol's). */
  maxChunkBytes?: number;
  /** Bytes per read (default 8 MiB; tests use small ones). */
  blockBytes?: number;
  /** The index pass (default: native when built, see native-index.ts). */
  pass?: IndexPass;
}

/** Index a whole trace file. */
export async function scanFile(path: string, options: ScanOptions = {}): Promise<ScanResult> {
  const t0 = performance.now();
  const pass = options.pass ?? indexPass();
  const builder = indexBuilder(options, pass);
  const reader = new TraceFileReader({
    retain: false,
    crc32: fastCrc32,
    findInvalid: fastFindInvalidRecord,
    ...(options.maxChunkBytes !== undefined ? { maxChunkBytes: options.maxChunkBytes } : {}),
    onChunk: (records, _strings, at) => builder.addChunk(at.offset, at.bytes, records),
  });
  const fh = await open(path, 'r');
  let read = 0;
  let total: number;
  let next: Promise<{ bytesRead: number }> | null = null;
  try {
    total = (await fh.stat()).size;
    // Two buffers: the next block is read while this one is indexed (the disk
    // and the CPU overlap; a cold file costs the larger of the two, not both).
    const block = options.blockBytes ?? BLOCK;
    const bufs = [new Uint8Array(block), new Uint8Array(block)];
    let lastReport = 0;
    let k = 0;
    next = fh.read(bufs[0]!, 0, block, 0);
    for (;;) {
      if (options.signal?.aborted) throw new Error('index build cancelled');
      const { bytesRead } = await next;
      if (bytesRead === 0) break;
      const buf = bufs[k]!;
      read += bytesRead;
      k ^= 1;
      next = fh.read(bufs[k]!, 0, block, read);
      reader.push(buf.subarray(0, bytesRead));
      if (reader.error !== undefined) break;
      if (options.onProgress && performance.now() - lastReport > 200) {
        lastReport = performance.now();
        options.onProgress({ bytesRead: read, totalBytes: total, events: builder.events });
      }
    }
  } finally {
    // A read still on its way (the loop stopped early): let it land before the close.
    await next?.catch(() => undefined);
    await fh.close();
  }
  const r = reader.finish();
  const result: ScanResult = {
    header: r.header,
    version: r.version,
    index: builder.finish(),
    strings: reader.strings,
    validBytes: r.validBytes,
    totalBytes: total,
    ms: performance.now() - t0,
    pass,
  };
  if (r.error !== undefined) result.error = r.error;
  return result;
}
