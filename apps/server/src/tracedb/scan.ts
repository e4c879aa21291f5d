// Reading a trace file from disk into an index: large sequential reads through
// the protocol's incremental reader (which checks every chunk's CRC and
// structure and keeps no records), each valid chunk handed to the builder
// with its file offset. A damaged file is indexed up to its first bad chunk,
// as the app opens it; the damage is reported with the protocol's code.

import { open } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import {
  TraceFileReader,
  type ProtocolError,
  type StringTable,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { TraceIndexBuilder, type BuilderOptions, type TraceIndex } from './builder.ts';

const BLOCK = 8 * 1024 * 1024;

/** Node's native CRC-32 (zlib's; Node >= 20.15), else the protocol's own. */
const nativeCrc = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
const fastCrc =
  nativeCrc === undefined
    ? undefined
    : (bytes: Uint8Array, start: number, end: number): number =>
        nativeCrc(bytes.subarray(start, end)) >>> 0;

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
}

export interface ScanOptions extends BuilderOptions {
  onProgress?: (p: ScanProgress) => void;
  signal?: AbortSignal;
  /** Largest chunk body accepted (default: the protocol's). */
  maxChunkBytes?: number;
}

/** Index a whole trace file. */
export async function scanFile(path: string, options: ScanOptions = {}): Promise<ScanResult> {
  const t0 = performance.now();
  const builder = new TraceIndexBuilder(options);
  const reader = new TraceFileReader({
    retain: false,
    ...(fastCrc !== undefined ? { crc32: fastCrc } : {}),
    ...(options.maxChunkBytes !== undefined ? { maxChunkBytes: options.maxChunkBytes } : {}),
    onChunk: (records, _strings, at) => builder.addChunk(at.offset, at.bytes, records),
  });
  const fh = await open(path, 'r');
  let read = 0;
  let total: number;
  try {
    total = (await fh.stat()).size;
    const buf = new Uint8Array(BLOCK);
    let lastReport = 0;
    for (;;) {
      if (options.signal?.aborted) throw new Error('index build cancelled');
      const { bytesRead } = await fh.read(buf, 0, BLOCK, read);
      if (bytesRead === 0) break;
      read += bytesRead;
      reader.push(buf.subarray(0, bytesRead));
      if (reader.error !== undefined) break;
      if (options.onProgress && performance.now() - lastReport > 200) {
        lastReport = performance.now();
        options.onProgress({ bytesRead: read, totalBytes: total, events: builder.events });
      }
    }
  } finally {
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
  };
  if (r.error !== undefined) result.error = r.error;
  return result;
}
