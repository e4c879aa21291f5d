// The sessions of a state restored from a checkpoint, as a Map that decodes an
// entry only when it is first read. A checkpoint of a server with 10,000
// sessions would otherwise build 10,000 objects on every seek (tens of ms and a
// lot of garbage), while the events replayed after it touch a few hundred.
//
// It is a real Map (a subclass) with Map's behaviour, iteration order included:
// the checkpoint's sessions in their order, then keys added later in insertion
// order; setting an existing key keeps its place; a deleted key set again goes
// to the end. Iterating decodes what it visits. Entries are the reader's to
// mutate: they are fresh objects, shared with nothing.

import type { SessionId } from './ids.ts';
import {
  decodeSession as decodeSession_,
  idHiAt as idHiAt_,
  idLoAt as idLoAt_,
  type Int32Arena,
} from './session-codec.ts';
import type { SessionState } from './state.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const decodeSession = decodeSession_;
const idHiAt = idHiAt_;
const idLoAt = idLoAt_;

const hash = (lo: number, hi: number): number => lo ^ Math.imul(hi, 0x9e3779b1);

export class LazySessionMap extends Map<SessionId, SessionState> {
  private readonly arena: Int32Arena;
  private readonly base: Int32Array;
  private readonly vals: (SessionState | undefined)[];
  private readonly removed: Uint8Array;
  private baseLive: number;
  /** Open addressing over base indices + 1 (0 = empty), built on the first lookup. */
  private table: Int32Array | null = null;

  constructor(arena: Int32Arena, baseOffsets: Int32Array) {
    super();
    this.arena = arena;
    this.base = baseOffsets;
    this.vals = new Array<SessionState | undefined>(baseOffsets.length);
    this.removed = new Uint8Array(baseOffsets.length);
    this.baseLive = baseOffsets.length;
  }

  // The replayer reads a session and then writes its copy back: remember the last lookup.
  private lastId: SessionId = -1n;
  private lastIndex = -1;

  private index(id: SessionId): number {
    if (id === this.lastId) return this.lastIndex;
    const i = this.lookup(id);
    this.lastId = id;
    this.lastIndex = i;
    return i;
  }

  private lookup(id: SessionId): number {
    const n = this.base.length;
    if (n === 0) return -1;
    const a = this.arena;
    let t = this.table;
    if (t === null) {
      // Built on the first lookup, over the encoded ids: no object, no BigInt.
      let cap = 16;
      while (cap < n * 2) cap *= 2;
      t = new Int32Array(cap);
      const mask = cap - 1;
      for (let i = 0; i < n; i++) {
        const o = this.base[i]!;
        let h = hash(idLoAt(a, o), idHiAt(a, o)) & mask;
        while (t[h] !== 0) h = (h + 1) & mask;
        t[h] = i + 1;
      }
      this.table = t;
    }
    const lo = Number(id & 0xffffffffn);
    const hi = Number((id >> 32n) & 0xffffffffn);
    const mask = t.length - 1;
    for (let h = hash(lo, hi) & mask; ; h = (h + 1) & mask) {
      const e = t[h]!;
      if (e === 0) return -1;
      const o = this.base[e - 1]!;
      if (idLoAt(a, o) === lo && idHiAt(a, o) === hi) return e - 1;
    }
  }

  private at(i: number): SessionState {
    let v = this.vals[i];
    if (v === undefined) {
      v = decodeSession(this.arena, this.base[i]!, 0);
      this.vals[i] = v;
    }
    return v;
  }

  override get(id: SessionId): SessionState | undefined {
    const i = this.index(id);
    if (i >= 0 && this.removed[i] === 0) return this.at(i);
    return super.get(id);
  }

  override has(id: SessionId): boolean {
    const i = this.index(id);
    return (i >= 0 && this.removed[i] === 0) || super.has(id);
  }

  override set(id: SessionId, v: SessionState): this {
    const i = this.index(id);
    if (i >= 0 && this.removed[i] === 0) this.vals[i] = v;
    else super.set(id, v);
    return this;
  }

  override delete(id: SessionId): boolean {
    const i = this.index(id);
    if (i >= 0 && this.removed[i] === 0) {
      this.removed[i] = 1;
      this.vals[i] = undefined;
      this.baseLive--;
      return true;
    }
    return super.delete(id);
  }

  override clear(): void {
    this.removed.fill(1);
    this.vals.fill(undefined);
    this.baseLive = 0;
    super.clear();
  }

  override get size(): number {
    return this.baseLive + super.size;
  }

  override *entries(): MapIterator<[SessionId, SessionState]> {
    for (let i = 0; i < this.base.length; i++) {
      if (this.removed[i] !== 0) continue;
      const v = this.at(i);
      yield [v.id, v];
    }
    yield* super.entries();
  }

  override *keys(): MapIterator<SessionId> {
    for (const [k] of this.entries()) yield k;
  }

  override *values(): MapIterator<SessionState> {
    for (const [, v] of this.entries()) yield v;
  }

  override [Symbol.iterator](): MapIterator<[SessionId, SessionState]> {
    return this.entries();
  }

  override forEach(
    cb: (v: SessionState, k: SessionId, m: Map<SessionId, SessionState>) => void,
    thisArg?: unknown,
  ): void {
    for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this);
  }
}
