// A session's history for the inspector: every event that names it and its
// IOCount ledger, each ±1 tied to the I/O (post and dequeue) or hold it belongs
// to and to the opposite ±1 that balances it. Computed on demand by scanning
// the records (from the session's creation, when known), so it costs no memory
// while nobody looks; `limit` bounds what a very long-lived session returns.

import * as proto from './proto.ts';
import { AnalysisError } from './errors.ts';
import { sessionHi as sessionHi_, sessionLo as sessionLo_, type SessionId } from './ids.ts';
import { checkSource as checkSource_, type TraceRecords } from './source.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const sessionHi = sessionHi_;
const sessionLo = sessionLo_;
const checkSource = checkSource_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, IoCountCause, Op, RECORD_WORDS } = proto;
type IoCountCause = proto.IoCountCause;
type Op = proto.Op;

export interface LedgerEntry {
  /** The IoCount event. */
  index: number;
  tid: number;
  delta: number;
  /** The value the server observed after the change. */
  value: number;
  cause: IoCountCause;
  /** The I/O it counts (0 for holds). */
  ioId: number;
  op: Op;
  /** The I/O's IoPosted record, -1 if none (a hold, or not seen). */
  postIndex: number;
  /** Where the I/O's completion was dequeued, -1 if not (yet). */
  dequeueIndex: number;
  /** The opposite ±1 that balances this one, -1 if still open (or an orphan -1). */
  pairIndex: number;
}

export interface SessionHistory {
  id: SessionId;
  /** Every event naming this session (as session or completion key), ascending. */
  events: number[];
  ledger: LedgerEntry[];
  /** `limit` was reached: later events are missing. */
  truncated: boolean;
}

export interface HistoryOptions {
  /** First event to scan (default 0; pass the session's createdIndex to scan less). */
  from?: number;
  /** Scan events before this count (default: the whole source). */
  to?: number;
  /** Most events to return (default 200,000). */
  limit?: number;
}

const opOfCause = (c: number): Op =>
  c === IoCountCause.RecvPost ? Op.Recv : c === IoCountCause.SendPost ? Op.Send : Op.None;

/** The hold cause a -1 of `cause` balances, or -1 for "any". */
const holdFor = (cause: number): number =>
  cause === IoCountCause.AcceptRelease
    ? IoCountCause.AcceptHold
    : cause === IoCountCause.HoldRelease
      ? IoCountCause.HoldAcquire
      : -1;

export function sessionHistory(
  src: TraceRecords,
  id: SessionId,
  o: HistoryOptions = {},
): SessionHistory {
  checkSource(src);
  const from = o.from ?? 0;
  const to = o.to ?? src.length;
  const limit = o.limit ?? 200_000;
  if (
    !Number.isInteger(from) ||
    !Number.isInteger(to) ||
    from < 0 ||
    to > src.length ||
    from > to
  ) {
    throw new AnalysisError(
      'ANALYSIS_BAD_INDEX',
      `bad history range [${from}, ${to}) for ${src.length} events`,
    );
  }
  if (!Number.isInteger(limit) || limit < 1)
    throw new AnalysisError('ANALYSIS_BAD_OPTION', `bad limit ${limit}`);
  const w = src.words;
  const lo = sessionLo(id);
  const hi = sessionHi(id);
  const events: number[] = [];
  const ledger: LedgerEntry[] = [];
  const posts = new Map<number, number>();
  const dequeues = new Map<number, number>();
  /** Open +1 entries by ioId (I/O), and open holds in order. */
  const openIo = new Map<number, LedgerEntry>();
  const openHolds: LedgerEntry[] = [];
  let truncated = false;
  for (let i = from; i < to; i++) {
    const o8 = i * RECORD_WORDS;
    if (w[o8 + 4] !== lo || w[o8 + 5] !== hi) continue;
    const w0 = w[o8]!;
    const kind = w0 & 0xff;
    if (kind === EventKind.ThreadStart || kind === EventKind.Gap || kind === EventKind.PortCreated)
      continue;
    if (events.length >= limit) {
      truncated = true;
      break;
    }
    events.push(i);
    const ioId = w[o8 + 7]!;
    if (kind === EventKind.IoPosted) {
      if (!posts.has(ioId)) posts.set(ioId, i);
      for (const e of ledger) if (e.ioId === ioId && e.postIndex < 0) e.postIndex = i;
    } else if (kind === EventKind.GqcsReturn && (w0 & 0x2000) !== 0) {
      if (!dequeues.has(ioId)) dequeues.set(ioId, i);
      for (const e of ledger) if (e.ioId === ioId && e.dequeueIndex < 0) e.dequeueIndex = i;
    } else if (kind === EventKind.IoCount) {
      const cause = ((w0 >>> 8) & 0xff) as IoCountCause;
      const delta = w[o8 + 6]! | 0;
      const isIo =
        ioId !== 0 &&
        cause !== IoCountCause.AcceptHold &&
        cause !== IoCountCause.AcceptRelease &&
        cause !== IoCountCause.HoldAcquire &&
        cause !== IoCountCause.HoldRelease;
      const e: LedgerEntry = {
        index: i,
        tid: w0 >>> 16,
        delta,
        value: w[o8 + 1]! | 0,
        cause,
        ioId: isIo ? ioId : 0,
        op: opOfCause(cause),
        postIndex: isIo ? (posts.get(ioId) ?? -1) : -1,
        dequeueIndex: isIo ? (dequeues.get(ioId) ?? -1) : -1,
        pairIndex: -1,
      };
      if (delta > 0) {
        if (isIo) openIo.set(ioId, e);
        else openHolds.push(e);
      } else if (delta < 0) {
        let pair: LedgerEntry | undefined;
        if (isIo) {
          pair = openIo.get(ioId);
          if (pair !== undefined) openIo.delete(ioId);
        } else {
          const want = holdFor(cause);
          for (let k = openHolds.length - 1; k >= 0; k--) {
            if (want < 0 || openHolds[k]!.cause === want) {
              pair = openHolds.splice(k, 1)[0];
              break;
            }
          }
        }
        if (pair !== undefined) {
          pair.pairIndex = i;
          e.pairIndex = pair.index;
          if (e.op === Op.None) e.op = pair.op;
        }
      }
      ledger.push(e);
    }
  }
  return { id, events, ledger, truncated };
}
