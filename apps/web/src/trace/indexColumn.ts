// IndexColumn: a growable column of ascending event indices in about 2 bytes
// per entry instead of 4.
//
// Model
// - Entries are grouped in fixed blocks of INDEX_BLOCK (32, the series block)
//   positions. `base[b]` is the event index of block b's first entry and
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

export class IndexColumn {
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
 * (the post or the queued packet, always an earlier event) or NONE, in 2
 * bytes: the distance back from the return (0 = NONE). A distance that does
 * not fit 16 bits (a completion dequeued 65,535 or more events after its post)
 * goes to a map by position.
 */
export class FlowEndColumn {
  length = 0;
  /** Per entry: distance back from the return's event index (0: none, WIDE: see `wide`). */
  back = new Uint16Array(0);
  private readonly wide = new Map<number, number>();

  /** Append the end `end` (< ret, or NONE) of the flow whose return is event `ret`. */
  push(ret: number, end: number): void {
    const k = this.length;
    if (k === this.back.length) {
      const next = new Uint16Array(Math.max(16, Math.ceil(k * 1.5)));
      next.set(this.back);
      this.back = next;
    }
    if (end === NONE) this.back[k] = 0;
    else {
      const d = ret - end;
      if (d <= 0) throw new RangeError(`flow end ${end} is not before its return ${ret}`);
      if (d < WIDE) this.back[k] = d;
      else {
        this.back[k] = WIDE;
        this.wide.set(k, end);
      }
    }
    this.length = k + 1;
  }

  /** Entry k, whose return is event `ret`: an event index or NONE. */
  get(k: number, ret: number): number {
    const d = this.back[k]!;
    if (d === 0) return NONE;
    return d !== WIDE ? ret - d : this.wide.get(k)!;
  }

  /** Make room for `n` entries in total. */
  reserve(n: number): void {
    if (n <= this.back.length) return;
    const next = new Uint16Array(n);
    next.set(this.back.subarray(0, this.length));
    this.back = next;
  }

  trim(): void {
    if (this.back.length !== this.length) this.back = this.back.slice(0, this.length);
  }

  get bytes(): number {
    return this.back.byteLength + this.wide.size * 32;
  }
}
