// The chat server's views on the timeline (issue 18 §3), one layer the
// renderer calls at fixed points, reading only the trace (through ChatModel):
// - a job-queue track per room under the session tracks: the queue's length
//   as a step line, and each flush as a bar on the track's floor, in the
//   colour of the thread that ran it (a second flush open at once is drawn
//   above the first, in red: rule 17's bug);
// - a SendBuffer pool gauge track: the pool's free buffers, with a red tick
//   where an Acquire found it empty;
// - flush slices on the worker lanes: a band along the top of the thread's
//   bar in the room's colour, labelled with the room when wide enough (the
//   same flush as on the room's track: the link between the two);
// - a highlighted lock (hovered in the lock view) on every lane: its holds
//   (green, amber when someone waited meanwhile) and waits (red);
// - a broadcast's fan-out: curves from the Broadcast (in its flush) to each
//   member's send completion that released the buffer, for the broadcast at
//   the cursor or under the pointer, or every broadcast of the flush the
//   cursor is in.
// Loops run over the visible slice of each column (binary search by time).

import { EventKind } from '@iocpscope/protocol';
import { ChatModel, OPEN, type QueueTrack, type WebTrace } from '../trace/index.ts';
import { formatCount, formatDurationNs } from '../lib/format.ts';
import { eventY, xOf, type Geom } from './drawVector.ts';
import type { Pick } from './hitTest.ts';
import { laneParts, laneTop, SESSION_TRACK_H, sessionTrackAt, sessionTrackTop } from './layout.ts';
import type { Pen } from './pen.ts';
import { COLORS, FONT, FONT_BOLD, FONT_MONO } from './theme.ts';

/** A room's colour (its flush slices on the lanes). */
export function roomColor(queueId: number, alpha = 1): string {
  const hue = (queueId * 67 + 200) % 360;
  return `hsla(${hue}, 70%, 60%, ${alpha})`;
}

/** A thread's colour (the flush bars on a room's track). */
function threadColor(tid: number): string {
  const hue = (tid * 97 + 30) % 360;
  return `hsl(${hue}, 55%, 58%)`;
}

const FLUSH_BAR_H = 6;
const SLICE_H = 4;

export class ChatLayer {
  readonly model = new ChatModel();
  private queues: QueueTrack[] = [];
  private pool = false;

  /** Bring the model up to date; returns how many track rows the chat views need. */
  update(trace: WebTrace): number {
    this.model.update(trace);
    this.queues = this.model.queueList();
    this.pool = this.model.poolEvents.length > 0;
    return this.queues.length + (this.pool ? 1 : 0);
  }

  get rows(): number {
    return this.queues.length + (this.pool ? 1 : 0);
  }

  // ---- tracks -----------------------------------------------------------------------

  /** The queue tracks and the pool gauge, as rows first, first + 1, ... of the track area. */
  drawTracks(pen: Pen, trace: WebTrace, g: Geom, first: number): void {
    const l = g.layout;
    const ctx = pen.ctx;
    for (let k = 0; k < this.rows; k++) {
      const top = sessionTrackTop(l, first + k);
      pen.fillStyle(COLORS.laneOdd);
      ctx.fillRect(l.plotX0, top, l.plotX1 - l.plotX0, SESSION_TRACK_H);
      ctx.save();
      ctx.beginPath();
      ctx.rect(l.plotX0, top, l.plotX1 - l.plotX0, SESSION_TRACK_H);
      ctx.clip();
      pen.invalidate();
      const q = this.queues[k];
      if (q !== undefined) this.drawQueue(pen, trace, g, q, top);
      else this.drawPool(pen, trace, g, top);
      ctx.restore();
      pen.invalidate();
    }
  }

  private drawQueue(pen: Pen, trace: WebTrace, g: Geom, q: QueueTrack, top: number): void {
    const ctx = pen.ctx;
    const l = g.layout;
    // Flush bars on the floor: one row, a second row for a flush open beside another.
    const n = q.flushBegin.length;
    const fb = q.flushBegin.data;
    const fe = q.flushEnd.data;
    const j0 = Math.max(0, trace.lowerBoundColumnTime(fb.subarray(0, n), g.t0, 0, n) - 8);
    const floor = top + SESSION_TRACK_H - FLUSH_BAR_H - 2;
    let lastEnd = -Infinity;
    for (let j = j0; j < n; j++) {
      const t0 = trace.timeAt(fb[j]!);
      if (t0 > g.t1) break;
      const t1 = fe[j] === OPEN ? trace.endNs : trace.timeAt(fe[j]!);
      if (t1 < g.t0) {
        lastEnd = Math.max(lastEnd, t1);
        continue;
      }
      const overlapped = t0 < lastEnd;
      lastEnd = Math.max(lastEnd, t1);
      const x0 = Math.max(l.plotX0, xOf(g, t0));
      const x1 = Math.min(l.plotX1, Math.max(xOf(g, t1), x0 + 1.5));
      pen.fillStyle(overlapped ? COLORS.fail : threadColor(q.flushTid.data[j]!));
      ctx.fillRect(x0, overlapped ? floor - FLUSH_BAR_H - 1 : floor, x1 - x0, FLUSH_BAR_H);
    }
    // The length: a step line over the bars.
    const ev = q.events.data;
    const m = q.events.length;
    const hi = Math.max(1, q.max);
    const yOf = (v: number): number =>
      top +
      SESSION_TRACK_H -
      FLUSH_BAR_H * 2 -
      4 -
      (v / hi) * (SESSION_TRACK_H - FLUSH_BAR_H * 2 - 10);
    const k0 = trace.lowerBoundColumnTime(ev.subarray(0, m), g.t0, 0, m);
    const k1 = trace.upperBoundColumnTime(ev.subarray(0, m), g.t1, k0, m);
    let v = k0 > 0 ? q.lengths.data[k0 - 1]! : 0;
    ctx.beginPath();
    let x = l.plotX0;
    ctx.moveTo(x, yOf(v));
    const dense = k1 - k0 > (l.plotX1 - l.plotX0) * 2;
    let col = -1;
    for (let k = k0; k < k1; k++) {
      const xe = xOf(g, trace.timeAt(ev[k]!));
      const nv = q.lengths.data[k]!;
      if (dense && Math.floor(xe) === col) {
        ctx.moveTo(xe, yOf(Math.max(v, nv)));
        ctx.lineTo(xe, yOf(Math.min(v, nv)));
      } else {
        ctx.lineTo(xe, yOf(v));
        ctx.lineTo(xe, yOf(nv));
        col = Math.floor(xe);
      }
      x = xe;
      v = nv;
    }
    ctx.lineTo(Math.min(l.plotX1, Math.max(x, xOf(g, trace.endNs))), yOf(v));
    pen.strokeStyle(roomColor(q.queueId));
    pen.lineWidth(1.5);
    pen.lineDash('');
    ctx.stroke();
  }

  private drawPool(pen: Pen, trace: WebTrace, g: Geom, top: number): void {
    const ctx = pen.ctx;
    const l = g.layout;
    const m = this.model;
    const ev = m.poolEvents.data.subarray(0, m.poolEvents.length);
    const n = ev.length;
    const hi = Math.max(1, m.poolMax);
    const pad = 5;
    const yOf = (v: number): number =>
      top + SESSION_TRACK_H - pad - (v / hi) * (SESSION_TRACK_H - 2 * pad);
    const k0 = trace.lowerBoundColumnTime(ev, g.t0, 0, n);
    const k1 = trace.upperBoundColumnTime(ev, g.t1, k0, n);
    let v = k0 > 0 ? m.poolFree.data[k0 - 1]! : hi;
    ctx.beginPath();
    let x = l.plotX0;
    ctx.moveTo(x, yOf(v));
    for (let k = k0; k < k1; k++) {
      const xe = xOf(g, trace.timeAt(ev[k]!));
      ctx.lineTo(xe, yOf(v));
      v = m.poolFree.data[k]!;
      ctx.lineTo(xe, yOf(v));
      x = xe;
    }
    ctx.lineTo(Math.min(l.plotX1, Math.max(x, xOf(g, trace.endNs))), yOf(v));
    pen.strokeStyle(COLORS.send);
    pen.lineWidth(1.5);
    pen.lineDash('');
    ctx.stroke();
    // Running dry: a red tick at each PoolEmpty.
    const e = m.poolEmpty.data.subarray(0, m.poolEmpty.length);
    const e0 = trace.lowerBoundColumnTime(e, g.t0, 0, e.length);
    const e1 = trace.upperBoundColumnTime(e, g.t1, e0, e.length);
    if (e1 > e0) {
      pen.fillStyle(COLORS.fail);
      for (let k = e0; k < e1; k++)
        ctx.fillRect(xOf(g, trace.timeAt(e[k]!)) - 1, top + 2, 2, SESSION_TRACK_H - 4);
    }
  }

  /** Labels in the gutter. */
  drawLabels(pen: Pen, g: Geom, first: number): void {
    const ctx = pen.ctx;
    const l = g.layout;
    pen.textBaseline('middle');
    for (let k = 0; k < this.rows; k++) {
      const top = sessionTrackTop(l, first + k);
      const q = this.queues[k];
      pen.fillStyle(q !== undefined ? roomColor(q.queueId) : COLORS.send);
      ctx.fillRect(6, top + 6, 3, SESSION_TRACK_H - 12);
      pen.textAlign('left');
      pen.font(FONT_BOLD);
      pen.fillStyle(COLORS.text);
      ctx.fillText(q !== undefined ? `room ${q.queueId}` : 'SendBuffers', 14, top + 11);
      pen.font(FONT_MONO);
      pen.fillStyle(COLORS.textDim);
      ctx.fillText(
        q !== undefined
          ? `job queue · ${formatCount(q.flushBegin.length)} flushes`
          : `pool · ${formatCount(this.model.poolMax)} free max`,
        14,
        top + 25,
      );
    }
  }

  // ---- on the lanes ---------------------------------------------------------------------

  /** Flush slices along the top of each worker's bar. */
  drawFlushes(pen: Pen, trace: WebTrace, g: Geom): void {
    const ctx = pen.ctx;
    const l = g.layout;
    const parts = laneParts(l.laneH);
    pen.font(FONT);
    pen.textBaseline('middle');
    pen.textAlign('left');
    for (const [tid, f] of this.model.lanes) {
      const lane = trace.laneOfTid(tid);
      if (lane === undefined) continue;
      const row = g.rowOfLane[lane.id]!;
      if (row < 0) continue;
      const y = laneTop(l, row) + parts.barY;
      if (y + l.laneH < l.lanesY0 || y > l.lanesY1) continue;
      const n = f.begin.length;
      const b = f.begin.data.subarray(0, n);
      const j0 = Math.max(0, trace.lowerBoundColumnTime(b, g.t0, 0, n) - 8);
      for (let j = j0; j < n; j++) {
        const t0 = trace.timeAt(b[j]!);
        if (t0 > g.t1) break;
        const end = f.end.data[j]!;
        const t1 = end === OPEN ? trace.endNs : trace.timeAt(end);
        if (t1 < g.t0) continue;
        const x0 = Math.max(l.plotX0, xOf(g, t0));
        const x1 = Math.min(l.plotX1, Math.max(xOf(g, t1), x0 + 1.5));
        const q = f.queue.data[j]!;
        pen.fillStyle(roomColor(q, 0.22));
        ctx.fillRect(x0, y, x1 - x0, parts.barH);
        pen.fillStyle(roomColor(q));
        ctx.fillRect(x0, y, x1 - x0, SLICE_H);
        if (x1 - x0 > 48 && parts.barH >= 10) {
          pen.fillStyle(COLORS.text);
          ctx.fillText(`room ${q}`, x0 + 3, y + SLICE_H + (parts.barH - SLICE_H) / 2);
        }
      }
    }
  }

  /** A lock's holds and waits on every lane (the lock hovered in the lock view). */
  drawLock(pen: Pen, trace: WebTrace, g: Geom, lockId: number): void {
    const lt = this.model.locks.get(lockId);
    if (lt === undefined) return;
    const ctx = pen.ctx;
    const l = g.layout;
    const parts = laneParts(l.laneH);
    const span = (from: number, to: number, tid: number, fill: string, stroke: string): void => {
      const lane = trace.laneOfTid(tid);
      if (lane === undefined) return;
      const row = g.rowOfLane[lane.id]!;
      if (row < 0) return;
      const t0 = trace.timeAt(from);
      const t1 = to === OPEN ? trace.endNs : trace.timeAt(to);
      if (t1 < g.t0 || t0 > g.t1) return;
      const x0 = Math.max(l.plotX0, xOf(g, t0));
      const x1 = Math.min(l.plotX1, Math.max(xOf(g, t1), x0 + 2));
      const y = laneTop(l, row) + parts.barY;
      pen.fillStyle(fill);
      ctx.fillRect(x0, y, x1 - x0, parts.barH);
      pen.strokeStyle(stroke);
      pen.lineWidth(1.5);
      ctx.strokeRect(x0 + 0.5, y + 0.5, x1 - x0 - 1, parts.barH - 1);
    };
    for (let k = 0; k < lt.holdFrom.length; k++) {
      const c = lt.holdContended.data[k] === 1;
      span(
        lt.holdFrom.data[k]!,
        lt.holdTo.data[k]!,
        lt.holdTid.data[k]!,
        c ? 'rgba(245,158,11,0.35)' : 'rgba(63,178,127,0.30)',
        c ? '#f59e0b' : COLORS.running,
      );
    }
    for (let k = 0; k < lt.waitFrom.length; k++) {
      span(
        lt.waitFrom.data[k]!,
        lt.waitTo.data[k]!,
        lt.waitTid.data[k]!,
        'rgba(255,77,79,0.35)',
        COLORS.fail,
      );
    }
  }

  /** Fan-out curves of the broadcasts at the cursor, under the pointer, or in the cursor's flush. */
  drawFanOut(pen: Pen, trace: WebTrace, g: Geom, cursor: number, hover: number): void {
    const list: number[] = [];
    for (const i of [cursor, hover]) {
      if (i < 0 || i >= trace.count) continue;
      if (trace.kindAt(i) === EventKind.Broadcast) list.push(i);
    }
    if (list.length === 0 && cursor >= 0 && cursor < trace.count) {
      for (const b of this.broadcastsInFlush(trace, cursor)) list.push(b);
    }
    if (list.length === 0) return;
    const ctx = pen.ctx;
    ctx.beginPath();
    for (const b of list) {
      const fan = this.model.fanOut(trace, b);
      if (fan === null) continue;
      const x0 = xOf(g, trace.timeAt(b));
      const y0 = eventY(trace, g, b);
      if (Number.isNaN(y0)) continue;
      for (const c of fan.completions) {
        const x = xOf(g, trace.timeAt(c));
        const y = eventY(trace, g, c);
        if (Number.isNaN(y)) continue;
        const dx = Math.max(8, Math.abs(x - x0) * 0.5);
        ctx.moveTo(x0, y0);
        ctx.bezierCurveTo(x0 + dx, y0, x - dx, y, x, y);
      }
    }
    pen.strokeStyle('#f472b6');
    pen.lineWidth(1.5);
    pen.lineDash('');
    ctx.stroke();
  }

  /** The Broadcasts inside the flush that event `i` belongs to (a JobFlush record, or an event in it). */
  broadcastsInFlush(trace: WebTrace, i: number): number[] {
    const tid = trace.tidAt(i);
    const f = this.model.lanes.get(tid);
    if (f === undefined) return [];
    const k = this.model.flushAt(tid, i);
    if (k < 0) return [];
    const from = f.begin.data[k]!;
    const to = f.end.data[k] === OPEN ? trace.count - 1 : f.end.data[k]!;
    const out: number[] = [];
    const b = this.model.broadcasts;
    for (let j = lowerPos(b.data, b.length, from); j < b.length && b.data[j]! <= to; j++) {
      if (trace.tidAt(b.data[j]!) === tid) out.push(b.data[j]!);
    }
    return out;
  }

  // ---- hit testing and the probe ----------------------------------------------------------

  /** A chat track under the pointer, or a flush slice on a lane: a span; null when neither. */
  pick(trace: WebTrace, g: Geom, first: number, x: number, y: number): Pick | null {
    const l = g.layout;
    if (x < l.plotX0) return null;
    const t = g.t0 + (x - l.plotX0) * g.nsPerPx;
    const k = sessionTrackAt(l, y) - first;
    if (k >= 0 && k < this.rows) {
      const q = this.queues[k];
      if (q === undefined) {
        const m = this.model;
        const ev = m.poolEvents.data.subarray(0, m.poolEvents.length);
        const p = trace.upperBoundColumnTime(ev, t, 0, ev.length) - 1;
        const free = p >= 0 ? m.poolFree.data[p]! : m.poolMax;
        return {
          kind: 'span',
          from: p >= 0 ? ev[p]! : -1,
          line1: `SendBuffer pool: ${formatCount(free)} free`,
          line2: `${formatCount(m.poolEmpty.length)} times empty in the trace`,
        };
      }
      // A flush bar under the pointer (the latest begun by then, a few back), else the queue's length.
      const fb = q.flushBegin.data.subarray(0, q.flushBegin.length);
      const last = trace.upperBoundColumnTime(fb, t, 0, fb.length) - 1;
      for (let j = last; j >= 0 && j > last - 8; j--) {
        const end = q.flushEnd.data[j]!;
        const t1 = end === OPEN ? trace.endNs : trace.timeAt(end);
        if (t1 + g.nsPerPx * 2 < t) continue;
        return this.flushSpan(
          trace,
          q.queueId,
          fb[j]!,
          end,
          q.flushTid.data[j]!,
          q.flushRan.data[j]!,
        );
      }
      const ev = q.events.data.subarray(0, q.events.length);
      const p = trace.upperBoundColumnTime(ev, t, 0, ev.length) - 1;
      return {
        kind: 'span',
        from: p >= 0 ? ev[p]! : -1,
        line1: `room ${q.queueId}: ${p >= 0 ? q.lengths.data[p]! : 0} jobs queued`,
        line2: `${formatCount(q.pushes)} jobs pushed, ${formatCount(q.flushBegin.length)} flushes`,
      };
    }
    // A flush slice on a lane.
    if (y < l.lanesY0 || y >= l.lanesY1) return null;
    const row = Math.floor((y - l.lanesY0 + l.scrollY) / l.laneH);
    const lane = g.lanes[row];
    if (lane === undefined) return null;
    const f = this.model.lanes.get(lane.tid);
    if (f === undefined) return null;
    // The innermost slice around t: the latest begun by then that has not ended (slices nest).
    const fb = f.begin.data.subarray(0, f.begin.length);
    const last = trace.upperBoundColumnTime(fb, t, 0, fb.length) - 1;
    for (let j = last; j >= 0 && j > last - 16; j--) {
      const end = f.end.data[j]!;
      const t1 = end === OPEN ? trace.endNs : trace.timeAt(end);
      if (t1 < t) continue;
      const q = f.queue.data[j]!;
      return this.flushSpan(trace, q, fb[j]!, end, lane.tid, this.ranOf(q, fb[j]!));
    }
    return null;
  }

  private ranOf(queueId: number, begin: number): number {
    const q = this.model.queues.get(queueId);
    if (q === undefined) return 0;
    const k = lowerPos(q.flushBegin.data, q.flushBegin.length, begin);
    return q.flushBegin.data[k] === begin ? q.flushRan.data[k]! : 0;
  }

  private flushSpan(
    trace: WebTrace,
    queueId: number,
    begin: number,
    end: number,
    tid: number,
    ran: number,
  ): Pick {
    const lane = trace.laneOfTid(tid);
    const who = lane ? lane.name : `thread ${tid}`;
    const dur = (end === OPEN ? trace.endNs : trace.timeAt(end)) - trace.timeAt(begin);
    const broadcasts = this.broadcastsInFlush(trace, begin).length;
    return {
      kind: 'span',
      from: begin,
      line1: `flush of room ${queueId} by ${who}${end === OPEN ? ' (still running)' : ''}`,
      line2: `${formatCount(ran)} jobs, ${formatCount(broadcasts)} broadcasts · ${formatDurationNs(dur)} · #${begin}`,
    };
  }

  /** What the e2e probe says about the chat views (and the fan-out drawn for the cursor). */
  probe(trace: WebTrace, g: Geom, first: number, cursor: number): unknown {
    const l = g.layout;
    const fan: number[] = [];
    let completions = 0;
    if (cursor >= 0 && cursor < trace.count) {
      const list =
        trace.kindAt(cursor) === EventKind.Broadcast
          ? [cursor]
          : this.broadcastsInFlush(trace, cursor);
      for (const b of list) {
        fan.push(b);
        completions += this.model.fanOut(trace, b)?.completions.length ?? 0;
      }
    }
    return {
      fanOut: { broadcasts: fan, completions },
      queues: this.queues.map((q, k) => ({
        room: q.queueId,
        y0: sessionTrackTop(l, first + k),
        y1: sessionTrackTop(l, first + k) + SESSION_TRACK_H,
        flushes: q.flushBegin.length,
        max: q.max,
        // The first flushes in view: begin event, x extent, the lane's thread.
        inView: this.flushesInView(trace, g, q),
      })),
      pool: this.pool
        ? {
            y0: sessionTrackTop(l, first + this.queues.length),
            y1: sessionTrackTop(l, first + this.queues.length) + SESSION_TRACK_H,
            max: this.model.poolMax,
            empty: this.model.poolEmpty.length,
          }
        : null,
      broadcasts: this.model.broadcasts.length,
    };
  }

  private flushesInView(trace: WebTrace, g: Geom, q: QueueTrack): unknown[] {
    const out: unknown[] = [];
    for (let j = 0; j < q.flushBegin.length && out.length < 12; j++) {
      const t0 = trace.timeAt(q.flushBegin.data[j]!);
      if (t0 > g.t1) break;
      const end = q.flushEnd.data[j]!;
      const t1 = end === OPEN ? trace.endNs : trace.timeAt(end);
      if (t1 < g.t0) continue;
      out.push({
        begin: q.flushBegin.data[j],
        x0: xOf(g, t0),
        x1: xOf(g, t1),
        tid: q.flushTid.data[j],
      });
    }
    return out;
  }
}

/** First position of an ascending array (its first n) whose value is >= v. */
function lowerPos(d: Uint32Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (d[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
