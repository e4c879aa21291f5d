// Wheel zoom and drag pan through d3-zoom, wrapped in a plain object
// {update, destroy} (xyflow's XYPanZoom) so d3 never meets React.
//
// Math: d3-zoom keeps a transform (k, x) over a base scale that maps the full
// domain [fullStartNs, fullEndNs] onto the plot's pixels [x0Px, x1Px]. The
// visible window is the base domain seen through the transform. The model owns
// the window; `update` re-derives the transform from it (silently: events
// without a sourceEvent are ours and are ignored), so a store change, a live
// trace growing, or a resize never fights the gesture in progress.

import { select, type Selection } from 'd3-selection';
import { zoom, zoomIdentity, zoomTransform, type D3ZoomEvent, type ZoomBehavior } from 'd3-zoom';

export { clampView } from '../lib/view.ts';

export interface Domain {
  readonly fullStartNs: number;
  readonly fullEndNs: number;
  /** Plot area in element pixels (the zoom centre is measured in the same space). */
  readonly x0Px: number;
  readonly x1Px: number;
}

export interface ZoomTransformLike {
  readonly k: number;
  readonly x: number;
}

/** The visible window for a transform. */
export function viewFromTransform(
  t: ZoomTransformLike,
  d: Domain,
): { startNs: number; endNs: number } {
  const nsPerBasePx = (d.fullEndNs - d.fullStartNs) / (d.x1Px - d.x0Px);
  // Element px -> base px: (px - t.x) / t.k; base px -> ns: linear from x0Px.
  const ns = (px: number): number => d.fullStartNs + ((px - t.x) / t.k - d.x0Px) * nsPerBasePx;
  return { startNs: ns(d.x0Px), endNs: ns(d.x1Px) };
}

/** The transform showing [startNs, endNs]. Inverse of viewFromTransform. */
export function transformFromView(startNs: number, endNs: number, d: Domain): ZoomTransformLike {
  const k = (d.fullEndNs - d.fullStartNs) / (endNs - startNs);
  const basePxOfStart =
    d.x0Px + ((startNs - d.fullStartNs) / (d.fullEndNs - d.fullStartNs)) * (d.x1Px - d.x0Px);
  // Element px of the window start must be x0Px: k * basePxOfStart + x = x0Px.
  return { k, x: d.x0Px - k * basePxOfStart };
}

/** The window after zooming by `factor` (> 1 zooms in) around the time at `anchorNs`. */
export function zoomAround(
  startNs: number,
  endNs: number,
  anchorNs: number,
  factor: number,
): { startNs: number; endNs: number } {
  return {
    startNs: anchorNs - (anchorNs - startNs) / factor,
    endNs: anchorNs + (endNs - anchorNs) / factor,
  };
}

export interface PanZoomOptions {
  readonly element: HTMLElement;
  readonly minSpanNs: number;
  /** Which events may start a gesture (e.g. not over the lane labels). */
  readonly accepts: (event: Event) => boolean;
  readonly onView: (startNs: number, endNs: number) => void;
  /** Called once per gesture step after onView, with the triggering DOM event. */
  readonly onGesture?: (sourceEvent: Event) => void;
}

export interface PanZoom {
  /** Bring the transform in line with the model's window and the current domain. */
  update(startNs: number, endNs: number, domain: Domain, heightPx: number): void;
  destroy(): void;
}

export function createPanZoom(opts: PanZoomOptions): PanZoom {
  let domain: Domain = { fullStartNs: 0, fullEndNs: 1, x0Px: 0, x1Px: 1 };
  const sel: Selection<HTMLElement, unknown, null, undefined> = select(opts.element);
  const behavior: ZoomBehavior<HTMLElement, unknown> = zoom<HTMLElement, unknown>()
    .filter((event: Event) => {
      const e = event as MouseEvent;
      return (event.type === 'wheel' || !e.button) && opts.accepts(event);
    })
    .clickDistance(3)
    .on('zoom', (event: D3ZoomEvent<HTMLElement, unknown>) => {
      if (!event.sourceEvent) return; // our own update()
      const v = viewFromTransform(event.transform, domain);
      opts.onView(v.startNs, v.endNs);
      opts.onGesture?.(event.sourceEvent as Event);
    });
  sel.call(behavior).on('dblclick.zoom', null);

  return {
    update(startNs, endNs, d, heightPx) {
      domain = d;
      const full = d.fullEndNs - d.fullStartNs;
      behavior
        .extent([
          [d.x0Px, 0],
          [d.x1Px, heightPx],
        ])
        .translateExtent([
          [d.x0Px, -Infinity],
          [d.x1Px, Infinity],
        ])
        .scaleExtent([1, Math.max(1, full / opts.minSpanNs)]);
      const t = transformFromView(startNs, endNs, d);
      const cur = zoomTransform(opts.element);
      if (Math.abs(cur.k - t.k) <= 1e-9 * t.k && Math.abs(cur.x - t.x) < 1e-6) return;
      behavior.transform(sel, zoomIdentity.translate(t.x, 0).scale(t.k));
    },
    destroy() {
      sel.on('.zoom', null);
    },
  };
}
