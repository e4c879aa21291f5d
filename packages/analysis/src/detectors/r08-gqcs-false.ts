// §3.8 GQCS FALSE mishandled.
// - zombie: a failed completion (FALSE with an overlapped: reset, 995 after a
//   close) whose handler went back to GQCS without IOCount-1. The session's
//   IOCount never reaches 0: it is never released.
// - timeout-exit: a worker exits right after GQCS timed out (258) while
//   sessions are live and no shutdown has started: a timeout is not a stop.
// - null-overlapped-used: after GQCS returned FALSE with a NULL overlapped
//   (nothing dequeued: 258 or 735), the thread decremented a session's IOCount
//   as if a completion had arrived — key and bytes are not valid then.
// FALSE/995 after a local close is the normal way pending I/O comes back and is
// not a finding by itself.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import {
  CompletionTracker,
  errorName as errorName_,
  opName as opName_,
  sessionSubject as sessionSubject_,
  threadSubject as threadSubject_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const errorName = errorName_;
const opName = opName_;
const sessionSubject = sessionSubject_;
const threadSubject = threadSubject_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, IoCountCause, ThreadRole, WinError } = proto;

const rule = RULE_BY_ID.get('gqcs-false')!;

export function gqcsFalse(): Detector {
  const tracker = new CompletionTracker((ok) => !ok);
  /** Per thread: the FALSE/NULL return of its current GQCS call, if any. */
  const nullReturn = new Map<number, { index: number; error: number }>();
  return {
    rule,
    kinds: [EventKind.GqcsReturn, EventKind.IoCount, EventKind.GqcsEnter, EventKind.ThreadExit],
    onGap: () => {
      tracker.clear();
      nullReturn.clear();
    },
    onSnapshot: () => {
      tracker.clear();
      nullReturn.clear();
    },
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const missed = tracker.onEvent(ctx, i);
      if (missed !== null) {
        for (const p of missed) {
          ctx.report(rule, {
            check: 'zombie',
            subject: sessionSubject(p.session),
            evidence: [p.dequeueIndex, i],
            message:
              `${ctx.sessionName(p.session)}: ${ctx.threadName(step.tid)} dequeued a failed ${opName(p.op)} ` +
              `(GQCS returned FALSE, ${errorName(p.error)}, event ${p.dequeueIndex}) and called GQCS again at event ` +
              `${i} without IOCount-1. A failed completion still ends with IOCount-1: without it the count never ` +
              `reaches 0 and the session is a zombie that is never released.`,
          });
        }
      }
      const w = ctx.words;
      switch (step.kind) {
        case EventKind.GqcsReturn: {
          const a = (w[ctx.o]! >>> 8) & 0xff;
          const ok = (a & 0x10) !== 0;
          const hasOverlapped = (a & 0x20) !== 0;
          if (!ok && !hasOverlapped) nullReturn.set(step.tid, { index: i, error: w[ctx.o + 6]! });
          return;
        }
        case EventKind.GqcsEnter:
          nullReturn.delete(step.tid);
          return;
        case EventKind.IoCount: {
          const nr = nullReturn.get(step.tid);
          const s = step.session;
          if (nr === undefined || s === null) return;
          const cause = (w[ctx.o]! >>> 8) & 0xff;
          if ((w[ctx.o + 6]! | 0) >= 0 || cause !== IoCountCause.Completion) return;
          if (ctx.state.threads.get(step.tid)?.handling.some((h) => h.key === s.id)) return;
          ctx.report(rule, {
            check: 'null-overlapped-used',
            subject: threadSubject(step.tid),
            evidence: [nr.index, i],
            message:
              `${ctx.threadName(step.tid)}: GQCS returned FALSE with a NULL overlapped at event ${nr.index} ` +
              `(${errorName(nr.error)}): nothing was dequeued. Yet at event ${i} the thread decremented the IOCount ` +
              `of ${ctx.sessionName(s.id)} as if a completion had arrived. When the overlapped is NULL, key and ` +
              `bytes mean nothing.`,
          });
          return;
        }
        case EventKind.ThreadExit: {
          const t = ctx.state.threads.get(step.tid);
          if (t === undefined || !t.isPortThread || t.role === ThreadRole.Main) return;
          if (t.lastGqcsError !== WinError.WaitTimeout || !t.lastGqcsNullOverlapped) return;
          if (ctx.shutdownIndex >= 0) return;
          let live = 0;
          for (const s of ctx.state.sessions.values()) if (s.lifecycle === 'live') live++;
          if (live === 0) return;
          ctx.report(rule, {
            check: 'timeout-exit',
            subject: threadSubject(step.tid),
            evidence: [t.lastGqcsReturnIndex, i],
            message:
              `${ctx.threadName(step.tid)} exited at event ${i} right after GQCS timed out ` +
              `(${errorName(WinError.WaitTimeout)}, event ${t.lastGqcsReturnIndex}) while ${live} sessions were live ` +
              `and no shutdown had started. A timeout means "nothing yet", not "stop": loop back to GQCS.`,
          });
          return;
        }
        default:
          return;
      }
    },
  };
}
