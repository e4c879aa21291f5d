// Per-pixel-column aggregation of the trace indexes for the visible window.
// Column c covers [t0 + c*nsPerCol, t0 + (c+1)*nsPerCol). Every function sweeps
// the columns left to right once, starting from one binary search, and skips
// whole SERIES_BLOCK / STATE_BLOCK blocks that fall inside a column through
// their summaries, so the cost is O(columns + visible items / block) instead of
// O(visible items). When a column spans at least two time buckets
// (useBuckets), the *Buckets variants read the trace's fixed-size time-bucket
// summaries instead, in O(buckets in view), independent of the event count;
// they are exact up to the bucket grid (a bucket's marks land in the column
// holding its midpoint; a counter spike counts in every column its bucket
// touches). Outputs go into caller-owned typed arrays (no allocation per frame).

import { RECORD_WORDS, ThreadStateValue, TS_HI_MASK } from '@iocpscope/protocol';
import type { CounterBuckets, EventSeries, Lane, WebTrace } from '../trace/index.ts';
import { markFlagsAt, SERIES_BLOCK, STATE_BLOCK, stateAt, stepAt } from '../trace/index.ts';

const TWO_32 = 4294967296;

function tsOf(w: Uint32Array, i: number): number {
  const o = i * RECORD_WORDS;
  return w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
}

/**
 * Fraction of each column the lane spent waiting, running and blocked
 * (0..1 each; their sum is the part of the column covered by a known state).
 * Time after the trace end is unknown and stays uncovered. With `outFlags`,
 * the same pass ORs the MarkFlags of the state entries (the lane's GQCS
 * returns) per column: entries in (left, right] of each column.
 */
export function aggregateStates(
  trace: WebTrace,
  lane: Lane,
  t0: number,
  nsPerCol: number,
  cols: number,
  outWait: Float32Array,
  outRun: Float32Array,
  outBlock: Float32Array,
  outFlags?: Uint8Array,
): void {
  const w = trace.words;
  const bor = lane.states.blockOr.data;
  let f = 0;
  const col = lane.states.idx;
  const n = lane.states.length;
  const cum = lane.stateCum.data;
  const endNs = trace.endNs;
  // Sweep state: entry j is in force from tj; acc* = time per state before tj.
  let j = trace.upperBoundColumnTime(col, t0, 0, n) - 1;
  let accW = 0;
  let accR = 0;
  let accB = 0;
  let tj = 0;
  let sj = -1;
  // Entry j's event (-1 before the first): sequential reads step from it.
  let ej = -1;
  if (j >= 0) {
    // Rebuild acc at entry j from its block prefix.
    const b = Math.floor(j / STATE_BLOCK);
    let k = b * STATE_BLOCK;
    accW = cum[b * 3]!;
    accR = cum[b * 3 + 1]!;
    accB = cum[b * 3 + 2]!;
    ej = col.get(k);
    tj = tsOf(w, ej);
    sj = stateAt(w, ej);
    for (k = k + 1; k <= j; k++) {
      ej = col.getAfter(k, ej);
      const t = tsOf(w, ej);
      if (sj === ThreadStateValue.Waiting) accW += t - tj;
      else if (sj === ThreadStateValue.Running) accR += t - tj;
      else if (sj === ThreadStateValue.Blocked) accB += t - tj;
      tj = t;
      sj = stateAt(w, ej);
    }
  }
  // Cumulative time per state up to the left edge of the current column.
  let prevW = 0;
  let prevR = 0;
  let prevB = 0;
  for (let c = 0; c <= cols; c++) {
    let t = t0 + c * nsPerCol;
    if (t > endNs) t = endNs;
    // Jump whole blocks whose first entry is at or before t.
    let nb = Math.floor(j / STATE_BLOCK) + 1;
    while (nb * STATE_BLOCK < n && tsOf(w, col.get(nb * STATE_BLOCK)) <= t) nb++;
    const target = (nb - 1) * STATE_BLOCK;
    if (target > j) {
      if (outFlags) {
        // Entries skipped by the jump: the rest of j's block one by one, then whole blocks.
        const firstFull = j < 0 ? 0 : Math.floor(j / SERIES_BLOCK) + 1;
        let e = ej;
        for (let k = j + 1; k < firstFull * SERIES_BLOCK && k < target; k++) {
          e = col.getAfter(k, e);
          f |= markFlagsAt(w, e);
        }
        for (let b = firstFull; b < nb - 1; b++) f |= bor[b]!;
        f |= markFlagsAt(w, col.get(target));
      }
      j = target;
      accW = cum[(nb - 1) * 3]!;
      accR = cum[(nb - 1) * 3 + 1]!;
      accB = cum[(nb - 1) * 3 + 2]!;
      ej = col.get(j);
      tj = tsOf(w, ej);
      sj = stateAt(w, ej);
    }
    while (j + 1 < n) {
      const e = col.getAfter(j + 1, ej);
      const te = tsOf(w, e);
      if (te > t) break;
      if (j >= 0) {
        if (sj === ThreadStateValue.Waiting) accW += te - tj;
        else if (sj === ThreadStateValue.Running) accR += te - tj;
        else if (sj === ThreadStateValue.Blocked) accB += te - tj;
      }
      j++;
      ej = e;
      tj = te;
      sj = stateAt(w, e);
      if (outFlags) f |= markFlagsAt(w, e);
    }
    let cw = accW;
    let cr = accR;
    let cb = accB;
    if (j >= 0 && t > tj) {
      if (sj === ThreadStateValue.Waiting) cw += t - tj;
      else if (sj === ThreadStateValue.Running) cr += t - tj;
      else if (sj === ThreadStateValue.Blocked) cb += t - tj;
    }
    if (c > 0) {
      outWait[c - 1] = (cw - prevW) / nsPerCol;
      outRun[c - 1] = (cr - prevR) / nsPerCol;
      outBlock[c - 1] = (cb - prevB) / nsPerCol;
      if (outFlags) outFlags[c - 1] = f;
    }
    f = 0;
    prevW = cw;
    prevR = cr;
    prevB = cb;
  }
}

/**
 * OR of the MarkFlag bits of the series' events per column (0 = nothing there).
 * Returns how many series entries fall in the window.
 */
export function aggregateFlags(
  trace: WebTrace,
  series: EventSeries,
  t0: number,
  nsPerCol: number,
  cols: number,
  out: Uint8Array,
): number {
  out.fill(0, 0, cols);
  const w = trace.words;
  const idx = series.idx;
  const n = series.idx.length;
  const bor = series.blockOr.data;
  const tEnd = t0 + cols * nsPerCol;
  const k0 = trace.lowerBoundColumnTime(idx, t0, 0, n);
  let k = k0;
  // Entry k - 1's event (-1: not known), so the next entry is one step away.
  let prev = k > 0 ? idx.get(k - 1) : -1;
  while (k < n) {
    const e = idx.getAfter(k, prev);
    const t = tsOf(w, e);
    if (t >= tEnd) break;
    const c = Math.floor((t - t0) / nsPerCol);
    const right = t0 + (c + 1) * nsPerCol;
    // A whole block starting here and ending inside this column: take its summary.
    if ((k & (SERIES_BLOCK - 1)) === 0 && k + SERIES_BLOCK <= n) {
      const last =
        k + SERIES_BLOCK < n
          ? idx.getBefore(k + SERIES_BLOCK - 1, idx.get(k + SERIES_BLOCK))
          : idx.get(k + SERIES_BLOCK - 1);
      if (tsOf(w, last) < right) {
        out[c]! |= bor[k / SERIES_BLOCK]!;
        k += SERIES_BLOCK;
        prev = last;
        continue;
      }
    }
    out[c]! |= markFlagsAt(w, e);
    prev = e;
    k++;
  }
  return k - k0;
}

/**
 * Min and max of a step series (queue depth, running threads) per column: the
 * value in force at the column's left edge and every value set inside it.
 * Before the first entry the counter is 0.
 */
export function aggregateMinMax(
  trace: WebTrace,
  series: EventSeries,
  t0: number,
  nsPerCol: number,
  cols: number,
  outMin: Int32Array,
  outMax: Int32Array,
): void {
  const w = trace.words;
  const idx = series.idx;
  const n = series.idx.length;
  const kind = series.kind;
  const bmin = series.blockMin.data;
  const bmax = series.blockMax.data;
  const bfirst = series.blockFirst.data;
  const blocks = series.blockFirst.length;
  let k = trace.upperBoundColumnTime(idx, t0, 0, n);
  let cur = series.valueAfter(w, k - 1);
  // Entry k - 1's event (-1: not known), so the next entry is one step away.
  let prev = k > 0 ? idx.get(k - 1) : -1;
  for (let c = 0; c < cols; c++) {
    const right = t0 + (c + 1) * nsPerCol;
    let mn = cur;
    let mx = cur;
    while (k < n) {
      if ((k & (SERIES_BLOCK - 1)) === 0 && k + SERIES_BLOCK <= n) {
        // The block's last entry, one step back from the next block's first when there is one.
        const last =
          k + SERIES_BLOCK < n
            ? idx.getBefore(k + SERIES_BLOCK - 1, idx.get(k + SERIES_BLOCK))
            : idx.get(k + SERIES_BLOCK - 1);
        if (tsOf(w, last) < right) {
          const b = k / SERIES_BLOCK;
          if (bmin[b]! < mn) mn = bmin[b]!;
          if (bmax[b]! > mx) mx = bmax[b]!;
          k += SERIES_BLOCK;
          prev = last;
          cur = b + 1 < blocks ? bfirst[b + 1]! : series.value;
          continue;
        }
      }
      const e = idx.getAfter(k, prev);
      if (tsOf(w, e) >= right) break;
      cur += stepAt(kind, w, e);
      if (cur < mn) mn = cur;
      if (cur > mx) mx = cur;
      prev = e;
      k++;
    }
    outMin[c] = mn;
    outMax[c] = mx;
  }
}

/**
 * Whether to aggregate from the time buckets: when a column spans at least
 * one bucket, or when it spans a quarter bucket or more and the view is dense
 * (`entriesInView` >= 4 per column), where a bucket's average over 2-4 columns
 * is indistinguishable from the exact walk and an order of magnitude cheaper.
 */
export function useBuckets(
  trace: WebTrace,
  nsPerCol: number,
  entriesInView = 0,
  cols = 1,
): boolean {
  const bw = trace.grid.widthNs;
  return nsPerCol >= bw || (nsPerCol * 4 >= bw && entriesInView >= 4 * cols);
}

/**
 * Bucket path of aggregateStates plus the lane's mark flags per column: the
 * OR of the buckets whose midpoint falls in the column, or, when buckets are
 * wider than columns, of every bucket overlapping it.
 */
export function aggregateLaneBuckets(
  trace: WebTrace,
  lane: Lane,
  t0: number,
  nsPerCol: number,
  cols: number,
  outWait: Float32Array,
  outRun: Float32Array,
  outBlock: Float32Array,
  outFlags: Uint8Array,
): void {
  const bw = trace.grid.widthNs;
  const lb = lane.buckets;
  const frac = lb.frac;
  const flags = lb.flags;
  const openB = lb.openB;
  const endNs = trace.endNs;
  const hasStates = lane.states.length > 0;
  const tailFrom = lane.lastStateNs;
  const tailState = lane.lastState;
  outFlags.fill(0, 0, cols);
  for (let c = 0; c < cols; c++) {
    const l = t0 + c * nsPerCol;
    let r = l + nsPerCol;
    if (r > endNs) r = endNs;
    let sw = 0;
    let sr = 0;
    let sb = 0;
    if (hasStates && r > l && r > 0) {
      const lo = l > 0 ? l : 0;
      const b1 = Math.ceil(r / bw) - 1;
      for (let b = Math.floor(lo / bw); b <= b1; b++) {
        const bs = b * bw;
        const be = bs + bw;
        const ov = (be < r ? be : r) - (bs > lo ? bs : lo);
        if (ov <= 0) continue;
        let fw = 0;
        let fr = 0;
        let fb = 0;
        if (b <= openB) {
          fw = frac[b * 3]! / 255;
          fr = frac[b * 3 + 1]! / 255;
          fb = frac[b * 3 + 2]! / 255;
          if (b === openB) {
            fw += lb.acc[0]! / bw;
            fr += lb.acc[1]! / bw;
            fb += lb.acc[2]! / bw;
          }
        }
        if (be > tailFrom && tailState >= 0 && tailState < ThreadStateValue.Exited) {
          // The lane's current state, from its last change to the trace end.
          const a = bs > tailFrom ? bs : tailFrom;
          const z = be < endNs ? be : endNs;
          if (z > a) {
            const f = (z - a) / bw;
            if (tailState === ThreadStateValue.Waiting) fw += f;
            else if (tailState === ThreadStateValue.Running) fr += f;
            else fb += f;
          }
        }
        const k = ov / bw;
        sw += fw * k;
        sr += fr * k;
        sb += fb * k;
      }
    }
    // Bucket fractions are per bucket width; a column is nsPerCol wide.
    const scale = bw / nsPerCol;
    outWait[c] = sw * scale;
    outRun[c] = sr * scale;
    outBlock[c] = sb * scale;
  }
  const tEnd = t0 + cols * nsPerCol;
  const bEnd = Math.min(flags.length - 1, Math.floor(tEnd / bw));
  const spread = bw > nsPerCol;
  for (let b = Math.max(0, Math.floor(t0 / bw)); b <= bEnd; b++) {
    const f = flags[b]!;
    if (f === 0) continue;
    if (spread) {
      // Wider than a column: the marks could be anywhere in it, paint all its columns.
      const c0 = Math.max(0, Math.floor((b * bw - t0) / nsPerCol));
      const c1 = Math.min(cols - 1, Math.ceil(((b + 1) * bw - t0) / nsPerCol) - 1);
      for (let c = c0; c <= c1; c++) outFlags[c]! |= f;
    } else {
      const c = Math.floor(((b + 0.5) * bw - t0) / nsPerCol);
      if (c >= 0 && c < cols) outFlags[c]! |= f;
    }
  }
}

/** Bucket path of aggregateMinMax for a counter with its bucket summaries. */
export function aggregateCounterBuckets(
  trace: WebTrace,
  series: EventSeries,
  buckets: CounterBuckets,
  t0: number,
  nsPerCol: number,
  cols: number,
  outMin: Int32Array,
  outMax: Int32Array,
): void {
  const bw = trace.grid.widthNs;
  const filledTo = buckets.filledTo;
  const bmin = buckets.min;
  const bmax = buckets.max;
  const cur = series.value;
  for (let c = 0; c < cols; c++) {
    const l = t0 + c * nsPerCol;
    const r = l + nsPerCol;
    if (r <= 0) {
      outMin[c] = 0;
      outMax[c] = 0;
      continue;
    }
    let mn = Infinity;
    let mx = -Infinity;
    const b0 = Math.max(0, Math.floor(l / bw));
    const b1 = Math.ceil(r / bw) - 1;
    for (let b = b0; b <= b1; b++) {
      if (b <= filledTo) {
        if (bmin[b]! < mn) mn = bmin[b]!;
        if (bmax[b]! > mx) mx = bmax[b]!;
      } else {
        if (filledTo < 0 && cur === 0) {
          if (0 < mn) mn = 0;
          if (0 > mx) mx = 0;
        } else {
          if (cur < mn) mn = cur;
          if (cur > mx) mx = cur;
        }
        break; // every later bucket holds the current value too
      }
    }
    if (l < 0) {
      if (0 < mn) mn = 0;
      if (0 > mx) mx = 0;
    }
    outMin[c] = mn;
    outMax[c] = mx;
  }
}
