// The structural state of a live stream, kept so that a subscriber who joins
// late (a dashboard, a recording started mid-run, a rotated file) or who lost
// events (a client whose queue overflowed) can be told what it needs to label
// its lanes: every string, the ThreadStart and latest ThreadState of each live
// thread, the latest PortCreated, and the ThreadExit of recently exited threads.
//
// Every observed event gets an index (0, 1, 2, ... in stream order); each kept
// record remembers its index, so "what happened in [from, to)" is exact even
// when timestamps tie. Memory is bounded by the number of live threads plus
// EXIT_HISTORY exits plus the string table (itself capped by the protocol).

import { EventKind, ProtocolError, RECORD_WORDS, StringTable } from '@iocpscope/protocol';
import type { StringEntries } from './types.ts';

/** How many exited threads are remembered for clients resuming after a gap. */
export const EXIT_HISTORY = 256;

interface Kept {
  idx: number;
  words: Uint32Array;
}

interface ThreadEntry {
  start: Kept;
  state: Kept | undefined;
}

export class LiveState {
  readonly strings = new StringTable();
  readonly #threads = new Map<number, ThreadEntry>();
  #port: Kept | undefined;
  /** Recently exited threads: their start (if kept) and exit, oldest first. */
  readonly #exits: Array<{ start: Kept; exit: Kept }> = [];
  #count = 0;
  #rejectedStrings = 0;

  /** Events observed so far (the index the next event gets). */
  get eventCount(): number {
    return this.#count;
  }

  /** Strings refused by the table (redefined ids, oversized, table full). */
  get rejectedStrings(): number {
    return this.#rejectedStrings;
  }

  get liveThreads(): number {
    return this.#threads.size;
  }

  observeStrings(strings: StringEntries): void {
    for (const [id, s] of strings) {
      try {
        this.strings.set(id, s);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        this.#rejectedStrings++;
      }
    }
  }

  /** Observe whole records (they are copied where kept). */
  observeRecords(w: Uint32Array): void {
    const n = w.length / RECORD_WORDS;
    const base = this.#count;
    for (let i = 0; i < n; i++) {
      const o = i * RECORD_WORDS;
      const kind = w[o]! & 0xff;
      if (kind > EventKind.PortCreated) continue; // the hot path: nothing structural
      if (kind === EventKind.ThreadState) {
        const t = this.#threads.get(w[o]! >>> 16);
        if (t === undefined) continue;
        if (t.state === undefined) t.state = { idx: base + i, words: w.slice(o, o + RECORD_WORDS) };
        else {
          // The hot structural case (every GQCS wait/run): copy in place, no allocation.
          const dst = t.state.words;
          for (let k = 0; k < RECORD_WORDS; k++) dst[k] = w[o + k]!;
          t.state.idx = base + i;
        }
      } else if (kind === EventKind.ThreadStart) {
        const tid = w[o]! >>> 16;
        this.#threads.set(tid, {
          start: { idx: base + i, words: w.slice(o, o + RECORD_WORDS) },
          state: undefined,
        });
      } else if (kind === EventKind.ThreadExit) {
        const tid = w[o]! >>> 16;
        const t = this.#threads.get(tid);
        if (t === undefined) continue;
        this.#threads.delete(tid);
        this.#exits.push({
          start: t.start,
          exit: { idx: base + i, words: w.slice(o, o + RECORD_WORDS) },
        });
        if (this.#exits.length > EXIT_HISTORY) this.#exits.shift();
      } else if (kind === EventKind.PortCreated) {
        this.#port = { idx: base + i, words: w.slice(o, o + RECORD_WORDS) };
      }
    }
    this.#count += n;
  }

  /**
   * The kept records whose index is in [from, to), in stream order. With
   * `withExits`, threads that exited in the window are included (their start
   * too if it is in the window), so that a resuming client closes their lanes.
   */
  recordsBetween(from: number, to: number, withExits: boolean): Uint32Array {
    const picked: Kept[] = [];
    const take = (k: Kept | undefined): void => {
      if (k !== undefined && k.idx >= from && k.idx < to) picked.push(k);
    };
    take(this.#port);
    for (const t of this.#threads.values()) {
      take(t.start);
      take(t.state);
    }
    if (withExits) {
      for (const e of this.#exits) {
        take(e.start);
        take(e.exit);
      }
    }
    picked.sort((a, b) => a.idx - b.idx);
    const out = new Uint32Array(picked.length * RECORD_WORDS);
    for (let i = 0; i < picked.length; i++) out.set(picked[i]!.words, i * RECORD_WORDS);
    return out;
  }
}
