// The session table: one row per distinct 64-bit SessionID (or completion key)
// seen in the trace, in order of first appearance, with the lifecycle event
// indices and running counts the sessions list needs. The 64-bit id is kept
// exact as two u32 halves; lookups go through a number-keyed Map when the high
// half is small enough for lo + hi * 2^32 to be exact, else a bigint-keyed Map.

import { I32Column, U32Column } from './column.ts';
import { NONE } from './lanes.ts';

const TWO_32 = 4294967296;
const EXACT_HI = 0x200000; // hi < 2^21 keeps lo + hi * 2^32 below 2^53
const RECENT = 4096;

export class SessionTable {
  readonly lo = new U32Column();
  readonly hi = new U32Column();
  readonly firstIdx = new U32Column();
  readonly lastIdx = new U32Column();
  readonly createdIdx = new U32Column();
  readonly releasedIdx = new U32Column();
  readonly disconnectIdx = new U32Column();
  /** String id of the peer address (0 = unknown). */
  readonly peerStr = new U32Column();
  /** Number of events that carry this session. */
  readonly events = new U32Column();
  /** Completions dequeued (GqcsReturn with an overlapped) and how many of them failed. */
  readonly completions = new U32Column();
  readonly failures = new U32Column();
  /** IOCount after the session's latest IoCount event. */
  readonly ioCount = new I32Column();
  private readonly small = new Map<number, number>();
  private readonly big = new Map<bigint, number>();
  /** Direct-mapped cache of recent rows by the id's low bits (the slot index of a SessionID). */
  private readonly recent = new Int32Array(RECENT).fill(-1);

  get count(): number {
    return this.lo.length;
  }

  /** Row of the session, or -1. */
  find(lo: number, hi: number): number {
    const c = this.recent[lo & (RECENT - 1)]!;
    if (c >= 0 && this.lo.data[c] === lo && this.hi.data[c] === hi) return c;
    const row = this.findSlow(lo, hi);
    if (row >= 0) this.recent[lo & (RECENT - 1)] = row;
    return row;
  }

  private findSlow(lo: number, hi: number): number {
    if (hi < EXACT_HI) return this.small.get(lo + hi * TWO_32) ?? -1;
    return this.big.get((BigInt(hi) << 32n) | BigInt(lo)) ?? -1;
  }

  /** Row of the session, created at event `i` if new. */
  touch(lo: number, hi: number, i: number): number {
    let row = this.find(lo, hi);
    if (row < 0) {
      row = this.lo.length;
      if (hi < EXACT_HI) this.small.set(lo + hi * TWO_32, row);
      else this.big.set((BigInt(hi) << 32n) | BigInt(lo), row);
      this.lo.push(lo);
      this.hi.push(hi);
      this.recent[lo & (RECENT - 1)] = row;
      this.firstIdx.push(i);
      this.lastIdx.push(i);
      this.createdIdx.push(NONE);
      this.releasedIdx.push(NONE);
      this.disconnectIdx.push(NONE);
      this.peerStr.push(0);
      this.events.push(0);
      this.completions.push(0);
      this.failures.push(0);
      this.ioCount.push(0);
    }
    this.lastIdx.data[row] = i;
    this.events.data[row]!++;
    return row;
  }

  /** The exact 64-bit id of a row. */
  id(row: number): bigint {
    return (BigInt(this.hi.data[row]!) << 32n) | BigInt(this.lo.data[row]!);
  }

  private columns(): (U32Column | I32Column)[] {
    return [
      this.lo,
      this.hi,
      this.firstIdx,
      this.lastIdx,
      this.createdIdx,
      this.releasedIdx,
      this.disconnectIdx,
      this.peerStr,
      this.events,
      this.completions,
      this.failures,
      this.ioCount,
    ];
  }

  trim(): void {
    for (const c of this.columns()) c.trim();
  }

  get bytes(): number {
    let b = 0;
    for (const c of this.columns()) b += c.bytes;
    // Map entries: roughly 3 words each in V8's ordered hash tables.
    return b + this.recent.byteLength + (this.small.size + this.big.size) * 24;
  }
}
