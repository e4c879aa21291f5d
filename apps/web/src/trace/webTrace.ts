// WebTrace: the browser's columnar model of one trace (a recording or a live
// stream), built incrementally from the protocol's 32-byte records.
//
// Model
// - `words` holds the raw records (8 u32 words each, layout in
//   @iocpscope/protocol record.ts); read them with the protocol's accessors
//   (tsAt, kindAt, ...) or through the helpers here. Only the first
//   `count * 8` words are valid.
// - Every derived index is a column of event indices (ascending) in a compact
//   storage (indexColumn.ts): 2-byte offsets from a base every 32 entries while
//   growing; once a recording is complete (trim), the smallest of those, one
//   bit per event (dense series: queue depth, running threads, returns), or
//   1-byte steps. Plus small per-block summaries and time buckets; nothing is
//   stored per event except the records and one lane bit mask per LANE_BLOCK
//   events, so the model stays 2-3 bytes per event above the 32 of the
//   records on the synthetic echo trace (see `bytes`).
// - Timestamps are non-decreasing by the protocol's contract (the drainer
//   emits in time order). A record that goes back in time is clamped to the
//   previous timestamp in our copy and counted in `clampedTimestamps`, so the
//   binary searches stay valid.
// - Thread states and the running counter follow the replay reducer's rules
//   (packages/analysis): GqcsEnter -> waiting, GqcsReturn -> running, LockWait
//   -> blocked, LockAcquire -> running, ThreadState/Start/Exit as recorded; a
//   thread counts toward "running" once it has called GQCS. Queue depth: +1
//   per PacketQueued (except Post packets, already counted by their Pqcs) and
//   per Pqcs, -1 per GQCS return that dequeued something.
//
// Indexes (all updated by `append`):
// - lanes: one per thread (display order in `lanes`): state entries (which
//   include every GqcsReturn: the completion marks), time-in-state prefix
//   sums, the packets it queued (the kernel's marks), time buckets (lanes.ts);
// - returns: every GqcsReturn, with the matched IoPosted/Pqcs and
//   PacketQueued of its flow in `retPosted`/`retQueued` (NONE if unmatched;
//   a post recorded after its dequeue is left unmatched, see ioMatch.ts);
// - queueDepth and running: step series (+1/-1 per entry) with buckets;
// - gaps, markers: their event indices;
// - sessions: the session table; per-session and per-thread event lists are
//   built lazily on request and cached (few are ever asked for at once).

import {
  EVENT_KIND_MAX,
  EventKind,
  NO_THREAD,
  Op,
  RECORD_WORDS,
  ThreadRole,
  ThreadStateValue,
  WinError,
  TS_HI_MASK,
} from '@iocpscope/protocol';
import { lowerBound, upperBound } from '../lib/binarySearch.ts';
import { BUCKET_CAP, BucketGrid, CounterBuckets } from './buckets.ts';
import { U32Column } from './column.ts';
import { drawnState, MarkFlag, markFlagsAt, SESSION_KINDS, stateAt } from './flags.ts';
import { BlockReason } from '@iocpscope/protocol';
import { freezeStrings } from './frozenStrings.ts';
import { type EventIndex, FlowEndColumn } from './indexColumn.ts';
import { IoMatcher, LATE_POST_WINDOW } from './ioMatch.ts';
import {
  Lane,
  NONE,
  sortLanes,
  STATE_BLOCK_SHIFT,
  type StringLookup,
  type StringsHolder,
} from './lanes.ts';
import { EventSeries, SeriesKind } from './series.ts';
import { SessionTable } from './sessions.ts';

export const LANE_BLOCK = 256;
export const LANE_BLOCK_SHIFT = 8;
const TWO_32 = 4294967296;
const EMPTY_STRINGS: StringLookup = { get: () => undefined };

/** Bad input handed to WebTrace. `code` is stable. */
export class TraceError extends Error {
  override readonly name = 'TraceError';
  readonly code: 'BAD_RECORDS';
  constructor(code: 'BAD_RECORDS', message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

export class WebTrace implements StringsHolder {
  /** Raw records, `count * 8` valid words (spare capacity after). */
  words: Uint32Array = new Uint32Array(0);
  count = 0;
  /** Number of events (the analysis package's TraceRecords shape: `words` + `length`). */
  get length(): number {
    return this.count;
  }

  /** Bumps on every append: the cheap change check for renderers and stores. */
  version = 0;
  /** First and last event time (ns since trace start); 0..0 when empty. */
  startNs = 0;
  endNs = 0;
  strings: StringLookup = EMPTY_STRINGS;
  clampedTimestamps = 0;
  unknownKinds = 0;

  /** Port configuration from the latest PortCreated (0 = not seen). */
  concurrency = 0;
  workerCount = 0;
  portIdx = NONE;

  /** Lanes in display order (a new array whenever a lane appears or changes role). */
  lanes: readonly Lane[] = [];
  /** Lanes by creation order (`lane.id`). */
  readonly lanesById: Lane[] = [];
  /** Lane id + 1 by thread index (0: none yet), grown to the largest index seen; NO_THREAD apart. */
  private laneIdByTid = new Int32Array(16);
  private kernelLaneId = -1;

  /**
   * GqcsReturn events; `retPosted`/`retQueued` hold the flow's other ends (NONE
   * if unmatched), read with postedOf(k)/queuedOf(k).
   */
  readonly returns = new EventSeries(SeriesKind.Flags);
  readonly retPosted = new FlowEndColumn();
  readonly retQueued = new FlowEndColumn();
  /** Packets in the port's queue: +1 per PacketQueued (not Post) and Pqcs, -1 per dequeue. */
  readonly queueDepth = new EventSeries(SeriesKind.Queue);
  /** Port threads in the Running state (compare with `concurrency`). */
  readonly running = new EventSeries(SeriesKind.Running);
  /** The time-bucket grid shared by every lane's and counter's bucket summaries. */
  readonly grid = new BucketGrid();
  readonly queueBuckets = new CounterBuckets();
  readonly runningBuckets = new CounterBuckets();
  readonly gaps = new U32Column();
  readonly markers = new U32Column();
  /** Call-site id -> index of its CallSite record (v2 traces of foreign servers). */
  readonly siteDefs = new Map<number, number>();
  readonly sessions = new SessionTable();
  /** One bit per lane id (< 31; bit 31 = any lane id >= 31) per LANE_BLOCK events. */
  readonly laneMask = new U32Column();

  private readonly posted = new IoMatcher();
  private readonly queuedIo = new IoMatcher();
  /** Dequeues whose post had not been recorded yet (see LATE_POST_WINDOW). */
  private readonly early = new IoMatcher();
  private lastNs = 0;
  private lastTid = -1;
  private lastLane: Lane | null = null;
  /** First time outside the bucket grid (coarsen before indexing an event at or after it). */
  private gridEndNs = BUCKET_CAP * 2 ** 6;
  private lanesDirty = false;
  private readonly sessionCache: SessionEvents[] = [];
  private threadCache: { lane: Lane; list: U32Column; scannedTo: number } | null = null;

  /** Build a trace from complete records in one go (then trims spare capacity). */
  static from(records: Uint32Array, strings?: StringLookup): WebTrace {
    const t = new WebTrace();
    t.reserve(records.length / RECORD_WORDS);
    if (records.length > 0) t.presize(tsOf(records, records.length / RECORD_WORDS - 1));
    t.append(records, strings);
    t.trim();
    return t;
  }

  /**
   * Build a trace that takes ownership of `words` (no copy: the caller must not
   * use or modify the array afterwards). `words` may be longer than `count`
   * records (an EventStore's backing array): a little spare capacity (up to
   * 1/64: the framing of a file whose size sized the store) is kept under a
   * view rather than copying every record to drop it.
   */
  static fromOwned(words: Uint32Array, count: number, strings?: StringLookup): WebTrace {
    if (!Number.isInteger(count) || count < 0 || count * RECORD_WORDS > words.length) {
      throw new TraceError('BAD_RECORDS', `${count} records do not fit in ${words.length} words`);
    }
    const t = new WebTrace();
    // A recording's table stops growing: keep only what lookups by id need.
    if (strings) t.strings = freezeStrings(strings);
    const n = count * RECORD_WORDS;
    t.words = words.length - n <= n / 64 ? words.subarray(0, n) : words.slice(0, n);
    if (count > 0) t.presize(tsOf(t.words, count - 1));
    t.indexRange(0, count);
    t.trim();
    return t;
  }

  /** Choose the bucket grid for a trace known to end near `lastNs` (before any event). */
  private presize(lastNs: number): void {
    while (this.gridEndNs <= lastNs) {
      this.grid.shift++;
      this.gridEndNs *= 2;
    }
  }

  /** Double the bucket width everywhere (the trace outgrew the grid). */
  private coarsen(): void {
    for (const l of this.lanesById) l.buckets.coarsen();
    this.queueBuckets.coarsen();
    this.runningBuckets.coarsen();
    this.grid.shift++;
    this.gridEndNs *= 2;
  }

  /** Make room for `events` events in total (avoids regrowth when the count is known). */
  reserve(events: number): void {
    const words = Math.ceil(events) * RECORD_WORDS;
    if (words <= this.words.length) return;
    const next = new Uint32Array(words);
    next.set(this.words.subarray(0, this.count * RECORD_WORDS));
    this.words = next;
  }

  /**
   * Append records (a whole number of 8-word records, in time order) and index
   * them. `strings`, when given, replaces the lookup for names and peers (pass
   * the connection's growing string table each time, or once).
   */
  append(records: Uint32Array, strings?: StringLookup): void {
    if (records.length % RECORD_WORDS !== 0) {
      throw new TraceError(
        'BAD_RECORDS',
        `records length ${records.length} is not a multiple of ${RECORD_WORDS} words`,
      );
    }
    if (strings) this.strings = strings;
    const n = records.length / RECORD_WORDS;
    if (n === 0) return;
    const need = (this.count + n) * RECORD_WORDS;
    if (need > this.words.length) {
      this.reserve(Math.max(this.count + n, Math.ceil((this.words.length / RECORD_WORDS) * 1.5)));
    }
    this.words.set(records, this.count * RECORD_WORDS);
    this.indexRange(this.count, n);
  }

  /** Index records [first, first + n) already in `words`, then publish them. */
  private indexRange(first: number, n: number): void {
    if (n === 0) return;
    if (first === 0) this.lastNs = tsOf(this.words, 0);
    for (let i = first; i < first + n; i++) this.indexEvent(i);
    this.count = first + n;
    this.startNs = tsOf(this.words, 0);
    this.endNs = this.lastNs;
    if (this.lanesDirty) {
      this.lanes = sortLanes(this.lanesById);
      this.lanesDirty = false;
    }
    this.version++;
  }

  /** Drop spare capacity everywhere (after a recording has been loaded completely). */
  trim(): void {
    if (this.words.length !== this.count * RECORD_WORDS) {
      this.words = this.words.slice(0, this.count * RECORD_WORDS);
    }
    for (const l of this.lanesById) l.trim();
    this.returns.trim();
    this.retPosted.trim();
    this.retQueued.trim();
    this.queueDepth.trim();
    this.running.trim();
    this.gaps.trim();
    this.markers.trim();
    this.sessions.trim();
    this.laneMask.trim();
    this.posted.compact();
    this.queuedIo.compact();
    this.early.compact();
  }

  /** Bytes held by the records and every index (typed arrays and maps; estimates for maps). */
  get bytes(): number {
    // The whole backing store: `words` may be a view that leaves a little slack.
    let b = this.words.buffer.byteLength + this.laneIdByTid.byteLength;
    b += this.queueBuckets.bytes + this.runningBuckets.bytes;
    for (const l of this.lanesById) b += l.bytes;
    b += this.returns.bytes + this.retPosted.bytes + this.retQueued.bytes;
    b += this.queueDepth.bytes + this.running.bytes + this.gaps.bytes + this.markers.bytes;
    b += this.sessions.bytes + this.laneMask.bytes;
    b += this.posted.bytes + this.queuedIo.bytes + this.early.bytes;
    for (const s of this.sessionCache) b += s.list.bytes;
    if (this.threadCache) b += this.threadCache.list.bytes;
    return b;
  }

  // ---- per-event accessors ----------------------------------------------------

  timeAt(i: number): number {
    return tsOf(this.words, i);
  }

  kindAt(i: number): number {
    return this.words[i * RECORD_WORDS]! & 0xff;
  }

  tidAt(i: number): number {
    return this.words[i * RECORD_WORDS]! >>> 16;
  }

  /** The lane of a thread index, or undefined. */
  laneOfTid(tid: number): Lane | undefined {
    const id = this.laneIdOf(tid);
    return id < 0 ? undefined : this.lanesById[id];
  }

  private laneIdOf(tid: number): number {
    if (tid === NO_THREAD) return this.kernelLaneId;
    return tid < this.laneIdByTid.length ? this.laneIdByTid[tid]! - 1 : -1;
  }

  laneOfEvent(i: number): Lane | undefined {
    return this.laneOfTid(this.tidAt(i));
  }

  string(id: number): string | undefined {
    return id === 0 ? undefined : this.strings.get(id);
  }

  // ---- time ---------------------------------------------------------------------

  /** The last event at or before `ns` (the first event if `ns` is earlier); -1 when empty. */
  eventIndexAtTime(ns: number): number {
    if (this.count === 0) return -1;
    const i = this.upperBoundTime(ns, 0, this.count) - 1;
    return i < 0 ? 0 : i;
  }

  /** First event index in [lo, hi) with time >= ns (hi if none). */
  lowerBoundTime(ns: number, lo = 0, hi = this.count): number {
    const w = this.words;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const o = mid * RECORD_WORDS;
      if (w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32 < ns) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First event index in [lo, hi) with time > ns (hi if none). */
  upperBoundTime(ns: number, lo = 0, hi = this.count): number {
    const w = this.words;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const o = mid * RECORD_WORDS;
      if (w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32 <= ns) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * First position k in [lo, hi) of an index column (event indices, ascending,
   * hence ascending times) whose event time is >= ns.
   */
  lowerBoundColumnTime(col: Uint32Array | EventIndex, ns: number, lo: number, hi: number): number {
    const w = this.words;
    if (!(col instanceof Uint32Array)) {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const o = col.get(mid) * RECORD_WORDS;
        if (w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32 < ns) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const o = col[mid]! * RECORD_WORDS;
      if (w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32 < ns) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First position k in [lo, hi) of an index column whose event time is > ns. */
  upperBoundColumnTime(col: Uint32Array | EventIndex, ns: number, lo: number, hi: number): number {
    const w = this.words;
    if (!(col instanceof Uint32Array)) {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const o = col.get(mid) * RECORD_WORDS;
        if (w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32 <= ns) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const o = col[mid]! * RECORD_WORDS;
      if (w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32 <= ns) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // ---- thread state ---------------------------------------------------------------

  /** Position in `lane.states` of the state in force at `ns`, or -1 before the first. */
  stateEntryAt(lane: Lane, ns: number): number {
    return this.upperBoundColumnTime(lane.states.idx, ns, 0, lane.states.length) - 1;
  }

  /**
   * Fill out[0..2] with the ns the lane spent [waiting, running, blocked] from
   * its first state change up to `ns` (clamped to the trace end: the future is
   * unknown). Cost: one binary search plus at most STATE_BLOCK steps.
   */
  stateTimeBefore(lane: Lane, ns: number, out: Float64Array): void {
    out[0] = 0;
    out[1] = 0;
    out[2] = 0;
    const col = lane.states.idx;
    const n = lane.states.length;
    const t = ns < this.endNs ? ns : this.endNs;
    const j = this.upperBoundColumnTime(col, t, 0, n) - 1;
    if (j < 0) return;
    const w = this.words;
    const b = j >>> STATE_BLOCK_SHIFT;
    const cum = lane.stateCum.data;
    out[0] = cum[b * 3]!;
    out[1] = cum[b * 3 + 1]!;
    out[2] = cum[b * 3 + 2]!;
    let k = b << STATE_BLOCK_SHIFT;
    let prevNs = tsOf(w, col.get(k));
    let prevState = stateAt(w, col.get(k));
    for (k = k + 1; k <= j; k++) {
      const e = col.get(k);
      const ns2 = tsOf(w, e);
      if (prevState < ThreadStateValue.Exited) out[prevState]! += ns2 - prevNs;
      prevNs = ns2;
      prevState = stateAt(w, e);
    }
    if (prevState < ThreadStateValue.Exited) out[prevState]! += t - prevNs;
  }

  // ---- flows ----------------------------------------------------------------------

  /**
   * Position in `returns` of the flow event i belongs to (i being an IoPosted,
   * Pqcs, PacketQueued or GqcsReturn), or -1 when it has none (yet).
   */
  flowOfEvent(i: number): number {
    const kind = this.kindAt(i);
    const ret = this.returns.idx;
    if (kind === EventKind.GqcsReturn) {
      const k = ret.lowerBound(i);
      if (k >= ret.length || ret.get(k) !== i) return -1;
      return this.postedOf(k) !== NONE || this.queuedOf(k) !== NONE ? k : -1;
    }
    if (kind !== EventKind.IoPosted && kind !== EventKind.Pqcs && kind !== EventKind.PacketQueued) {
      return -1;
    }
    const col = kind === EventKind.PacketQueued ? this.retQueued : this.retPosted;
    // The dequeue comes after the event; scan the returns from there.
    let e = -1;
    for (let k = ret.upperBound(i); k < ret.length; k++) {
      e = ret.getAfter(k, e);
      if (col.get(k, e) === i) return k;
    }
    return -1;
  }

  /** The post (IoPosted or Pqcs) matched to the k-th GqcsReturn, or NONE. */
  postedOf(k: number): number {
    return this.retPosted.get(k, this.returns.idx.get(k));
  }

  /** The PacketQueued matched to the k-th GqcsReturn, or NONE. */
  queuedOf(k: number): number {
    return this.retQueued.get(k, this.returns.idx.get(k));
  }

  // ---- navigation -----------------------------------------------------------------

  /**
   * Where event i was recorded in the traced server's own code (v2 call sites):
   * file, line and function, or null when the event carries no site or its
   * definition is missing.
   */
  callSiteOf(i: number): { file: string; line: number; func: string } | null {
    const w = this.words;
    const site = w[i * RECORD_WORDS + 3]! >>> 21;
    if (site === 0) return null;
    const d = this.siteDefs.get(site);
    if (d === undefined) return null;
    const o = d * RECORD_WORDS;
    return {
      file: this.strings.get(w[o + 1]!) ?? '',
      line: w[o + 6]!,
      func: this.strings.get(w[o + 7]!) ?? '',
    };
  }

  /** Events of a session (ascending indices). Built by one scan on first use, then cached. */
  sessionEvents(session: bigint): Uint32Array {
    const lo = Number(session & 0xffffffffn);
    const hi = Number((session >> 32n) & 0xffffffffn);
    let entry: SessionEvents | undefined;
    for (let k = 0; k < this.sessionCache.length; k++) {
      const e = this.sessionCache[k]!;
      if (e.lo === lo && e.hi === hi) {
        entry = e;
        if (k !== 0) {
          this.sessionCache.splice(k, 1);
          this.sessionCache.unshift(e);
        }
        break;
      }
    }
    if (!entry) {
      const row = this.sessions.find(lo, hi);
      const list = new U32Column(row < 0 ? 0 : this.sessions.events.data[row]!);
      entry = { lo, hi, list, scannedTo: 0 };
      this.sessionCache.unshift(entry);
      if (this.sessionCache.length > SESSION_CACHE) this.sessionCache.pop();
    }
    if (entry.scannedTo < this.count) {
      const w = this.words;
      const list = entry.list;
      for (let i = entry.scannedTo; i < this.count; i++) {
        const o = i * RECORD_WORDS;
        if (w[o + 4] === lo && w[o + 5] === hi && SESSION_KINDS[w[o]! & 0xff] === 1) list.push(i);
      }
      entry.scannedTo = this.count;
    }
    return entry.list.view();
  }

  /** Next (dir 1) or previous (dir -1) event of the session from event i; -1 if none. */
  nextForSession(i: number, session: bigint, dir: 1 | -1): number {
    const list = this.sessionEvents(session);
    if (dir > 0) {
      const k = upperBound(list, i);
      return k < list.length ? list[k]! : -1;
    }
    const k = lowerBound(list, i) - 1;
    return k >= 0 ? list[k]! : -1;
  }

  /**
   * Next/previous event on the same thread as event i (or on `tid` when
   * given); -1 if none. Skips LANE_BLOCK-event blocks the lane is absent from.
   */
  nextOnThread(i: number, dir: 1 | -1, tid = this.tidAt(i)): number {
    const lane = this.laneOfTid(tid);
    if (!lane) return -1;
    const bit = laneBit(lane.id);
    const w = this.words;
    const mask = this.laneMask.data;
    let j = i + dir;
    while (j >= 0 && j < this.count) {
      if ((mask[j >>> LANE_BLOCK_SHIFT]! & bit) === 0) {
        // Jump to the first index of the next block in the direction of travel.
        j =
          dir > 0
            ? ((j >>> LANE_BLOCK_SHIFT) + 1) << LANE_BLOCK_SHIFT
            : ((j >>> LANE_BLOCK_SHIFT) << LANE_BLOCK_SHIFT) - 1;
        continue;
      }
      if (w[j * RECORD_WORDS]! >>> 16 === tid) return j;
      j += dir;
    }
    return -1;
  }

  /** All events of a lane (ascending). Built on first use and cached for the latest lane asked. */
  threadEvents(lane: Lane): Uint32Array {
    if (!this.threadCache || this.threadCache.lane !== lane) {
      this.threadCache = { lane, list: new U32Column(), scannedTo: 0 };
    }
    const c = this.threadCache;
    const bit = laneBit(lane.id);
    const mask = this.laneMask.data;
    const w = this.words;
    for (let i = c.scannedTo; i < this.count;) {
      if ((mask[i >>> LANE_BLOCK_SHIFT]! & bit) === 0) {
        i = ((i >>> LANE_BLOCK_SHIFT) + 1) << LANE_BLOCK_SHIFT;
        continue;
      }
      if (w[i * RECORD_WORDS]! >>> 16 === lane.tid) c.list.push(i);
      i++;
    }
    c.scannedTo = this.count;
    return c.list.view();
  }

  // ---- indexing -------------------------------------------------------------------

  private laneFor(tid: number): Lane {
    if (tid === this.lastTid) return this.lastLane!;
    const id = this.laneIdOf(tid);
    if (id >= 0) {
      this.lastTid = tid;
      this.lastLane = this.lanesById[id]!;
      return this.lastLane;
    }
    const role = tid === NO_THREAD ? ThreadRole.Kernel : ThreadRole.Other;
    const lane = new Lane(this.lanesById.length, tid, role, this);
    if (tid === NO_THREAD) {
      this.kernelLaneId = lane.id;
    } else {
      if (tid >= this.laneIdByTid.length) {
        const next = new Int32Array(Math.max(tid + 1, this.laneIdByTid.length * 2));
        next.set(this.laneIdByTid);
        this.laneIdByTid = next;
      }
      this.laneIdByTid[tid] = lane.id + 1;
    }
    this.lanesById.push(lane);
    this.lanesDirty = true;
    return lane;
  }

  private indexEvent(i: number): void {
    const w = this.words;
    const o = i * RECORD_WORDS;
    const w0 = w[o]!;
    const kind = w0 & 0xff;
    const a = (w0 >>> 8) & 0xff;
    const tid = w0 >>> 16;
    let ns = w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
    if (ns < this.lastNs) {
      ns = this.lastNs;
      w[o + 2] = ns % TWO_32;
      // Keep the call-site bits above the time (v2).
      w[o + 3] = (Math.floor(ns / TWO_32) | (w[o + 3]! & ~TS_HI_MASK)) >>> 0;
      this.clampedTimestamps++;
    }
    this.lastNs = ns;
    while (ns >= this.gridEndNs) this.coarsen();

    const lane = this.laneFor(tid);
    const block = i >>> LANE_BLOCK_SHIFT;
    if (block === this.laneMask.length) this.laneMask.push(0);
    this.laneMask.data[block]! |= laneBit(lane.id);

    if (kind === 0 || kind > EVENT_KIND_MAX) {
      this.unknownKinds++;
      return;
    }

    const lo = w[o + 4]!;
    const hi = w[o + 5]!;
    const row = SESSION_KINDS[kind] === 1 && (lo | hi) !== 0 ? this.sessions.touch(lo, hi, i) : -1;

    switch (kind) {
      case EventKind.ThreadStart:
        lane.role = a as ThreadRole;
        lane.nameStr = w[o + 1]!;
        lane.osThreadId = w[o + 6]!;
        lane.startIdx = i;
        this.setState(lane, i, ns, ThreadStateValue.Running, BlockReason.None, false);
        this.lanesDirty = true;
        break;
      case EventKind.ThreadExit:
        lane.exitIdx = i;
        this.setState(lane, i, ns, ThreadStateValue.Exited, BlockReason.None, false);
        break;
      case EventKind.ThreadState: {
        const recorded = a <= ThreadStateValue.Exited ? a : ThreadStateValue.Exited;
        const reason = recorded === ThreadStateValue.Blocked ? w[o + 1]! : BlockReason.None;
        // Blocked in accept draws as waiting (flags.ts stateAt).
        const st = drawnState(recorded, reason);
        if (st === ThreadStateValue.Exited) lane.exitIdx = i;
        this.setState(lane, i, ns, st, reason, false);
        break;
      }
      case EventKind.PortCreated:
        this.concurrency = w[o + 1]!;
        this.workerCount = w[o + 6]!;
        this.portIdx = i;
        break;
      case EventKind.GqcsEnter:
        this.setState(lane, i, ns, ThreadStateValue.Waiting, BlockReason.None, true);
        break;
      case EventKind.GqcsReturn: {
        const ok = (a & 0x10) !== 0;
        const hasOverlapped = (a & 0x20) !== 0;
        const flags = markFlagsAt(w, i);
        this.returns.pushFlags(i, flags);
        this.setState(lane, i, ns, ThreadStateValue.Running, BlockReason.None, true, flags);
        if (hasOverlapped) {
          const ioId = w[o + 7]!;
          const posted = this.posted.take(w, ioId, i);
          if (posted === NONE) this.early.put(w, ioId, i);
          this.retPosted.push(i, posted);
          this.retQueued.push(i, this.queuedIo.take(w, ioId, i));
          if (row >= 0) {
            this.sessions.completions.data[row]!++;
            if (!ok) this.sessions.failures.data[row]!++;
          }
        } else {
          this.retPosted.push(i, NONE);
          this.retQueued.push(i, NONE);
        }
        // Something was dequeued unless FALSE with a NULL overlapped; a dequeue
        // with an empty queue means the trace started mid-stream: no step.
        if ((ok || hasOverlapped) && this.queueDepth.value > 0) {
          this.step(this.queueDepth, this.queueBuckets, i, ns, -1);
        }
        break;
      }
      case EventKind.PacketQueued: {
        if (lane.marks.length === 0) this.lanesDirty = true;
        const flags = markFlagsAt(w, i);
        lane.marks.pushFlags(i, flags);
        lane.buckets.addFlags(this.grid, ns, flags);
        this.queuedIo.put(w, w[o + 7]!, i);
        // A Post packet was already counted by its Pqcs (PQCS queues its own packet).
        if ((a & 0x0f) !== Op.Post) this.step(this.queueDepth, this.queueBuckets, i, ns, 1);
        break;
      }
      case EventKind.Pqcs:
        if (lane.marks.length === 0) this.lanesDirty = true;
        lane.marks.pushFlags(i, MarkFlag.Post);
        lane.buckets.addFlags(this.grid, ns, MarkFlag.Post);
        if ((a & 0x20) !== 0) this.posted.put(w, w[o + 7]!, i);
        this.step(this.queueDepth, this.queueBuckets, i, ns, 1);
        break;
      case EventKind.IoPosted: {
        const result = w[o + 6]!;
        if (result === 0 || result === WinError.IoPending) {
          // A post recorded after its completion was dequeued matches nothing later.
          const deq = this.early.take(w, w[o + 7]!, i);
          if (deq === NONE || i - deq > LATE_POST_WINDOW) this.posted.put(w, w[o + 7]!, i);
        }
        break;
      }
      case EventKind.IoCount:
        if (row >= 0) this.sessions.ioCount.data[row] = w[o + 1]! | 0;
        break;
      case EventKind.SessionCreated:
        if (row >= 0) {
          this.sessions.createdIdx.data[row] = i;
          this.sessions.peerStr.data[row] = w[o + 1]!;
        }
        break;
      case EventKind.SessionReleased:
        if (row >= 0) this.sessions.releasedIdx.data[row] = i;
        break;
      case EventKind.Accept:
        if (row >= 0 && this.sessions.peerStr.data[row] === 0) {
          this.sessions.peerStr.data[row] = w[o + 1]!;
        }
        break;
      case EventKind.Disconnect:
        if (row >= 0 && this.sessions.disconnectIdx.data[row] === NONE) {
          this.sessions.disconnectIdx.data[row] = i;
        }
        break;
      case EventKind.LockWait:
        this.setState(lane, i, ns, ThreadStateValue.Blocked, BlockReason.Lock, false);
        break;
      case EventKind.LockAcquire:
        if (lane.lastState === ThreadStateValue.Blocked && lane.lastReason === BlockReason.Lock) {
          this.setState(lane, i, ns, ThreadStateValue.Running, BlockReason.None, false);
        }
        break;
      case EventKind.Gap:
        this.gaps.push(i);
        break;
      case EventKind.Marker:
        this.markers.push(i);
        break;
      case EventKind.CallSite: {
        // Site ids are defined once per trace; a later definition is ignored.
        const id = w[o + 4]!;
        if (id !== 0 && !this.siteDefs.has(id)) this.siteDefs.set(id, i);
        break;
      }
      default:
        break;
    }
  }

  /**
   * Apply a state change with the replay reducer's rules: a GQCS call makes
   * the thread a port thread; the running counter moves when a port thread
   * enters or leaves Running. A GqcsReturn always gets an entry (it is a mark).
   */
  private setState(
    lane: Lane,
    i: number,
    ns: number,
    state: number,
    reason: number,
    gqcs: boolean,
    flags = 0,
  ): void {
    const wasCounted = lane.isPortThread && lane.lastState === ThreadStateValue.Running;
    if (gqcs) lane.isPortThread = true;
    if (flags !== 0 || state !== lane.lastState || reason !== lane.lastReason) {
      lane.pushState(this.grid, i, ns, state, reason, flags);
    }
    const isCounted = lane.isPortThread && state === ThreadStateValue.Running;
    if (isCounted !== wasCounted) {
      this.step(this.running, this.runningBuckets, i, ns, isCounted ? 1 : -1);
    }
  }

  private step(s: EventSeries, b: CounterBuckets, i: number, ns: number, delta: number): void {
    const before = s.value;
    s.pushStep(i, delta);
    b.step(this.grid, ns, before, s.value);
  }
}
interface SessionEvents {
  lo: number;
  hi: number;
  list: U32Column;
  scannedTo: number;
}

// The inspector, the selected session and a few pinned IOCount tracks at once.
const SESSION_CACHE = 12;

/** Bit of a lane id in the per-block lane masks. */
export function laneBit(id: number): number {
  return id < 31 ? 1 << id : 1 << 31;
}

function tsOf(w: Uint32Array, i: number): number {
  const o = i * RECORD_WORDS;
  return w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
}
