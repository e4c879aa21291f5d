// Cursor movement over sorted event-index lists. The cursor is an event index;
// "next on this thread" and "next for this session" move within the thread's or
// session's list of event indices, which the trace keeps sorted ascending.
// All functions are pure and O(log n); -1 means "no such event".

/** Any sorted ascending list of event indices, of which the first `length` are valid. */
export interface IndexList {
  readonly list: ArrayLike<number>;
  readonly length: number;
}

/** Smallest element of `l` strictly greater than `x`, or -1. */
export function nextAfter(l: IndexList, x: number): number {
  let lo = 0;
  let hi = l.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (l.list[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo < l.length ? l.list[lo]! : -1;
}

/** Largest element of `l` strictly smaller than `x`, or -1. */
export function prevBefore(l: IndexList, x: number): number {
  let lo = 0;
  let hi = l.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (l.list[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? l.list[lo - 1]! : -1;
}

/** Position of the first element >= x (the insertion point). */
export function lowerBound(l: IndexList, x: number): number {
  let lo = 0;
  let hi = l.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (l.list[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Move within [0, count) by `delta` events, clamped. An unset cursor (-1) enters at an end. */
export function stepBy(cursor: number, delta: number, count: number): number {
  if (count <= 0) return -1;
  if (cursor < 0) return delta >= 0 ? 0 : count - 1;
  return Math.min(count - 1, Math.max(0, cursor + delta));
}

/** A list step that stays put when there is nothing further that way. */
export function stepInList(l: IndexList | undefined, cursor: number, dir: 1 | -1): number {
  if (!l || l.length === 0) return cursor;
  const to = dir > 0 ? nextAfter(l, cursor) : prevBefore(l, cursor);
  return to < 0 ? cursor : to;
}
