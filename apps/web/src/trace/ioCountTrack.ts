// One session's IOCount as a step series, for the counter tracks under the
// lanes (issue 19 §3): the session's IoCount events (event indices, ascending)
// and the count each one left (the value the server reported), plus the
// range of values for the track's scale.
//
// Built from the trace's session event list on first use, then kept current
// by scanning only the records appended since (a live trace), so a pinned
// track costs nothing per frame once built. A new trace (a reload, a new live
// trace) starts it over.

import { EventKind, RECORD_WORDS } from '@iocpscope/protocol';
import { I32Column, U32Column } from './column.ts';
import type { WebTrace } from './webTrace.ts';

export class IoCountTrack {
  readonly session: bigint;
  private readonly lo: number;
  private readonly hi: number;
  /** IoCount events of the session, ascending. */
  readonly events = new U32Column();
  /** IOCount after each of them. */
  readonly values = new I32Column();
  /** Smallest and largest value, 0 included (the scale's floor and ceiling). */
  min = 0;
  max = 0;
  private trace: WebTrace | null = null;
  private scannedTo = 0;

  constructor(session: bigint) {
    this.session = session;
    this.lo = Number(session & 0xffffffffn);
    this.hi = Number((session >> 32n) & 0xffffffffn);
  }

  get length(): number {
    return this.events.length;
  }

  /** Bring the series up to date with `trace` (a different trace starts it over). */
  update(trace: WebTrace): void {
    if (trace !== this.trace) {
      this.trace = trace;
      this.events.length = 0;
      this.values.length = 0;
      this.min = 0;
      this.max = 0;
      const list = trace.sessionEvents(this.session);
      const w = trace.words;
      for (let k = 0; k < list.length; k++) {
        const e = list[k]!;
        if ((w[e * RECORD_WORDS]! & 0xff) === EventKind.IoCount) this.add(w, e);
      }
      this.scannedTo = trace.count;
      return;
    }
    if (this.scannedTo >= trace.count) return;
    const w = trace.words;
    for (let i = this.scannedTo; i < trace.count; i++) {
      const o = i * RECORD_WORDS;
      if ((w[o]! & 0xff) === EventKind.IoCount && w[o + 4] === this.lo && w[o + 5] === this.hi) {
        this.add(w, i);
      }
    }
    this.scannedTo = trace.count;
  }

  private add(w: Uint32Array, e: number): void {
    const v = w[e * RECORD_WORDS + 1]! | 0;
    this.events.push(e);
    this.values.push(v);
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** The change at position k: +1, -1 (or what the record says). */
  deltaAt(words: Uint32Array, k: number): number {
    return words[this.events.data[k]! * RECORD_WORDS + 6]! | 0;
  }

  /** Position of the last change at or before event index `i`, or -1. */
  positionAtOrBefore(i: number): number {
    const d = this.events.data;
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (d[mid]! <= i) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
}
