// A trace being written, queryable while it grows: the live spool (parts
// rotated by a RecordingSink, the oldest deleted past a byte budget) and a
// recording in progress. It answers the same queries as an IndexedTrace
// (view.ts), up to its newest written chunk.
//
// Model:
// - Parts in order, each one file opening with its own Snapshot bracket.
//   Events are numbered across parts: the concatenation of the parts'
//   records exactly as written (opening brackets and closing TraceEnds
//   included), counted from the first record ever written, so numbers stay
//   put when old parts go. `available` is the oldest event still held.
// - Each part is indexed incrementally from the sink's onChunk (the chunk's
//   bytes, decoded once; nothing is read back): a TraceIndexBuilder per part,
//   whose index (builder.finish()) is taken again when a query comes and the
//   part grew, at most every `maxLagMs` (so a query sees the newest chunk at
//   most that late). A closed part's index is final. Taking it again costs in
//   proportion to the part (about 135 ms on the main thread for a 2 M-event
//   part of 26 k sessions, here), hence the default of one second.
// - Summaries of all parts are on one time grid: a level's buckets are
//   numbered from time 0 in every part (summary.ts), so parts are merged
//   bucket by bucket (fractions added, flags OR-ed, counters min/max).
// - The findings worker (findings-job.ts, follow mode) walks every chunk as
//   it is written and also folds each part's state, giving a checkpoint
//   bracket every `checkpointInterval` events of a part; the brackets go to a
//   file beside the part in the scratch directory (per part: a few numbers in
//   memory), deleted with it.
// - Stream map: which records of the source (the drainer's stream, counted
//   from the first record the sink was given) are which events here, as a
//   few segments (one per part, and one more per loss).

import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  RECORD_WORDS,
  StringTable,
  decodeChunkAt,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import type { ChunkWritten } from '../record/sink.ts';
import { TraceIndexBuilder, type LaneInfo, type SessionInfo } from './builder.ts';
import { fastCrc32 } from './crc.ts';
import { SessionList } from './session-list.ts';
import { DEFAULT_CHECKPOINT_INTERVAL } from './checkpoints.ts';
import { FindingsJob } from './findings-job.ts';
import type { ScanFacts } from './index-file.ts';
import { coarser, type SummaryLevel } from './summary.ts';
import {
  IndexedTrace,
  stringsOfRecords,
  type CheckpointSource,
  type EventFilter,
} from './trace.ts';
import type { TraceIndexView, TraceView } from './view.ts';

export interface LiveTraceOptions {
  /** Where the parts' checkpoint files go (created if missing). */
  scratchDir: string;
  /** The parts' file header (all parts of one source share it). */
  header?: TraceFileHeader;
  /** Events between two state checkpoints of a part. Default 131,072. */
  checkpointInterval?: number;
  /** Walk the detectors over it as it is written. Default true. */
  findings?: boolean;
  /** How late a query may see the newest chunk, ms. Default 1000. */
  maxLagMs?: number;
}

/** Source records [stream, stream + count) are events [event, event + count). */
export interface StreamSegment {
  stream: number;
  event: number;
  count: number;
}

/** A part's checkpoint brackets, in a file beside it. */
class BracketStore implements CheckpointSource {
  count = 0;
  /** Checkpoints given to add() whose write has not completed. */
  #queued = 0;
  readonly #offsets: number[] = [];
  readonly #sizes: number[] = [];
  #fh: Promise<FileHandle> | null = null;
  #end = 0;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(
    readonly interval: number,
    readonly file: string,
    /** The part's bytes so far: the brackets stay within a quarter of them (as checkpoints.ts). */
    private readonly partBytes: () => number,
  ) {}

  /**
   * Checkpoint k arrived (they arrive in order; a k out of order is ignored).
   * One whose bracket would take the file past a quarter of the part is kept
   * as skipped (a state there folds from an earlier one).
   */
  add(k: number, records: Uint32Array): void {
    if (this.#closed || k !== this.count + this.#queued) return;
    this.#queued++;
    const whole = new Uint8Array(records.buffer, records.byteOffset, records.byteLength);
    const bytes = this.#end + whole.length > this.partBytes() / 4 ? new Uint8Array(0) : whole;
    this.#chain = this.#chain.then(async () => {
      if (this.#closed) return;
      this.#fh ??= open(this.file, 'w+');
      const fh = await this.#fh;
      await fh.write(bytes, 0, bytes.length, this.#end);
      this.#offsets.push(this.#end);
      this.#sizes.push(bytes.length);
      this.#end += bytes.length;
      this.#queued--;
      this.count++;
    });
    this.#chain.catch(() => {
      // A failed write leaves the checkpoints before it; later states replay further.
      this.#closed = true;
    });
  }

  skipped(k: number): boolean {
    return this.#sizes[k] === 0;
  }

  async bracket(k: number): Promise<Uint32Array> {
    const fh = await this.#fh!;
    const out = new Uint32Array(this.#sizes[k]! / 4);
    await fh.read(new Uint8Array(out.buffer), 0, this.#sizes[k]!, this.#offsets[k]!);
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#chain.catch(() => undefined);
    const fh = this.#fh;
    this.#fh = null;
    if (fh !== null) {
      await (await fh).close();
      await unlink(this.file).catch(() => undefined);
    }
  }
}

class LivePart {
  /** Indexes the chunks as they come; dropped once a closed part's final view is built. */
  #builder: TraceIndexBuilder | null = new TraceIndexBuilder();
  #events = 0;
  readonly strings = new StringTable();
  readonly facts: ScanFacts;
  readonly ckp: BracketStore;
  closed = false;
  #view: IndexedTrace | null = null;
  #viewChunks = -1;
  #builtAt = 0;

  constructor(
    readonly no: number,
    readonly path: string,
    readonly first: number,
    header: TraceFileHeader | undefined,
    interval: number,
    scratchDir: string,
  ) {
    this.facts = { header, version: 2, validBytes: 0, totalBytes: 0 };
    this.ckp = new BracketStore(
      interval,
      join(scratchDir, `part-${no}.ckp`),
      () => this.facts.totalBytes,
    );
  }

  get events(): number {
    return this.#events;
  }

  add(c: ChunkWritten, records: Uint32Array, strings: Array<[number, string]>): void {
    for (const [id, s] of strings) this.strings.set(id, s);
    const b = this.#builder!;
    b.addChunk(c.offset, c.bytes, records);
    this.#events = b.events;
    this.facts.validBytes = c.fileBytes;
    this.facts.totalBytes = c.fileBytes;
  }

  /** The part's queryable view, taken again when it grew and the last is older than maxLagMs. */
  view(maxLagMs: number): IndexedTrace {
    const b = this.#builder;
    if (b === null) return this.#view!;
    const chunks = b.chunkCount;
    if (
      this.#view === null ||
      (chunks !== this.#viewChunks &&
        (this.closed || performance.now() - this.#builtAt >= maxLagMs))
    ) {
      const index = b.finish();
      this.#viewChunks = chunks;
      this.#builtAt = performance.now();
      if (this.#view === null) {
        this.#view = IndexedTrace.growing(this.path, index, this.strings, { ...this.facts });
        this.#view.checkpoints = this.ckp;
      } else this.#view.grow(index, { ...this.facts });
    }
    // A closed part's view is final: one copy of its index is enough.
    if (this.closed && chunks === this.#viewChunks) this.#builder = null;
    return this.#view;
  }

  /** Level k of the part's summaries (coarsened from its top level beyond its own). */
  level(k: number, maxLagMs: number): SummaryLevel {
    const levels = this.view(maxLagMs).index.levels;
    let l = levels[Math.min(k, levels.length - 1)]!;
    for (let j = levels.length - 1; j < k; j++) l = coarser(l);
    return l;
  }

  async close(): Promise<void> {
    await this.#view?.close();
    await this.ckp.close();
  }
}

interface Merged {
  index: TraceIndexView;
  /** Merged lane of each part's lane k. */
  laneMap: number[][];
}

export class LiveTrace implements TraceView {
  readonly #opts: Required<Omit<LiveTraceOptions, 'header'>> & { header?: TraceFileHeader };
  readonly #parts: LivePart[] = [];
  #nextPartNo = 1;
  #current: LivePart | null = null;
  #head = 0;
  /** The time of the first event the spool ever held, kept once its part is deleted. */
  #droppedFromNs: number | null = null;
  #ended = false;
  #merged: Merged | null = null;
  #mergedKey = '';
  readonly #segments: StreamSegment[] = [];
  /** Dropped parts waiting out their grace period: close them now. */
  readonly #closing = new Map<LivePart, () => Promise<void>>();
  /** What retention deleted: events and parts. */
  readonly dropped = { events: 0, parts: 0 };
  readonly findings: FindingsJob | null;
  readonly checkpointProgress = { events: 0, checkpoints: 0 };
  #scratchReady: Promise<unknown>;

  constructor(options: LiveTraceOptions) {
    this.#opts = {
      checkpointInterval: options.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL,
      findings: options.findings ?? true,
      maxLagMs: options.maxLagMs ?? 1000,
      scratchDir: options.scratchDir,
      ...(options.header !== undefined ? { header: options.header } : {}),
    };
    this.#scratchReady = mkdir(options.scratchDir, { recursive: true });
    this.findings = this.#opts.findings
      ? FindingsJob.follow({
          checkpointInterval: this.#opts.checkpointInterval,
          onCheckpoint: (part, k, records) => {
            const p = this.#parts.find((x) => x.no === part);
            if (p === undefined) return;
            void this.#scratchReady.then(() => p.ckp.add(k, records));
            this.checkpointProgress.checkpoints++;
          },
        })
      : null;
  }

  // ---- the writer's side -------------------------------------------------------------

  /** The sink wrote a chunk (in order; a new file starts a new part). */
  addChunk(c: ChunkWritten): void {
    if (this.#ended) return;
    let part = this.#current;
    if (part === null || part.path !== c.file) {
      if (part !== null) part.closed = true;
      part = new LivePart(
        this.#nextPartNo++,
        c.file,
        this.#head,
        this.#opts.header,
        this.#opts.checkpointInterval,
        this.#opts.scratchDir,
      );
      this.#parts.push(part);
      this.#current = part;
    }
    const { records, strings } = decodeChunkAt(c.data, c.offset, undefined, { crc32: fastCrc32 });
    const local = part.events;
    part.add(c, records, strings);
    const first = part.first + local;
    this.#head = first + records.length / RECORD_WORDS;
    this.checkpointProgress.events = this.#head;
    if (c.stream.count > 0) this.#noteStream(c.stream.first, first + c.stream.at, c.stream.count);
    this.findings?.chunk({
      part: part.no,
      path: c.file,
      offset: c.offset,
      bytes: c.bytes,
      first,
      local,
      records,
      strings,
    });
  }

  /** The trace ended (a recording stopped): the findings' end-of-trace checks may run. */
  end(damaged = false): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#current !== null) this.#current.closed = true;
    this.findings?.end(damaged);
  }

  /** Files of the parts held, oldest first. */
  get partFiles(): string[] {
    return this.#parts.map((p) => p.path);
  }

  /**
   * Forget the oldest part: new queries no longer see it at once; it is closed
   * `graceMs` later (queries already reading it finish first), then `closed`
   * resolves and its file is the caller's to delete.
   */
  dropOldest(graceMs = 2000): { file: string; closed: Promise<void> } | undefined {
    const first = this.#parts[0];
    if (first !== undefined && this.#droppedFromNs === null && first.events > 0) {
      this.#droppedFromNs = first.view(this.#opts.maxLagMs).index.startNs;
    }
    const p = this.#parts.shift();
    if (p === undefined) return undefined;
    if (p === this.#current) this.#current = null;
    this.dropped.events += p.events;
    this.dropped.parts++;
    const firstKept = this.available.firstEvent;
    while (this.#segments.length > 0) {
      const s = this.#segments[0]!;
      if (s.event + s.count <= firstKept) this.#segments.shift();
      else {
        const cut = Math.max(0, firstKept - s.event);
        s.event += cut;
        s.stream += cut;
        s.count -= cut;
        break;
      }
    }
    this.#merged = null;
    const closed = new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.#closing.delete(p);
        void p.close().then(resolve, resolve);
      }, graceMs);
      this.#closing.set(p, () => {
        clearTimeout(t);
        return p.close().then(resolve, resolve);
      });
    });
    return { file: p.path, closed };
  }

  async close(): Promise<void> {
    this.#ended = true;
    await this.findings?.close();
    for (const p of this.#parts.splice(0)) await p.close();
    for (const now of [...this.#closing.values()]) await now();
    this.#closing.clear();
    this.#current = null;
  }

  #noteStream(stream: number, event: number, count: number): void {
    const last = this.#segments[this.#segments.length - 1];
    if (
      last !== undefined &&
      last.stream + last.count === stream &&
      last.event + last.count === event
    ) {
      last.count += count;
    } else this.#segments.push({ stream, event, count });
  }

  // ---- live facts -----------------------------------------------------------------

  /** Where its checkpoint files go. */
  get scratchDir(): string {
    return this.#opts.scratchDir;
  }

  /** One past the newest event written. */
  get head(): number {
    return this.#head;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The oldest event still held (and its time). */
  get available(): { firstEvent: number; firstNs: number } {
    const p = this.#parts[0];
    if (p === undefined) return { firstEvent: this.#head, firstNs: 0 };
    return { firstEvent: p.first, firstNs: p.view(this.#opts.maxLagMs).index.startNs };
  }

  /** The time of the first event ever held, once the part holding it was deleted; else null. */
  get droppedFromNs(): number | null {
    return this.#droppedFromNs;
  }

  /** Parts held, with their first event and size. */
  parts(): Array<{ file: string; firstEvent: number; events: number; bytes: number }> {
    return this.#parts.map((p) => ({
      file: p.path,
      firstEvent: p.first,
      events: p.events,
      bytes: p.facts.totalBytes,
    }));
  }

  /** Stream map of the events held. */
  get streamMap(): readonly StreamSegment[] {
    return this.#segments;
  }

  /** The event a source record became, or -1 (lost, or no longer held). */
  eventOfStream(stream: number): number {
    for (const s of this.#segments) {
      if (stream >= s.stream && stream < s.stream + s.count) return s.event + (stream - s.stream);
    }
    return -1;
  }

  // ---- the query surface (view.ts) ----------------------------------------------------

  get header(): TraceFileHeader | undefined {
    return this.#opts.header;
  }

  get facts(): ScanFacts {
    let bytes = 0;
    for (const p of this.#parts) bytes += p.facts.totalBytes;
    return { header: this.#opts.header, version: 2, validBytes: bytes, totalBytes: bytes };
  }

  get checkpoints(): { interval: number; count: number } {
    let n = 0;
    for (const p of this.#parts) n += p.ckp.count;
    return { interval: this.#opts.checkpointInterval, count: n };
  }

  readonly strings = {
    get: (id: number): string | undefined => {
      for (let k = this.#parts.length - 1; k >= 0; k--) {
        const s = this.#parts[k]!.strings.get(id);
        if (s !== undefined) return s;
      }
      return undefined;
    },
  };

  get index(): TraceIndexView {
    return this.#merge().index;
  }

  /** The part holding event `ev` (null before the first held or past the head). */
  #partOf(ev: number): LivePart | null {
    const ps = this.#parts;
    let lo = 0;
    let hi = ps.length - 1;
    if (hi < 0 || ev < ps[0]!.first || ev >= this.#head) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (ps[mid]!.first <= ev) lo = mid;
      else hi = mid - 1;
    }
    return ps[lo]!;
  }

  async records(from: number, count: number): Promise<Uint32Array> {
    const lag = this.#opts.maxLagMs;
    const firstHeld = this.available.firstEvent;
    const head = this.index.events;
    const start = Math.max(firstHeld, Math.min(from, head));
    const end = Math.max(start, Math.min(from + count, head));
    const out = new Uint32Array((end - start) * RECORD_WORDS);
    let at = start;
    while (at < end) {
      const p = this.#partOf(at);
      if (p === null) break;
      const v = p.view(lag);
      const take = Math.min(end, p.first + v.index.events) - at;
      if (take <= 0) break;
      out.set(await v.records(at - p.first, take), (at - start) * RECORD_WORDS);
      at += take;
    }
    return out.subarray(0, (at - start) * RECORD_WORDS);
  }

  stringsOf(records: Uint32Array): Array<[number, string]> {
    return stringsOfRecords(records, this.strings);
  }

  async eventAtNs(ns: number): Promise<number> {
    const lag = this.#opts.maxLagMs;
    for (const p of this.#parts) {
      const v = p.view(lag);
      if (v.index.events > 0 && v.index.endNs >= ns) return p.first + (await v.eventAtNs(ns));
    }
    return this.index.events;
  }

  async stateAt(
    at: number,
  ): Promise<{ bracket: Uint32Array; base: number; records: Uint32Array } | null> {
    const p = this.#partOf(Math.max(at, this.available.firstEvent));
    if (p === null) {
      return { bracket: new Uint32Array(0), base: this.#head, records: new Uint32Array(0) };
    }
    const st = await p.view(this.#opts.maxLagMs).stateAt(at - p.first);
    return st === null ? null : { ...st, base: st.base + p.first };
  }

  async window(
    from: number,
    count: number,
  ): Promise<{ from: number; bracket: Uint32Array; records: Uint32Array } | null> {
    const head = this.index.events;
    const p = this.#partOf(Math.min(from, head - 1));
    if (p === null) return { from: head, bracket: new Uint32Array(0), records: new Uint32Array(0) };
    const w = await p.view(this.#opts.maxLagMs).window(from - p.first, count);
    if (w === null) return null;
    const start = w.from + p.first;
    const got = w.records.length / RECORD_WORDS;
    if (got >= count || start + got >= head) return { ...w, from: start };
    // The window runs on into the next parts (their opening brackets included).
    const more = await this.records(start + got, count - got);
    const records = new Uint32Array(w.records.length + more.length);
    records.set(w.records);
    records.set(more, w.records.length);
    return { from: start, bracket: w.bracket, records };
  }

  summary(level: number, from: number, to: number): SummaryLevel & { from: number } {
    const m = this.#merge();
    const L = m.index.levels;
    const k = Math.max(0, Math.min(level, L.length - 1));
    const meta = L[k]!;
    const a = Math.max(meta.origin, Math.min(from, meta.origin + meta.count));
    const b = Math.max(a, Math.min(to, meta.origin + meta.count));
    const n = b - a;
    const lanes = m.index.lanes.map(() => ({
      frac: new Uint8Array(n * 3),
      flags: new Uint8Array(n),
    }));
    const queueMin = new Int32Array(n).fill(0x7fffffff);
    const queueMax = new Int32Array(n).fill(-0x80000000);
    const runMin = new Int32Array(n).fill(0x7fffffff);
    const runMax = new Int32Array(n).fill(-0x80000000);
    this.#parts.forEach((p, pk) => {
      const l = p.level(k, this.#opts.maxLagMs);
      const lo = Math.max(a, l.origin);
      const hi = Math.min(b, l.origin + l.count);
      for (let bucket = lo; bucket < hi; bucket++) {
        const j = bucket - l.origin;
        const o = bucket - a;
        queueMin[o] = Math.min(queueMin[o]!, l.queueMin[j]!);
        queueMax[o] = Math.max(queueMax[o]!, l.queueMax[j]!);
        runMin[o] = Math.min(runMin[o]!, l.runMin[j]!);
        runMax[o] = Math.max(runMax[o]!, l.runMax[j]!);
      }
      l.lanes.forEach((lane, lk) => {
        const dst = lanes[m.laneMap[pk]![lk]!]!;
        for (let bucket = lo; bucket < hi; bucket++) {
          const j = bucket - l.origin;
          const o = bucket - a;
          for (let s = 0; s < 3; s++) {
            dst.frac[o * 3 + s] = Math.min(255, dst.frac[o * 3 + s]! + lane.frac[j * 3 + s]!);
          }
          dst.flags[o] = dst.flags[o]! | lane.flags[j]!;
        }
      });
    });
    for (const arr of [queueMin, runMin])
      for (let o = 0; o < n; o++) if (arr[o] === 0x7fffffff) arr[o] = 0;
    for (const arr of [queueMax, runMax])
      for (let o = 0; o < n; o++) if (arr[o] === -0x80000000) arr[o] = 0;
    return {
      shift: meta.shift,
      origin: meta.origin,
      count: n,
      from: a,
      lanes,
      queueMin,
      queueMax,
      runMin,
      runMax,
    };
  }

  session(id: bigint): SessionInfo | undefined {
    const m = this.#merge();
    return m.index.sessions.at(m.index.sessions.rowOf(id));
  }

  async sessionEvents(id: bigint, from = 0, limit = 100_000): Promise<number[]> {
    const out: number[] = [];
    const lag = this.#opts.maxLagMs;
    for (const p of [...this.#parts]) {
      if (out.length >= limit) break;
      const v = p.view(lag);
      if (p.first + v.index.events <= from || v.session(id) === undefined) continue;
      const got = await v.sessionEvents(id, Math.max(0, from - p.first), limit - out.length);
      for (const e of got) out.push(e + p.first);
    }
    return out;
  }

  async nextEvent(from: number, dir: 1 | -1, f: EventFilter): Promise<number> {
    const lag = this.#opts.maxLagMs;
    const parts = [...this.#parts];
    const start = from + dir;
    const order = dir > 0 ? parts : parts.reverse();
    for (const p of order) {
      const v = p.view(lag);
      const end = p.first + v.index.events;
      if (dir > 0 ? end <= start : p.first > start) continue;
      // IndexedTrace.nextEvent looks from its `from` + dir on.
      const local =
        dir > 0 ? Math.max(-1, start - p.first - 1) : Math.min(v.index.events, start - p.first + 1);
      const got = await v.nextEvent(local, dir, f);
      if (got >= 0) return got + p.first;
    }
    return -1;
  }

  // ---- the merged index ---------------------------------------------------------------

  #merge(): Merged {
    const lag = this.#opts.maxLagMs;
    const views = this.#parts.map((p) => p.view(lag));
    const key = `${this.#parts.map((p) => p.no).join(',')}|${views.map((v) => v.index.events).join(',')}|${this.#ended}`;
    if (this.#merged !== null && key === this.#mergedKey) return this.#merged;
    const lanes: LaneInfo[] = [];
    const laneOfTid = new Map<number, number>();
    const laneMap: number[][] = [];
    const sessions: SessionInfo[] = [];
    const sessionRow = new Map<bigint, number>();
    let chunks = 0;
    const gapsEv: number[] = [];
    const gapsNs: number[] = [];
    const gapsLost: number[] = [];
    const markEv: number[] = [];
    const markNs: number[] = [];
    const snapEv: number[] = [];
    this.#parts.forEach((p, pk) => {
      const ix = views[pk]!.index;
      const base = p.first;
      laneMap.push(
        ix.lanes.map((l) => {
          let k = laneOfTid.get(l.tid);
          if (k === undefined) {
            k = lanes.length;
            laneOfTid.set(l.tid, k);
            lanes.push({
              ...l,
              firstEvent: l.firstEvent + base,
              lastEvent: l.lastEvent + base,
              exitEvent: l.exitEvent < 0 ? -1 : l.exitEvent + base,
            });
          } else {
            const m = lanes[k]!;
            m.lastEvent = l.lastEvent + base;
            if (l.exitEvent >= 0) m.exitEvent = l.exitEvent + base;
            if (l.role !== 4) m.role = l.role;
            if (l.nameStr !== 0) m.nameStr = l.nameStr;
            if (l.osThreadId !== 0) m.osThreadId = l.osThreadId;
          }
          return k;
        }),
      );
      for (const s of ix.sessions) {
        const runs = s.runs.map((r) => r + chunks);
        const k = sessionRow.get(s.id);
        if (k === undefined) {
          sessionRow.set(s.id, sessions.length);
          sessions.push({
            ...s,
            firstEvent: s.firstEvent + base,
            lastEvent: s.lastEvent + base,
            createdEvent: s.createdEvent < 0 ? -1 : s.createdEvent + base,
            releasedEvent: s.releasedEvent < 0 ? -1 : s.releasedEvent + base,
            disconnectEvent: s.disconnectEvent < 0 ? -1 : s.disconnectEvent + base,
            runs,
          });
        } else {
          const m = sessions[k]!;
          m.lastEvent = s.lastEvent + base;
          m.events += s.events;
          if (m.createdEvent < 0 && s.createdEvent >= 0) m.createdEvent = s.createdEvent + base;
          if (m.releasedEvent < 0 && s.releasedEvent >= 0) m.releasedEvent = s.releasedEvent + base;
          if (m.disconnectEvent < 0 && s.disconnectEvent >= 0)
            m.disconnectEvent = s.disconnectEvent + base;
          if (m.peerStr === 0) m.peerStr = s.peerStr;
          m.runs = [...m.runs, ...runs];
        }
      }
      chunks += ix.chunks.count;
      ix.gaps.events.forEach((e, j) => {
        gapsEv.push(e + base);
        gapsNs.push(ix.gaps.ns[j]!);
        gapsLost.push(ix.gaps.lost[j]!);
      });
      ix.markers.events.forEach((e, j) => {
        markEv.push(e + base);
        markNs.push(ix.markers.ns[j]!);
      });
      ix.snapshots.events.forEach((e) => snapEv.push(e + base));
    });
    // Levels: as deep as the deepest part, and on up until one bucket covers all.
    const levels: Array<{ shift: number; origin: number; count: number }> = [];
    const depth = Math.max(1, ...views.map((v) => v.index.levels.length));
    for (let k = 0; k < 48; k++) {
      let lo = Infinity;
      let hi = -Infinity;
      let shift = 16 + k;
      for (const p of this.#parts) {
        const l = p.level(k, lag);
        shift = l.shift;
        lo = Math.min(lo, l.origin);
        hi = Math.max(hi, l.origin + l.count);
      }
      if (lo === Infinity) {
        lo = 0;
        hi = 1;
      }
      levels.push({ shift, origin: lo, count: hi - lo });
      if (k + 1 >= depth && hi - lo <= 1) break;
    }
    const first = views[0]?.index;
    const last = views[views.length - 1]?.index;
    const lastPart = this.#parts[this.#parts.length - 1];
    const index: TraceIndexView = {
      events: lastPart === undefined ? this.#head : lastPart.first + (last?.events ?? 0),
      startNs: first?.startNs ?? 0,
      endNs: last?.endNs ?? 0,
      chunks: { count: chunks },
      lanes,
      levels,
      sessions: SessionList.from(sessions),
      gaps: {
        events: Float64Array.from(gapsEv),
        ns: Float64Array.from(gapsNs),
        lost: Float64Array.from(gapsLost),
      },
      markers: { events: Float64Array.from(markEv), ns: Float64Array.from(markNs) },
      snapshots: { events: Float64Array.from(snapEv) },
      traceEnd:
        this.#ended && last !== undefined && last.traceEnd >= 0 && lastPart !== undefined
          ? last.traceEnd + lastPart.first
          : -1,
    };
    this.#merged = { index, laneMap };
    this.#mergedKey = key;
    return this.#merged;
  }
}
