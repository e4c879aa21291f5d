// Binary searches over sorted numeric sequences. Hot callers (draw loops,
// per-column aggregation) use the typed-array forms, which take an explicit
// length because growable columns keep spare capacity past it. The keyed form
// takes one accessor per call (never one closure per item).

/** First index in [lo, hi) whose value is >= `value`; `hi` if none. `a[lo..hi)` ascending. */
export function lowerBound(
  a: ArrayLike<number>,
  value: number,
  lo = 0,
  hi: number = a.length,
): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in [lo, hi) whose value is > `value`; `hi` if none. `a[lo..hi)` ascending. */
export function upperBound(
  a: ArrayLike<number>,
  value: number,
  lo = 0,
  hi: number = a.length,
): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * First index i in [lo, hi) with keyAt(i) >= value, for sequences whose keys
 * are computed (e.g. the timestamp of the i-th event of an index list).
 */
export function lowerBoundBy(
  keyAt: (i: number) => number,
  value: number,
  lo: number,
  hi: number,
): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyAt(mid) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i in [lo, hi) with keyAt(i) > value; `hi` if none. */
export function upperBoundBy(
  keyAt: (i: number) => number,
  value: number,
  lo: number,
  hi: number,
): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyAt(mid) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
