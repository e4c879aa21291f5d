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
