// Pending-I/O matching for flows: IoPosted (or Pqcs) -> PacketQueued ->
// GqcsReturn, matched by ioId and session/key. Holds only outstanding
// operations, so its size is bounded by the I/O in flight, not by the trace.
// A second post with the same (ioId, session) replaces the first: the older
// one can no longer be told apart, and replacing keeps the map bounded when a
// server reuses ioIds per session.

import { RECORD_WORDS } from '@iocpscope/protocol';
import { NONE } from './lanes.ts';

export class IoMatcher {
  /** ioId -> event index, or a list of event indices when sessions share an ioId. */
  private readonly byIo = new Map<number, number | number[]>();

  get size(): number {
    return this.byIo.size;
  }

  put(words: Uint32Array, ioId: number, i: number): void {
    const cur = this.byIo.get(ioId);
    if (cur === undefined) {
      this.byIo.set(ioId, i);
      return;
    }
    if (typeof cur === 'number') {
      if (sameSession(words, cur, i)) this.byIo.set(ioId, i);
      else this.byIo.set(ioId, [cur, i]);
      return;
    }
    for (let k = 0; k < cur.length; k++) {
      if (sameSession(words, cur[k]!, i)) {
        cur[k] = i;
        return;
      }
    }
    cur.push(i);
  }

  /** Remove and return the entry for (ioId, session of event i), or NONE. */
  take(words: Uint32Array, ioId: number, i: number): number {
    const cur = this.byIo.get(ioId);
    if (cur === undefined) return NONE;
    if (typeof cur === 'number') {
      if (!sameSession(words, cur, i)) return NONE;
      this.byIo.delete(ioId);
      return cur;
    }
    for (let k = 0; k < cur.length; k++) {
      const e = cur[k]!;
      if (sameSession(words, e, i)) {
        cur.splice(k, 1);
        if (cur.length === 1) this.byIo.set(ioId, cur[0]!);
        return e;
      }
    }
    return NONE;
  }
}

function sameSession(words: Uint32Array, a: number, b: number): boolean {
  const oa = a * RECORD_WORDS;
  const ob = b * RECORD_WORDS;
  return words[oa + 4] === words[ob + 4] && words[oa + 5] === words[ob + 5];
}
