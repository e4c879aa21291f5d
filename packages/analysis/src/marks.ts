// What the timeline draws for one record, read straight from its words: the
// mark bits of a completion, a queued packet or a post, and the thread state
// a record puts its thread in. Shared by the server's trace index (its
// zoomed-out summaries) and the browser (its own indexes), so a summary and
// the raw records it stands for always agree.

import * as proto from './proto.ts';

const { BlockReason, EventKind, RECORD_WORDS, ThreadStateValue, WinError } = proto;

/** Bits describing a mark (a completion, a queued packet, a post). OR-able per bucket. */
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

/** Kinds that set their thread's state (see stateAt). */
export const STATE_KINDS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const k of [
    EventKind.ThreadStart,
    EventKind.ThreadExit,
    EventKind.ThreadState,
    EventKind.GqcsEnter,
    EventKind.GqcsReturn,
    EventKind.LockWait,
    EventKind.LockAcquire,
  ])
    t[k] = 1;
  return t;
})();

/**
 * Thread state introduced by a state kind, with the replay reducer's rules
 * (replay.ts): ThreadStart -> running, ThreadExit -> exited, ThreadState ->
 * its state, GqcsEnter -> waiting, GqcsReturn -> running, LockWait -> blocked
 * (lock), LockAcquire -> running.
 */
export function stateAt(words: Uint32Array, i: number): number {
  const w0 = words[i * RECORD_WORDS]!;
  switch (w0 & 0xff) {
    case EventKind.ThreadState: {
      const s = (w0 >>> 8) & 0xff;
      return s <= ThreadStateValue.Exited ? s : ThreadStateValue.Exited;
    }
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
