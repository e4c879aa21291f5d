// §3.9 0-byte completions.
// - recv-after-close: a recv posted after a successful 0-byte recv completion
//   (the peer closed): it completes with 0 bytes again at once, and the worker
//   spins. A 0-byte recv followed by a disconnect is the correct handling.
//   One GQCS-Ex call can return a recv with data and, after it, the same
//   session's 0-byte recv (only when two recvs were out: another rule's bug).
//   The thread handles the batch in order, so one recv it posts in that call
//   is the data completion's own repost, not a repost after the close: each
//   such earlier data recv in the batch excuses one recv post of that call.
// - exit-ignored: a thread dequeued an exit packet (0,0,NULL) and called GQCS
//   again instead of exiting; that packet is lost and shutdown waits forever.
// - exit-as-completion: after an exit packet, the thread decremented an
//   IOCount as if it had been an I/O completion: a completion -1 for a
//   session none of the packets of its current GQCS(-Ex) call was for. A
//   GQCS-Ex batch that holds an exit packet and I/O completions is handled
//   right when each completion gets its -1 (before or after the exit packet
//   in the batch: the thread handles the whole batch, then exits).

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { SessionId } from '../ids.ts';
import {
  isExitPacketReturn as isExitPacketReturn_,
  issuedOp as issuedOp_,
  sessionSubject as sessionSubject_,
  threadSubject as threadSubject_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const isExitPacketReturn = isExitPacketReturn_;
const issuedOp = issuedOp_;
const sessionSubject = sessionSubject_;
const threadSubject = threadSubject_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, IoCountCause, Op } = proto;

const rule = RULE_BY_ID.get('zero-byte')!;

/** The thread's current GQCS(-Ex) call dequeued an I/O completion of this session (and ioId, when tagged). */
function handlesCompletionOf(ctx: Ctx, tid: number, session: SessionId, ioId: number): boolean {
  const t = ctx.state.threads.get(tid);
  if (t === undefined) return false;
  for (const h of t.handling) {
    if (h.hasOverlapped && h.key === session && (ioId === 0 || h.ioId === ioId)) return true;
  }
  return false;
}

/**
 * Recv completions of `session` with data that the thread's current GQCS-Ex
 * call dequeued before the 0-byte recv at event `z` (0 unless that call holds z).
 */
function dataRecvsBefore(ctx: Ctx, tid: number, session: SessionId, z: number): number {
  const t = ctx.state.threads.get(tid);
  if (t === undefined || !t.handling.some((h) => h.dequeueIndex === z)) return 0;
  let n = 0;
  for (const h of t.handling) {
    if (
      h.dequeueIndex < z &&
      h.hasOverlapped &&
      h.key === session &&
      h.ok &&
      h.op === Op.Recv &&
      h.bytes > 0
    )
      n++;
  }
  return n;
}

export function zeroByte(): Detector {
  /** Sessions whose peer closed: where the 0-byte recv was dequeued. */
  const closedAt = new Map<SessionId, number>();
  /** Recv posts since, excused as the reposts of data recvs handled before it in its batch. */
  const excused = new Map<SessionId, number>();
  /** Threads that dequeued an exit packet in their current GQCS call. */
  const exitAt = new Map<number, number>();
  return {
    rule,
    kinds: [
      EventKind.GqcsReturn,
      EventKind.IoCount,
      EventKind.IoPosted,
      EventKind.GqcsEnter,
      EventKind.ThreadExit,
      EventKind.SessionReleased,
    ],
    onGap: () => {
      closedAt.clear();
      excused.clear();
      exitAt.clear();
    },
    onSnapshot: () => {
      closedAt.clear();
      excused.clear();
      exitAt.clear();
    },
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const s = step.session;
      switch (step.kind) {
        case EventKind.GqcsReturn: {
          const h = step.handled;
          if (h === null) return;
          if (isExitPacketReturn(h.ok, h.hasOverlapped, h.key, h.bytes)) {
            exitAt.set(step.tid, i);
            return;
          }
          if (s !== null && s.complete && h.ok && h.op === Op.Recv && h.bytes === 0) {
            closedAt.set(s.id, i);
            excused.delete(s.id);
          }
          return;
        }
        case EventKind.GqcsEnter: {
          const d = exitAt.get(step.tid);
          if (d === undefined) return;
          exitAt.delete(step.tid);
          ctx.report(rule, {
            check: 'exit-ignored',
            subject: threadSubject(step.tid),
            evidence: [d, i],
            message:
              `${ctx.threadName(step.tid)} dequeued an exit packet (0, 0, NULL) at event ${d} and called GQCS ` +
              `again at event ${i} instead of exiting. That packet is lost: one worker fewer will stop at shutdown, ` +
              `and joining it hangs. Check for a NULL overlapped before treating a packet as I/O.`,
          });
          return;
        }
        case EventKind.ThreadExit:
          exitAt.delete(step.tid);
          return;
        case EventKind.SessionReleased:
          if (s !== null) {
            closedAt.delete(s.id);
            excused.delete(s.id);
          }
          return;
        case EventKind.IoCount:
        case EventKind.IoPosted: {
          if (s === null) return;
          const d = exitAt.get(step.tid);
          if (
            d !== undefined &&
            step.kind === EventKind.IoCount &&
            (ctx.words[ctx.o + 6]! | 0) < 0 &&
            ((ctx.words[ctx.o]! >>> 8) & 0xff) === IoCountCause.Completion &&
            !handlesCompletionOf(ctx, step.tid, s.id, ctx.words[ctx.o + 7]!)
          ) {
            ctx.report(rule, {
              check: 'exit-as-completion',
              subject: threadSubject(step.tid),
              evidence: [d, i],
              message:
                `${ctx.threadName(step.tid)} dequeued an exit packet (0, 0, NULL) at event ${d}, then decremented ` +
                `the IOCount of ${ctx.sessionName(s.id)} at event ${i} as if it were an I/O completion. An exit ` +
                `packet has no overlapped: it only means "stop".`,
            });
          }
          const op = issuedOp(step, i);
          const z = closedAt.get(s.id);
          if (op === null || op.op !== Op.Recv || z === undefined) return;
          const used = excused.get(s.id) ?? 0;
          if (used < dataRecvsBefore(ctx, step.tid, s.id, z)) {
            excused.set(s.id, used + 1);
            return;
          }
          ctx.report(rule, {
            check: 'recv-after-close',
            subject: sessionSubject(s.id),
            evidence: [z, i],
            message:
              `${ctx.sessionName(s.id)}: the peer closed the connection (0-byte recv completion at event ${z}), but a ` +
              `new recv was posted at event ${i}. It completes with 0 bytes again at once, forever: the worker ` +
              `spins. A 0-byte recv completion means disconnect.`,
          });
          return;
        }
        default:
          return;
      }
    },
  };
}
