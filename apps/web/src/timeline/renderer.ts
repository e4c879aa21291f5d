// TimelineRenderer: owns the canvas outside React. It reads the model with
// getState() once per frame, draws in one RafScheduler frame (raster layer for
// the dense parts, then vector overlays), and turns DOM input into model
// writes: zoom/pan through the d3-zoom wrapper, overview clicks and drags,
// hover (an event, or the span under the pointer), click-to-cursor (never on
// empty space), Shift+drag (or a plain drag in range mode) to select a time
// range, the IOCount tracks' labels, and wheel-scrolling of the lanes over
// the gutter.
//
// Probe: after each frame the host element carries `data-geom` (the window,
// the plot's x extent, the rows and tracks in CSS px, JSON) and `data-hover`
// (the tooltip's text), for the e2e specs; written only when they change.
//
// Instrumentation (read by bench/web.ts, cheap enough to stay on): each drawn
// frame emits a user-timing measure 'iocpscope.frame' whose detail carries the
// input-handling ms since the previous frame and the draw ms; the first draw
// of each trace version emits the mark 'iocpscope.paint' with {events}.
// Old entries are cleared so the performance buffer never grows.

import { RafScheduler } from '../lib/raf.ts';
import type { Lane, WebTrace } from '../trace/index.ts';
import { EventKind, RECORD_WORDS } from '@iocpscope/protocol';
import {
  drawCounterTrack,
  drawMarksDense,
  paintMarks,
  visibleCount,
  drawLaneStates,
  Scratch,
  type Columns,
} from './drawRaster.ts';
import {
  drawAxis,
  drawAxisLabels,
  cursorFlag,
  drawConcurrencyLine,
  drawCursor,
  drawEmpty,
  drawEventRings,
  drawFindings,
  drawUnavailable,
  drawFlows,
  drawGaps,
  drawGrid,
  drawGutter,
  drawHover,
  drawTooltip,
  drawMarksSparse,
  drawLegend,
  drawMarkers,
  xOf,
  type Geom,
} from './drawVector.ts';
import { pick, type Pick } from './hitTest.ts';
import { ChatLayer } from './drawChat.ts';
import {
  computeLayout,
  laneParts,
  laneRowAt,
  laneTop,
  SESSION_TRACK_H,
  sessionTrackTop,
  type Layout,
} from './layout.ts';
import {
  drawRange,
  drawRings,
  drawSearchMatches,
  drawSessionTracks,
  drawTrackLabels,
} from './drawTracks.ts';
import { IoCountTrack } from '../trace/index.ts';
import {
  fullView,
  MIN_VIEW_NS,
  type TimelineModel,
  type TimelineRange,
  type TimelineState,
} from './model.ts';
import { OVERVIEW_REFRESH_MS, OverviewCache } from './overview.ts';
import { clampView, createPanZoom, type PanZoom } from './panZoom.ts';
import { Pen } from './pen.ts';
import { Raster } from './raster.ts';
import { fillLaneFlags, underlayFor } from './underlay.ts';
import { COLORS, packRgb, RGB } from './theme.ts';
import { shownLanes } from './rows.ts';

/** Flows are drawn for every visible completion when there are at most this many. */
const ALL_FLOWS_LIMIT = 250;
/** Flows drawn for the selected session per frame, at most. */
const SESSION_FLOWS_LIMIT = 2000;
const MEASURE_CLEAR_EVERY = 500;

export class TimelineRenderer {
  private readonly canvas: HTMLCanvasElement;
  private readonly host: HTMLElement;
  private readonly model: TimelineModel;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly pen: Pen;
  private readonly raster = new Raster();
  private readonly scratch = new Scratch();
  private readonly overview = new OverviewCache();
  private readonly scheduler = new RafScheduler();
  private readonly panZoom: PanZoom;
  private readonly resizeObserver: ResizeObserver;
  private readonly cleanups: (() => void)[] = [];
  private positions = new Uint32Array(4096);
  private ringLastX = new Float64Array(64);
  private rowOfLane = new Int32Array(64);
  /** Axis label extents of the frame being drawn (drawVector AxisReserved), reused. */
  private readonly axisReserved: number[] = [];

  private hostW = 0;
  private hostH = 0;
  private cssW = 0;
  private cssH = 0;
  private dpr = 1;
  private scrollY = 0;
  private geom: Geom | null = null;
  private fullStartNs = 0;
  private fullEndNs = 1;
  private overviewDrag = false;
  private lastHover = -2;
  /** The IOCount tracks of this frame (selected session first, then the pinned ones). */
  private tracks: IoCountTrack[] = [];
  /** The chat server's views (job-queue tracks, pool gauge, flush slices, fan-out, a lock). */
  private readonly chat = new ChatLayer();
  private readonly trackCache = new Map<bigint, IoCountTrack>();
  /** The span under the pointer (its tooltip), when it is not on an event. */
  private spanHover: { x: number; y: number; line1: string; line2: string } | null = null;
  /** A range being dragged out, CSS px. */
  private drag: { x0: number; y0: number; x1: number; y1: number } | null = null;
  /** The click that ends a range drag must not move the cursor. */
  private suppressClick = false;
  private probeGeom = '';
  private probeHover = '';
  private inputT0 = 0;
  private pendingInputMs = 0;
  private paintedVersion = -1;
  private paintedTrace: WebTrace | null = null;
  private measures = 0;
  private overviewTimer = 0;
  /** The overview was left out of date (live throttling); redraw when its timer fires. */
  private overviewStale = false;
  /** What the last drawn frame showed (see changed()). */
  private readonly drawn: {
    trace: WebTrace | null;
    version: number;
    viewStartNs: number;
    viewEndNs: number;
    cursor: number;
    hover: number;
    session: bigint | null;
    findings: TimelineState['findings'];
    w: number;
    h: number;
    dpr: number;
    scrollY: number;
    pinned: readonly bigint[] | undefined;
    range: TimelineRange | null | undefined;
    search: Uint32Array | null | undefined;
    searchLength: number;
    evidence: readonly number[] | null | undefined;
    spanHover: unknown;
    drag: unknown;
    remote: unknown;
    remoteVersion: number;
    highlightLock: number | null;
  } = {
    trace: null,
    version: -2,
    viewStartNs: NaN,
    viewEndNs: NaN,
    cursor: -2,
    hover: -2,
    session: null,
    findings: undefined,
    w: 0,
    h: 0,
    dpr: 0,
    scrollY: -1,
    pinned: undefined,
    range: undefined,
    search: undefined,
    searchLength: -1,
    evidence: undefined,
    spanHover: null,
    drag: null,
    remote: null,
    remoteVersion: -2,
    highlightLock: null,
  };

  /** Null when the browser gives no 2D context (the component then shows a message). */
  static create(
    host: HTMLElement,
    canvas: HTMLCanvasElement,
    model: TimelineModel,
  ): TimelineRenderer | null {
    const ctx = canvas.getContext('2d', { alpha: false });
    return ctx ? new TimelineRenderer(host, canvas, ctx, model) : null;
  }

  private constructor(
    host: HTMLElement,
    canvas: HTMLCanvasElement,
    ctx: CanvasRenderingContext2D,
    model: TimelineModel,
  ) {
    this.canvas = canvas;
    this.host = host;
    this.model = model;
    this.ctx = ctx;
    // The observer reports sizes from now on; start from the current layout.
    this.hostW = host.clientWidth;
    this.hostH = host.clientHeight;
    this.pen = new Pen(ctx);

    this.panZoom = createPanZoom({
      element: canvas,
      minSpanNs: MIN_VIEW_NS,
      accepts: (e) => this.acceptsGesture(e),
      onView: (s, e) => this.requestView(s, e),
      onGesture: () => this.endInput(),
    });

    this.cleanups.push(model.subscribe(() => this.scheduler.schedule()));
    this.cleanups.push(this.scheduler.add(() => this.frame()));
    // Sizes come from the observer, so a frame never forces a layout by reading clientWidth.
    this.resizeObserver = new ResizeObserver((entries) => {
      const r = entries[entries.length - 1]!.contentRect;
      this.hostW = Math.round(r.width);
      this.hostH = Math.round(r.height);
      this.scheduler.schedule();
    });
    this.resizeObserver.observe(host);

    this.listen(window, 'wheel', this.onInputStart, { capture: true, passive: true });
    this.listen(window, 'pointermove', this.onInputStart, { capture: true, passive: true });
    this.listen(window, 'pointerdown', this.onInputStart, { capture: true, passive: true });
    this.listen(window, 'mousemove', this.onInputStart, { capture: true, passive: true });
    this.listen(canvas, 'wheel', this.onWheel as EventListener, { passive: false });
    this.listen(canvas, 'pointerdown', this.onPointerDown as EventListener);
    this.listen(canvas, 'pointermove', this.onPointerMove as EventListener);
    this.listen(canvas, 'pointerup', this.onPointerUp as EventListener);
    this.listen(canvas, 'pointerleave', this.onPointerLeave as EventListener);
    this.listen(canvas, 'click', this.onClick as EventListener);
    this.scheduler.schedule();
  }

  destroy(): void {
    this.resizeObserver.disconnect();
    for (const c of this.cleanups) c();
    this.cleanups.length = 0;
    this.panZoom.destroy();
    this.scheduler.dispose();
    if (this.overviewTimer) clearTimeout(this.overviewTimer);
  }

  private listen(
    target: EventTarget,
    type: string,
    fn: EventListener,
    opts?: AddEventListenerOptions,
  ): void {
    target.addEventListener(type, fn, opts);
    this.cleanups.push(() => target.removeEventListener(type, fn, opts));
  }

  // ---- input --------------------------------------------------------------------

  /**
   * Capture-phase start of every input event: the event's handling (d3-zoom,
   * our handlers, the store) is timed from here to endInput(). Overwriting
   * keeps events that none of our handlers finish (and idle time) out.
   */
  private readonly onInputStart = (): void => {
    this.inputT0 = performance.now();
  };

  /** Account the time since the DOM event started being dispatched to this frame. */
  private endInput(): void {
    if (this.inputT0 !== 0) {
      this.pendingInputMs += performance.now() - this.inputT0;
      this.inputT0 = 0;
    }
  }

  private localXY(e: MouseEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  /** A drag that selects a range instead of panning: Shift held, or range mode on. */
  private rangeGesture(e: MouseEvent): boolean {
    return e.shiftKey || this.model.getState().rangeMode === true;
  }

  private acceptsGesture(e: Event): boolean {
    const g = this.geom;
    if (!g) return false;
    const m = e as MouseEvent;
    if (e.type !== 'wheel' && (this.drag !== null || this.rangeGesture(m))) return false;
    const { x, y } = this.localXY(m);
    return x >= g.layout.plotX0 && y >= g.layout.axisY0;
  }

  private requestView(startNs: number, endNs: number): void {
    const v = clampView(startNs, endNs, this.fullStartNs, this.fullEndNs, MIN_VIEW_NS);
    this.model.setView(v.startNs, v.endNs);
  }

  private readonly onWheel = (e: WheelEvent): void => {
    const g = this.geom;
    if (!g) return;
    const { x, y } = this.localXY(e);
    if (x < g.layout.plotX0 && y >= g.layout.lanesY0 && g.layout.maxScrollY > 0) {
      e.preventDefault();
      this.scrollY = Math.max(0, Math.min(g.layout.maxScrollY, this.scrollY + e.deltaY));
      this.scheduler.schedule();
      this.endInput();
    }
  };

  private overviewCenter(x: number): void {
    const g = this.geom;
    const s = this.model.getState();
    if (!g || !s.trace) return;
    const l = g.layout;
    const f = (x - l.plotX0) / (l.plotX1 - l.plotX0);
    const t = this.fullStartNs + f * (this.fullEndNs - this.fullStartNs);
    const span = g.t1 - g.t0;
    this.requestView(t - span / 2, t + span / 2);
  }

  private readonly onPointerDown = (e: PointerEvent): void => {
    const g = this.geom;
    if (!g) return;
    const { x, y } = this.localXY(e);
    const l = g.layout;
    if (y < l.overviewY1 && x >= l.plotX0 && e.button === 0) {
      this.overviewDrag = true;
      this.canvas.setPointerCapture(e.pointerId);
      this.overviewCenter(x);
      this.endInput();
      return;
    }
    if (
      e.button === 0 &&
      this.rangeGesture(e) &&
      this.model.setRange &&
      x >= l.plotX0 &&
      y >= l.axisY0 &&
      y < Math.max(l.plotY1, l.lanesY0 + 1)
    ) {
      this.drag = { x0: x, y0: y, x1: x, y1: y };
      this.canvas.setPointerCapture?.(e.pointerId);
      this.scheduler.schedule();
      this.endInput();
    }
  };

  private readonly onPointerMove = (e: PointerEvent): void => {
    const g = this.geom;
    const s = this.model.getState();
    if (!g || !s.trace) return;
    const { x, y } = this.localXY(e);
    if (this.overviewDrag) {
      this.overviewCenter(x);
      this.endInput();
      return;
    }
    if (this.drag) {
      this.drag = { ...this.drag, x1: x, y1: y };
      this.scheduler.schedule();
      this.endInput();
      return;
    }
    if (e.buttons !== 0) return; // panning: no hover churn
    const hit = this.pickAll(s.trace, g, x, y);
    const index = hit.kind === 'event' ? hit.index : -1;
    if (index !== this.lastHover) {
      this.lastHover = index;
      this.model.setHover(index < 0 ? null : index);
    }
    const span = hit.kind === 'span' ? { x, y, line1: hit.line1, line2: hit.line2 } : null;
    const before = this.spanHover;
    if (
      span?.line1 !== before?.line1 ||
      span?.line2 !== before?.line2 ||
      (span !== null && (span.x !== before?.x || span.y !== before?.y))
    ) {
      this.spanHover = span;
      this.scheduler.schedule();
    }
    this.endInput();
  };

  private readonly onPointerUp = (e: PointerEvent): void => {
    if (this.overviewDrag) {
      this.overviewDrag = false;
      this.canvas.releasePointerCapture(e.pointerId);
    }
    const d = this.drag;
    if (d) {
      this.drag = null;
      this.canvas.releasePointerCapture?.(e.pointerId);
      const g = this.geom;
      if (g && Math.abs(d.x1 - d.x0) >= 3) {
        this.suppressClick = true;
        this.model.setRange?.(this.rangeOf(g, d));
      }
      this.scheduler.schedule();
    }
  };

  /** The range a drag covers: its times, and the lanes it spans when it began and ended on lanes. */
  private rangeOf(g: Geom, d: { x0: number; y0: number; x1: number; y1: number }): TimelineRange {
    const l = g.layout;
    const tAt = (x: number): number =>
      g.t0 + (Math.max(l.plotX0, Math.min(l.plotX1, x)) - l.plotX0) * g.nsPerPx;
    const r0 = laneRowAt(l, d.y0);
    const r1 = laneRowAt(l, d.y1);
    let tids: number[] | null = null;
    if (r0 >= 0 && r1 >= 0) {
      tids = [];
      for (let r = Math.min(r0, r1); r <= Math.max(r0, r1); r++) tids.push(g.lanes[r]!.tid);
    }
    return { startNs: tAt(Math.min(d.x0, d.x1)), endNs: tAt(Math.max(d.x0, d.x1)), tids };
  }

  /** What is under the pointer: an event first, else a chat view's span (a flush, a queue), else the rest. */
  private pickAll(trace: WebTrace, g: Geom, x: number, y: number): Pick {
    const hit = pick(trace, g, this.tracks, x, y);
    if (hit.kind === 'event' || hit.kind === 'track-label' || this.chat.rows === 0) return hit;
    return this.chat.pick(trace, g, this.tracks.length, x, y) ?? hit;
  }

  private readonly onPointerLeave = (): void => {
    if (this.lastHover !== -1) {
      this.lastHover = -1;
      this.model.setHover(null);
    }
    if (this.spanHover) {
      this.spanHover = null;
      this.scheduler.schedule();
    }
  };

  private readonly onClick = (e: MouseEvent): void => {
    if (this.suppressClick) {
      this.suppressClick = false;
      return;
    }
    const g = this.geom;
    const s = this.model.getState();
    if (!g || !s.trace || s.trace.count === 0) return;
    const { x, y } = this.localXY(e);
    const rem = s.windowed;
    if (rem && x >= g.layout.plotX0 && x <= g.layout.plotX1) {
      // Outside the window of a trace the server holds: go to the event there.
      const t = g.t0 + (x - g.layout.plotX0) * g.nsPerPx;
      if (t < rem.windowStartNs || t > rem.windowEndNs) {
        this.model.seekTime?.(t);
        return;
      }
    }
    const hit: Pick = this.pickAll(s.trace, g, x, y);
    switch (hit.kind) {
      case 'event':
        this.model.setCursor(hit.index);
        return;
      case 'span':
        if (hit.from >= 0) this.model.setCursor(hit.from);
        return;
      case 'track-label': {
        const tr = this.tracks[hit.track];
        if (!tr) return;
        const pinned = (s.pinnedSessions ?? []).includes(tr.session);
        if (hit.unpin && pinned) this.model.unpinSession?.(tr.session);
        else if (hit.unpin) this.model.pinSession?.(tr.session);
        else this.model.selectSession?.(tr.session);
        return;
      }
      default:
        // Empty space (below the rows, between them): the cursor stays where it is.
        return;
    }
  };

  // ---- frame --------------------------------------------------------------------

  private resize(): boolean {
    const w = this.hostW;
    const h = this.hostH;
    const dpr = window.devicePixelRatio || 1;
    if (w === this.cssW && h === this.cssH && dpr === this.dpr) return false;
    this.cssW = w;
    this.cssH = h;
    this.dpr = dpr;
    this.canvas.width = Math.max(1, Math.round(w * dpr));
    this.canvas.height = Math.max(1, Math.round(h * dpr));
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.pen.invalidate();
    return true;
  }

  private frame(): void {
    const t0 = performance.now();
    this.inputT0 = 0;
    this.resize();
    if (this.cssW === 0 || this.cssH === 0) return;
    const state = this.model.getState();
    if (!this.changed(state)) return;
    this.draw(state);
    const t1 = performance.now();
    const trace = state.trace;
    if (
      trace &&
      trace.count > 0 &&
      (trace !== this.paintedTrace || trace.version !== this.paintedVersion)
    ) {
      this.paintedTrace = trace;
      this.paintedVersion = trace.version;
      performance.clearMarks('iocpscope.paint');
      performance.mark('iocpscope.paint', { detail: { events: trace.count } });
    }
    const inputMs = this.pendingInputMs;
    this.pendingInputMs = 0;
    performance.measure('iocpscope.frame', {
      start: t0,
      end: t1,
      detail: { inputMs, drawMs: t1 - t0 },
    });
    if (++this.measures % MEASURE_CLEAR_EVERY === 0) performance.clearMeasures('iocpscope.frame');
  }

  /**
   * Whether anything the picture depends on changed since the last draw: the
   * store notifies for every change (panels' state too), and most of those
   * leave the timeline as it is.
   */
  private changed(s: TimelineState): boolean {
    const d = this.drawn;
    const t = s.trace;
    const version = t ? t.version : -1;
    const overviewDue = t !== null && this.overviewTimer === 0 && this.overviewStale;
    const search = s.searchMatches ?? null;
    if (
      !overviewDue &&
      d.trace === t &&
      d.version === version &&
      d.viewStartNs === s.viewStartNs &&
      d.viewEndNs === s.viewEndNs &&
      d.cursor === s.cursor &&
      d.hover === s.hoverIndex &&
      d.session === s.selectedSession &&
      d.findings === s.findings &&
      d.w === this.cssW &&
      d.h === this.cssH &&
      d.dpr === this.dpr &&
      d.scrollY === this.scrollY &&
      d.pinned === s.pinnedSessions &&
      d.range === s.range &&
      d.search === search &&
      d.searchLength === (search ? search.length : -1) &&
      d.evidence === s.evidence &&
      d.highlightLock === (s.highlightLock ?? null) &&
      d.spanHover === this.spanHover &&
      d.drag === this.drag &&
      d.remote === (s.windowed ?? null) &&
      d.remoteVersion === (s.windowed ? s.windowed.version : -1)
    ) {
      return false;
    }
    d.trace = t;
    d.version = version;
    d.viewStartNs = s.viewStartNs;
    d.viewEndNs = s.viewEndNs;
    d.cursor = s.cursor;
    d.hover = s.hoverIndex;
    d.session = s.selectedSession;
    d.findings = s.findings;
    d.w = this.cssW;
    d.h = this.cssH;
    d.dpr = this.dpr;
    d.scrollY = this.scrollY;
    d.pinned = s.pinnedSessions;
    d.range = s.range;
    d.search = search;
    d.searchLength = search ? search.length : -1;
    d.evidence = s.evidence;
    d.spanHover = this.spanHover;
    d.drag = this.drag;
    d.highlightLock = s.highlightLock ?? null;
    d.remote = s.windowed ?? null;
    d.remoteVersion = s.windowed ? s.windowed.version : -1;
    return true;
  }

  /** The IOCount tracks to draw: the selected session's first (unless pinned), then the pinned ones. */
  private updateTracks(s: TimelineState, trace: WebTrace): void {
    const ids: bigint[] = [];
    const pinned = s.pinnedSessions ?? [];
    if (s.selectedSession !== null && !pinned.includes(s.selectedSession)) {
      ids.push(s.selectedSession);
    }
    for (const id of pinned) ids.push(id);
    const next: IoCountTrack[] = [];
    for (const id of ids) {
      let tr = this.trackCache.get(id);
      if (!tr) {
        tr = new IoCountTrack(id);
        this.trackCache.set(id, tr);
      }
      tr.update(trace);
      next.push(tr);
    }
    // Forget tracks no longer shown (they rebuild cheaply when asked again).
    for (const id of this.trackCache.keys()) if (!ids.includes(id)) this.trackCache.delete(id);
    this.tracks = next;
  }

  private draw(state: TimelineState): void {
    const ctx = this.ctx;
    const pen = this.pen;
    const dpr = this.dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    pen.fillStyle(COLORS.bg);
    ctx.fillRect(0, 0, this.cssW, this.cssH);
    const trace = state.trace;
    const lanes: readonly Lane[] = trace ? shownLanes(trace) : [];
    if (trace) this.updateTracks(state, trace);
    else this.tracks = [];
    const chatRows = trace ? this.chat.update(trace) : 0;
    const layout = computeLayout(
      this.cssW,
      this.cssH,
      lanes.length,
      this.scrollY,
      this.tracks.length + chatRows,
    );
    this.scrollY = layout.scrollY;
    drawLegend(pen, layout);
    if (!trace || trace.count === 0) {
      this.geom = null;
      drawEmpty(pen, layout, trace ? 'Waiting for events…' : 'No trace loaded');
      this.writeProbe(null, '');
      return;
    }

    // The window: the model's, clamped into the trace (or the whole trace if unset).
    const full = fullView(trace, state.windowed);
    this.fullStartNs = full.startNs;
    this.fullEndNs = full.endNs;
    let vs = state.viewStartNs;
    let ve = state.viewEndNs;
    if (!(ve > vs)) {
      vs = full.startNs;
      ve = full.endNs;
    }
    const v = clampView(vs, ve, full.startNs, full.endNs, MIN_VIEW_NS);
    const plotW = layout.plotX1 - layout.plotX0;
    if (this.rowOfLane.length < trace.lanesById.length) {
      this.rowOfLane = new Int32Array(trace.lanesById.length * 2);
    }
    this.rowOfLane.fill(-1);
    for (let r = 0; r < lanes.length; r++) this.rowOfLane[lanes[r]!.id] = r;
    const g: Geom = {
      layout,
      t0: v.startNs,
      t1: v.endNs,
      nsPerPx: (v.endNs - v.startNs) / plotW,
      rowOfLane: this.rowOfLane,
      lanes,
    };
    this.geom = g;
    this.panZoom.update(
      v.startNs,
      v.endNs,
      {
        fullStartNs: full.startNs,
        fullEndNs: full.endNs,
        x0Px: layout.plotX0,
        x1Px: layout.plotX1,
      },
      this.cssH,
    );

    // ---- raster: tracks and lanes -------------------------------------------------
    const cols = Math.max(1, Math.round(plotW * dpr));
    const rasterY0 = layout.queueY0;
    const rows = Math.max(1, Math.round((layout.lanesY1 - rasterY0) * dpr));
    const r = this.raster;
    this.scratch.ensure(cols);
    const cg: Columns = { t0: v.startNs, nsPerCol: (v.endNs - v.startNs) / cols, cols };
    // A window of a trace the server holds: its summaries outside the window.
    const under = underlayFor(state.windowed, cg);
    const dy = (y: number): number => Math.round((y - rasterY0) * dpr);
    // One band at a time (raster.ts): the tracks, then each visible lane.
    const putX = Math.round(layout.plotX0 * dpr);
    const putY = Math.round(rasterY0 * dpr);

    const runMax = Math.max(trace.running.maxValue, trace.concurrency, trace.workerCount, 1);
    r.band(cols, dy(layout.queueY0), dy(layout.queueY1), packRgb(RGB.laneOdd));
    const queueMax = drawCounterTrack(
      r,
      trace,
      'queue',
      cg,
      dy(layout.queueY0) + 2,
      dy(layout.queueY1),
      0,
      0,
      this.scratch,
      under,
    );
    r.put(ctx, putX, putY);
    r.band(cols, dy(layout.runY0), dy(layout.runY1), packRgb(RGB.laneOdd));
    drawCounterTrack(
      r,
      trace,
      'running',
      cg,
      dy(layout.runY0) + 2,
      dy(layout.runY1),
      runMax,
      trace.concurrency,
      this.scratch,
      under,
    );
    r.put(ctx, putX, putY);

    const parts = laneParts(layout.laneH);
    const clipTop = dy(layout.lanesY0);
    const sparse = new Uint8Array(lanes.length);
    for (let row = 0; row < lanes.length; row++) {
      const top = laneTop(layout, row);
      if (top + layout.laneH <= layout.lanesY0 || top >= layout.lanesY1) continue;
      const lane = lanes[row]!;
      const bg = row & 1 ? RGB.laneOdd : RGB.laneEven;
      const bandY1 = Math.min(rows, dy(top + layout.laneH));
      const bandY0 = Math.max(clipTop, dy(top));
      if (bandY1 <= bandY0) continue;
      r.band(cols, bandY0, bandY1, packRgb(bg));
      const marksOnly = lane.states.length === 0;
      const y0 = Math.max(clipTop, dy(top + parts.barY));
      const y1 = marksOnly ? y0 : dy(top + parts.barY + parts.barH);
      const flagsOf = drawLaneStates(r, trace, lane, cg, y0, y1, bg, this.scratch, under);
      const my0 = Math.max(clipTop, marksOnly ? dy(top + 3) : dy(top + parts.markY));
      const my1 = marksOnly ? dy(top + layout.laneH - 3) : dy(top + parts.markY + parts.markH);
      const limit = cols / 4;
      let bits = 0;
      if (flagsOf === 'all') {
        paintMarks(r, cols, my0, my1, this.scratch.flags);
      } else {
        if (flagsOf === 'states' && visibleCount(trace, lane.states, cg) > limit) {
          paintMarks(r, cols, my0, my1, this.scratch.flags);
        } else if (lane.states.length > 0) bits |= 1;
        if (!drawMarksDense(r, trace, lane.marks, cg, my0, my1, limit, this.scratch)) bits |= 2;
      }
      if (under !== null && fillLaneFlags(under, lane.tid, cg, this.scratch.flags)) {
        paintMarks(r, cols, my0, my1, this.scratch.flags);
      }
      sparse[row] = bits;
      r.put(ctx, putX, putY);
    }
    pen.invalidate();

    // ---- vector overlays ---------------------------------------------------------
    drawGrid(pen, g);
    drawConcurrencyLine(pen, trace, g, runMax);
    ctx.save();
    ctx.beginPath();
    ctx.rect(layout.plotX0, layout.lanesY0, plotW, layout.lanesY1 - layout.lanesY0);
    ctx.clip();
    pen.invalidate();
    for (let row = 0; row < lanes.length; row++) {
      const lane = lanes[row]!;
      const marksOnly = lane.states.length === 0;
      if (sparse[row]! & 1) drawMarksSparse(pen, trace, g, lane.states, row, marksOnly);
      if (sparse[row]! & 2) drawMarksSparse(pen, trace, g, lane.marks, row, marksOnly);
    }
    if (chatRows > 0) this.chat.drawFlushes(pen, trace, g);
    if (state.highlightLock != null) this.chat.drawLock(pen, trace, g, state.highlightLock);
    this.drawFlowsAndSession(state, trace, g);
    ctx.restore();
    pen.invalidate();
    drawSessionTracks(pen, trace, g, this.tracks);
    if (chatRows > 0) this.chat.drawTracks(pen, trace, g, this.tracks.length);
    // Rings over lanes and tracks: search matches, then the framed finding's evidence.
    ctx.save();
    ctx.beginPath();
    ctx.rect(layout.plotX0, layout.queueY0, plotW, layout.plotY1 - layout.queueY0);
    ctx.clip();
    pen.invalidate();
    if (state.searchMatches && state.searchMatches.length > 0) {
      drawSearchMatches(pen, trace, g, this.tracks, state.searchMatches);
    }
    if (state.evidence && state.evidence.length > 0) {
      drawRings(
        pen,
        trace,
        g,
        this.tracks,
        state.evidence,
        0,
        state.evidence.length,
        COLORS.finding,
        14,
      );
    }
    ctx.restore();
    pen.invalidate();
    drawAxis(pen, g);
    // After the axis band, which drawAxis fills: gap labels, finding diamonds and
    // marker flags sit on it. Tick labels come last and leave room for them and
    // for the cursor's time flag.
    const reserved = this.axisReserved;
    reserved.length = 0;
    drawGaps(pen, trace, g, reserved);
    const gone = state.windowed?.availableFromNs ?? null;
    if (gone !== null) drawUnavailable(pen, g, gone, 'no longer available: beyond the live spool');
    if (state.findings && state.findings.length > 0) drawFindings(pen, trace, g, state.findings);
    drawMarkers(pen, trace, g, reserved);
    if (state.range) {
      // The event count on the axis is every thread's; with lanes chosen, the panel counts them.
      const r = state.range;
      const n =
        r.tids === null
          ? trace.upperBoundTime(r.endNs) - trace.lowerBoundTime(r.startNs)
          : undefined;
      drawRange(pen, g, r, false, reserved, n);
    }
    if (this.drag) drawRange(pen, g, this.rangeOf(g, this.drag), true, reserved);
    const flag = cursorFlag(pen, trace, g, state.cursor);
    if (flag) reserved.push(flag.x, flag.x + flag.w);
    drawAxisLabels(pen, g, reserved);
    drawGutter(pen, trace, g, queueMax, runMax);
    drawTrackLabels(pen, g, this.tracks, state.pinnedSessions ?? [], state.selectedSession);
    if (chatRows > 0) this.chat.drawLabels(pen, g, this.tracks.length);
    this.drawOverview(state, trace, layout);
    drawCursor(pen, trace, g, state.cursor);
    let hover = '';
    if (state.hoverIndex >= 0) hover = drawHover(pen, trace, g, state.hoverIndex) ?? '';
    else if (this.spanHover) {
      const h = this.spanHover;
      drawTooltip(pen, layout, h.x, h.y, h.line1, h.line2);
      hover = h.line2 ? `${h.line1}\n${h.line2}` : h.line1;
    }
    this.writeProbe(g, hover);
  }

  /** The e2e probe on the host element (see the header); DOM writes only when it changed. */
  private writeProbe(g: Geom | null, hover: string): void {
    let geom = '';
    if (g) {
      const l = g.layout;
      geom = JSON.stringify({
        t0: g.t0,
        t1: g.t1,
        x0: l.plotX0,
        x1: l.plotX1,
        queue: [l.queueY0, l.queueY1],
        running: [l.runY0, l.runY1],
        lanes: g.lanes.map((lane, row) => ({
          name: lane.name,
          tid: lane.tid,
          y0: laneTop(l, row),
          y1: laneTop(l, row) + l.laneH,
        })),
        lanesY: [l.lanesY0, l.lanesY1],
        tracks: this.tracks.map((tr, k) => ({
          session: `0x${tr.session.toString(16)}`,
          y0: sessionTrackTop(l, k),
          y1: sessionTrackTop(l, k) + SESSION_TRACK_H,
          changes: tr.length,
          min: tr.min,
          max: tr.max,
        })),
        plotY1: l.plotY1,
        height: l.heightPx,
        ...(this.chat.rows > 0 && this.model.getState().trace
          ? {
              chat: this.chat.probe(
                this.model.getState().trace!,
                g,
                this.tracks.length,
                this.model.getState().cursor,
              ),
            }
          : {}),
      });
    }
    if (geom !== this.probeGeom) {
      this.probeGeom = geom;
      this.host.dataset['geom'] = geom;
    }
    if (hover !== this.probeHover) {
      this.probeHover = hover;
      this.host.dataset['hover'] = hover;
    }
  }

  private drawFlowsAndSession(state: TimelineState, trace: WebTrace, g: Geom): void {
    const ret = trace.returns.idx;
    const k0 = trace.lowerBoundColumnTime(ret, g.t0, 0, ret.length);
    const k1 = trace.upperBoundColumnTime(ret, g.t1, k0, ret.length);
    if (k1 - k0 <= ALL_FLOWS_LIMIT) {
      let n = 0;
      for (let k = k0; k < k1; k++) this.positions[n++] = k;
      drawFlows(this.pen, trace, g, this.positions, n, COLORS.flow, 1);
    }
    const sel = state.selectedSession;
    if (sel !== null) {
      const list = trace.sessionEvents(sel);
      if (this.ringLastX.length < g.lanes.length)
        this.ringLastX = new Float64Array(g.lanes.length * 2);
      drawEventRings(this.pen, trace, g, list, COLORS.session, this.ringLastX);
      const j0 = trace.lowerBoundColumnTime(list, g.t0, 0, list.length);
      const j1 = trace.upperBoundColumnTime(list, g.t1, j0, list.length);
      let n = 0;
      const w = trace.words;
      for (let j = j0; j < j1 && n < SESSION_FLOWS_LIMIT; j++) {
        const e = list[j]!;
        if ((w[e * RECORD_WORDS]! & 0xff) !== EventKind.GqcsReturn) continue;
        const k = ret.lowerBound(e);
        if (k < ret.length && ret.get(k) === e) this.positions[n++] = k;
      }
      drawFlows(this.pen, trace, g, this.positions, n, COLORS.flowSelected, 2);
    }
    // The cursor's and the hovered event's own flows, on top.
    let n = 0;
    for (const i of [state.cursor, state.hoverIndex]) {
      if (i < 0 || i >= trace.count) continue;
      const k = trace.flowOfEvent(i);
      if (k >= 0) this.positions[n++] = k;
    }
    if (n > 0) drawFlows(this.pen, trace, g, this.positions, n, COLORS.cursor, 2);
    // A broadcast's fan-out to its members' send completions.
    if (this.chat.rows > 0)
      this.chat.drawFanOut(this.pen, trace, g, state.cursor, state.hoverIndex);
  }

  private drawOverview(state: TimelineState, trace: WebTrace, l: Layout): void {
    const ctx = this.ctx;
    const pen = this.pen;
    const dpr = this.dpr;
    const x0 = l.plotX0;
    const w = l.plotX1 - l.plotX0;
    const y0 = l.overviewY0 + 4;
    const h = l.overviewY1 - l.overviewY0 - 8;
    const wDev = Math.max(1, Math.round(w * dpr));
    const hDev = Math.max(1, Math.round(h * dpr));
    if (this.overview.stale(trace, wDev, hDev, state.windowed)) {
      const now = performance.now();
      const sizeChanged = this.overview.image() === null || wDev !== this.overview.image()!.width;
      if (sizeChanged || now - this.overview.lastRenderMs >= OVERVIEW_REFRESH_MS) {
        this.overview.render(
          trace,
          this.fullStartNs,
          this.fullEndNs,
          wDev,
          hDev,
          this.scratch,
          now,
          state.windowed,
        );
        this.overviewStale = false;
      } else if (!this.overviewTimer) {
        this.overviewStale = true;
        this.overviewTimer = window.setTimeout(() => {
          this.overviewTimer = 0;
          this.scheduler.schedule();
        }, OVERVIEW_REFRESH_MS);
      }
    }
    const img = this.overview.image();
    pen.fillStyle(COLORS.bg);
    ctx.fillRect(x0, l.overviewY0, w, l.overviewY1 - l.overviewY0);
    if (img) ctx.drawImage(img, x0, y0, w, h);
    // Viewport window.
    const span = this.fullEndNs - this.fullStartNs;
    const g = this.geom!;
    const vx0 = x0 + ((g.t0 - this.fullStartNs) / span) * w;
    const vx1 = x0 + ((g.t1 - this.fullStartNs) / span) * w;
    pen.fillStyle(COLORS.viewportShade);
    ctx.fillRect(x0, y0, Math.max(0, vx0 - x0), h);
    ctx.fillRect(vx1, y0, Math.max(0, x0 + w - vx1), h);
    pen.strokeStyle(COLORS.viewport);
    pen.lineWidth(1);
    pen.lineDash('');
    ctx.strokeRect(Math.round(vx0) + 0.5, y0 + 0.5, Math.max(2, Math.round(vx1 - vx0) - 1), h - 1);
    if (state.cursor >= 0 && state.cursor < trace.count) {
      const cx =
        Math.round(x0 + ((trace.timeAt(state.cursor) - this.fullStartNs) / span) * w) + 0.5;
      pen.strokeStyle(COLORS.cursor);
      ctx.beginPath();
      ctx.moveTo(cx, y0);
      ctx.lineTo(cx, y0 + h);
      ctx.stroke();
    }
    pen.strokeStyle(COLORS.divider);
    ctx.beginPath();
    ctx.moveTo(0, l.overviewY1 - 0.5);
    ctx.lineTo(l.plotX1, l.overviewY1 - 0.5);
    ctx.stroke();
  }

  /** Pixel x of a time in the current frame (for tests and the app's overlays). */
  xOfTime(ns: number): number {
    return this.geom ? xOf(this.geom, ns) : NaN;
  }
}
