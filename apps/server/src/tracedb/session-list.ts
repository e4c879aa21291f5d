// The index's sessions, in columns: the index file's own arrays (views into it
// when it is read), not one object per session. A 100 M-event trace has 351 K
// sessions; as objects (a bigint id, a runs array, eight numbers each) they
// were 120 MB of small objects on the server's heap, which every full GC
// marked: 70-100 ms of marking each time, every 20-30 window requests (their
// chunk buffers), and that was the p99 of a seek (bench:big). A SessionInfo is
// made when one is asked for (at, slice, iteration); lookups by id go through
// an open-addressing table of row numbers, built on first use.

import type { SessionInfo } from './builder.ts';

/** Numbers kept per session in `nums`: first, last, created, released, disconnect events. */
export const SESSION_NUMS = 5;

export class SessionList {
  #slots: Int32Array | null = null;

  constructor(
    /** Low and high 32 bits of each session's id. */
    readonly lo: Uint32Array,
    readonly hi: Uint32Array,
    /** SESSION_NUMS per session: first, last, created, released, disconnect (-1: none). */
    readonly nums: Float64Array,
    readonly peer: Uint32Array,
    readonly events: Uint32Array,
    /** Session k's chunk runs are runs[runsAt[k], runsAt[k + 1]) ([first, last] pairs). */
    readonly runsAt: Uint32Array,
    readonly runs: Uint32Array,
  ) {
    const n = lo.length;
    if (
      hi.length !== n ||
      nums.length !== n * SESSION_NUMS ||
      peer.length !== n ||
      events.length !== n ||
      runsAt.length !== n + 1 ||
      runsAt[n] !== runs.length
    ) {
      throw new RangeError(`session columns disagree on ${n} sessions`);
    }
  }

  static from(list: readonly SessionInfo[]): SessionList {
    const n = list.length;
    const lo = new Uint32Array(n);
    const hi = new Uint32Array(n);
    const nums = new Float64Array(n * SESSION_NUMS);
    const peer = new Uint32Array(n);
    const events = new Uint32Array(n);
    const runsAt = new Uint32Array(n + 1);
    let total = 0;
    for (const s of list) total += s.runs.length;
    const runs = new Uint32Array(total);
    let r = 0;
    list.forEach((s, k) => {
      lo[k] = Number(s.id & 0xffffffffn);
      hi[k] = Number((s.id >> 32n) & 0xffffffffn);
      const o = k * SESSION_NUMS;
      nums[o] = s.firstEvent;
      nums[o + 1] = s.lastEvent;
      nums[o + 2] = s.createdEvent;
      nums[o + 3] = s.releasedEvent;
      nums[o + 4] = s.disconnectEvent;
      peer[k] = s.peerStr;
      events[k] = s.events;
      runsAt[k] = r;
      runs.set(s.runs, r);
      r += s.runs.length;
    });
    runsAt[n] = r;
    return new SessionList(lo, hi, nums, peer, events, runsAt, runs);
  }

  get length(): number {
    return this.lo.length;
  }

  /** Session k as a plain record (made now). */
  at(k: number): SessionInfo | undefined {
    if (!Number.isInteger(k) || k < 0 || k >= this.length) return undefined;
    const o = k * SESSION_NUMS;
    const nums = this.nums;
    return {
      id: (BigInt(this.hi[k]!) << 32n) | BigInt(this.lo[k]!),
      firstEvent: nums[o]!,
      lastEvent: nums[o + 1]!,
      createdEvent: nums[o + 2]!,
      releasedEvent: nums[o + 3]!,
      disconnectEvent: nums[o + 4]!,
      peerStr: this.peer[k]!,
      events: this.events[k]!,
      runs: Array.from(this.runs.subarray(this.runsAt[k]!, this.runsAt[k + 1]!)),
    };
  }

  /** Sessions [from, to), as Array.prototype.slice clamps them. */
  slice(from = 0, to = this.length): SessionInfo[] {
    const a = Math.max(0, Math.min(this.length, Math.trunc(from)));
    const b = Math.max(a, Math.min(this.length, Math.trunc(to)));
    const out: SessionInfo[] = [];
    for (let k = a; k < b; k++) out.push(this.at(k)!);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<SessionInfo> {
    for (let k = 0; k < this.length; k++) yield this.at(k)!;
  }

  /** The row of session `id`, or -1. */
  rowOf(id: bigint): number {
    if (id < 0n || id > 0xffffffffffffffffn) return -1;
    const lo = Number(id & 0xffffffffn);
    const hi = Number(id >> 32n);
    const slots = (this.#slots ??= this.#hash());
    const mask = slots.length - 1;
    let h = hashOf(lo, hi) & mask;
    for (;;) {
      const r = slots[h]!;
      if (r < 0) return -1;
      if (this.lo[r] === lo && this.hi[r] === hi) return r;
      h = (h + 1) & mask;
    }
  }

  #hash(): Int32Array {
    let size = 16;
    while (size < this.length * 2) size *= 2;
    const slots = new Int32Array(size).fill(-1);
    const mask = size - 1;
    for (let r = 0; r < this.length; r++) {
      let h = hashOf(this.lo[r]!, this.hi[r]!) & mask;
      // an id twice (never from the builder): the last row answers, as a Map would
      while (slots[h]! >= 0) {
        if (this.lo[slots[h]!] === this.lo[r] && this.hi[slots[h]!] === this.hi[r]) break;
        h = (h + 1) & mask;
      }
      slots[h] = r;
    }
    return slots;
  }
}

function hashOf(lo: number, hi: number): number {
  return Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> 0;
}
