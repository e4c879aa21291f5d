// Colours of the dark theme, as CSS strings for the 2D API and as packed
// little-endian RGBA words (0xAABBGGRR) for the raster layer. One place, so
// the legend, the panels and the canvas agree.

export interface Rgb {
  readonly r: number;
  readonly g: number;
  readonly b: number;
}

function hex(h: string): Rgb {
  const v = parseInt(h.slice(1), 16);
  return { r: (v >> 16) & 255, g: (v >> 8) & 255, b: v & 255 };
}

/** Pack an opaque colour for a Uint32Array view of ImageData (little-endian). */
export function packRgb(c: Rgb): number {
  return ((255 << 24) | (c.b << 16) | (c.g << 8) | c.r) >>> 0;
}

export const COLORS = {
  bg: '#0f1115',
  panel: '#14171d',
  gutter: '#12151a',
  laneEven: '#13161b',
  laneOdd: '#161a20',
  divider: '#232832',
  grid: 'rgba(255,255,255,0.055)',
  text: '#d0d7de',
  textDim: '#7d8590',
  textFaint: '#565f6b',
  waiting: '#2c3746',
  running: '#3fb27f',
  blocked: '#d9962b',
  /** The kernel's lane: the port's own work (queuing packets), not a thread's. */
  kernel: '#2f4a66',
  blockedHatch: '#7a5212',
  recv: '#4aa3ff',
  send: '#c084fc',
  post: '#b8c2cc',
  fail: '#ff4d4f',
  empty: '#4b5563',
  queue: '#4aa3ff',
  queueFill: '#1d3a5c',
  runFill: '#1d4a36',
  runLine: '#3fb27f',
  concurrency: '#e6edf3',
  overcommit: '#ff4d4f',
  cursor: '#ffd54f',
  hover: '#ffffff',
  session: '#22d3ee',
  flow: 'rgba(143,184,255,0.55)',
  flowSelected: '#22d3ee',
  finding: '#ff6b6b',
  gap: '#ff4d4f',
  marker: '#e879f9',
  /** Session IOCount tracks: the step line, +1 and -1 marks, below zero. */
  ioCount: '#22d3ee',
  ioUp: '#3fb27f',
  ioDown: '#f59e0b',
  ioNegative: '#ff4d4f',
  search: '#fbbf24',
  range: 'rgba(74,163,255,0.10)',
  rangeLanes: 'rgba(74,163,255,0.14)',
  rangeEdge: '#4aa3ff',
  viewport: 'rgba(255,255,255,0.85)',
  viewportShade: 'rgba(8,10,14,0.55)',
} as const;

export const RGB = {
  bg: hex(COLORS.bg),
  laneEven: hex(COLORS.laneEven),
  laneOdd: hex(COLORS.laneOdd),
  waiting: hex(COLORS.waiting),
  running: hex(COLORS.running),
  blocked: hex(COLORS.blocked),
  kernel: hex(COLORS.kernel),
  blockedHatch: hex(COLORS.blockedHatch),
  recv: hex(COLORS.recv),
  send: hex(COLORS.send),
  post: hex(COLORS.post),
  fail: hex(COLORS.fail),
  empty: hex(COLORS.empty),
  queue: hex(COLORS.queue),
  queueFill: hex(COLORS.queueFill),
  runFill: hex(COLORS.runFill),
  runLine: hex(COLORS.runLine),
  overcommit: hex(COLORS.overcommit),
  session: hex(COLORS.session),
} as const;

export const FONT = '11px ui-sans-serif, system-ui, -apple-system, "Segoe UI", sans-serif';
export const FONT_BOLD = '600 11px ui-sans-serif, system-ui, -apple-system, "Segoe UI", sans-serif';
export const FONT_MONO = '10px ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace';
