// Event series: ascending event indices into the trace plus per-block
// summaries over every SERIES_BLOCK entries, so per-pixel aggregation can skip
// whole blocks when a pixel column covers many entries.
//
// A flag series (thread states with their completion marks, queued packets)
// keeps the OR of the entries' MarkFlag bits per block.
//
// A step series (queue depth, running threads) is a counter that moves by
// exactly +1 or -1 at each entry; the direction is read back from the event
// itself (stepAt), so no value is stored per entry. Per block it keeps the
// value before the block's first entry and the min/max of the values after
// each entry. Entries are only pushed when the counter really moves.

import { EventKind, RECORD_WORDS } from '@iocpscope/protocol';
import { I32Column, U8Column } from './column.ts';
import { BitIndexColumn, DeltaIndexColumn, type EventIndex, IndexColumn } from './indexColumn.ts';
import { stateAt } from './flags.ts';

export const SERIES_BLOCK = 64;
export const SERIES_BLOCK_SHIFT = 6;

export const SeriesKind = { Flags: 0, Queue: 1, Running: 2 } as const;
export type SeriesKind = (typeof SeriesKind)[keyof typeof SeriesKind];

/** +1 or -1: how a step series moves at its entry for event e. */
export function stepAt(kind: SeriesKind, words: Uint32Array, e: number): number {
  if (kind === SeriesKind.Queue) {
    return (words[e * RECORD_WORDS]! & 0xff) === EventKind.GqcsReturn ? -1 : 1;
  }
  return stateAt(words, e) === 1 /* Running */ ? 1 : -1;
}

export class EventSeries {
  readonly kind: SeriesKind;
  /**
   * Event index of each entry, ascending: a bit per event for the step series
   * (dense: about one event in four moves a counter), else about 2 bytes per
   * entry (indexColumn.ts). trim() (a complete recording) switches a series to
   * its smallest storage: bits (the kernel lane's marks and the returns are
   * dense too) or 1-byte steps (a busy worker's states).
   */
  idx: EventIndex;
  /** Per block, flag series: OR of MarkFlag bits. */
  readonly blockOr = new U8Column();
  /** Per block, step series: value before the first entry, and min/max after each entry. */
  readonly blockFirst = new I32Column();
  readonly blockMin = new I32Column();
  readonly blockMax = new I32Column();
  /** Step series: current value (after the last entry) and the largest ever. */
  value = 0;
  maxValue = 0;

  constructor(kind: SeriesKind) {
    this.kind = kind;
    this.idx = kind === SeriesKind.Flags ? new IndexColumn() : new BitIndexColumn();
  }

  get length(): number {
    return this.idx.length;
  }

  /** Flag series: append event i with its MarkFlag bits. */
  pushFlags(i: number, flags: number): void {
    const n = this.idx.length;
    this.idx.push(i);
    const b = n >>> SERIES_BLOCK_SHIFT;
    if (b === this.blockOr.length) this.blockOr.push(flags);
    else this.blockOr.data[b]! |= flags;
  }

  /** Step series: append event i, moving the value by `delta` (+1 or -1). */
  pushStep(i: number, delta: number): void {
    const n = this.idx.length;
    const before = this.value;
    const v = before + delta;
    this.idx.push(i);
    this.value = v;
    if (v > this.maxValue) this.maxValue = v;
    const b = n >>> SERIES_BLOCK_SHIFT;
    if (b === this.blockFirst.length) {
      this.blockFirst.push(before);
      this.blockMin.push(v);
      this.blockMax.push(v);
    } else {
      if (v < this.blockMin.data[b]!) this.blockMin.data[b] = v;
      if (v > this.blockMax.data[b]!) this.blockMax.data[b] = v;
    }
  }

  /** Step series: the value after entry k (k = -1: before the first entry, 0). */
  valueAfter(words: Uint32Array, k: number): number {
    if (k < 0) return 0;
    const b = k >>> SERIES_BLOCK_SHIFT;
    let v = this.blockFirst.data[b]!;
    const idx = this.idx;
    let e = -1;
    for (let j = b << SERIES_BLOCK_SHIFT; j <= k; j++) {
      e = idx.getAfter(j, e);
      v += stepAt(this.kind, words, e);
    }
    return v;
  }

  /**
   * Step series: the largest value after any entry in [k0, k1), or -Infinity
   * when the range is empty. Whole blocks use their stored maximum; the
   * partial blocks at either end are stepped through.
   */
  maxOver(words: Uint32Array, k0: number, k1: number): number {
    if (k1 <= k0) return -Infinity;
    let best = -Infinity;
    let k = k0;
    let v = this.valueAfter(words, k0 - 1);
    const idx = this.idx;
    let e = -1;
    while (k < k1) {
      if ((k & (SERIES_BLOCK - 1)) === 0 && k + SERIES_BLOCK <= k1) {
        const b = k >>> SERIES_BLOCK_SHIFT;
        if (this.blockMax.data[b]! > best) best = this.blockMax.data[b]!;
        k += SERIES_BLOCK;
        // The value after the block is the next block's first value (or recomputed at the end).
        v = k < this.idx.length ? this.blockFirst.data[k >>> SERIES_BLOCK_SHIFT]! : this.value;
        e = -1;
        continue;
      }
      e = idx.getAfter(k, e);
      v += stepAt(this.kind, words, e);
      if (v > best) best = v;
      k++;
    }
    return best;
  }

  trim(): void {
    this.idx.trim();
    this.idx = smallest(this.idx);
    this.blockOr.trim();
    this.blockFirst.trim();
    this.blockMin.trim();
    this.blockMax.trim();
  }

  get bytes(): number {
    return (
      this.idx.bytes +
      this.blockOr.bytes +
      this.blockFirst.bytes +
      this.blockMin.bytes +
      this.blockMax.bytes
    );
  }
}

/**
 * A complete series' smallest storage: a bit per event when dense, else
 * 1-byte steps when most fit, else the 2-byte offsets it was built in.
 */
function smallest(idx: EventIndex): EventIndex {
  if (!(idx instanceof IndexColumn) || idx.length === 0) return idx;
  let best: EventIndex = idx;
  let bestBytes = idx.bytes;
  const last = idx.get(idx.length - 1);
  const bitBytes = ((last >>> 5) + 1) * 4 + idx.base.byteLength;
  if (bitBytes < bestBytes) {
    // One bit cannot hold a repeated entry (there are none: one entry per event at most).
    const bits = new BitIndexColumn();
    let prev = -1;
    let ok = true;
    for (let k = 0; k < idx.length && ok; k++) {
      const e = idx.get(k);
      if (e <= prev) ok = false;
      else bits.push(e);
      prev = e;
    }
    if (ok) {
      bits.trim();
      best = bits;
      bestBytes = bits.bytes;
    }
  }
  if (DeltaIndexColumn.bytesFor(idx) < bestBytes) best = new DeltaIndexColumn(idx);
  return best;
}
