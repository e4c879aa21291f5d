// Screen layout of the timeline in CSS pixels. Top to bottom: the overview
// strip, the time axis, the two port tracks, the thread lanes (scrolled
// vertically when they do not fit), then the session IOCount tracks in the
// space under the lanes (issue 19 §3), and below them empty space, where a
// click does nothing. A label gutter sits on the left of every row; the plot
// area is [plotX0, plotX1).

export const GUTTER_PX = 176;
export const OVERVIEW_H = 44;
export const AXIS_H = 26;
export const TRACK_H = 38;
export const TRACK_GAP = 4;
export const LANE_MIN_H = 16;
export const LANE_MAX_H = 30;
export const SESSION_TRACK_H = 36;
export const SESSION_TRACK_GAP = 4;

export interface Layout {
  readonly widthPx: number;
  readonly heightPx: number;
  readonly plotX0: number;
  readonly plotX1: number;
  readonly overviewY0: number;
  readonly overviewY1: number;
  readonly axisY0: number;
  readonly axisY1: number;
  readonly queueY0: number;
  readonly queueY1: number;
  readonly runY0: number;
  readonly runY1: number;
  /** Lanes viewport (rows are clipped to it): as tall as the lanes, or what is left. */
  readonly lanesY0: number;
  readonly lanesY1: number;
  /** Session tracks: track k spans [sessionTrackTop(k), + SESSION_TRACK_H). */
  readonly tracksY0: number;
  readonly trackCount: number;
  /** Bottom of everything drawn (lanes and tracks); below it is empty space. */
  readonly plotY1: number;
  readonly laneH: number;
  readonly laneCount: number;
  /** Vertical scroll of the lanes, clamped to the content. */
  readonly scrollY: number;
  readonly maxScrollY: number;
}

export function computeLayout(
  widthPx: number,
  heightPx: number,
  laneCount: number,
  scrollY: number,
  trackCount = 0,
): Layout {
  const plotX0 = Math.min(GUTTER_PX, Math.floor(widthPx / 3));
  const overviewY0 = 0;
  const overviewY1 = OVERVIEW_H;
  const axisY0 = overviewY1;
  const axisY1 = axisY0 + AXIS_H;
  const queueY0 = axisY1 + TRACK_GAP;
  const queueY1 = queueY0 + TRACK_H;
  const runY0 = queueY1 + TRACK_GAP;
  const runY1 = runY0 + TRACK_H;
  const lanesY0 = runY1 + TRACK_GAP * 2;
  // The tracks take their rows first (at most all but two lanes' worth of space).
  const tracksH = trackCount * (SESSION_TRACK_H + SESSION_TRACK_GAP);
  const avail = Math.max(
    Math.min(LANE_MIN_H * 2, laneCount * LANE_MIN_H),
    heightPx - lanesY0 - tracksH,
  );
  const fit = laneCount > 0 ? Math.floor(avail / laneCount) : LANE_MAX_H;
  const laneH = Math.max(LANE_MIN_H, Math.min(LANE_MAX_H, fit));
  const maxScrollY = Math.max(0, laneCount * laneH - avail);
  const lanesY1 = lanesY0 + Math.min(avail, laneCount * laneH);
  const tracksY0 = lanesY1 + (trackCount > 0 ? SESSION_TRACK_GAP : 0);
  return {
    widthPx,
    heightPx,
    plotX0,
    plotX1: Math.max(plotX0 + 1, widthPx),
    overviewY0,
    overviewY1,
    axisY0,
    axisY1,
    queueY0,
    queueY1,
    runY0,
    runY1,
    lanesY0,
    lanesY1,
    tracksY0,
    trackCount,
    plotY1: tracksY0 + tracksH,
    laneH,
    laneCount,
    scrollY: Math.max(0, Math.min(maxScrollY, scrollY)),
    maxScrollY,
  };
}

/** Top of lane row r (CSS px; may be outside the lanes viewport). */
export function laneTop(l: Layout, row: number): number {
  return l.lanesY0 + row * l.laneH - l.scrollY;
}

/** Top of session track k. */
export function sessionTrackTop(l: Layout, k: number): number {
  return l.tracksY0 + k * (SESSION_TRACK_H + SESSION_TRACK_GAP);
}

/** Session track under a y coordinate, or -1. */
export function sessionTrackAt(l: Layout, y: number): number {
  if (y < l.tracksY0) return -1;
  const k = Math.floor((y - l.tracksY0) / (SESSION_TRACK_H + SESSION_TRACK_GAP));
  if (k >= l.trackCount) return -1;
  return y - sessionTrackTop(l, k) < SESSION_TRACK_H ? k : -1;
}

/** Lane row under a y coordinate, or -1. */
export function laneRowAt(l: Layout, y: number): number {
  if (y < l.lanesY0 || y >= l.lanesY1) return -1;
  const r = Math.floor((y - l.lanesY0 + l.scrollY) / l.laneH);
  return r >= 0 && r < l.laneCount ? r : -1;
}

/** Geometry of a lane's parts, relative to its top: the state bar and the marks row below it. */
export function laneParts(laneH: number): {
  barY: number;
  barH: number;
  markY: number;
  markH: number;
} {
  const markH = Math.max(4, Math.round(laneH * 0.26));
  const barY = 2;
  const barH = Math.max(4, laneH - markH - 5);
  return { barY, barH, markY: barY + barH + 1, markH };
}
