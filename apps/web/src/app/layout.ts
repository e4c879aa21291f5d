// The debugger's panel sizes (issue 19 §7): what the user dragged a splitter
// to (state/slices/layout.ts, remembered), else a size that suits the window,
// always clamped so every panel keeps a usable size. Pure, so it is tested
// at 1280×720 and 1600×1000.
//
// Layout: top bar and step bar; the timeline over the bottom row (sessions |
// inspector | anomalies or range), the side column (event details over port
// state) on the right. Splitters are SPLIT_PX wide.

import type { PanelSizes } from '../state/store.ts';

export const SPLIT_PX = 6;
const TOP_PX = 44 + 40;
/** Every panel keeps at least this much. */
export const MIN = {
  timelineH: 180,
  bottomH: 160,
  sideW: 280,
  sessionsW: 270,
  inspectorW: 300,
  lastW: 250,
  detailsH: 140,
  portH: 120,
} as const;

export interface ResolvedLayout {
  bottomH: number;
  sideW: number;
  sessionsW: number;
  inspectorW: number;
  detailsH: number;
}

const clamp = (v: number, lo: number, hi: number): number =>
  Math.round(Math.max(lo, Math.min(Math.max(lo, hi), v)));

/**
 * Sizes for a window of `w`×`h` CSS px whose timeline has `rows` rows (lanes
 * and tracks): the timeline gets what its rows need, the bottom row the rest
 * (between 30% and 55% of the window), so a short trace leaves no empty
 * timeline while the ledger shows a handful of rows.
 */
export function resolveLayout(
  w: number,
  h: number,
  set: PanelSizes,
  rows: { lanes: number; tracks: number },
): ResolvedLayout {
  const sideW = clamp(set.sideW ?? w * 0.22, MIN.sideW, Math.min(w * 0.5, w - 600));
  const timelineNeeds = 44 + 26 + 2 * 42 + 8 + rows.lanes * 30 + rows.tracks * 40 + 28;
  const bottomAuto = clamp(h - TOP_PX - SPLIT_PX - timelineNeeds, h * 0.3, h * 0.55);
  const bottomH = clamp(
    set.bottomH ?? bottomAuto,
    MIN.bottomH,
    h - TOP_PX - SPLIT_PX - MIN.timelineH,
  );
  const mainW = w - sideW - SPLIT_PX;
  const spare = mainW - 2 * SPLIT_PX;
  const sessionsW = clamp(
    set.sessionsW ?? spare * 0.25,
    MIN.sessionsW,
    spare - MIN.inspectorW - MIN.lastW,
  );
  const inspectorW = clamp(
    set.inspectorW ?? spare * 0.5,
    MIN.inspectorW,
    spare - sessionsW - MIN.lastW,
  );
  const sideH = h - TOP_PX;
  const detailsH = clamp(set.detailsH ?? sideH * 0.56, MIN.detailsH, sideH - SPLIT_PX - MIN.portH);
  return { bottomH, sideW, sessionsW, inspectorW, detailsH };
}
