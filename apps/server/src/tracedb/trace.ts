// An indexed trace on disk: the queries the browser's windowed view asks
// (records of a window, zoomed-out summaries, a session's history, the next
// event of a kind/thread/session), answered from the index and by reading
// only the chunks they need. Chunks are read at their offsets and decoded
// (CRC, structure, records checked again); a small LRU keeps the latest ones.
//
// Opening: an index beside the trace (FILE.idx) is used when its stamp
// matches the trace; otherwise the trace is scanned once and the index
// written (beside it, or in the cache directory when that is not writable).

import { constants } from 'node:fs';
import { access, mkdir, open, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  EventKind,
  ProtocolError,
  RECORD_WORDS,
  SnapshotReason,
  decodeChunkAt,
  type StringTable,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { SESSION_KINDS as SESSION_KIND, type SessionInfo, type TraceIndex } from './builder.ts';
import { OWN_CHUNK } from './crc.ts';
import {
  INDEX_EXTENSION,
  decodeIndex,
  encodeIndex,
  readIndexFile,
  sameStamp,
  stampOf,
  writeIndexFile,
  type ScanFacts,
} from './index-file.ts';
/** State checkpoints: the bracket of checkpoint k is the state after (k+1) * interval events. */
export interface CheckpointSource {
  readonly interval: number;
  /** Checkpoints available now. */
  readonly count: number;
  bracket(k: number): Promise<Uint32Array>;
  /** Checkpoint k was skipped (its bracket too large): fold from an earlier one. */
  skipped(k: number): boolean;
}
import { StateTracker } from '../trace/state-tracker.ts';
import { scanFile, type ScanProgress } from './scan.ts';
import type { SummaryLevel } from './summary.ts';

const TWO_32 = 4294967296;
const CHUNK_CACHE = 8;
/** Buffers kept for chunk reads beyond the cache's (a few queries' worth). */
const SPARE_BUFFERS = 4;
/** Chunk buffers are allocated in these steps, so a spare fits the next chunk of about its size. */
const BUFFER_STEP = 256 * 1024;
const roundUp = (n: number): number => Math.ceil(n / BUFFER_STEP) * BUFFER_STEP;

export interface OpenOptions {
  onProgress?: (p: ScanProgress) => void;
  signal?: AbortSignal;
  /** Where indexes go when the trace's directory is not writable. */
  cacheDir?: string;
  /** Build afresh even when a matching index exists. */
  rebuild?: boolean;
  /** The index file's bytes, once built (the index thread hands them to the main thread). */
  onEncoded?: (bytes: Uint8Array, indexPath: string | null) => void;
  /**
   * Leave writing the index file to whoever takes the bytes (onEncoded), at the
   * indexPath it is given: the first candidate whose directory can be written.
   * The index thread hands its bytes over first; the main thread writes them
   * after, off the open's path.
   */
  writeLater?: boolean;
}

/** Which events next/prev look for (all given conditions must hold). */
export interface EventFilter {
  kind?: number;
  tid?: number;
  session?: bigint;
}

export class IndexedTrace {
  /** State checkpoints, once they are built (after the index). */
  checkpoints: CheckpointSource | null = null;
  /** How far the checkpoint pass has come. */
  checkpointProgress = { events: 0, checkpoints: 0 };
  private fh: FileHandle | null = null;
  private readonly cache: Array<{ chunk: number; records: Uint32Array; buffer: ArrayBuffer }> = [];
  /**
   * Buffers of chunks the cache let go, read into again. A query reads 1-3
   * chunks of ~1 MiB; fresh ones each time count against V8's old-generation
   * limit (external memory) and made the server run a full GC every few
   * window requests (bench:big: p99 of /window).
   */
  private readonly spare: ArrayBuffer[] = [];
  #index: TraceIndex;

  private constructor(
    readonly path: string,
    index: TraceIndex,
    readonly strings: StringTable,
    readonly facts: ScanFacts,
    /** Where the index lives, and whether it was read (true) or built now. */
    readonly indexPath: string | null,
    readonly fromCache: boolean,
    readonly buildMs: number,
  ) {
    this.#index = index;
  }

  get index(): TraceIndex {
    return this.#index;
  }

  /**
   * A trace being written (a live spool part, a recording in progress),
   * indexed as it grows (TraceIndexBuilder), not read from an index file.
   */
  static growing(
    file: string,
    index: TraceIndex,
    strings: StringTable,
    facts: ScanFacts,
  ): IndexedTrace {
    return new IndexedTrace(path.resolve(file), index, strings, facts, null, false, 0);
  }

  /**
   * The index of a growing trace grew: `index` holds every chunk the old one
   * held, numbered the same, and more. Queries from now on see it.
   */
  grow(index: TraceIndex, facts?: ScanFacts): void {
    this.#index = index;
    if (facts !== undefined) Object.assign(this.facts, facts);
  }

  get header(): TraceFileHeader | undefined {
    return this.facts.header;
  }

  static async open(file: string, options: OpenOptions = {}): Promise<IndexedTrace> {
    const abs = path.resolve(file);
    const stamp = await stampOf(abs);
    const candidates = [
      `${abs}${INDEX_EXTENSION}`,
      path.join(options.cacheDir ?? defaultCacheDir(), `${hashOf(abs)}${INDEX_EXTENSION}`),
    ];
    if (options.rebuild !== true) {
      for (const p of candidates) {
        const got = await readIndexFile(p).catch(() => null);
        if (got !== null && sameStamp(got.source, stamp)) {
          return new IndexedTrace(abs, got.index, got.strings, got.facts, p, true, 0);
        }
      }
    }
    const t0 = performance.now();
    const r = await scanFile(abs, {
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const facts: ScanFacts = {
      header: r.header,
      version: r.version,
      validBytes: r.validBytes,
      totalBytes: r.totalBytes,
    };
    if (r.error !== undefined) {
      facts.error = { code: r.error.code, message: r.error.detail };
      if (r.error.offset !== undefined) facts.error.offset = r.error.offset;
    }
    const buildMs = performance.now() - t0;
    const bytes = encodeIndex(r.index, r.strings, stamp, facts);
    let written: string | null = null;
    for (const p of candidates) {
      try {
        await mkdir(path.dirname(p), { recursive: true });
        if (options.writeLater === true) await access(path.dirname(p), constants.W_OK);
        else await writeIndexFile(p, bytes);
        written = p;
        break;
      } catch {
        // Not writable here: try the cache directory.
      }
    }
    options.onEncoded?.(bytes, written);
    return new IndexedTrace(abs, r.index, r.strings, facts, written, false, buildMs);
  }

  /**
   * The trace at `file` with the index built for it elsewhere (the index
   * thread's encoded bytes, decoded here instead of read back from the file
   * written beside it). Null when they are not the index of the file as it is now.
   */
  static async fromEncoded(
    file: string,
    bytes: Uint8Array,
    indexPath: string | null,
    buildMs: number,
  ): Promise<IndexedTrace | null> {
    const abs = path.resolve(file);
    const got = decodeIndex(bytes);
    if (!sameStamp(got.source, await stampOf(abs))) return null;
    return new IndexedTrace(abs, got.index, got.strings, got.facts, indexPath, false, buildMs);
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = null;
  }

  // ---- chunks and records ----------------------------------------------------------

  /** The chunk holding event `ev` (binary search on first events). */
  chunkOfEvent(ev: number): number {
    const c = this.index.chunks;
    let lo = 0;
    let hi = c.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (c.firstEvent[mid]! <= ev) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Chunk k's records: a view into the chunk cache. Use it before the next
   * await: once the chunk leaves the cache (later reads), its buffer is read
   * into again.
   */
  async chunkRecords(k: number): Promise<Uint32Array> {
    const hit = this.cache.findIndex((e) => e.chunk === k);
    if (hit >= 0) {
      const e = this.cache.splice(hit, 1)[0]!;
      this.cache.push(e);
      return e.records;
    }
    const c = this.index.chunks;
    this.fh ??= await open(this.path, 'r');
    const need = c.bytes[k]!;
    const at = this.spare.findIndex((b) => b.byteLength >= need);
    const buffer = at >= 0 ? this.spare.splice(at, 1)[0]! : new ArrayBuffer(roundUp(need));
    const bytes = new Uint8Array(buffer, 0, need);
    let records: Uint32Array;
    try {
      const { bytesRead } = await this.fh.read(bytes, 0, bytes.length, c.offset[k]!);
      if (bytesRead !== bytes.length) {
        throw new ProtocolError(
          'TRUNCATED',
          `the trace changed: chunk ${k + 1} is cut`,
          c.offset[k],
        );
      }
      records = decodeChunkAt(bytes, c.offset[k]!, this.facts.version, OWN_CHUNK).records;
      if (records.length / RECORD_WORDS !== c.events[k]) {
        throw new ProtocolError('BAD_FRAME', `the trace changed: chunk ${k + 1}`, c.offset[k]);
      }
    } catch (e) {
      this.#release(buffer);
      throw e;
    }
    this.cache.push({ chunk: k, records, buffer });
    if (this.cache.length > CHUNK_CACHE) this.#release(this.cache.shift()!.buffer);
    return records;
  }

  #release(b: ArrayBuffer): void {
    if (this.spare.length < SPARE_BUFFERS) this.spare.push(b);
  }

  /**
   * Records [from, end) chunk by chunk, as views into the chunk cache (no
   * copy), each handed to `fn` before the next chunk is read.
   */
  private async eachRange(
    from: number,
    end: number,
    fn: (records: Uint32Array, at: number) => void,
  ): Promise<void> {
    const c = this.index.chunks;
    let at = Math.max(0, from);
    end = Math.min(end, this.index.events);
    while (at < end) {
      const k = this.chunkOfEvent(at);
      const recs = await this.chunkRecords(k);
      const first = c.firstEvent[k]!;
      const take = Math.min(end, first + c.events[k]!) - at;
      fn(recs.subarray((at - first) * RECORD_WORDS, (at - first + take) * RECORD_WORDS), at);
      at += take;
    }
  }

  /** Records [from, from + count) (clamped to the trace). */
  async records(from: number, count: number): Promise<Uint32Array> {
    const start = Math.max(0, Math.min(from, this.index.events));
    const end = Math.max(start, Math.min(from + count, this.index.events));
    const out = new Uint32Array((end - start) * RECORD_WORDS);
    await this.eachRange(start, end, (v, at) => out.set(v, (at - start) * RECORD_WORDS));
    return out;
  }

  /** The strings `records` refer to (names, peers, labels, call sites). */
  stringsOf(records: Uint32Array): Array<[number, string]> {
    return stringsOfRecords(records, this.strings);
  }

  /** The first event at or after `ns` (index.events when none). */
  async eventAtNs(ns: number): Promise<number> {
    const c = this.index.chunks;
    let lo = 0;
    let hi = c.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c.lastNs[mid]! < ns) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= c.count) return this.index.events;
    const recs = await this.chunkRecords(lo);
    const n = c.events[lo]!;
    let a = 0;
    let b = n;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const o = mid * RECORD_WORDS;
      if (recs[o + 2]! + (recs[o + 3]! & 0x1fffff) * TWO_32 < ns) a = mid + 1;
      else b = mid;
    }
    return c.firstEvent[lo]! + a;
  }

  /**
   * The state after event `at` (0-based; -1 = before the first event): the
   * Snapshot bracket of the checkpoint at or before it (none before the first
   * interval) and the records from there through `at`. Null while the
   * checkpoints have not reached it yet.
   */
  async stateAt(
    at: number,
  ): Promise<{ bracket: Uint32Array; base: number; records: Uint32Array } | null> {
    const end = Math.max(0, Math.min(at + 1, this.index.events));
    const b = await this.stateBase(end);
    return b === null ? null : { ...b, records: await this.records(b.base, end - b.base) };
  }

  /** The checkpoint a fold to `end` events starts from: its bracket and event; null: not built yet. */
  private async stateBase(end: number): Promise<{ bracket: Uint32Array; base: number } | null> {
    const c = this.checkpoints;
    const interval = c?.interval ?? 0;
    let k = c === null ? -1 : Math.floor(end / interval) - 1;
    // Skipped checkpoints (too large a bracket): fold from the one before.
    while (c !== null && k >= 0 && k < c.count && c.skipped(k)) k--;
    if (k >= 0 && c !== null && k < c.count) {
      return { bracket: await c.bracket(k), base: (k + 1) * interval };
    }
    if (end <= (c?.interval ?? 131_072) || (c !== null && k < 0)) {
      return { bracket: new Uint32Array(0), base: 0 };
    }
    return null;
  }

  /**
   * Where a window may start at or before `from`: not inside a Snapshot
   * bracket (a window starting mid-bracket would hold half a state), so a
   * `from` inside one moves back to its begin record.
   */
  async windowStart(from: number): Promise<number> {
    const s = this.index.snapshots.events;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return from;
    const begin = s[lo - 1]!;
    // A bracket is state records between a begin and its end; look for the end.
    const recs = await this.records(begin, Math.min(from - begin, 1 << 20));
    const n = recs.length / RECORD_WORDS;
    for (let i = 1; i < n; i++) {
      const w0 = recs[i * RECORD_WORDS]!;
      if ((w0 & 0xff) === EventKind.Snapshot && ((w0 >>> 8) & 0xff) === 1) return from;
    }
    return n === from - begin ? begin : from;
  }

  /**
   * A window of the trace for a viewer that holds only part of it: the state
   * before event `from` as a Snapshot bracket (reason LateJoin: a viewer
   * joining there), folded from the checkpoint at or before it, then records
   * [from, from + count). `from` moves back to the start of a Snapshot
   * bracket it falls inside. Null while the checkpoints have not reached it.
   */
  async window(
    from: number,
    count: number,
  ): Promise<{ from: number; bracket: Uint32Array; records: Uint32Array } | null> {
    const start = await this.windowStart(Math.max(0, Math.min(from, this.index.events)));
    if (start === 0)
      return { from: 0, bracket: new Uint32Array(0), records: await this.records(0, count) };
    const b = await this.stateBase(start);
    if (b === null) return null;
    // Folded from the chunks in place: no copy of the records before the window.
    const tracker = new StateTracker();
    tracker.observe(b.bracket);
    await this.eachRange(b.base, start, (v) => tracker.observe(v));
    const bracket = tracker.snapshot(SnapshotReason.LateJoin).records;
    return { from: start, bracket, records: await this.records(start, count) };
  }

  // ---- summaries -----------------------------------------------------------------

  /** The coarsest level whose buckets are at most `maxNs` wide (level 0 if none is). */
  levelFor(maxNs: number): number {
    const L = this.index.levels;
    let k = 0;
    while (k + 1 < L.length && 2 ** L[k + 1]!.shift <= maxNs) k++;
    return k;
  }

  /** Buckets [from, to) of a level, absolute bucket indices of its grid (clamped to what exists). */
  summary(level: number, from: number, to: number): SummaryLevel & { from: number } {
    const l = this.index.levels[Math.max(0, Math.min(level, this.index.levels.length - 1))]!;
    const a = Math.max(0, Math.min(from - l.origin, l.count));
    const b = Math.max(a, Math.min(to - l.origin, l.count));
    return {
      shift: l.shift,
      origin: l.origin,
      count: b - a,
      from: l.origin + a,
      lanes: l.lanes.map((x) => ({
        frac: x.frac.subarray(a * 3, b * 3),
        flags: x.flags.subarray(a, b),
      })),
      queueMin: l.queueMin.subarray(a, b),
      queueMax: l.queueMax.subarray(a, b),
      runMin: l.runMin.subarray(a, b),
      runMax: l.runMax.subarray(a, b),
    };
  }

  // ---- sessions --------------------------------------------------------------------

  session(id: bigint): SessionInfo | undefined {
    return this.index.sessions.at(this.index.sessions.rowOf(id));
  }

  /** Event numbers of a session, ascending, from `from` on, at most `limit`. */
  async sessionEvents(id: bigint, from = 0, limit = 100_000): Promise<number[]> {
    const s = this.session(id);
    if (s === undefined) return [];
    const lo = Number(id & 0xffffffffn);
    const hi = Number(id >> 32n);
    const out: number[] = [];
    const c = this.index.chunks;
    for (let r = 0; r < s.runs.length && out.length < limit; r += 2) {
      for (let k = s.runs[r]!; k <= s.runs[r + 1]! && out.length < limit; k++) {
        if (c.firstEvent[k]! + c.events[k]! <= from) continue;
        const recs = await this.chunkRecords(k);
        const first = c.firstEvent[k]!;
        for (let i = Math.max(0, from - first); i < c.events[k]!; i++) {
          const o = i * RECORD_WORDS;
          if (recs[o + 4] === lo && recs[o + 5] === hi && SESSION_KIND[recs[o]! & 0xff] === 1) {
            out.push(first + i);
            if (out.length >= limit) break;
          }
        }
      }
    }
    return out;
  }

  // ---- stepping --------------------------------------------------------------------

  /**
   * The next (dir 1) or previous (dir -1) event after/before `from` that
   * matches every condition of `f`; -1 when there is none. Reads only chunks
   * whose masks (or session runs) allow a match.
   */
  async nextEvent(from: number, dir: 1 | -1, f: EventFilter): Promise<number> {
    const c = this.index.chunks;
    if (c.count === 0) return -1;
    const lane = f.tid === undefined ? -1 : this.index.lanes.findIndex((l) => l.tid === f.tid);
    if (f.tid !== undefined && lane < 0) return -1;
    const s = f.session === undefined ? undefined : this.session(f.session);
    if (f.session !== undefined && s === undefined) return -1;
    const sLo = f.session === undefined ? 0 : Number(f.session & 0xffffffffn);
    const sHi = f.session === undefined ? 0 : Number(f.session >> 32n);
    const start = dir > 0 ? from + 1 : from - 1;
    if (start < 0 || start >= this.index.events) return -1;
    const inRuns = (k: number): boolean => {
      if (s === undefined) return true;
      for (let r = 0; r < s.runs.length; r += 2)
        if (k >= s.runs[r]! && k <= s.runs[r + 1]!) return true;
      return false;
    };
    for (let k = this.chunkOfEvent(start); k >= 0 && k < c.count; k += dir) {
      if (f.kind !== undefined) {
        const bit =
          f.kind < 32 ? (c.kindsLo[k]! >>> f.kind) & 1 : (c.kindsHi[k]! >>> (f.kind - 32)) & 1;
        if (bit === 0) continue;
      }
      if (lane >= 0 && ((c.lanes[k]! >>> (lane & 31)) & 1) === 0) continue;
      if (!inRuns(k)) continue;
      const recs = await this.chunkRecords(k);
      const first = c.firstEvent[k]!;
      const n = c.events[k]!;
      let i = dir > 0 ? Math.max(0, start - first) : Math.min(n - 1, start - first);
      for (; i >= 0 && i < n; i += dir) {
        const o = i * RECORD_WORDS;
        const w0 = recs[o]!;
        if (f.kind !== undefined && (w0 & 0xff) !== f.kind) continue;
        if (f.tid !== undefined && w0 >>> 16 !== f.tid) continue;
        if (
          f.session !== undefined &&
          (recs[o + 4] !== sLo || recs[o + 5] !== sHi || SESSION_KIND[w0 & 0xff] !== 1)
        ) {
          continue;
        }
        return first + i;
      }
    }
    return -1;
  }
}

const NO_WORDS: readonly number[] = [];
const WORD_1: readonly number[] = [1];
const WORD_6: readonly number[] = [6];
const WORDS_1_7: readonly number[] = [1, 7];

/**
 * Which words of a record of `kind` hold string ids (names, peers, labels,
 * call sites). The same arrays every time: nothing is allocated per record.
 */
export function stringWords(kind: number): readonly number[] {
  switch (kind) {
    case EventKind.ThreadStart:
    case EventKind.SessionCreated:
    case EventKind.Accept:
    case EventKind.Marker:
      return WORD_1;
    case EventKind.LockWait:
    case EventKind.LockAcquire:
    case EventKind.LockRelease:
      return WORD_6;
    case EventKind.CallSite:
      return WORDS_1_7;
    default:
      return NO_WORDS;
  }
}

/**
 * The strings `records` refer to, each once, as [id, text] for a frame's
 * string section (a window answer walks 8 K records per request).
 */
export function stringsOfRecords(
  records: Uint32Array,
  table: { get(id: number): string | undefined },
): Array<[number, string]> {
  const ids = new Set<number>();
  const n = records.length / RECORD_WORDS;
  for (let i = 0; i < n; i++) {
    const o = i * RECORD_WORDS;
    const words = stringWords(records[o]! & 0xff);
    for (let k = 0; k < words.length; k++) ids.add(records[o + words[k]!]!);
  }
  ids.delete(0);
  const out: Array<[number, string]> = [];
  for (const id of ids) {
    const s = table.get(id);
    if (s !== undefined) out.push([id, s]);
  }
  return out;
}

function defaultCacheDir(): string {
  return path.join(tmpdir(), `iocpscope-index-${process.getuid?.() ?? 'user'}`);
}

function hashOf(s: string): string {
  return createHash('sha1').update(s).digest('hex').slice(0, 20);
}
