// A recording's string table, frozen once the file is loaded: the protocol's
// StringTable keeps an id -> string map, a string -> id map and an insertion
// list so a live stream can keep adding to it (~120 bytes a string); a
// complete recording only ever looks strings up by id, so an array indexed by
// id (ids are dense from 1) holds the same answers in about a quarter of that.
// Sparse ids (a hand-made file) fall back to a Map.

import type { StringLookup } from './lanes.ts';

/** Something that can list its strings (the protocol's StringTable). */
interface Listable extends StringLookup {
  entries(): Iterable<[number, string]>;
}

function isListable(s: StringLookup): s is Listable {
  return typeof (s as Partial<Listable>).entries === 'function';
}

/** Strings by id, fixed from now on. Returns `s` itself when it cannot list its entries. */
export function freezeStrings(s: StringLookup): StringLookup {
  if (!isListable(s)) return s;
  const entries = [...s.entries()];
  let maxId = 0;
  for (const [id] of entries) if (id > maxId) maxId = id;
  if (maxId <= 2 * entries.length + 64) {
    const byId: (string | undefined)[] = new Array<string | undefined>(maxId + 1).fill(undefined);
    for (const [id, v] of entries) byId[id] = v;
    return { get: (id) => (id === 0 ? '' : byId[id]) };
  }
  const map = new Map(entries);
  return { get: (id) => (id === 0 ? '' : map.get(id)) };
}
