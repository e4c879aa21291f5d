// EventStore: a trace's records as one growing Uint32Array, 8 words per event
// (the wire layout, so decoding is a memcpy plus a validation pass). The web
// app and analysis hold traces this way: 32 bytes per event plus growth slack.
// Invariants: words [0, length*8) are records; the backing array may be
// replaced on growth, so never keep `buffer`/`words` across an append.
// Growth doubles while the array is under GROWTH_SWITCH_WORDS, then grows by
// 1/4, so a large trace carries at most 25% slack (<= 40 B/event); trimToSize()
// drops the slack when loading is done.

import { RECORD_BYTES, RECORD_WORDS } from './events.ts';

/** Above this many words (32 Mi words = 128 MiB = 4 Mi events) grow by 25%, not 100%. */
const GROWTH_SWITCH_WORDS = 32 * 1024 * 1024;

export class EventStore {
  #buf: Uint32Array;
  #len = 0;

  constructor(initialCapacityEvents: number = 1024) {
    this.#buf = new Uint32Array(Math.max(0, Math.floor(initialCapacityEvents)) * RECORD_WORDS);
  }

  /** Number of events. */
  get length(): number {
    return this.#len;
  }

  /** Events the backing array can hold without growing. */
  get capacity(): number {
    return this.#buf.length / RECORD_WORDS;
  }

  /** The records, as a view of words [0, length*8). Invalidated by the next append. */
  get words(): Uint32Array {
    return this.#buf.subarray(0, this.#len * RECORD_WORDS);
  }

  /** The whole backing array (length may exceed the records). For hot loops. */
  get buffer(): Uint32Array {
    return this.#buf;
  }

  /** Bytes held by the backing array. */
  get byteLength(): number {
    return this.#buf.byteLength;
  }

  /** Make room for `events` more events (one allocation instead of several). */
  reserve(events: number): void {
    const need = (this.#len + events) * RECORD_WORDS;
    if (need > this.#buf.length) this.#resize(need);
  }

  /** Append whole records (a multiple of 8 words). Does not validate them. */
  append(records: Uint32Array): void {
    if (records.length % RECORD_WORDS !== 0) {
      throw new RangeError(`append: ${records.length} words is not whole records`);
    }
    const at = this.#len * RECORD_WORDS;
    this.#grow(at + records.length);
    this.#buf.set(records, at);
    this.#len += records.length / RECORD_WORDS;
  }

  /**
   * Append `count` records copied from little-endian bytes at `offset` (any
   * alignment). Does not validate them. Returns the index of the first new record.
   */
  appendBytes(bytes: Uint8Array, offset: number, count: number): number {
    const first = this.#len;
    const at = first * RECORD_WORDS;
    this.#grow(at + count * RECORD_WORDS);
    const b = this.#buf;
    new Uint8Array(b.buffer, b.byteOffset + at * 4, count * RECORD_BYTES).set(
      bytes.subarray(offset, offset + count * RECORD_BYTES),
    );
    this.#len += count;
    return first;
  }

  /** Drop events from `length` on (no reallocation). */
  truncate(length: number): void {
    if (length < this.#len) this.#len = Math.max(0, length);
  }

  clear(): void {
    this.#len = 0;
  }

  /** Release the growth slack: capacity becomes length. */
  trimToSize(): void {
    if (this.#buf.length !== this.#len * RECORD_WORDS) this.#resize(this.#len * RECORD_WORDS);
  }

  #grow(needWords: number): void {
    if (needWords <= this.#buf.length) return;
    const cap = this.#buf.length;
    const next = cap < GROWTH_SWITCH_WORDS ? cap * 2 : cap + Math.ceil(cap / 4 / 8) * 8;
    this.#resize(Math.max(needWords, next, 64 * RECORD_WORDS));
  }

  #resize(words: number): void {
    const next = new Uint32Array(words);
    next.set(this.#buf.subarray(0, this.#len * RECORD_WORDS));
    this.#buf = next;
  }
}
