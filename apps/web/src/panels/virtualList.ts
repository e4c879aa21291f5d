// Windowing math for fixed-height virtual lists. Pure functions: the React
// component (VirtualList.tsx) only renders the rows these return.
//
// Model: `count` rows of `rowPx` each, stacked from y = 0. A viewport of
// `viewportPx` starts at `scrollTopPx`. The window is the half-open row range
// [first, end) that intersects the viewport, widened by `overscan` rows on each
// side and clamped to [0, count]. Invariants: 0 <= first <= end <= count, and
// every row that intersects the viewport is inside the window.

export interface RowWindow {
  /** First rendered row (inclusive). */
  first: number;
  /** One past the last rendered row. */
  end: number;
  /** Offset of row `first` from the top of the content, in px. */
  offsetPx: number;
  /** Full content height, in px. */
  totalPx: number;
}

export function rowWindow(
  count: number,
  rowPx: number,
  scrollTopPx: number,
  viewportPx: number,
  overscan = 4,
): RowWindow {
  if (!(rowPx > 0)) throw new RangeError(`rowPx must be > 0, got ${rowPx}`);
  const n = Math.max(0, Math.floor(count));
  const totalPx = n * rowPx;
  if (n === 0 || viewportPx <= 0) return { first: 0, end: 0, offsetPx: 0, totalPx };
  // A scroll position past the content (after rows were removed) still shows the last page.
  const maxTop = Math.max(0, totalPx - viewportPx);
  const top = Math.min(Math.max(0, scrollTopPx), maxTop);
  const firstVisible = Math.min(n - 1, Math.floor(top / rowPx));
  // Rows whose top edge is strictly above the viewport's bottom edge intersect it.
  const endVisible = Math.min(n, Math.ceil((top + viewportPx) / rowPx));
  const first = Math.max(0, firstVisible - overscan);
  const end = Math.min(n, Math.max(endVisible, firstVisible + 1) + overscan);
  return { first, end, offsetPx: first * rowPx, totalPx };
}

/**
 * The scrollTop that brings row `index` fully into view with the least scrolling,
 * or `scrollTopPx` unchanged when it is already fully visible.
 */
export function scrollToRow(
  index: number,
  rowPx: number,
  scrollTopPx: number,
  viewportPx: number,
): number {
  const rowTop = index * rowPx;
  const rowBottom = rowTop + rowPx;
  if (rowTop < scrollTopPx) return rowTop;
  if (rowBottom > scrollTopPx + viewportPx) return Math.max(0, rowBottom - viewportPx);
  return scrollTopPx;
}
