// The overview strip: the whole trace in one row (running threads as an area,
// queue depth as a line, gaps in red), rendered through the raster into an
// offscreen canvas and re-rendered only when the trace grows (at most every
// OVERVIEW_REFRESH_MS for a live stream) or the width changes. Every frame only
// blits it and draws the viewport window on top. The raster it draws through
// is allocated per render and dropped once the strip is on the canvas: renders
// are rare, and a trace open for reading would otherwise keep its pixels twice.

import type { WebTrace } from '../trace/index.ts';
import { aggregateCounterBuckets, aggregateMinMax, useBuckets } from './aggregate.ts';
import { Raster } from './raster.ts';
import type { Scratch } from './drawRaster.ts';
import { packRgb, RGB } from './theme.ts';
import { fillCounter, type TimelineRemote, type Underlay } from './underlay.ts';

export const OVERVIEW_REFRESH_MS = 250;

export class OverviewCache {
  private canvas: HTMLCanvasElement | null = null;
  private version = -1;
  private trace: WebTrace | null = null;
  private widthDev = 0;
  private heightDev = 0;
  private remoteVersion = -1;
  lastRenderMs = -Infinity;

  /** True when the cached image is out of date for this trace and size (and remote summaries). */
  stale(
    trace: WebTrace,
    widthDev: number,
    heightDev: number,
    remote?: TimelineRemote | null,
  ): boolean {
    return (
      trace !== this.trace ||
      trace.version !== this.version ||
      widthDev !== this.widthDev ||
      heightDev !== this.heightDev ||
      (remote ? remote.version : -1) !== this.remoteVersion
    );
  }

  /** Re-render the strip for the full range [fullStartNs, fullEndNs]. */
  render(
    trace: WebTrace,
    fullStartNs: number,
    fullEndNs: number,
    widthDev: number,
    heightDev: number,
    s: Scratch,
    nowMs: number,
    remote?: TimelineRemote | null,
  ): void {
    this.trace = trace;
    this.version = trace.version;
    this.remoteVersion = remote ? remote.version : -1;
    this.widthDev = widthDev;
    this.heightDev = heightDev;
    this.lastRenderMs = nowMs;
    const r = new Raster();
    r.resize(widthDev, heightDev);
    r.clear(packRgb(RGB.bg));
    const cols = r.width;
    s.ensure(cols);
    const nsPerCol = (fullEndNs - fullStartNs) / cols;
    const h = r.height - 2;
    // A window of a trace the server holds: the whole strip from its summaries.
    const slice = remote ? remote.summaryFor(nsPerCol, fullStartNs, fullEndNs) : null;
    const under: Underlay | null = slice
      ? { slice, width: 2 ** slice.shift, rawC0: 0, rawC1: 0, laneOf: new Map() }
      : null;
    const g = { t0: fullStartNs, nsPerCol, cols };
    let runMax = Math.max(trace.running.maxValue, trace.concurrency, 1);
    if (slice) for (const v of slice.runMax) if (v > runMax) runMax = v;
    if (trace.running.length > 0 || under) {
      if (under) fillCounter(under, 'running', g, s.min, s.max);
      else minMax(trace, 'running', fullStartNs, nsPerCol, cols, s);
      const fill = packRgb(RGB.runFill);
      const line = packRgb(RGB.runLine);
      const over = packRgb(RGB.overcommit);
      for (let c = 0; c < cols; c++) {
        const mx = s.max[c]!;
        if (mx <= 0) continue;
        const y = r.height - Math.max(1, Math.round((mx / runMax) * h));
        r.fillColumn(c, y, r.height, fill);
        r.fillColumn(c, y, y + 1, trace.concurrency > 0 && mx > trace.concurrency ? over : line);
      }
    }
    if (trace.queueDepth.length > 0 || under) {
      let qMax = Math.max(trace.queueDepth.maxValue, 1);
      if (slice) for (const v of slice.queueMax) if (v > qMax) qMax = v;
      if (under) fillCounter(under, 'queue', g, s.min, s.max);
      else minMax(trace, 'queue', fullStartNs, nsPerCol, cols, s);
      const q = packRgb(RGB.queue);
      for (let c = 0; c < cols; c++) {
        const mx = s.max[c]!;
        if (mx <= 0) continue;
        const y = r.height - Math.max(1, Math.round((mx / qMax) * h));
        r.fillColumn(c, y, Math.min(r.height, y + 1), q);
      }
    }
    const gap = packRgb(RGB.fail);
    for (let k = 0; k < trace.gaps.length; k++) {
      const c = Math.floor((trace.timeAt(trace.gaps.data[k]!) - fullStartNs) / nsPerCol);
      r.fillColumn(c, 0, r.height, gap);
    }
    if (!this.canvas) this.canvas = document.createElement('canvas');
    if (this.canvas.width !== r.width || this.canvas.height !== r.height) {
      this.canvas.width = r.width;
      this.canvas.height = r.height;
    }
    this.canvas.getContext('2d')!.putImageData(r.imageData(), 0, 0);
  }

  /** The rendered strip (null before the first render). */
  image(): HTMLCanvasElement | null {
    return this.canvas;
  }
}

function minMax(
  trace: WebTrace,
  which: 'queue' | 'running',
  t0: number,
  nsPerCol: number,
  cols: number,
  s: Scratch,
): void {
  const series = which === 'queue' ? trace.queueDepth : trace.running;
  const buckets = which === 'queue' ? trace.queueBuckets : trace.runningBuckets;
  if (useBuckets(trace, nsPerCol)) {
    aggregateCounterBuckets(trace, series, buckets, t0, nsPerCol, cols, s.min, s.max);
  } else {
    aggregateMinMax(trace, series, t0, nsPerCol, cols, s.min, s.max);
  }
}
