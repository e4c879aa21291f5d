// Pending-I/O matching for flows: IoPosted (or Pqcs) -> PacketQueued ->
// GqcsReturn, matched by ioId and session/key. Holds only outstanding
// operations, so its size is bounded by the I/O in flight, not by the trace.
// Event indices are stored as int32: a trace holds fewer than 2^31 events.
// A second post with the same (ioId, session) replaces the first: the older
// one can no longer be told apart, and replacing keeps the map bounded when a
// server reuses ioIds per session.

import { RECORD_WORDS } from '@iocpscope/protocol';
import { NONE } from './lanes.ts';

export class IoMatcher {
  // Open addressing on ioId with linear probing: slot k holds an event index
  // (>= 0), EMPTY or DELETED. Entries with the same ioId (different sessions)
  // sit in one probe chain; lookups verify the session from the records.
  private slots = new Int32Array(MIN_SLOTS).fill(EMPTY);
  private keys = new Uint32Array(MIN_SLOTS);
  private used = 0; // live + deleted slots
  private live = 0;

  get size(): number {
    return this.live;
  }

  put(words: Uint32Array, ioId: number, i: number): void {
    if ((this.used + 1) * 2 > this.slots.length) this.rehash();
    const mask = this.slots.length - 1;
    let free = -1;
    for (let k = hash(ioId) & mask; ; k = (k + 1) & mask) {
      const v = this.slots[k]!;
      if (v === EMPTY) {
        if (free < 0) {
          free = k;
          this.used++;
        }
        break;
      }
      if (v === DELETED) {
        if (free < 0) free = k;
        continue;
      }
      if (this.keys[k] === ioId && sameSession(words, v, i)) {
        this.slots[k] = i; // a newer post of the same (ioId, session) replaces the old one
        return;
      }
    }
    this.slots[free] = i;
    this.keys[free] = ioId;
    this.live++;
  }

  /** Remove and return the entry for (ioId, session of event i), or NONE. */
  take(words: Uint32Array, ioId: number, i: number): number {
    const mask = this.slots.length - 1;
    for (let k = hash(ioId) & mask; ; k = (k + 1) & mask) {
      const v = this.slots[k]!;
      if (v === EMPTY) return NONE;
      if (v !== DELETED && this.keys[k] === ioId && sameSession(words, v, i)) {
        this.slots[k] = DELETED;
        this.live--;
        return v;
      }
    }
  }

  /**
   * Sweep the tombstones out and shrink to what the live entries need (the
   * table only ever grew to fit the most I/O in flight at once).
   */
  compact(): void {
    let cap = MIN_SLOTS;
    while (cap < this.live * 4) cap *= 2;
    if (cap < this.slots.length || this.used > this.live) this.rehash(cap);
  }

  get bytes(): number {
    return this.slots.byteLength + this.keys.byteLength;
  }

  private rehash(
    // Grow only when mostly live; otherwise just sweep the tombstones out.
    cap = this.live * 4 > this.slots.length ? this.slots.length * 2 : this.slots.length,
  ): void {
    const oldSlots = this.slots;
    const oldKeys = this.keys;
    this.slots = new Int32Array(cap).fill(EMPTY);
    this.keys = new Uint32Array(cap);
    this.used = this.live;
    const mask = cap - 1;
    for (let j = 0; j < oldSlots.length; j++) {
      const v = oldSlots[j]!;
      if (v < 0) continue;
      let k = hash(oldKeys[j]!) & mask;
      while (this.slots[k] !== EMPTY) k = (k + 1) & mask;
      this.slots[k] = v;
      this.keys[k] = oldKeys[j]!;
    }
  }
}

/**
 * How many events after its dequeue a post may still be recorded and belong
 * to it. The recorder writes IoPosted when WSARecv/WSASend returns, and a
 * completion dequeued by another worker can be recorded before that (about one
 * flow in ten on a busy server). Such a post has no dequeue left to match, and
 * would otherwise sit in the posted table for good. The window keeps an old
 * unmatched dequeue (an I/O posted before the trace began) from taking a much
 * later post that reuses its ioId.
 */
export const LATE_POST_WINDOW = 1 << 16;

const MIN_SLOTS = 1024;
const EMPTY = -1;
const DELETED = -2;

function hash(ioId: number): number {
  let h = Math.imul(ioId ^ (ioId >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

function sameSession(words: Uint32Array, a: number, b: number): boolean {
  const oa = a * RECORD_WORDS;
  const ob = b * RECORD_WORDS;
  return words[oa + 4] === words[ob + 4] && words[oa + 5] === words[ob + 5];
}
