// §3.1 IOCount decremented twice or in the wrong place.
// Invariants: IOCount never goes below 0, and IOCount = issued-and-not-yet-
// dequeued I/O + explicit holds. The reducer's ledger pairs each -1 with the +1
// of its I/O (by ioId) or hold, so the checks below name the exact events:
// - negative: the count the server observed (or the sum of deltas) went below 0;
// - double-decrement: a -1 for an I/O whose -1 was already taken;
// - orphan-decrement: a -1 that matches no counted I/O or hold;
// - early-decrement: the completion's -1 before that completion was dequeued;
// - failed-post-on-success: a "post failed" -1 for a post that returned 0/997,
//   so its completion will decrement again;
// - no-decrement: a successful completion whose handler went back to GQCS
//   without its -1 (failed ones are rule 8's zombie);
// - increment-after-post: the +1 of an I/O recorded after its completion was
//   dequeued (IOCount must be incremented before WSARecv/WSASend: the
//   completion can be dequeued by another thread before the call returns).
//   Needs the server to tag its +1 with the ioId; else the order cannot be told.
// Legal and not reported: a completion dequeued before its IoPosted record (the
// call had not returned yet) when its +1 came first.
// One finding per session: the first check that fires explains the rest.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import { postFailed as postFailed_ } from '../state.ts';
import {
  CAUSE_NAMES,
  CompletionTracker,
  opName as opName_,
  opStart as opStart_,
  sessionSubject as sessionSubject_,
  wsaName as wsaName_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const postFailed = postFailed_;
const opName = opName_;
const opStart = opStart_;
const sessionSubject = sessionSubject_;
const wsaName = wsaName_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, IoCountCause } = proto;

const rule = RULE_BY_ID.get('iocount-balance')!;

export function iocountBalance(): Detector {
  const tracker = new CompletionTracker((ok) => ok);
  return {
    rule,
    kinds: [EventKind.IoCount, EventKind.GqcsReturn, EventKind.GqcsEnter, EventKind.ThreadExit],
    onGap: () => tracker.clear(),
    onSnapshot: () => tracker.clear(),
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const missed = tracker.onEvent(ctx, i);
      if (missed !== null) {
        for (const p of missed) {
          ctx.report(rule, {
            check: 'no-decrement',
            subject: sessionSubject(p.session),
            evidence: [p.dequeueIndex, i],
            message:
              `${ctx.sessionName(p.session)}: ${ctx.threadName(step.tid)} handled a ${opName(p.op)} completion ` +
              `(io #${p.ioId}, dequeued at event ${p.dequeueIndex}) and called GQCS again at event ${i} without ` +
              `IOCount-1. Every dequeued completion must end with exactly one IOCount-1, or the session never reaches 0 ` +
              `and is never released.`,
          });
        }
        return;
      }
      const s = step.session;
      if (s === null || !s.complete) return;

      if (step.kind !== EventKind.IoCount) return;
      const w = ctx.words;
      const value = w[ctx.o + 1]! | 0;
      const delta = w[ctx.o + 6]! | 0;
      const cause = (w[ctx.o]! >>> 8) & 0xff;
      const ioId = w[ctx.o + 7]!;
      const op = step.op;

      if (delta > 0) {
        // A +1 that arrives for an I/O whose completion was already dequeued.
        if (op === null || op.incIndex !== i || op.dequeueIndex < 0) return;
        ctx.report(rule, {
          check: 'increment-after-post',
          subject: sessionSubject(s.id),
          evidence: [op.postIndex, op.queuedIndex, op.dequeueIndex, i],
          message:
            `${ctx.sessionName(s.id)}: IOCount+1 for the ${opName(op.op)} io #${op.ioId} came at event ${i}, after its completion ` +
            `had already been dequeued at event ${op.dequeueIndex}. Increment IOCount before calling ` +
            `${wsaName(op.op)}: another thread can dequeue the completion, decrement and release the session ` +
            `before the call even returns.`,
        });
        return;
      }
      if (delta === 0) return;

      if (step.orphanDecrement && step.earlierDecIndex >= 0 && op !== null) {
        ctx.report(rule, {
          check: 'double-decrement',
          subject: sessionSubject(s.id),
          evidence: [opStart(op), op.dequeueIndex, step.earlierDecIndex, i],
          message:
            `${ctx.sessionName(s.id)}: IOCount was decremented twice for one ${opName(op.op)} completion (io #${op.ioId}): ` +
            `events ${step.earlierDecIndex} and ${i}${value < 0 ? `, and went to ${value}` : `, leaving ${value}`}. ` +
            `Each completion must take exactly one IOCount-1; the extra one lets the session be released while ` +
            `other I/O is still pending.`,
        });
        return;
      }
      if (value < 0 || s.ioCount < 0) {
        const shown = value < 0 ? value : s.ioCount;
        ctx.report(rule, {
          check: 'negative',
          subject: sessionSubject(s.id),
          evidence: [s.createdIndex, i],
          message:
            `${ctx.sessionName(s.id)}: IOCount went to ${shown} at event ${i} (${CAUSE_NAMES[cause] ?? 'unknown cause'}). ` +
            `It can never be below 0: some earlier -1 had no matching +1.`,
        });
        return;
      }
      if (step.orphanDecrement) {
        const what =
          ioId !== 0 && (cause === IoCountCause.Completion || cause === IoCountCause.PostFailed)
            ? `for io #${ioId}, which this session never counted with a +1`
            : `(${CAUSE_NAMES[cause] ?? 'unknown cause'}) with no open hold to drop`;
        ctx.report(rule, {
          check: 'orphan-decrement',
          subject: sessionSubject(s.id),
          evidence: [i],
          message:
            `${ctx.sessionName(s.id)}: IOCount-1 at event ${i} ${what}. IOCount must equal the I/O posted and not yet ` +
            `dequeued plus explicit holds; this -1 makes it too low.`,
        });
        return;
      }
      if (op === null) return;
      if (cause === IoCountCause.Completion && op.dequeueIndex < 0) {
        ctx.report(rule, {
          check: 'early-decrement',
          subject: sessionSubject(s.id),
          evidence: [opStart(op), i],
          message:
            `${ctx.sessionName(s.id)}: IOCount-1 for the ${opName(op.op)} io #${op.ioId} at event ${i}, but that completion was ` +
            `never dequeued. Decrement when the completion is handled, not when the I/O is posted.`,
        });
        return;
      }
      if (cause === IoCountCause.PostFailed && op.postIndex >= 0 && !postFailed(op)) {
        ctx.report(rule, {
          check: 'failed-post-on-success',
          subject: sessionSubject(s.id),
          evidence: [opStart(op), op.postIndex, i],
          message:
            `${ctx.sessionName(s.id)}: IOCount-1 for a failed post at event ${i}, but ${wsaName(op.op)} io #${op.ioId} returned ` +
            `${op.postResult === 0 ? '0 (done at once)' : `${op.postResult} (pending)`} at event ${op.postIndex}: a completion ` +
            `packet will still come and decrement again. Only an error other than WSA_IO_PENDING means no packet.`,
        });
      }
    },
  };
}
