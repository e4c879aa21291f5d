// An event series: ascending event indices into the trace, an optional value
// per entry (a step function: the value holds from its event until the next
// entry), and per-block summaries (min, max, OR of mark flags) over every
// SERIES_BLOCK entries so per-pixel aggregation can skip whole blocks when a
// pixel column covers many entries. Blocks are complete-or-open: the last one
// is updated in place as entries arrive.

import { I32Column, U32Column, U8Column } from './column.ts';

export const SERIES_BLOCK = 32;
export const SERIES_BLOCK_SHIFT = 5;

export class EventSeries {
  /** Event index of each entry, ascending. */
  readonly idx = new U32Column();
  /** Value after each entry (only when the series has values). */
  readonly value: I32Column | null;
  /** Per block: min and max value, OR of flags. */
  readonly blockMin = new I32Column();
  readonly blockMax = new I32Column();
  readonly blockOr = new U8Column();
  /** Largest value ever pushed (0 for flag-only series). */
  maxValue = 0;

  constructor(withValues: boolean) {
    this.value = withValues ? new I32Column() : null;
  }

  get length(): number {
    return this.idx.length;
  }

  push(eventIndex: number, value: number, flags: number): void {
    const n = this.idx.length;
    this.idx.push(eventIndex);
    if (this.value) this.value.push(value);
    if (value > this.maxValue) this.maxValue = value;
    const b = n >>> SERIES_BLOCK_SHIFT;
    if (b === this.blockOr.length) {
      this.blockMin.push(value);
      this.blockMax.push(value);
      this.blockOr.push(flags);
    } else {
      if (value < this.blockMin.data[b]!) this.blockMin.data[b] = value;
      if (value > this.blockMax.data[b]!) this.blockMax.data[b] = value;
      this.blockOr.data[b]! |= flags;
    }
  }

  trim(): void {
    this.idx.trim();
    this.value?.trim();
    this.blockMin.trim();
    this.blockMax.trim();
    this.blockOr.trim();
  }

  get bytes(): number {
    return (
      this.idx.bytes +
      (this.value?.bytes ?? 0) +
      this.blockMin.bytes +
      this.blockMax.bytes +
      this.blockOr.bytes
    );
  }
}
