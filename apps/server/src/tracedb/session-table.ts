// The index's sessions while it is built: an open-addressing hash table on
// the exact 64-bit id (two u32 words) and one row per session in typed
// arrays, so the per-event work is a hash probe and a few array writes, with
// no objects and no Map. Chunk runs: each row keeps its current run in typed
// arrays; a finished run moves to a small per-row list (rare: a session's
// events are mostly in consecutive chunks), at most MAX_RUNS per row, merging
// the closest runs beyond that (a superset is still correct for a scan).

import { SESSION_NUMS, SessionList } from './session-list.ts';

const MAX_RUNS = 16;

export class SessionTableBuilder {
  rows = 0;
  private slots = new Int32Array(1 << 12).fill(-1);
  private mask = (1 << 12) - 1;
  private cap = 1 << 10;
  lo = new Uint32Array(this.cap);
  hi = new Uint32Array(this.cap);
  first = new Float64Array(this.cap);
  last = new Float64Array(this.cap);
  created = new Float64Array(this.cap);
  released = new Float64Array(this.cap);
  disconnect = new Float64Array(this.cap);
  peer = new Uint32Array(this.cap);
  events = new Uint32Array(this.cap);
  runFirst = new Int32Array(this.cap);
  runLast = new Int32Array(this.cap);
  /** Finished runs per row ([first, last] pairs), only for rows that have any. */
  private readonly done = new Map<number, number[]>();

  /** The row of (lo, hi), created at `ev` in `chunk` if new. */
  row(lo: number, hi: number, ev: number, chunk: number): number {
    const mask = this.mask;
    let h = (Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> 0) & mask;
    const slots = this.slots;
    for (;;) {
      const r = slots[h]!;
      if (r < 0) break;
      if (this.lo[r] === lo && this.hi[r] === hi) return r;
      h = (h + 1) & mask;
    }
    const r = this.rows++;
    if (r === this.cap) this.grow();
    slots[h] = r;
    this.lo[r] = lo;
    this.hi[r] = hi;
    this.first[r] = ev;
    this.last[r] = ev;
    this.created[r] = -1;
    this.released[r] = -1;
    this.disconnect[r] = -1;
    this.peer[r] = 0;
    this.events[r] = 0;
    this.runFirst[r] = chunk;
    this.runLast[r] = chunk;
    if (this.rows * 2 > mask) this.rehash();
    return r;
  }

  /** Event `ev` in `chunk` belongs to row r. */
  touch(r: number, ev: number, chunk: number): void {
    this.last[r] = ev;
    this.events[r]++;
    const rl = this.runLast[r]!;
    if (rl === chunk) return;
    if (rl === chunk - 1) {
      this.runLast[r] = chunk;
      return;
    }
    let list = this.done.get(r);
    if (list === undefined) {
      list = [];
      this.done.set(r, list);
    }
    list.push(this.runFirst[r]!, rl);
    if (list.length > (MAX_RUNS - 1) * 2) mergeClosestRuns(list);
    this.runFirst[r] = chunk;
    this.runLast[r] = chunk;
  }

  private grow(): void {
    const c = this.cap * 2;
    const u32 = (a: Uint32Array): Uint32Array<ArrayBuffer> => {
      const b = new Uint32Array(c);
      b.set(a);
      return b;
    };
    const f64 = (a: Float64Array): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(c);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(c);
      b.set(a);
      return b;
    };
    this.lo = u32(this.lo);
    this.hi = u32(this.hi);
    this.first = f64(this.first);
    this.last = f64(this.last);
    this.created = f64(this.created);
    this.released = f64(this.released);
    this.disconnect = f64(this.disconnect);
    this.peer = u32(this.peer);
    this.events = u32(this.events);
    this.runFirst = i32(this.runFirst);
    this.runLast = i32(this.runLast);
    this.cap = c;
  }

  private rehash(): void {
    const size = this.slots.length * 2;
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let r = 0; r < this.rows; r++) {
      let h =
        (Math.imul(this.lo[r]! ^ Math.imul(this.hi[r]!, 0x9e3779b1), 0x85ebca6b) >>> 0) & this.mask;
      while (this.slots[h]! >= 0) h = (h + 1) & this.mask;
      this.slots[h] = r;
    }
  }

  /** Every session, in the finished index's columns (no object per session). */
  snapshot(): SessionList {
    const n = this.rows;
    const nums = new Float64Array(n * SESSION_NUMS);
    const runsAt = new Uint32Array(n + 1);
    let total = 0;
    for (let r = 0; r < n; r++)
      total += Math.min((this.done.get(r)?.length ?? 0) + 2, MAX_RUNS * 2);
    const runs = new Uint32Array(total);
    let at = 0;
    for (let r = 0; r < n; r++) {
      const o = r * SESSION_NUMS;
      nums[o] = this.first[r]!;
      nums[o + 1] = this.last[r]!;
      nums[o + 2] = this.created[r]!;
      nums[o + 3] = this.released[r]!;
      nums[o + 4] = this.disconnect[r]!;
      runsAt[r] = at;
      const done = this.done.get(r);
      if (done === undefined) {
        runs[at++] = this.runFirst[r]!;
        runs[at++] = this.runLast[r]!;
      } else {
        const list = [...done, this.runFirst[r]!, this.runLast[r]!];
        if (list.length > MAX_RUNS * 2) mergeClosestRuns(list);
        runs.set(list, at);
        at += list.length;
      }
    }
    runsAt[n] = at;
    return new SessionList(
      this.lo.slice(0, n),
      this.hi.slice(0, n),
      nums,
      this.peer.slice(0, n),
      this.events.slice(0, n),
      runsAt,
      runs.subarray(0, at),
    );
  }
}

/** Merge the two runs with the smallest gap between them (the result covers both). */
export function mergeClosestRuns(runs: number[]): void {
  let best = -1;
  let gap = Infinity;
  for (let k = 2; k < runs.length; k += 2) {
    const g = runs[k]! - runs[k - 1]!;
    if (g < gap) {
      gap = g;
      best = k;
    }
  }
  runs[best - 1] = runs[best + 1]!;
  runs.splice(best, 2);
}
