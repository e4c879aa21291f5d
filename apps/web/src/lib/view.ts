// Time windows over a trace: the bounds a view may show (the trace with a 1%
// margin) and the clamp every view goes through, in the store and in the
// renderer alike, so the window the store holds is the window drawn, and a
// zoom anchored at the pointer stays anchored (issue 19 §6).

/** The narrowest window, ns. */
export const MIN_VIEW_NS = 100;
/** The narrowest trace bounds (a trace of one event still gets a window). */
const MIN_BOUNDS_NS = 1000;

/** The widest window for a trace [startNs, endNs]: all of it with a 1% margin each side. */
export function viewBounds(startNs: number, endNs: number): { startNs: number; endNs: number } {
  const span = Math.max(endNs - startNs, MIN_BOUNDS_NS);
  return { startNs: startNs - span * 0.01, endNs: endNs + span * 0.01 };
}

/**
 * Clamp a window into the full domain, no narrower than minSpanNs and no wider
 * than the domain, keeping its width when it only needs to slide.
 */
export function clampView(
  startNs: number,
  endNs: number,
  fullStartNs: number,
  fullEndNs: number,
  minSpanNs: number = MIN_VIEW_NS,
): { startNs: number; endNs: number } {
  const full = fullEndNs - fullStartNs;
  let span = endNs - startNs;
  if (!(span >= minSpanNs)) span = minSpanNs;
  if (span >= full) return { startNs: fullStartNs, endNs: fullStartNs + Math.max(full, minSpanNs) };
  const mid = (startNs + endNs) / 2;
  let s = mid - span / 2;
  if (s < fullStartNs) s = fullStartNs;
  if (s + span > fullEndNs) s = fullEndNs - span;
  return { startNs: s, endNs: s + span };
}
