// The drainer: the single consumer of every ring in a trace area. Each pump()
// reads what the producers published, merges it into one stream in timestamp
// order, and returns it as one batch with the strings first seen since the
// previous batch.
//
// Merge rule (a k-way merge with a bounded reorder window): a record with
// timestamp t is emitted only when no ring can still publish a record older
// than t. Per ring that bound is
//   - the drainer's clock reading, if the ring was marked idle before HEAD was
//     read (see recorder.ts for why that is safe),
//   - otherwise max(newest published timestamp, now - windowNs).
// A producer preempted between reading its clock and publishing for longer
// than the window can still publish a record older than what was emitted; such
// a record is emitted at once with its timestamp raised to the last emitted one
// and counted in stats.lateRecords, so the stream stays ordered.
// Ties are broken by ring index, so the merge is deterministic.
//
// Loss: a ring's overflow is reported by one Gap record on its tid, claimed by
// compare-exchange on C_REPORTED_LOST by whoever writes it first (see
// recorder.ts). At each pump the drainer claims the loss a ring has counted
// and merges the Gap right after that ring's last record before the loss
// (at its timestamp), so the records of other threads from then on come after
// it: no detector judges them as if nothing had been lost. Loss a producer
// could not report before it exited (or before the final pump) is reported
// the same way.

import { EventKind, GapSource, RECORD_WORDS, writeRecord } from '@iocpscope/protocol';

/** protocol TS_HI_MASK, as a local constant for the merge loop (see analysis/proto.ts on why). */
const TS_HI_MASK = 0x1fffff;
import { PerfClock, type TraceClock } from './clock.ts';
import {
  C_EXITED,
  C_HEAD,
  C_IDLE,
  C_REPORTED_LOST,
  C_STR_HEAD,
  C_STR_LOST,
  C_STR_TAIL,
  C_TAIL,
  C_TOTAL_LOST,
  STRING_SLOT_BYTES,
  type TraceShared,
} from './shared.ts';

const TWO_32 = 4294967296;
const decoder = new TextDecoder('utf-8', { fatal: false });

/** Claim a ring's loss that nobody has reported yet (see recorder.ts); returns how much. */
function claimLoss(ctrl: Int32Array): number {
  for (;;) {
    const reported = Atomics.load(ctrl, C_REPORTED_LOST);
    const lost = Atomics.load(ctrl, C_TOTAL_LOST) - reported;
    if (lost <= 0) return 0;
    if (Atomics.compareExchange(ctrl, C_REPORTED_LOST, reported, reported + lost) === reported) {
      return lost;
    }
  }
}

export type StringEntry = readonly [id: number, value: string];

export interface DrainBatch {
  /** Whole 8-word records, timestamps non-decreasing. */
  records: Uint32Array;
  /** Strings first published since the previous batch. */
  strings: StringEntry[];
}

export interface DrainStats {
  batches: number;
  records: number;
  /** Records emitted after a later timestamp had already been emitted (clamped). */
  lateRecords: number;
  /** Sum of the counts of every Gap record emitted (ring overflow). */
  lostRecords: number;
  /** Strings a thread could not intern because its string ring was full (recorded as id 0). */
  lostStrings: number;
  threads: number;
}

export interface DrainerOptions {
  /** Reorder window for rings that are busy but silent. Default 20 ms. */
  windowNs?: number;
  /** Most records per batch. Default 65536. */
  maxBatchRecords?: number;
  clock?: TraceClock;
}

interface RingState {
  ctrl: Int32Array;
  words: Uint32Array;
  strBytes: Uint8Array;
  mask: number;
  tail: number;
  head: number;
  strTail: number;
  /** Newest timestamp seen in this ring, -1 before the first. */
  lastTs: number;
  /**
   * Loss claimed from this ring and not yet written, in ring order: each Gap
   * goes before the record at `seq` (HEAD when claimed), at `at` (the
   * timestamp of the ring's last record before it, or -1). Two losses with
   * records between them stay two Gaps, or the second would look like part of
   * the first and the records between like the end of the loss.
   */
  gaps: PendingGap[];
}

interface PendingGap {
  seq: number;
  at: number;
  lost: number;
}

export class Drainer {
  readonly windowNs: number;
  readonly maxBatchRecords: number;
  private readonly clock: TraceClock;
  private readonly rings: RingState[] = [];
  private out: Uint32Array;
  private lastEmittedTs = 0;
  /** merge()'s per-ring next timestamps. */
  private nextTs = new Float64Array(8);
  private readonly s: DrainStats = {
    batches: 0,
    records: 0,
    lateRecords: 0,
    lostRecords: 0,
    lostStrings: 0,
    threads: 0,
  };

  constructor(
    private readonly shared: TraceShared,
    opts: DrainerOptions = {},
  ) {
    this.windowNs = opts.windowNs ?? 20_000_000;
    this.maxBatchRecords = Math.max(16, opts.maxBatchRecords ?? 65536);
    this.clock = opts.clock ?? new PerfClock(shared.clockBase);
    this.out = new Uint32Array(Math.min(this.maxBatchRecords, 4096) * RECORD_WORDS);
  }

  stats(): DrainStats {
    let lostStrings = 0;
    for (const r of this.rings) lostStrings += Atomics.load(r.ctrl, C_STR_LOST);
    return { ...this.s, lostStrings, threads: this.rings.length };
  }

  /**
   * Collect and merge. `final` = every producer has stopped: emit everything and
   * report unreported loss. Returns null when there is nothing new.
   */
  pump(final = false): DrainBatch | null {
    // Clock first, then thread count, then per ring IDLE before HEAD (see header).
    const now = this.clock.nowNs();
    const n = this.shared.threadCount();
    while (this.rings.length < n) this.addRing(this.rings.length);
    const strings: StringEntry[] = [];
    let frontier = Infinity;
    for (let r = 0; r < n; r++) {
      const ring = this.rings[r]!;
      const idle = Atomics.load(ring.ctrl, C_IDLE);
      const head = Atomics.load(ring.ctrl, C_HEAD);
      ring.head = head;
      this.readStrings(ring, strings);
      if (((head - ring.tail) | 0) > 0) ring.lastTs = this.tsOf(ring, (head - 1) | 0);
      // After HEAD: an unclaimed loss follows every record published so far
      // (a producer claims its loss before it publishes again, and cannot
      // publish while its ring is full), so the Gap goes at HEAD.
      this.claimInto(ring);
      if (!final) {
        const limit = idle === 1 ? now : Math.max(ring.lastTs, now - this.windowNs);
        if (limit < frontier) frontier = limit;
      }
    }
    let count = this.merge(frontier);
    for (let r = 0; r < n; r++) {
      const ring = this.rings[r]!;
      // Claim again before giving the room back: a producer that filled its
      // ring during this pump has been dropping since, its HEAD frozen where
      // the loss began (it cannot publish until TAIL moves), so the Gap goes
      // exactly there. Left to the producer, it would come at its next
      // record, after whatever other threads recorded meanwhile.
      this.claimInto(ring);
      Atomics.store(ring.ctrl, C_TAIL, ring.tail);
      // Once the ring is drained (a final pump may stop at its batch limit
      // with records left: the next one goes on), so the Gap follows them.
      if (
        (final || Atomics.load(ring.ctrl, C_EXITED) === 1) &&
        ring.tail === ring.head &&
        ring.tail === Atomics.load(ring.ctrl, C_HEAD)
      ) {
        count = this.reportResidualLoss(r, ring, count, now);
      }
    }
    if (count === 0 && strings.length === 0) return null;
    this.s.batches++;
    this.s.records += count;
    return { records: this.out.slice(0, count * RECORD_WORDS), strings };
  }

  private addRing(r: number): void {
    const words = this.shared.records(r);
    this.rings.push({
      ctrl: this.shared.ctrl(r),
      words,
      strBytes: this.shared.strings(r),
      mask: this.shared.ringRecords - 1,
      tail: 0,
      head: 0,
      strTail: 0,
      lastTs: -1,
      gaps: [],
    });
  }

  private tsOf(ring: RingState, seq: number): number {
    const o = (seq & ring.mask) * RECORD_WORDS;
    return ring.words[o + 2]! + (ring.words[o + 3]! & TS_HI_MASK) * TWO_32;
  }

  /** Emit every record with ts <= frontier from all rings in (ts, ring) order. */
  private merge(frontier: number): number {
    const rings = this.rings;
    const nr = rings.length;
    // Each ring's oldest unmerged timestamp (Infinity once drained), kept up to
    // date as records are emitted instead of re-read from every ring per step:
    // with workers interleaving finely, a step often emits a single record.
    if (this.nextTs.length < nr) this.nextTs = new Float64Array(nr * 2);
    const next = this.nextTs;
    let available = 0;
    for (let r = 0; r < nr; r++) {
      const ring = rings[r]!;
      const n = (ring.head - ring.tail) | 0;
      available += n;
      // A claimed loss is a virtual record after the ring's last one before it.
      available += ring.gaps.length;
      next[r] = this.nextOf(ring, ring.tail);
    }
    const max = Math.min(this.maxBatchRecords, available);
    this.ensure(max);
    const out = this.out;
    let last = this.lastEmittedTs;
    let late = 0;
    let count = 0;
    while (count < max) {
      let m = -1;
      let mTs = Infinity;
      let m2 = -1;
      let m2Ts = Infinity;
      for (let r = 0; r < nr; r++) {
        const t = next[r]!;
        if (t < mTs) {
          m2 = m;
          m2Ts = mTs;
          m = r;
          mTs = t;
        } else if (t < m2Ts) {
          m2 = r;
          m2Ts = t;
        }
      }
      if (m < 0 || mTs > frontier) break;
      const ring = rings[m]!;
      const g = ring.gaps[0];
      if (g !== undefined && ring.tail === g.seq) {
        // The ring's claimed loss, in its place in the merge.
        const ts = mTs < last ? last : mTs;
        if (mTs < last) late++;
        last = ts;
        this.writeGap(count++, m, g.lost, ts);
        ring.gaps.shift();
        next[m] = this.nextOf(ring, ring.tail);
        continue;
      }
      const w = ring.words;
      const mask = ring.mask;
      const bound = Math.min(frontier, m2Ts);
      const inclusive = m2 < 0 || m < m2;
      let tail = ring.tail;
      const head = ring.head;
      let t = mTs;
      for (;;) {
        // Copy one record; a timestamp older than one already emitted is
        // clamped to it (counted as late) so the output never goes back.
        const src = (tail & mask) * RECORD_WORDS;
        const dst = count * RECORD_WORDS;
        out[dst] = w[src]!;
        out[dst + 1] = w[src + 1]!;
        out[dst + 4] = w[src + 4]!;
        out[dst + 5] = w[src + 5]!;
        out[dst + 6] = w[src + 6]!;
        out[dst + 7] = w[src + 7]!;
        if (t < last) {
          out[dst + 2] = last % TWO_32;
          out[dst + 3] = Math.floor(last / TWO_32);
          late++;
        } else {
          out[dst + 2] = w[src + 2]!;
          out[dst + 3] = w[src + 3]!;
          last = t;
        }
        if ((out[dst]! & 0xff) === EventKind.Gap) {
          this.s.lostRecords += out[dst + 1]! + out[dst + 6]! * TWO_32;
        }
        count++;
        tail = (tail + 1) | 0;
        if (tail === head || (ring.gaps.length > 0 && tail === ring.gaps[0]!.seq)) {
          t = this.nextOf(ring, tail);
          break;
        }
        const o = (tail & mask) * RECORD_WORDS;
        t = w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
        if (count >= max) break;
        if (!(t < bound || (t === bound && (inclusive || bound !== m2Ts)))) break;
      }
      ring.tail = tail;
      next[m] = t;
    }
    this.lastEmittedTs = last;
    this.s.lateRecords += late;
    return count;
  }

  private reportResidualLoss(r: number, ring: RingState, count: number, now: number): number {
    let lost = claimLoss(ring.ctrl);
    for (const g of ring.gaps) lost += g.lost;
    ring.gaps = [];
    if (lost <= 0) return count;
    this.ensure(count + 1);
    const ts = Math.max(this.lastEmittedTs, Math.min(now, Math.max(ring.lastTs, 0)));
    this.writeGap(count, r, lost, ts);
    this.lastEmittedTs = ts;
    return count + 1;
  }

  /**
   * Claim the ring's unreported loss as a Gap before the record at the
   * current HEAD (the ring's last record before the loss is at HEAD - 1).
   * Call only before giving the room back (storing TAIL): HEAD is then where
   * the loss began.
   */
  private claimInto(ring: RingState): void {
    const claimed = claimLoss(ring.ctrl);
    if (claimed <= 0) return;
    const head = Atomics.load(ring.ctrl, C_HEAD);
    const last = ring.gaps[ring.gaps.length - 1];
    if (last !== undefined && last.seq === head) {
      last.lost += claimed;
      return;
    }
    ring.gaps.push({
      seq: head,
      at:
        ((head - ring.tail) | 0) > 0 || ring.lastTs < 0
          ? this.tsOf(ring, (head - 1) | 0)
          : ring.lastTs,
      lost: claimed,
    });
  }

  /** Timestamp of what the ring emits next at sequence `seq`: its claimed Gap, a record, or nothing (Infinity). */
  private nextOf(ring: RingState, seq: number): number {
    const g = ring.gaps[0];
    if (g !== undefined && seq === g.seq) return g.at >= 0 ? g.at : this.lastEmittedTs;
    return seq === ring.head ? Infinity : this.tsOf(ring, seq);
  }

  private writeGap(i: number, tid: number, lost: number, ts: number): void {
    writeRecord(
      this.out,
      i,
      EventKind.Gap,
      GapSource.RingOverflow,
      tid,
      lost % TWO_32,
      ts,
      0,
      0,
      Math.floor(lost / TWO_32),
      0,
    );
    this.s.lostRecords += lost;
  }

  private readStrings(ring: RingState, into: StringEntry[]): void {
    const strHead = Atomics.load(ring.ctrl, C_STR_HEAD);
    if (strHead === ring.strTail) return;
    const slots = ring.strBytes.length / STRING_SLOT_BYTES;
    const b = ring.strBytes;
    while (ring.strTail !== strHead) {
      const base = ((ring.strTail & (slots - 1)) >>> 0) * STRING_SLOT_BYTES;
      const id =
        (b[base]! | (b[base + 1]! << 8) | (b[base + 2]! << 16) | (b[base + 3]! << 24)) >>> 0;
      const len = b[base + 4]! | (b[base + 5]! << 8);
      into.push([id, decoder.decode(b.slice(base + 8, base + 8 + len))]);
      ring.strTail = (ring.strTail + 1) | 0;
    }
    Atomics.store(ring.ctrl, C_STR_TAIL, ring.strTail);
  }

  private ensure(records: number): void {
    if (records * RECORD_WORDS <= this.out.length) return;
    const next = new Uint32Array(
      Math.max(records, (this.out.length / RECORD_WORDS) * 2) * RECORD_WORDS,
    );
    next.set(this.out);
    this.out = next;
  }
}
