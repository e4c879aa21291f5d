// IndexColumn: a growable column of ascending event indices in about 2 bytes
// per entry instead of 4.
//
// Model
// - Entries are grouped in fixed blocks of INDEX_BLOCK (32) positions. `base[b]` is the event index of block b's first entry and
//   `lo[k]` is entry k's distance from its block's base, so entry k is
//   base[k >>> 5] + lo[k]: O(1) random access, which the binary searches and
//   per-pixel sweeps need.
// - A distance that does not fit 16 bits (a block spanning 65,535 events or
//   more: only sparse series, whose entries are few) is stored as WIDE in `lo`
//   and its event index in a small map by position. Its size is bounded: such
//   an entry is at least 65,535 / 32 events after its block's base on average.
// - Pushes must be ascending (indexing appends event by event); readers loop to
//   `length`, never to the arrays' lengths (spare capacity, dropped by trim()).

/** Entries per block (one base each). */
export const INDEX_BLOCK = 32;
const SHIFT = 5;
const WIDE = 0xffff;
/** No event (the trace's NONE). */
const NONE = 0xffffffff;

export class IndexColumn implements EventIndex {
  length = 0;
  /** Per block: event index of its first entry. */
  base: Uint32Array;
  /** Per entry: distance from its block's base (WIDE: see `wide`). */
  lo: Uint16Array;
  private readonly wide = new Map<number, number>();

  constructor(capacity = 0) {
    this.lo = new Uint16Array(capacity);
    this.base = new Uint32Array((capacity + INDEX_BLOCK - 1) >>> SHIFT);
  }

  /** Entry k (0 <= k < length): an event index. */
  get(k: number): number {
    const d = this.lo[k]!;
    return d !== WIDE ? this.base[k >>> SHIFT]! + d : this.wide.get(k)!;
  }

  getAfter(k: number, _prev: number): number {
    return this.get(k);
  }

  getBefore(k: number, _next: number): number {
    return this.get(k);
  }

  /** Append event index i (>= every earlier entry). */
  push(i: number): void {
    const k = this.length;
    if (k === this.lo.length) this.reserve(Math.max(16, Math.ceil(k * 1.5)));
    const b = k >>> SHIFT;
    if ((k & (INDEX_BLOCK - 1)) === 0) {
      this.base[b] = i;
      this.lo[k] = 0;
    } else {
      const d = i - this.base[b]!;
      if (d < WIDE) this.lo[k] = d;
      else {
        this.lo[k] = WIDE;
        this.wide.set(k, i);
      }
    }
    this.length = k + 1;
  }

  /** Make room for `n` entries in total. */
  reserve(n: number): void {
    if (n <= this.lo.length) return;
    const lo = new Uint16Array(n);
    lo.set(this.lo.subarray(0, this.length));
    this.lo = lo;
    const blocks = (n + INDEX_BLOCK - 1) >>> SHIFT;
    if (blocks > this.base.length) {
      const base = new Uint32Array(blocks);
      base.set(this.base);
      this.base = base;
    }
  }

  /** Drop spare capacity (once a recording has been loaded completely). */
  trim(): void {
    const n = this.length;
    if (this.lo.length !== n) this.lo = this.lo.slice(0, n);
    const blocks = (n + INDEX_BLOCK - 1) >>> SHIFT;
    if (this.base.length !== blocks) this.base = this.base.slice(0, blocks);
  }

  /** First position k in [lo, hi) whose event index is >= i. */
  lowerBound(i: number, lo = 0, hi = this.length): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.get(mid) < i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First position k in [lo, hi) whose event index is > i. */
  upperBound(i: number, lo = 0, hi = this.length): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.get(mid) <= i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The entries as a new array (tests, exports; not for drawing). */
  toArray(): Uint32Array {
    const out = new Uint32Array(this.length);
    for (let k = 0; k < this.length; k++) out[k] = this.get(k);
    return out;
  }

  get bytes(): number {
    // A map entry costs a few tens of bytes; count 32.
    return this.base.byteLength + this.lo.byteLength + this.wide.size * 32;
  }
}

/**
 * FlowEndColumn: per GqcsReturn, the event index of one other end of its flow
 * (the post or the queued packet, always an earlier event) or NONE, as the
 * distance back from the return (0 = NONE) in 1 byte, widened to 2 bytes once
 * more than 1 in 16 distances do not fit a byte (a queued packet is dequeued a
 * few events later; a post can wait for thousands). A distance that does not
 * fit goes to a map by position.
 */
export class FlowEndColumn {
  length = 0;
  /** Per entry: distance back from the return (0: none; the type's max: see `wide`). */
  back: Uint8Array | Uint16Array = new Uint8Array(0);
  private mark = 0xff;
  /** Distances that do not fit `back`, by position. */
  private readonly wide = new Map<number, number>();

  /** Append the end `end` (< ret, or NONE) of the flow whose return is event `ret`. */
  push(ret: number, end: number): void {
    const k = this.length;
    if (k === this.back.length) this.resize(Math.max(16, Math.ceil(k * 1.5)));
    if (end === NONE) this.back[k] = 0;
    else {
      const d = ret - end;
      if (d <= 0) throw new RangeError(`flow end ${end} is not before its return ${ret}`);
      if (d < this.mark) this.back[k] = d;
      else {
        this.back[k] = this.mark;
        this.wide.set(k, d);
      }
    }
    this.length = k + 1;
    if (this.mark === 0xff && this.wide.size > 64 + (this.length >>> 4)) this.widen();
  }

  /** Entry k, whose return is event `ret`: an event index or NONE. */
  get(k: number, ret: number): number {
    const d = this.back[k]!;
    if (d === 0) return NONE;
    return ret - (d !== this.mark ? d : this.wide.get(k)!);
  }

  /** Make room for `n` entries in total. */
  reserve(n: number): void {
    if (n > this.back.length) this.resize(n);
  }

  private resize(n: number): void {
    const next = this.mark === 0xff ? new Uint8Array(n) : new Uint16Array(n);
    next.set(this.back.subarray(0, this.length));
    this.back = next;
  }

  /** Switch to 2-byte distances, moving back the escaped ones that now fit. */
  private widen(): void {
    const next = new Uint16Array(this.back.length);
    for (let k = 0; k < this.length; k++) {
      const d = this.back[k]!;
      if (d !== 0xff) next[k] = d;
      else {
        const full = this.wide.get(k)!;
        if (full < WIDE) {
          next[k] = full;
          this.wide.delete(k);
        } else next[k] = WIDE;
      }
    }
    this.back = next;
    this.mark = WIDE;
  }

  trim(): void {
    if (this.back.length !== this.length) this.back = this.back.slice(0, this.length);
  }

  get bytes(): number {
    return this.back.byteLength + this.wide.size * 32;
  }
}

/** What the series and their readers need of an index column (IndexColumn or BitIndexColumn). */
export interface EventIndex {
  readonly length: number;
  /** Entry k (0 <= k < length): an event index. */
  get(k: number): number;
  /** Entry k when entry k - 1 is `prev` (prev < 0: unknown): cheaper in sequential sweeps. */
  getAfter(k: number, prev: number): number;
  /** Entry k when entry k + 1 is `next` (a block's last entry from the next block's first). */
  getBefore(k: number, next: number): number;
  push(i: number): void;
  lowerBound(i: number, lo?: number, hi?: number): number;
  upperBound(i: number, lo?: number, hi?: number): number;
  trim(): void;
  toArray(): Uint32Array;
  readonly bytes: number;
}

/**
 * BitIndexColumn: strictly ascending event indices as one bit per event (set:
 * the event is an entry) plus the event index of every INDEX_BLOCK-th entry.
 * For dense series (the queue-depth and running-thread steps: about one event
 * in four) this is well under a byte per entry. Entry k is found from its
 * block's base by stepping over set bits (at most INDEX_BLOCK - 1 of them);
 * sequential readers use getAfter, one step per entry.
 */
export class BitIndexColumn implements EventIndex {
  length = 0;
  /** Bit (e & 31) of word (e >>> 5): event e is an entry. */
  bits = new Uint32Array(0);
  /** Per block: event index of its first entry. */
  base = new Uint32Array(0);
  private last = -1;

  /** The first entry after event e (there must be one). */
  nextAfter(e: number): number {
    const bits = this.bits;
    let wi = e >>> 5;
    // Bits strictly above e's (2 << 31 wraps to 0: no bit above 31).
    let word = bits[wi]! & ~((2 << (e & 31)) - 1);
    while (word === 0) word = bits[++wi]!;
    return (wi << 5) + (31 - Math.clz32(word & -word));
  }

  /** The last entry before event e (there must be one). */
  prevBefore(e: number): number {
    const bits = this.bits;
    let wi = e >>> 5;
    // Bits strictly below e's ((1 << 31) - 1 is 0x7fffffff once in 32 bits).
    let word = bits[wi]! & ((1 << (e & 31)) - 1);
    while (word === 0) word = bits[--wi]!;
    return (wi << 5) + (31 - Math.clz32(word));
  }

  get(k: number): number {
    let e = this.base[k >>> SHIFT]!;
    for (let r = k & (INDEX_BLOCK - 1); r > 0; r--) e = this.nextAfter(e);
    return e;
  }

  getAfter(k: number, prev: number): number {
    return prev >= 0 && (k & (INDEX_BLOCK - 1)) !== 0 ? this.nextAfter(prev) : this.get(k);
  }

  getBefore(k: number, next: number): number {
    return next >= 0 && (k & (INDEX_BLOCK - 1)) === INDEX_BLOCK - 1
      ? this.prevBefore(next)
      : this.get(k);
  }

  /** Append event index i (> every earlier entry: one bit cannot hold a repeat). */
  push(i: number): void {
    if (i <= this.last) throw new RangeError(`entry ${i} is not after ${this.last}`);
    const wi = i >>> 5;
    if (wi >= this.bits.length) {
      const next = new Uint32Array(Math.max(16, wi + 1, Math.ceil(this.bits.length * 1.5)));
      next.set(this.bits);
      this.bits = next;
    }
    this.bits[wi]! |= 1 << (i & 31);
    const k = this.length;
    if ((k & (INDEX_BLOCK - 1)) === 0) {
      const b = k >>> SHIFT;
      if (b === this.base.length) {
        const next = new Uint32Array(Math.max(4, Math.ceil(b * 1.5)));
        next.set(this.base);
        this.base = next;
      }
      this.base[b] = i;
    }
    this.last = i;
    this.length = k + 1;
  }

  lowerBound(i: number, lo = 0, hi = this.length): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.get(mid) < i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  upperBound(i: number, lo = 0, hi = this.length): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.get(mid) <= i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  trim(): void {
    const words = this.last < 0 ? 0 : (this.last >>> 5) + 1;
    if (this.bits.length !== words) this.bits = this.bits.slice(0, words);
    const blocks = (this.length + INDEX_BLOCK - 1) >>> SHIFT;
    if (this.base.length !== blocks) this.base = this.base.slice(0, blocks);
  }

  toArray(): Uint32Array {
    const out = new Uint32Array(this.length);
    let prev = -1;
    for (let k = 0; k < this.length; k++) out[k] = prev = this.getAfter(k, prev);
    return out;
  }

  get bytes(): number {
    return this.bits.byteLength + this.base.byteLength;
  }
}

/**
 * DeltaIndexColumn: ascending event indices as 1-byte steps from the previous
 * entry plus the event index of every INDEX_BLOCK-th entry, for a recording's
 * moderately dense series (a busy worker's state changes: tens of events
 * apart), about 1.1 bytes per entry. A step that does not fit a byte goes to a
 * map by position. Entry k is its block's base plus up to INDEX_BLOCK - 1
 * steps; sequential readers (getAfter, getBefore) take one step.
 */
export class DeltaIndexColumn implements EventIndex {
  length: number;
  /** Per block: event index of its first entry. */
  base: Uint32Array;
  /** Per entry k > 0: entry k minus entry k - 1 (0xff: see `wide`). */
  step: Uint8Array;
  private readonly wide = new Map<number, number>();

  /** A copy of `src` (ascending), built once: a recording's series no longer grows. */
  constructor(src: EventIndex) {
    const n = src.length;
    this.length = n;
    this.base = new Uint32Array((n + INDEX_BLOCK - 1) >>> SHIFT);
    this.step = new Uint8Array(n);
    let prev = -1;
    for (let k = 0; k < n; k++) {
      const e = src.getAfter(k, prev);
      if ((k & (INDEX_BLOCK - 1)) === 0) this.base[k >>> SHIFT] = e;
      if (k > 0) {
        const d = e - prev;
        if (d < 0) throw new RangeError(`entry ${e} is before ${prev}`);
        if (d < 0xff) this.step[k] = d;
        else {
          this.step[k] = 0xff;
          this.wide.set(k, d);
        }
      }
      prev = e;
    }
  }

  /** Bytes a DeltaIndexColumn copy of `src` would take (one pass, no allocation). */
  static bytesFor(src: EventIndex): number {
    let wide = 0;
    let prev = -1;
    for (let k = 0; k < src.length; k++) {
      const e = src.getAfter(k, prev);
      if (k > 0 && e - prev >= 0xff) wide++;
      prev = e;
    }
    return src.length + ((src.length + INDEX_BLOCK - 1) >>> SHIFT) * 4 + wide * 32;
  }

  private stepAt(k: number): number {
    const d = this.step[k]!;
    return d !== 0xff ? d : this.wide.get(k)!;
  }

  get(k: number): number {
    let e = this.base[k >>> SHIFT]!;
    for (let j = (k & ~(INDEX_BLOCK - 1)) + 1; j <= k; j++) e += this.stepAt(j);
    return e;
  }

  getAfter(k: number, prev: number): number {
    return prev >= 0 && k > 0 ? prev + this.stepAt(k) : this.get(k);
  }

  getBefore(k: number, next: number): number {
    return next >= 0 && k + 1 < this.length ? next - this.stepAt(k + 1) : this.get(k);
  }

  /** Append event index i (>= every earlier entry; rare: a recording's series is complete). */
  push(i: number): void {
    const k = this.length;
    const prev = k > 0 ? this.get(k - 1) : -1;
    if (i < prev) throw new RangeError(`entry ${i} is before ${prev}`);
    if (k === this.step.length) {
      const next = new Uint8Array(Math.max(16, Math.ceil(k * 1.5)));
      next.set(this.step);
      this.step = next;
    }
    const b = k >>> SHIFT;
    if (b === this.base.length) {
      const next = new Uint32Array(Math.max(4, Math.ceil(b * 1.5)));
      next.set(this.base);
      this.base = next;
    }
    if ((k & (INDEX_BLOCK - 1)) === 0) this.base[b] = i;
    if (k > 0) {
      const d = i - prev;
      if (d < 0xff) this.step[k] = d;
      else {
        this.step[k] = 0xff;
        this.wide.set(k, d);
      }
    }
    this.length = k + 1;
  }

  lowerBound(i: number, lo = 0, hi = this.length): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.get(mid) < i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  upperBound(i: number, lo = 0, hi = this.length): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.get(mid) <= i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  trim(): void {
    if (this.step.length !== this.length) this.step = this.step.slice(0, this.length);
    const blocks = (this.length + INDEX_BLOCK - 1) >>> SHIFT;
    if (this.base.length !== blocks) this.base = this.base.slice(0, blocks);
  }

  toArray(): Uint32Array {
    const out = new Uint32Array(this.length);
    let prev = -1;
    for (let k = 0; k < this.length; k++) out[k] = prev = this.getAfter(k, prev);
    return out;
  }

  get bytes(): number {
    return this.base.byteLength + this.step.byteLength + this.wide.size * 32;
  }
}
