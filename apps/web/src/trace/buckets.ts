// Time buckets: fixed-size summaries of the whole trace on a grid of
// 2^shift-ns buckets, so a zoomed-out view (many events per pixel column)
// reads a few contiguous bytes per column instead of walking every event.
//
// Model
// - One grid per trace (`BucketGrid.shift`); at most BUCKET_CAP buckets cover
//   [0, endNs]. When the trace outgrows it, every summary merges pairs of
//   buckets and the width doubles, so memory is fixed (not per event) and a
//   live trace of any length fits.
// - Per lane: the share of each bucket spent waiting, running and blocked
//   (u8, x/255 of the bucket width) and the OR of the marks inside it. Only
//   the last ("open") bucket is still accumulating; it keeps exact ns in
//   float64 until a later state change closes it. Time after the lane's last
//   state change is not in the buckets: readers add it (see fillFractions).
// - Per counter (queue depth, running threads): min and max of the value in
//   force during each bucket, up to `filledTo`; later buckets hold the
//   current value.

import { ThreadStateValue } from '@iocpscope/protocol';

export const BUCKET_CAP = 16384;
const MIN_SHIFT = 6; // 64 ns: finer than any useful zoom for the bucket path

export class BucketGrid {
  private s = MIN_SHIFT;
  /** Bucket width, ns (a power of two). */
  widthNs = 2 ** MIN_SHIFT;
  private inv = 1 / 2 ** MIN_SHIFT;

  get shift(): number {
    return this.s;
  }

  set shift(v: number) {
    this.s = v;
    this.widthNs = 2 ** v;
    this.inv = 1 / this.widthNs;
  }

  /** Bucket index of a time (ns >= 0). Exact: the width is a power of two. */
  bucketOf(ns: number): number {
    return Math.floor(ns * this.inv);
  }
}

export class LaneBuckets {
  /** [waiting, running, blocked] per bucket, x/255 of the width. */
  // Both arrays cover buckets up to the last one written (growing to at most
  // BUCKET_CAP): a lane idle since early on, or that never has a mark, keeps
  // short arrays. Buckets past the end are 0 (readers stop at `openB` for
  // fractions and at `flags.length` for flags).
  frac: Uint8Array = new Uint8Array(0);
  /** OR of MarkFlag bits per bucket. */
  flags: Uint8Array = new Uint8Array(0);
  /** The bucket still accumulating (-1: none yet) and its ns per state. */
  openB = -1;
  readonly acc = new Float64Array(3);

  /** Add [fromNs, toNs) spent in `state` (time order: fromNs >= every earlier toNs). */
  addInterval(grid: BucketGrid, fromNs: number, toNs: number, state: number): void {
    if (!(toNs > fromNs)) return;
    const w = grid.widthNs;
    let b = grid.bucketOf(fromNs);
    const last = grid.bucketOf(toNs);
    this.open(b, w);
    if (b === last) {
      if (state < ThreadStateValue.Exited) this.acc[state]! += toNs - fromNs;
      return;
    }
    if (state < ThreadStateValue.Exited) this.acc[state]! += (b + 1) * w - fromNs;
    if (last > b + 1) {
      // Whole buckets in between are entirely this state. Every bucket after the
      // open one is still empty (time order), so closing each would write 255
      // for `state` and leave the others 0: write that directly.
      this.close(w);
      this.openB = -1;
      if (state < ThreadStateValue.Exited) {
        const end = Math.min(last, BUCKET_CAP);
        this.fracFor(end - 1);
        const f = this.frac;
        for (b = b + 1; b < end; b++) f[b * 3 + state] = 255;
      }
    }
    this.open(last, w);
    if (state < ThreadStateValue.Exited) this.acc[state]! += toNs - last * w;
  }

  /** Close the open bucket (writing its fractions) if `b` is a later one, then make `b` open. */
  private open(b: number, w: number): void {
    if (b === this.openB) return;
    if (this.openB >= 0) this.close(w);
    if (b < BUCKET_CAP) this.fracFor(b);
    this.openB = b;
    this.acc[0] = 0;
    this.acc[1] = 0;
    this.acc[2] = 0;
  }

  private close(w: number): void {
    const o = this.openB * 3;
    if (o + 2 >= this.frac.length) return;
    for (let s = 0; s < 3; s++) {
      const v = Math.round((this.frac[o + s]! / 255) * w + this.acc[s]!);
      this.frac[o + s] = Math.min(255, Math.round((v / w) * 255));
    }
  }

  addFlags(grid: BucketGrid, ns: number, flags: number): void {
    const b = grid.bucketOf(ns);
    if (b >= BUCKET_CAP) return;
    if (b >= this.flags.length) this.flags = grown(this.flags, b + 1, 1);
    this.flags[b]! |= flags;
  }

  /** Make `frac` cover bucket b (< BUCKET_CAP). */
  private fracFor(b: number): void {
    if (b * 3 + 2 >= this.frac.length) this.frac = grown(this.frac, b + 1, 3);
  }

  /** Halve the resolution: bucket k becomes buckets 2k and 2k+1 merged. */
  coarsen(): void {
    const f = this.frac;
    const g = this.flags;
    const nf = f.length / 3;
    for (let k = 0; 2 * k < nf; k++) {
      for (let s = 0; s < 3; s++) {
        const hi = 2 * k + 1 < nf ? f[(2 * k + 1) * 3 + s]! : 0;
        f[k * 3 + s] = (f[2 * k * 3 + s]! + hi + 1) >> 1;
      }
    }
    f.fill(0, Math.ceil(nf / 2) * 3);
    for (let k = 0; 2 * k < g.length; k++) g[k] = g[2 * k]! | (g[2 * k + 1] ?? 0);
    g.fill(0, Math.ceil(g.length / 2));
    if (this.openB >= 0) {
      // The open bucket's partner, if it came first, is closed already: both
      // halves' closed fractions now sit (averaged) in the merged bucket, and
      // the open ns keep accumulating on top of them.
      this.openB >>= 1;
    }
  }

  get bytes(): number {
    return this.frac.byteLength + this.flags.byteLength + this.acc.byteLength;
  }
}

/** A copy of `a` covering at least `items` items of `per` bytes, doubling up to BUCKET_CAP items. */
function grown(a: Uint8Array, items: number, per: number): Uint8Array {
  const n = Math.min(BUCKET_CAP, Math.max(items, 64, (a.length / per) * 2));
  const next = new Uint8Array(n * per);
  next.set(a);
  return next;
}

export class CounterBuckets {
  /** 16 bits while every value fits (counters are small), widened to 32 at the first that does not. */
  min: Uint16Array | Int32Array = new Uint16Array(BUCKET_CAP);
  max: Uint16Array | Int32Array = new Uint16Array(BUCKET_CAP);
  /** Last bucket holding summaries; later ones hold the current value. */
  filledTo = -1;

  /** The counter moved from `before` to `after` at `ns`. */
  step(grid: BucketGrid, ns: number, before: number, after: number): void {
    if (this.min instanceof Uint16Array && (after > 0xffff || after < 0 || before < 0)) {
      this.min = Int32Array.from(this.min);
      this.max = Int32Array.from(this.max);
    }
    const b = Math.min(BUCKET_CAP - 1, grid.bucketOf(ns));
    for (let k = this.filledTo + 1; k <= b; k++) {
      this.min[k] = before;
      this.max[k] = before;
    }
    if (b > this.filledTo) this.filledTo = b;
    if (after < this.min[b]!) this.min[b] = after;
    if (after > this.max[b]!) this.max[b] = after;
  }

  coarsen(): void {
    const mn = this.min;
    const mx = this.max;
    for (let k = 0; k < BUCKET_CAP / 2; k++) {
      const a = 2 * k;
      const last = a + 1 <= this.filledTo ? a + 1 : a;
      mn[k] = Math.min(mn[a]!, mn[last]!);
      mx[k] = Math.max(mx[a]!, mx[last]!);
    }
    this.filledTo = this.filledTo >> 1;
  }

  get bytes(): number {
    return this.min.byteLength + this.max.byteLength;
  }
}
