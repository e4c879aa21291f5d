// Checkpoints of a trace's state, for "the state at event N" of a trace the
// browser does not hold: the server's StateTracker (trace/state-tracker.ts)
// folds the whole trace once, and every `interval` events writes the state
// at that cut as a v2 Snapshot bracket. The state at N is then the bracket at
// the checkpoint at or before N plus the records from there to N, which the
// browser replays as it replays any trace (a bracket is state, not evidence).
//
// On disk beside the trace (FILE.iocptrace.ckp): an .iocptrace file of its
// own (a header naming the interval, then one chunk per checkpoint, in order:
// checkpoint k is the state after k * interval events), so a crash leaves a
// valid prefix and the next open reuses it as far as it goes.

import { open, rename, unlink } from 'node:fs/promises';
import {
  CHUNK_HEADER_BYTES,
  CHUNK_MAGIC,
  SnapshotReason,
  TraceFileReader,
  decodeChunkAt,
  encodeChunk,
  encodeFileHeader,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { StateTracker } from '../trace/state-tracker.ts';
import { stampOf, sameStamp, tempFor, type SourceStamp } from './index-file.ts';
import { OWN_CHUNK, fastCrc32, fastFindInvalidRecord } from './crc.ts';

export const CHECKPOINT_EXTENSION = '.ckp';
/**
 * Events between checkpoints. A window the browser asks for starts on a
 * multiple of half its size (32 K events and up by default), so windows start
 * right on a checkpoint and need no fold.
 */
export const DEFAULT_CHECKPOINT_INTERVAL = 32_768;
/**
 * Checkpoint records kept at most, as a share of the trace's events: a server
 * with many sessions has large brackets, and a checkpoint that would pass
 * this is skipped (an empty chunk in its place; the state there is folded
 * from the one before), so the file stays a fraction of the trace.
 */
const MAX_CHECKPOINT_SHARE = 1 / 4;
const EMPTY_CHUNK_BYTES = encodeChunk(new Uint32Array(0)).length;
const BLOCK = 8 * 1024 * 1024;

export interface CheckpointProgress {
  events: number;
  checkpoints: number;
}

/** The header of a checkpoints file: the trace's, renamed to say what it is. */
function ckpHeader(
  h: TraceFileHeader | undefined,
  interval: number,
  stamp: SourceStamp,
): TraceFileHeader {
  return {
    clock: 'monotonic-ns',
    host: h?.host ?? '',
    backend: h?.backend ?? 'emulated',
    portConfig: h?.portConfig ?? { workers: 0, concurrency: 0 },
    startWallMs: h?.startWallMs ?? 0,
    name: `checkpoints every ${interval} events of ${stamp.size}:${stamp.mtimeMs}:${stamp.headCrc}:${stamp.tailCrc}`,
  };
}

/**
 * Fold the trace at `file` and write its checkpoints to `out` (a temporary
 * file renamed into place at the end). Returns the checkpoints written.
 */
export async function buildCheckpoints(
  file: string,
  out: string,
  options: {
    interval?: number;
    onProgress?: (p: CheckpointProgress) => void;
    signal?: AbortSignal;
  } = {},
): Promise<number> {
  const interval = options.interval ?? DEFAULT_CHECKPOINT_INTERVAL;
  const stamp = await stampOf(file);
  const tracker = new StateTracker();
  const tmp = await tempFor(out);
  const wh = await open(tmp, 'w');
  let written = 0;
  let events = 0;
  let kept = 0;
  let pending: Promise<unknown> = Promise.resolve();
  const write = (bytes: Uint8Array): void => {
    pending = pending.then(() => wh.write(bytes));
  };
  let header: TraceFileHeader | undefined;
  const reader = new TraceFileReader({
    retain: false,
    crc32: fastCrc32,
    findInvalid: fastFindInvalidRecord,
    onHeader: (h) => {
      header = h;
      write(encodeFileHeader(ckpHeader(h, interval, stamp)));
    },
    onChunk: (records, strings) => {
      tracker.observeStrings(strings);
      const n = records.length / 8;
      let at = 0;
      while (at < n) {
        const toNext = (written + 1) * interval - events;
        const take = Math.min(n - at, toNext);
        tracker.observe(records.subarray(at * 8, (at + take) * 8));
        at += take;
        events += take;
        if (events === (written + 1) * interval) {
          const b = tracker.snapshot(SnapshotReason.LateJoin).records;
          const n = b.length / 8;
          if (kept + n <= events * MAX_CHECKPOINT_SHARE) {
            write(encodeChunk(b));
            kept += n;
          } else {
            write(encodeChunk(new Uint32Array(0)));
          }
          written++;
        }
      }
    },
  });
  const rh = await open(file, 'r');
  try {
    const buf = new Uint8Array(BLOCK);
    let pos = 0;
    let last = 0;
    for (;;) {
      if (options.signal?.aborted) throw new Error('checkpoints cancelled');
      const { bytesRead } = await rh.read(buf, 0, BLOCK, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      reader.push(buf.subarray(0, bytesRead));
      if (reader.error !== undefined) break;
      await pending;
      if (options.onProgress && performance.now() - last > 200) {
        last = performance.now();
        options.onProgress({ events, checkpoints: written });
      }
    }
    if (header === undefined) write(encodeFileHeader(ckpHeader(undefined, interval, stamp)));
    await pending;
  } catch (e) {
    await wh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  } finally {
    await rh.close();
  }
  await wh.close();
  await rename(tmp, out);
  return written;
}

/** A checkpoints file opened for reading: chunk k is the state after k+1 intervals. */
export class CheckpointFile {
  private constructor(
    readonly path: string,
    readonly interval: number,
    private readonly offsets: number[],
    private readonly sizes: number[],
  ) {}

  /** Checkpoints available: the state after each `interval` events, up to count * interval. */
  get count(): number {
    return this.offsets.length;
  }

  /** Open `path` if it belongs to the trace with `stamp`; null otherwise (rebuild). */
  static async open(path: string, stamp: SourceStamp): Promise<CheckpointFile | null> {
    let fh;
    try {
      fh = await open(path, 'r');
    } catch {
      return null;
    }
    try {
      const size = (await fh.stat()).size;
      const fixed = new Uint8Array(16);
      await fh.read(fixed, 0, 16, 0);
      const metaBytes = new DataView(fixed.buffer).getUint32(12, true);
      const hBytes = 16 + ((metaBytes + 3) & ~3) + 4;
      if (metaBytes > 64 * 1024 || hBytes > size) return null;
      const head = new Uint8Array(hBytes);
      await fh.read(head, 0, hBytes, 0);
      let h: TraceFileHeader | undefined;
      new TraceFileReader({
        onHeader: (x) => {
          h = x;
        },
      }).push(head);
      if (h === undefined) return null;
      const m = /^checkpoints every (\d+) events of (\d+):([\d.]+):(\d+):(\d+)$/.exec(h.name ?? '');
      if (m === null) return null;
      const own: SourceStamp = {
        size: Number(m[2]),
        mtimeMs: Number(m[3]),
        headCrc: Number(m[4]),
        tailCrc: Number(m[5]),
      };
      if (!sameStamp(own, stamp)) return null;
      const offsets: number[] = [];
      const sizes: number[] = [];
      const cell = new Uint8Array(CHUNK_HEADER_BYTES);
      const v = new DataView(cell.buffer);
      for (let at = hBytes; at + CHUNK_HEADER_BYTES <= size;) {
        await fh.read(cell, 0, CHUNK_HEADER_BYTES, at);
        if (v.getUint32(0, true) !== CHUNK_MAGIC) break;
        const len = CHUNK_HEADER_BYTES + v.getUint32(4, true) + 4;
        if (at + len > size) break;
        offsets.push(at);
        sizes.push(len);
        at += len;
      }
      return new CheckpointFile(path, Number(m[1]), offsets, sizes);
    } finally {
      await fh.close();
    }
  }

  /** Checkpoint k was skipped (its bracket would have passed the file's share of the trace). */
  skipped(k: number): boolean {
    return this.sizes[k] === EMPTY_CHUNK_BYTES;
  }

  /** The bracket of checkpoint k (the state after (k+1) * interval events). */
  async bracket(k: number): Promise<Uint32Array> {
    const fh = await open(this.path, 'r');
    try {
      const bytes = new Uint8Array(this.sizes[k]!);
      await fh.read(bytes, 0, bytes.length, this.offsets[k]!);
      return decodeChunkAt(bytes, this.offsets[k]!, undefined, OWN_CHUNK).records;
    } finally {
      await fh.close();
    }
  }
}
