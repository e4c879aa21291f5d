// What the sessions list shows for each session at the cursor, computed from
// the trace's session table (lifecycle indices, totals) and the replayed state
// at the cursor (IOCount, lifecycle, completions so far). Pure, so the row
// logic is tested without React.

import type { ReplayState, SessionState } from '@iocpscope/analysis';
import { NONE, type WebTrace } from '../trace/index.ts';

export type RowPhase = 'future' | 'live' | 'disconnecting' | 'released' | 'leaked';

export interface SessionRowView {
  row: number;
  id: bigint;
  peer: string;
  /** IOCount at the cursor; null when the session does not exist yet. */
  ioCount: number | null;
  phase: RowPhase;
  /** Completions dequeued up to the cursor (the total for settled sessions). */
  packets: number;
  /**
   * Its history is incomplete (created before a live dashboard joined, or
   * across a gap): IOCount is the server's reported value, not the replay's sum.
   */
  partial: boolean;
}

/**
 * The row's state at `cursor`. A session the replay still holds after its
 * release (I/O pending or IOCount not 0) is 'leaked': that is what the classic
 * lifetime bugs look like, so it gets its own colour.
 */
export function sessionRowAt(
  trace: WebTrace,
  row: number,
  cursor: number,
  state: ReplayState | null,
): SessionRowView {
  const t = trace.sessions;
  const id = t.id(row);
  const peerStr = t.peerStr.data[row]!;
  const peer = (peerStr !== 0 && trace.string(peerStr)) || '';
  const first = t.firstIdx.data[row]!;
  if (cursor >= 0 && first > cursor) {
    return { row, id, peer, ioCount: null, phase: 'future', packets: 0, partial: false };
  }
  const s: SessionState | undefined = state?.sessions.get(id);
  if (s) {
    // Without its start, a negative sum of deltas says nothing: trust the server's value.
    const partial = !s.complete;
    const ioCount = partial ? s.reportedIoCount : s.ioCount;
    const phase: RowPhase =
      s.lifecycle === 'released'
        ? partial && ioCount === 0
          ? 'released'
          : 'leaked'
        : s.lifecycle === 'disconnecting'
          ? 'disconnecting'
          : 'live';
    return { row, id, peer, ioCount, phase, packets: s.completions, partial };
  }
  const released = t.releasedIdx.data[row]!;
  if (released !== NONE && (cursor < 0 || released <= cursor)) {
    return {
      row,
      id,
      peer,
      ioCount: 0,
      phase: 'released',
      packets: t.completions.data[row]!,
      partial: false,
    };
  }
  // Known to the table but not to the replay (e.g. a completion key that is not
  // a session, or history lost in a gap): show the table's latest values.
  return {
    row,
    id,
    peer,
    ioCount: t.ioCount.data[row]!,
    phase: 'live',
    packets: t.completions.data[row]!,
    partial: true,
  };
}

/** Rows whose hex id or peer contains `query` (case-insensitive); all rows for ''. */
export function filterSessionRows(
  trace: WebTrace,
  query: string,
  hideReleased: boolean,
): Uint32Array {
  const t = trace.sessions;
  const n = t.count;
  const q = query.trim().toLowerCase().replace(/^0x/, '');
  const out = new Uint32Array(n);
  let k = 0;
  for (let row = 0; row < n; row++) {
    if (hideReleased && t.releasedIdx.data[row]! !== NONE) continue;
    if (q) {
      const hex = t.id(row).toString(16);
      const ps = t.peerStr.data[row]!;
      const peer = ps !== 0 ? (trace.string(ps) ?? '').toLowerCase() : '';
      if (!hex.includes(q) && !peer.includes(q)) continue;
    }
    out[k++] = row;
  }
  return out.subarray(0, k);
}

// ---- sorting -------------------------------------------------------------------
//
// Rows are session-table rows, which the trace numbers in order of first
// appearance, so "newest first" is descending row order. Every sort breaks
// ties newest first, and reversing a sort (desc) reverses the whole order.
// - seen:    first appearance.
// - state:   at the cursor, from the table's lifecycle indices: open sessions
//            (created, not released), then released ones, then those that do
//            not exist yet. O(n), cheap enough to run on every live frame.
// - iocount, packets: the IOCount and the completions the list shows at the
//            cursor (one replay lookup per row: only while chosen).
// - peer:    the peer address text.

export type SessionSortKey = 'seen' | 'state' | 'iocount' | 'packets' | 'peer';

export interface SessionSort {
  key: SessionSortKey;
  /** false: the key's natural order (oldest first, open first, highest first, A-Z). */
  desc: boolean;
}

/** Live: the active sessions on top, newest first. A recording: in order of appearance. */
export function defaultSessionSort(live: boolean): SessionSort {
  return live ? { key: 'state', desc: false } : { key: 'seen', desc: false };
}

/** The sort after a click on a column header: reverse the current key, or switch key. */
export function nextSessionSort(current: SessionSort, key: SessionSortKey): SessionSort {
  return current.key === key ? { key, desc: !current.desc } : { key, desc: false };
}

/** 0 open, 1 released, 2 not created yet: at `cursor` (-1: the end of the trace). */
export function lifecycleRank(trace: WebTrace, row: number, cursor: number): number {
  const t = trace.sessions;
  if (cursor >= 0 && t.firstIdx.data[row]! > cursor) return 2;
  const rel = t.releasedIdx.data[row]!;
  return rel !== NONE && (cursor < 0 || rel <= cursor) ? 1 : 0;
}

/**
 * `rows` (ascending, from filterSessionRows) in the order of `sort`, as a new
 * array; `state` is the replay at the cursor (for the packets shown there).
 */
export function sortSessionRows(
  trace: WebTrace,
  rows: Uint32Array,
  sort: SessionSort,
  cursor: number,
  state: ReplayState | null,
): Uint32Array {
  const n = rows.length;
  const out = new Uint32Array(n);
  if (sort.key === 'seen' || sort.key === 'state') {
    // Newest first within each rank: walk the rows backwards into rank buckets.
    const ranks = sort.key === 'state' ? 3 : 1;
    const counts = new Uint32Array(ranks + 1);
    const rank = (r: number) => (ranks === 1 ? 0 : lifecycleRank(trace, r, cursor));
    for (let k = 0; k < n; k++) counts[rank(rows[k]!) + 1]!++;
    for (let b = 1; b <= ranks; b++) counts[b]! += counts[b - 1]!;
    const seenAsc = sort.key === 'seen' && !sort.desc;
    for (let k = n - 1; k >= 0; k--) {
      const r = rows[seenAsc ? n - 1 - k : k]!;
      out[counts[rank(r)]!++] = r;
    }
    if (sort.key === 'state' && sort.desc) out.reverse();
    return out;
  }
  const keys: Array<number | string> = new Array(n);
  for (let k = 0; k < n; k++) {
    const r = rows[k]!;
    if (sort.key === 'packets') {
      keys[k] = sessionRowAt(trace, r, cursor, state).packets;
    } else if (sort.key === 'iocount') {
      // Not created yet (no IOCount) sorts below every value.
      keys[k] = sessionRowAt(trace, r, cursor, state).ioCount ?? -Infinity;
    } else {
      const ps = trace.sessions.peerStr.data[r]!;
      keys[k] = (ps !== 0 && trace.string(ps)) || '';
    }
  }
  const order = Array.from({ length: n }, (_, k) => k);
  order.sort((a, b) => {
    const ka = keys[a]!;
    const kb = keys[b]!;
    // Natural order: the highest numbers first; peers A-Z. Ties: newest first.
    const c =
      sort.key !== 'peer'
        ? numDesc(ka as number, kb as number)
        : (ka as string) < (kb as string)
          ? -1
          : (ka as string) > (kb as string)
            ? 1
            : 0;
    return c !== 0 ? c : rows[b]! - rows[a]!;
  });
  for (let k = 0; k < n; k++) out[k] = rows[order[k]!]!;
  if (sort.desc) out.reverse();
  return out;
}

function numDesc(a: number, b: number): number {
  return a === b ? 0 : a > b ? -1 : 1;
}
