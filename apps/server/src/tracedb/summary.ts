// Zoomed-out summaries of a whole trace, kept by the server so the browser
// can draw any stretch of a trace of any length without its records: a
// pyramid of power-of-two time buckets (level 0 is 2^baseShift ns wide; level
// k merges 2^k of them), per thread lane and per counter track.
//
// Per lane and bucket: the share of the bucket spent waiting, running and
// blocked (u8, x/255) and the OR of the marks inside it (analysis MarkFlag).
// Per counter (packets queued in the port, port threads running) and bucket:
// the min and max of the value in force during the bucket. The same rules as
// the browser's own indexes (apps/web/src/trace) and the replay reducer, from
// packages/analysis marks.ts, so summaries agree with the raw records.
//
// Built in one pass in time order (events must not go back in time by more
// than the caller clamps). Memory is per bucket, not per event: at the
// default 64 µs base, a minute of trace is under 1 M buckets per lane.
// Buckets start at an origin (the bucket of the first event), so a part of a
// long live run that begins an hour in holds no empty hour before it: element
// k of a level is the bucket `origin + k` of that level's grid.

import { ThreadStateValue } from '@iocpscope/protocol';

export const DEFAULT_BASE_SHIFT = 16;

/** Grow a byte array to hold `n` items of `per` bytes (doubling). */
function grow(a: Uint8Array<ArrayBuffer>, n: number, per: number): Uint8Array<ArrayBuffer> {
  if (n * per <= a.length) return a;
  const next = new Uint8Array(Math.max(n * per, a.length * 2, 1024));
  next.set(a);
  return next;
}

function growI32(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  if (n <= a.length) return a;
  const next = new Int32Array(Math.max(n, a.length * 2, 1024));
  next.set(a);
  return next;
}

/** One lane's level-0 buckets while building. */
export class LaneBuilder {
  frac = new Uint8Array(0);
  flags = new Uint8Array(0);
  /** Buckets with fractions written (0..filled-1). */
  filled = 0;
  /** The state in force and since when (ns); -1 before the lane's first state. */
  state = -1;
  sinceNs = 0;
  private openB = -1;
  private readonly acc = new Float64Array(3);
  /** Bucket width (ns) and its inverse: the width is a power of two, so ns * inv is exact. */
  private readonly width: number;
  private readonly inv: number;
  /** Start of bucket 0, ns (a multiple of the width). Times are kept relative to it. */
  private readonly originNs: number;

  constructor(shift: number, originNs = 0) {
    this.width = 2 ** shift;
    this.inv = 1 / this.width;
    this.originNs = originNs;
  }

  /** The lane enters `state` at `absNs` (>= every earlier time). */
  setState(absNs: number, state: number): void {
    const ns = absNs - this.originNs;
    if (this.state >= 0) this.addInterval(this.sinceNs, ns, this.state);
    this.state = state;
    this.sinceNs = ns;
  }

  addFlags(absNs: number, f: number): void {
    const b = Math.floor((absNs - this.originNs) * this.inv);
    this.flags = grow(this.flags, b + 1, 1);
    this.flags[b]! |= f;
  }

  /** Close the lane at `absEndNs`: every bucket up to it gets its fractions. */
  finish(absEndNs: number): void {
    const endNs = absEndNs - this.originNs;
    if (this.state >= 0 && endNs > this.sinceNs) this.addInterval(this.sinceNs, endNs, this.state);
    this.sinceNs = Math.max(this.sinceNs, endNs);
    if (this.openB >= 0) this.close();
    this.openB = -1;
  }

  private addInterval(fromNs: number, toNs: number, state: number): void {
    if (!(toNs > fromNs) || state >= ThreadStateValue.Exited) {
      if (toNs > fromNs) this.open(Math.floor(toNs * this.inv));
      return;
    }
    const w = this.width;
    let b = Math.floor(fromNs * this.inv);
    const last = Math.floor(toNs * this.inv);
    this.open(b);
    if (b === last) {
      this.acc[state]! += toNs - fromNs;
      return;
    }
    this.acc[state]! += (b + 1) * w - fromNs;
    if (last > b + 1) {
      this.close();
      this.openB = -1;
      this.frac = grow(this.frac, last, 3);
      const f = this.frac;
      for (b = b + 1; b < last; b++) f[b * 3 + state] = 255;
      this.filled = Math.max(this.filled, last);
    }
    this.open(last);
    this.acc[state]! += toNs - last * w;
  }

  private open(b: number): void {
    if (b === this.openB) return;
    if (this.openB >= 0) this.close();
    this.openB = b;
    this.acc[0] = 0;
    this.acc[1] = 0;
    this.acc[2] = 0;
  }

  private close(): void {
    const b = this.openB;
    this.frac = grow(this.frac, b + 1, 3);
    const w = this.width;
    const o = b * 3;
    for (let s = 0; s < 3; s++) {
      const v = (this.frac[o + s]! / 255) * w + this.acc[s]!;
      this.frac[o + s] = Math.min(255, Math.round((v / w) * 255));
    }
    this.filled = Math.max(this.filled, b + 1);
  }
}

/** A counter's level-0 buckets while building: min and max in force per bucket. */
export class CounterBuilder {
  min = new Int32Array(0);
  max = new Int32Array(0);
  /** Buckets written (later ones hold `value`). */
  filled = 0;
  value = 0;
  private readonly inv: number;
  /** Start of bucket 0, ns; set before the first change (setOrigin). */
  private originNs = 0;

  constructor(shift: number) {
    this.inv = 1 / 2 ** shift;
  }

  setOrigin(originNs: number): void {
    this.originNs = originNs;
  }

  /** The counter changes to `after` at `ns`. */
  set(ns: number, after: number): void {
    const b = Math.floor((ns - this.originNs) * this.inv);
    if (b >= this.filled) this.fillTo(b + 1);
    if (after < this.min[b]!) this.min[b] = after;
    if (after > this.max[b]!) this.max[b] = after;
    this.value = after;
  }

  /** Extend the current value through bucket n-1. */
  fillTo(n: number): void {
    if (n <= this.filled) return;
    this.min = growI32(this.min, n);
    this.max = growI32(this.max, n);
    this.min.fill(this.value, this.filled, n);
    this.max.fill(this.value, this.filled, n);
    this.filled = n;
  }
}

/** A finished level: `count` buckets of 2^shift ns, the first being bucket `origin`. */
export interface SummaryLevel {
  shift: number;
  /** Bucket index (on this level's grid from time 0) of element 0. */
  origin: number;
  count: number;
  /** Per lane: fractions (3 bytes per bucket) and flags (1 byte per bucket). */
  lanes: Array<{ frac: Uint8Array; flags: Uint8Array }>;
  queueMin: Int32Array;
  queueMax: Int32Array;
  runMin: Int32Array;
  runMax: Int32Array;
}

/**
 * Merge pairs of buckets (2k, 2k+1 of the grid from time 0): the next level up.
 * Element j merges absolute buckets 2(origin + j) and 2(origin + j) + 1 of the
 * finer level; only the first element (an odd origin) and the last may have
 * one of them. A missing bucket counts as 0 in a fraction's average; min and
 * max take the one that is there. (Loops without closures: bench:big spent
 * 0.35 s of a 100 M-event build here.)
 */
export function coarser(l: SummaryLevel): SummaryLevel {
  const origin = Math.floor(l.origin / 2);
  const n = Math.floor((l.origin + l.count - 1) / 2) - origin + 1;
  const c = l.count;
  const r0 = 2 * origin - l.origin; // 0, or -1 for an odd origin
  const minMax = (a: Int32Array, max: boolean): Int32Array => {
    const out = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      const r = r0 + 2 * j;
      if (r < 0) out[j] = a[r + 1]!;
      else if (r + 1 >= c) out[j] = a[r]!;
      else {
        const x = a[r]!;
        const y = a[r + 1]!;
        out[j] = max ? (x > y ? x : y) : x < y ? x : y;
      }
    }
    return out;
  };
  return {
    shift: l.shift + 1,
    origin,
    count: n,
    lanes: l.lanes.map(({ frac, flags }) => {
      const f = new Uint8Array(n * 3);
      const g = new Uint8Array(n);
      let j = 0;
      if (r0 < 0) {
        // Only bucket r0 + 1 (element 0 of the finer level).
        f[0] = (frac[0]! + 1) >> 1;
        f[1] = (frac[1]! + 1) >> 1;
        f[2] = (frac[2]! + 1) >> 1;
        g[0] = flags[0]!;
        j = 1;
      }
      for (; j < n; j++) {
        const r = r0 + 2 * j;
        if (r + 1 >= c) break;
        const a = r * 3;
        const o = j * 3;
        f[o] = (frac[a]! + frac[a + 3]! + 1) >> 1;
        f[o + 1] = (frac[a + 1]! + frac[a + 4]! + 1) >> 1;
        f[o + 2] = (frac[a + 2]! + frac[a + 5]! + 1) >> 1;
        g[j] = flags[r]! | flags[r + 1]!;
      }
      for (; j < n; j++) {
        // Only bucket r (the last of the finer level).
        const r = r0 + 2 * j;
        const a = r * 3;
        const o = j * 3;
        f[o] = (frac[a]! + 1) >> 1;
        f[o + 1] = (frac[a + 1]! + 1) >> 1;
        f[o + 2] = (frac[a + 2]! + 1) >> 1;
        g[j] = flags[r]!;
      }
      return { frac: f, flags: g };
    }),
    queueMin: minMax(l.queueMin, false),
    queueMax: minMax(l.queueMax, true),
    runMin: minMax(l.runMin, false),
    runMax: minMax(l.runMax, true),
  };
}

/** Every level from `base` up to one bucket (or at most `maxLevels`). */
export function pyramid(base: SummaryLevel, maxLevels = 48): SummaryLevel[] {
  const out = [base];
  while (out.length < maxLevels && out[out.length - 1]!.count > 1) {
    out.push(coarser(out[out.length - 1]!));
  }
  return out;
}
