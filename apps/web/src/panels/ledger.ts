// A session's lifecycle, read from its events: creation, accept, every post,
// queued packet and dequeue, every IOCount change (each ±1 tied to the event
// that caused it), disconnect, close and release. Pure over the record words
// and the session's ascending event list, so it is tested on hand-built traces.
//
// Ties: a +1 for a post is written before WSARecv/WSASend is called (a
// completion may be dequeued before the call returns), so it links forward to
// the first IoPosted of the same ioId after it; a -1 for a completion links
// back to the latest dequeue (GqcsReturn) of that ioId; a -1 for a failed post
// links back to the IoPosted that failed; accept holds link to the Accept.

import {
  EventKind,
  IoCountCause,
  OP_NAMES,
  RECORD_WORDS,
  WinError,
  type Op,
  TS_HI_MASK,
} from '@iocpscope/protocol';
import { CAUSE_NAMES, describeEvent } from './describe.ts';
import { formatCallSite, formatCount, formatWinError } from './format.ts';

export type LedgerKind = 'lifecycle' | 'post' | 'queue' | 'dequeue' | 'count' | 'other';

export interface LedgerEntry {
  index: number;
  tsNs: number;
  kind: LedgerKind;
  /** IOCount change (count entries only). */
  delta: number;
  /** IOCount after the change as the server reported it (count entries only). */
  value: number;
  text: string;
  /** Event this entry is tied to (its cause or effect), or -1. */
  link: number;
  /**
   * Count entries: the opposite ±1 that balances this one (from the analysis
   * ledger), -1 while it is open (or for an orphan -1), -2 when not analysed.
   */
  pair: number;
  tone: 'ok' | 'warn' | 'bad' | 'neutral';
  /** Where the traced server recorded it (foreign servers' call sites), e.g. "OnRecv (server.cpp:212)". */
  site?: string;
}

const TWO_32 = 4294967296;

export interface LedgerContext {
  threadName(tid: number): string;
  text(strId: number): string;
  callSite?(i: number): { file: string; line: number; func: string } | null;
}

export function buildLedger(
  words: Uint32Array,
  events: ArrayLike<number>,
  n: number,
  ctx: LedgerContext,
): LedgerEntry[] {
  // Pass 1: per ioId, the ascending positions of posts and dequeues.
  const posts = new Map<number, number[]>();
  const dequeues = new Map<number, number[]>();
  let acceptIdx = -1;
  for (let k = 0; k < n; k++) {
    const i = events[k]!;
    const o = i * RECORD_WORDS;
    const kind = words[o]! & 0xff;
    if (kind === EventKind.IoPosted) push(posts, words[o + 7]!, i);
    else if (kind === EventKind.GqcsReturn && (words[o]! >>> 8) & 0x20)
      push(dequeues, words[o + 7]!, i);
    else if (kind === EventKind.Accept && acceptIdx < 0) acceptIdx = i;
  }
  const out: LedgerEntry[] = [];
  for (let k = 0; k < n; k++) {
    const i = events[k]!;
    const o = i * RECORD_WORDS;
    const w0 = words[o]!;
    const kind = w0 & 0xff;
    const a = (w0 >>> 8) & 0xff;
    const tid = w0 >>> 16;
    const tsNs = words[o + 2]! + (words[o + 3]! & TS_HI_MASK) * TWO_32;
    const x = words[o + 1]!;
    const y = words[o + 6]!;
    const z = words[o + 7]!;
    const who = ctx.threadName(tid);
    const e: LedgerEntry = {
      index: i,
      tsNs,
      kind: 'other',
      delta: 0,
      value: 0,
      text: '',
      link: -1,
      pair: -2,
      tone: 'neutral',
    };
    switch (kind) {
      case EventKind.SessionCreated:
        e.kind = 'lifecycle';
        e.text = `created for ${ctx.text(x) || 'unknown peer'} (slot ${z})`;
        e.tone = 'ok';
        break;
      case EventKind.Accept:
        e.kind = 'lifecycle';
        e.text = `accepted by ${who}`;
        break;
      case EventKind.IoPosted: {
        e.kind = 'post';
        const op = OP_NAMES[(a & 0x0f) as Op];
        const res =
          y === WinError.IoPending
            ? 'pending'
            : y === 0
              ? 'done at once'
              : `failed ${formatWinError(y)}`;
        const bufs = a >>> 4;
        e.text = `${op} posted by ${who}, ${formatCount(x)} B${bufs > 1 ? ` in ${bufs} bufs` : ''} (io ${z}) → ${res}`;
        e.tone = y === 0 || y === WinError.IoPending ? 'neutral' : 'warn';
        e.link = after(dequeues.get(z), i);
        break;
      }
      case EventKind.PacketQueued:
        e.kind = 'queue';
        e.text = `${OP_NAMES[(a & 0x0f) as Op]} packet queued, ${formatCount(x)} B${y === 0 ? '' : `, status ${formatWinError(y)}`} (io ${z})`;
        e.tone = y === 0 ? 'neutral' : 'warn';
        e.link = after(dequeues.get(z), i);
        break;
      case EventKind.GqcsReturn: {
        const hasOv = (a & 0x20) !== 0;
        if (!hasOv) {
          e.text = `GQCS returned with no overlapped on ${who}`;
          break;
        }
        const ok = (a & 0x10) !== 0;
        e.kind = 'dequeue';
        const op = OP_NAMES[(a & 0x0f) as Op];
        e.text = ok
          ? `${op} completion dequeued by ${who}: ${formatCount(x)} B${(a & 0x0f) === 1 && x === 0 ? ' (peer closed)' : ''} (io ${z})`
          : `failed ${op} completion dequeued by ${who}: ${formatWinError(y)} (io ${z})`;
        e.tone = ok ? 'ok' : 'warn';
        e.link = before(posts.get(z), i);
        break;
      }
      case EventKind.IoCount: {
        e.kind = 'count';
        e.delta = y | 0;
        e.value = x | 0;
        const cause = CAUSE_NAMES[a] ?? `cause ${a}`;
        switch (a) {
          case IoCountCause.RecvPost:
          case IoCountCause.SendPost:
            e.link = after(posts.get(z), i);
            e.text = `${cause} (io ${z})${e.link >= 0 ? '' : ' — no post recorded'}`;
            break;
          case IoCountCause.Completion:
            e.link = before(dequeues.get(z), i);
            e.text = `${cause} (io ${z})${e.link >= 0 ? '' : ' — no dequeue recorded'}`;
            break;
          case IoCountCause.PostFailed:
            e.link = before(posts.get(z), i);
            e.text = `${cause} (io ${z})`;
            break;
          case IoCountCause.AcceptHold:
          case IoCountCause.AcceptRelease:
            e.link = acceptIdx;
            e.text = `${cause} by ${who}`;
            break;
          default:
            e.text = `${cause} by ${who}`;
        }
        e.tone = e.value < 0 ? 'bad' : 'neutral';
        break;
      }
      case EventKind.Disconnect:
        e.kind = 'lifecycle';
        e.text = `disconnect by ${who}${y ? ` (${formatWinError(y)})` : ''}`;
        e.tone = 'warn';
        break;
      case EventKind.SocketClosed:
        e.kind = 'lifecycle';
        e.text = `socket closed by ${who}`;
        break;
      case EventKind.SessionReleased:
        e.kind = 'lifecycle';
        e.text = `released by ${who} with IOCount ${x | 0}`;
        e.tone = (x | 0) === 0 ? 'neutral' : 'bad';
        break;
      case EventKind.Pqcs:
        e.kind = 'post';
        e.text = `PQCS by ${who}, ${formatCount(x)} B`;
        break;
      case EventKind.LockWait:
      case EventKind.LockAcquire:
      case EventKind.LockRelease: {
        const verb =
          kind === EventKind.LockWait
            ? 'waits for'
            : kind === EventKind.LockAcquire
              ? 'acquired'
              : 'released';
        e.text = `${who} ${verb} ${ctx.text(y) || `lock ${x}`}`;
        break;
      }
      case EventKind.Marker:
        e.text = ctx.text(x) || 'marker';
        break;
      case EventKind.IoDetail:
        e.text = `${OP_NAMES[(a & 0x0f) as Op]} OVERLAPPED 0x${((BigInt(y) << 32n) | BigInt(x)).toString(16)} (io ${z})${a & 0x10 ? ', skips the port on success' : ''}`;
        break;
      case EventKind.IoRing:
        e.text = `${OP_NAMES[(a & 0x0f) as Op]} ring: ${formatCount(y)} B at offset ${formatCount(x)} (io ${z})`;
        break;
      case EventKind.SessionRings:
        e.text = `buffers: RecvQ ${formatCount(x)} B, SendQ ${formatCount(y)} B`;
        break;
      default:
        // Other v2 records (a snapshot, a job, a send buffer...): the event details' title.
        e.text = describeEvent(words, i, ctx).title;
    }
    const site = ctx.callSite?.(i);
    if (site) e.site = formatCallSite(site);
    out.push(e);
  }
  return out;
}

/** What the analysis ledger says about one IoCount event (see sessionHistory). */
export interface CountPairing {
  index: number;
  delta: number;
  postIndex: number;
  dequeueIndex: number;
  pairIndex: number;
}

/**
 * Overlay the analysis package's IOCount ledger on the entries: each ±1 gets
 * the ±1 that balances it, and its I/O's post (for a +1) or dequeue (for a -1)
 * when the analysis matched one. Both lists are ascending by event index.
 */
export function applyPairings(entries: LedgerEntry[], pairings: readonly CountPairing[]): void {
  let k = 0;
  for (const p of pairings) {
    while (k < entries.length && entries[k]!.index < p.index) k++;
    const e = entries[k];
    if (!e || e.index !== p.index || e.kind !== 'count') continue;
    e.pair = p.pairIndex;
    const tie = p.delta > 0 ? p.postIndex : p.dequeueIndex;
    if (tie >= 0) e.link = tie;
  }
}

function push(m: Map<number, number[]>, k: number, v: number): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** First element of ascending `l` greater than i, or -1. */
function after(l: number[] | undefined, i: number): number {
  if (!l) return -1;
  let lo = 0;
  let hi = l.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (l[mid]! <= i) lo = mid + 1;
    else hi = mid;
  }
  return lo < l.length ? l[lo]! : -1;
}

/** Last element of ascending `l` smaller than i, or -1. */
function before(l: number[] | undefined, i: number): number {
  if (!l) return -1;
  let lo = 0;
  let hi = l.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (l[mid]! < i) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? l[lo - 1]! : -1;
}

/** The badge of a ±1: what is true of it over the whole trace, whatever the cursor. */
export interface PairBadgeView {
  text: string;
  tone: 'muted' | 'warn' | 'bad';
  title: string;
  /** The event to go to on a click, or -1. */
  goTo: number;
}

/**
 * A count entry's badge. It never depends on the cursor: a healthy -1 before
 * the cursor reaches its +1 is still balanced (its row is dimmed as future,
 * not mislabelled an orphan). Null for entries the analysis did not pair.
 */
export function pairBadge(e: LedgerEntry, live = false): PairBadgeView | null {
  if (e.kind !== 'count' || e.pair === -2) return null;
  if (e.pair >= 0) {
    return {
      text: `⇄${e.pair}`,
      tone: 'muted',
      title: `balanced by the ${e.delta > 0 ? '-1' : '+1'} at #${e.pair}`,
      goTo: e.pair,
    };
  }
  if (e.delta > 0) {
    return {
      text: 'open',
      tone: 'warn',
      title: live
        ? 'not balanced by a -1 yet'
        : 'never balanced by a -1 in this trace: the I/O it counts never settled',
      goTo: -1,
    };
  }
  return {
    text: 'orphan',
    tone: 'bad',
    title: 'this -1 matches no +1: IOCount was decremented twice or in the wrong place',
    goTo: -1,
  };
}
