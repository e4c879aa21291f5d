// What every detector sees: the reducer's state after the event, the `step`
// describing what the event did, facts about the whole trace so far, and a
// report() that turns a check into a Finding (with deduplication and a cap).
//
// Detectors keep no references to state objects between events (the reducer
// copies sessions on write); they remember ids and event indices.

import * as proto from '../proto.ts';
import type { EventKind as Kind } from '../proto.ts';
import type { Finding, FindingSubject, RuleInfo } from '../findings.ts';
import { formatSessionId as formatSessionId_, type SessionId } from '../ids.ts';
import type { Step } from '../replay.ts';
import type { OpState, ReplayState } from '../state.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const formatSessionId = formatSessionId_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, IoCountCause, Op, WinError } = proto;

export interface DetectorOptions {
  /** Resolve a string-table index (thread names, lock names, peers) for messages. */
  strings?: (index: number) => string | undefined;
  /** How long packets may wait with every worker blocked before it is a finding (ns, default 10 ms). */
  starvationNs?: number;
  /** How long more threads than the concurrency value may run before it is a finding (ns, default 50 ms). */
  overcommitNs?: number;
  /** How long an I/O posted after a disconnect may stay pending uncancelled (ns, default 1 s). */
  uncancelledNs?: number;
  /**
   * How long to wait for another thread's record that may legally land late in
   * the merged trace (a disconnect decided on another thread between its flag
   * and its record) before calling an obligation missed (ns, default 50 ms).
   */
  raceGraceNs?: number;
  /** Findings kept per rule; later ones are only counted (default 200). */
  maxFindingsPerRule?: number;
}

export interface ResolvedOptions {
  strings: (index: number) => string | undefined;
  starvationNs: number;
  overcommitNs: number;
  uncancelledNs: number;
  raceGraceNs: number;
  maxFindingsPerRule: number;
}

export interface Report {
  check: string;
  severity?: 'error' | 'warning';
  subject: FindingSubject;
  evidence: readonly number[];
  message: string;
  /** The event to mark on the timeline (default: the event being processed). */
  at?: number;
  /**
   * Deduplication key within the rule. Default: the subject, so a rule reports
   * each session (thread, lock) once. `null` reports every occurrence.
   */
  dedupe?: string | null;
}

export interface Ctx {
  readonly state: ReplayState;
  readonly step: Step;
  /**
   * Records of the window being fed: the current event is at words[o .. o+8).
   * The window holds events [base, ...), not necessarily the whole trace, so
   * read the current record through `o`, never through the global index.
   */
  readonly words: Uint32Array;
  /** Word offset of the current event's record in `words`. */
  readonly o: number;
  /** Global index of the window's first record. */
  readonly base: number;
  readonly options: ResolvedOptions;
  /**
   * The trace's IoCount is derived (the hook DLL): outstanding I/O per socket, not the
   * server's own count. Checks that assume the course's design stay quiet.
   */
  readonly derived: boolean;
  /** IoCount +1 records of posts carry the ioId (the ledger links each ±1 to its I/O). */
  readonly taggedLedger: boolean;
  /**
   * Every session is known: PortCreated came before any session, or a complete
   * snapshot listed them, and no gap has happened since: "never seen" means
   * "never happened".
   */
  readonly fromStart: boolean;
  /** Event index where shutdown began (first exit packet or shutdown disconnect), -1 if not yet. */
  readonly shutdownIndex: number;
  /** Where this SessionID was last released, -1 if never (remembered for a bounded number of ids). */
  releasedAt(id: SessionId): number;
  /** Where this SessionID was last created, -1 if never (bounded memory). */
  createdAt(id: SessionId): number;
  report(rule: RuleInfo, r: Report): void;
  sessionName(id: SessionId): string;
  threadName(tid: number): string;
  lockName(lockId: number, nameStr: number): string;
}

export interface Detector {
  readonly rule: RuleInfo;
  /** Event kinds passed to onEvent; empty = every event. */
  readonly kinds: readonly Kind[];
  /** Called after the reducer applied event i. */
  onEvent(ctx: Ctx, i: number): void;
  /** A gap lost events: forget anything that depends on seeing every event. */
  onGap?(ctx: Ctx): void;
  /**
   * A Snapshot bracket was applied (ctx.state is the state it gave): forget
   * what the bracket replaced, and learn what a rule needs from the state.
   */
  onSnapshot?(ctx: Ctx): void;
  /** The trace ended (file fully read, or live session over). */
  finish?(ctx: Ctx): void;
}

// ---- helpers shared by detectors ---------------------------------------------------

export const opName = (op: number): string =>
  op === Op.Recv ? 'recv' : op === Op.Send ? 'send' : op === Op.Post ? 'posted packet' : 'I/O';

export const wsaName = (op: number): string => (op === Op.Send ? 'WSASend' : 'WSARecv');

const ERROR_NAMES: Record<number, string> = {
  [WinError.NetnameDeleted]: 'ERROR_NETNAME_DELETED',
  [WinError.WaitTimeout]: 'WAIT_TIMEOUT',
  [WinError.OperationAborted]: 'ERROR_OPERATION_ABORTED',
  [WinError.IoPending]: 'ERROR_IO_PENDING',
  [WinError.AbandonedWait0]: 'ERROR_ABANDONED_WAIT_0',
  [WinError.ConnectionReset]: 'WSAECONNRESET',
  [WinError.ConnectionAborted]: 'WSAECONNABORTED',
  [WinError.NotSocket]: 'WSAENOTSOCK',
  [WinError.InvalidHandle]: 'ERROR_INVALID_HANDLE',
};

export const errorName = (code: number): string =>
  ERROR_NAMES[code] === undefined ? `error ${code}` : `error ${code} (${ERROR_NAMES[code]})`;

export const CAUSE_NAMES: Record<number, string> = {
  [IoCountCause.Other]: 'other',
  [IoCountCause.AcceptHold]: 'accept hold',
  [IoCountCause.AcceptRelease]: 'accept release',
  [IoCountCause.RecvPost]: 'recv post',
  [IoCountCause.SendPost]: 'send post',
  [IoCountCause.PostFailed]: 'failed post',
  [IoCountCause.Completion]: 'completion',
  [IoCountCause.HoldAcquire]: 'hold',
  [IoCountCause.HoldRelease]: 'hold release',
  [IoCountCause.Snapshot]: 'snapshot',
};

export const isExitPacketReturn = (
  ok: boolean,
  hasOverlapped: boolean,
  key: bigint,
  bytes: number,
): boolean => ok && !hasOverlapped && key === 0n && bytes === 0;

/**
 * The op this event issued: its IOCount +1, or its IoPosted when nothing about
 * it was seen before (a server that does not tag its +1 with the ioId).
 */
export function issuedOp(step: Step, i: number): OpState | null {
  const op = step.op;
  if (op === null) return null;
  if (step.kind === EventKind.IoCount) return op.incIndex === i ? op : null;
  if (step.kind === EventKind.IoPosted) {
    return op.postIndex === i && op.incIndex < 0 && op.queuedIndex < 0 && op.dequeueIndex < 0
      ? op
      : null;
  }
  return null;
}

/** The ±1 or post that first made the op known, for evidence lists. */
export const opStart = (op: OpState): number => (op.incIndex >= 0 ? op.incIndex : op.postIndex);

export function subjectKey(s: FindingSubject): string {
  switch (s.kind) {
    case 'session':
      return 's' + s.session.toString(16);
    case 'thread':
      return 't' + s.tid;
    case 'lock':
      return 'l' + s.lockId + '/' + s.tid;
    default:
      return 'port';
  }
}

export const sessionSubject = (session: SessionId): FindingSubject => ({
  kind: 'session',
  session,
});
export const threadSubject = (tid: number): FindingSubject => ({ kind: 'thread', tid });

export function evidenceList(xs: readonly number[]): number[] {
  return [...new Set(xs.filter((x) => x >= 0))].sort((a, b) => a - b);
}

export const fmtMs = (ns: number): string => `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;

export { formatSessionId };

/**
 * Completions a thread dequeued in its current GQCS call, and whether each got
 * its IOCount-1 before the thread called GQCS again. Shared by the rules that
 * judge "every completion ends with IOCount-1" (1 for successes, 8 for failures).
 */
export interface PendingCompletion {
  session: SessionId;
  ioId: number;
  op: number;
  ok: boolean;
  error: number;
  bytes: number;
  dequeueIndex: number;
  decremented: boolean;
}

export class CompletionTracker {
  private readonly byThread = new Map<number, PendingCompletion[]>();

  constructor(private readonly want: (ok: boolean) => boolean) {}

  /** Feed GqcsReturn and IoCount events; returns the list to judge on GqcsEnter/ThreadExit. */
  onEvent(ctx: Ctx, i: number): PendingCompletion[] | null {
    const st = ctx.step;
    const tid = st.tid;
    if (st.kind === EventKind.GqcsReturn) {
      const h = st.handled;
      const s = st.session;
      if (h === null || s === null || !h.hasOverlapped || !s.complete) return null;
      if (h.op !== Op.Recv && h.op !== Op.Send) return null;
      if (!this.want(h.ok)) return null;
      let list = this.byThread.get(tid);
      if (list === undefined) this.byThread.set(tid, (list = []));
      list.push({
        session: s.id,
        ioId: h.ioId,
        op: h.op,
        ok: h.ok,
        error: h.error,
        bytes: h.bytes,
        dequeueIndex: i,
        decremented: false,
      });
      return null;
    }
    if (st.kind === EventKind.IoCount) {
      const list = this.byThread.get(tid);
      const s = st.session;
      if (list === undefined || s === null) return null;
      const delta = ctx.words[ctx.o + 6]! | 0;
      if (delta >= 0) return null;
      const ioId = ctx.words[ctx.o + 7]!;
      for (const p of list) {
        if (!p.decremented && p.session === s.id && (ioId === 0 || p.ioId === ioId)) {
          p.decremented = true;
          break;
        }
      }
      return null;
    }
    if (st.kind === EventKind.GqcsEnter || st.kind === EventKind.ThreadExit) {
      const list = this.byThread.get(tid);
      if (list === undefined || list.length === 0) return null;
      this.byThread.delete(tid);
      return list.filter((p) => !p.decremented);
    }
    return null;
  }

  clear(): void {
    this.byThread.clear();
  }
}

export type { Finding };
