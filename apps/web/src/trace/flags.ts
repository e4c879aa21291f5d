// Small per-event classifications shared by the indexes and the draw code,
// read straight from the record words (no decoded objects).

import {
  BlockReason,
  EventKind,
  RECORD_WORDS,
  ThreadStateValue,
  WinError,
} from '@iocpscope/protocol';

/** Bits describing a mark (a completion, a queued packet, a post). OR-able per pixel column. */
export const MarkFlag = {
  Recv: 1,
  Send: 2,
  Post: 4,
  /** A failed completion, a failed post, or a packet queued with an error status. */
  Fail: 8,
  /** A GQCS return that dequeued nothing (timeout, port closed). */
  Empty: 16,
} as const;

const OP_FLAG = [0, MarkFlag.Recv, MarkFlag.Send, MarkFlag.Post];

/** MarkFlag bits of event i (0 for kinds that are not marks). */
export function markFlagsAt(words: Uint32Array, i: number): number {
  const o = i * RECORD_WORDS;
  const w0 = words[o]!;
  const kind = w0 & 0xff;
  const a = (w0 >>> 8) & 0xff;
  const op = OP_FLAG[a & 0x03]!;
  switch (kind) {
    case EventKind.GqcsReturn: {
      const ok = (a & 0x10) !== 0;
      const hasOverlapped = (a & 0x20) !== 0;
      if (!ok && !hasOverlapped) return MarkFlag.Empty;
      // An exit packet (TRUE, NULL overlapped) is a posted packet.
      const base = hasOverlapped ? op : MarkFlag.Post;
      return ok ? base : base | MarkFlag.Fail;
    }
    case EventKind.PacketQueued:
      return words[o + 6]! !== 0 ? op | MarkFlag.Fail : op;
    case EventKind.Pqcs:
      return MarkFlag.Post;
    case EventKind.IoPosted: {
      const result = words[o + 6]!;
      return result === 0 || result === WinError.IoPending ? op : op | MarkFlag.Fail;
    }
    default:
      return 0;
  }
}

/**
 * Thread state introduced by a lane's state entry, with the replay reducer's
 * rules (packages/analysis replay.ts): ThreadStart -> running, ThreadExit ->
 * exited, ThreadState -> its state, GqcsEnter -> waiting, GqcsReturn ->
 * running, LockWait -> blocked (lock), LockAcquire -> running.
 *
 * One exception, for the timeline's picture only: a thread blocked in accept
 * (the accept thread's idle state) is waiting for work, as a worker in GQCS
 * is, so it draws and counts as waiting, not as the loud hatching of a thread
 * stuck on a lock (issue 19 §10).
 */
export function stateAt(words: Uint32Array, i: number): number {
  const o = i * RECORD_WORDS;
  const w0 = words[o]!;
  switch (w0 & 0xff) {
    case EventKind.ThreadState:
      return drawnState((w0 >>> 8) & 0xff, words[o + 1]!);
    case EventKind.GqcsEnter:
      return ThreadStateValue.Waiting;
    case EventKind.LockWait:
      return ThreadStateValue.Blocked;
    case EventKind.ThreadExit:
      return ThreadStateValue.Exited;
    default:
      return ThreadStateValue.Running;
  }
}

/** The state drawn for a ThreadState record's (state, reason): see stateAt. */
export function drawnState(state: number, reason: number): number {
  if (state > ThreadStateValue.Exited) return ThreadStateValue.Exited;
  if (state === ThreadStateValue.Blocked && reason === BlockReason.Accept) {
    return ThreadStateValue.Waiting;
  }
  return state;
}

/** BlockReason of a state entry (None unless the state is blocked). */
export function blockReasonAt(words: Uint32Array, i: number): number {
  const o = i * RECORD_WORDS;
  const w0 = words[o]!;
  const kind = w0 & 0xff;
  if (kind === EventKind.LockWait) return BlockReason.Lock;
  if (kind === EventKind.ThreadState && ((w0 >>> 8) & 0xff) === ThreadStateValue.Blocked) {
    return words[o + 1]!;
  }
  return BlockReason.None;
}

/** Whether event i carries a session/completion key in words 4-5 (0 = none). */
export function hasSessionAt(words: Uint32Array, i: number): boolean {
  const o = i * RECORD_WORDS;
  return (words[o + 4]! | words[o + 5]!) !== 0 && SESSION_KINDS[words[o]! & 0xff] === 1;
}

/** Kinds whose words 4-5 hold a SessionID or completion key. */
export const SESSION_KINDS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const k of [
    EventKind.GqcsReturn,
    EventKind.PacketQueued,
    EventKind.Pqcs,
    EventKind.IoPosted,
    EventKind.IoCount,
    EventKind.SessionCreated,
    EventKind.SessionReleased,
    EventKind.Accept,
    EventKind.Disconnect,
    EventKind.SocketClosed,
    EventKind.LockWait,
    EventKind.LockAcquire,
    EventKind.LockRelease,
    EventKind.Marker,
    // v2
    EventKind.IoDetail,
    EventKind.SessionRings,
    EventKind.JobPush,
    EventKind.SendBuffer,
    EventKind.CompletionModes,
  ])
    t[k] = 1;
  return t;
})();
