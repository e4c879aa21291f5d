// Per-pixel-column aggregation of the trace indexes for the visible window.
// Column c covers [t0 + c*nsPerCol, t0 + (c+1)*nsPerCol). Every function sweeps
// the columns left to right once, starting from one binary search, and skips
// whole SERIES_BLOCK / STATE_BLOCK blocks that fall inside a column through
// their summaries, so the cost is O(columns + visible items / block) instead of
// O(visible items). Outputs go into caller-owned typed arrays (no allocation
// per frame).

import { RECORD_WORDS, ThreadStateValue } from '@iocpscope/protocol';
import type { EventSeries, Lane, WebTrace } from '../trace/index.ts';
import { markFlagsAt, SERIES_BLOCK, STATE_BLOCK, stateAt, stepAt } from '../trace/index.ts';

const TWO_32 = 4294967296;

function tsOf(w: Uint32Array, i: number): number {
  const o = i * RECORD_WORDS;
  return w[o + 2]! + w[o + 3]! * TWO_32;
}

/**
 * Fraction of each column the lane spent waiting, running and blocked
 * (0..1 each; their sum is the part of the column covered by a known state).
 * Time after the trace end is unknown and stays uncovered.
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
): void {
  const w = trace.words;
  const col = lane.states.idx.data;
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
  if (j >= 0) {
    // Rebuild acc at entry j from its block prefix.
    const b = Math.floor(j / STATE_BLOCK);
    let k = b * STATE_BLOCK;
    accW = cum[b * 3]!;
    accR = cum[b * 3 + 1]!;
    accB = cum[b * 3 + 2]!;
    tj = tsOf(w, col[k]!);
    sj = stateAt(w, col[k]!);
    for (k = k + 1; k <= j; k++) {
      const t = tsOf(w, col[k]!);
      if (sj === ThreadStateValue.Waiting) accW += t - tj;
      else if (sj === ThreadStateValue.Running) accR += t - tj;
      else if (sj === ThreadStateValue.Blocked) accB += t - tj;
      tj = t;
      sj = stateAt(w, col[k]!);
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
    while (nb * STATE_BLOCK < n && tsOf(w, col[nb * STATE_BLOCK]!) <= t) nb++;
    const target = (nb - 1) * STATE_BLOCK;
    if (target > j) {
      j = target;
      accW = cum[(nb - 1) * 3]!;
      accR = cum[(nb - 1) * 3 + 1]!;
      accB = cum[(nb - 1) * 3 + 2]!;
      tj = tsOf(w, col[j]!);
      sj = stateAt(w, col[j]!);
    }
    while (j + 1 < n) {
      const e = col[j + 1]!;
      const te = tsOf(w, e);
      if (te > t) break;
      if (j >= 0) {
        if (sj === ThreadStateValue.Waiting) accW += te - tj;
        else if (sj === ThreadStateValue.Running) accR += te - tj;
        else if (sj === ThreadStateValue.Blocked) accB += te - tj;
      }
      j++;
      tj = te;
      sj = stateAt(w, e);
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
    }
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
  const idx = series.idx.data;
  const n = series.idx.length;
  const bor = series.blockOr.data;
  const tEnd = t0 + cols * nsPerCol;
  const k0 = trace.lowerBoundColumnTime(idx, t0, 0, n);
  let k = k0;
  while (k < n) {
    const e = idx[k]!;
    const t = tsOf(w, e);
    if (t >= tEnd) break;
    const c = Math.floor((t - t0) / nsPerCol);
    const right = t0 + (c + 1) * nsPerCol;
    // A whole block starting here and ending inside this column: take its summary.
    if ((k & (SERIES_BLOCK - 1)) === 0 && k + SERIES_BLOCK <= n) {
      const last = idx[k + SERIES_BLOCK - 1]!;
      if (tsOf(w, last) < right) {
        out[c]! |= bor[k / SERIES_BLOCK]!;
        k += SERIES_BLOCK;
        continue;
      }
    }
    out[c]! |= markFlagsAt(w, e);
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
  const idx = series.idx.data;
  const n = series.idx.length;
  const kind = series.kind;
  const bmin = series.blockMin.data;
  const bmax = series.blockMax.data;
  const bfirst = series.blockFirst.data;
  const blocks = series.blockFirst.length;
  let k = trace.upperBoundColumnTime(idx, t0, 0, n);
  let cur = series.valueAfter(w, k - 1);
  for (let c = 0; c < cols; c++) {
    const right = t0 + (c + 1) * nsPerCol;
    let mn = cur;
    let mx = cur;
    while (k < n) {
      if ((k & (SERIES_BLOCK - 1)) === 0 && k + SERIES_BLOCK <= n) {
        const last = idx[k + SERIES_BLOCK - 1]!;
        if (tsOf(w, last) < right) {
          const b = k / SERIES_BLOCK;
          if (bmin[b]! < mn) mn = bmin[b]!;
          if (bmax[b]! > mx) mx = bmax[b]!;
          k += SERIES_BLOCK;
          cur = b + 1 < blocks ? bfirst[b + 1]! : series.value;
          continue;
        }
      }
      const e = idx[k]!;
      if (tsOf(w, e) >= right) break;
      cur += stepAt(kind, w, e);
      if (cur < mn) mn = cur;
      if (cur > mx) mx = cur;
      k++;
    }
    outMin[c] = mn;
    outMax[c] = mx;
  }
}
