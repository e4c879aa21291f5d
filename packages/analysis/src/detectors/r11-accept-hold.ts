// §3.11 Accept without a hold.
// The accept thread must hold one IOCount across the first RecvPost and drop
// it afterwards: if that recv fails or completes at once, a worker can take
// IOCount to 0 and release the session while the accept thread is still using
// it (join after leave). Checked on the first I/O the creating thread issues
// for a session it created: a hold (any open +1 that is not an I/O) must be
// open at that moment (check no-hold). When the race actually happens, the
// acceptor's Accept record (written when it is done with the session) comes
// after the release (check join-after-leave), or names a session other than
// the one it created last (check joined-other-session: with slot reuse, the
// acceptor's write to the freed slot landed in another session).

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { SessionId } from '../ids.ts';
import {
  issuedOp as issuedOp_,
  sessionSubject as sessionSubject_,
  wsaName as wsaName_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const issuedOp = issuedOp_;
const sessionSubject = sessionSubject_;
const wsaName = wsaName_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind } = proto;

const rule = RULE_BY_ID.get('accept-hold')!;

export function acceptHold(): Detector {
  /** Sessions whose first post by the creating thread has not been seen yet. */
  const waiting = new Set<SessionId>();
  /** Per accepting thread: the session it created last, and where. */
  const lastCreated = new Map<number, { id: SessionId; index: number }>();
  return {
    rule,
    kinds: [
      EventKind.SessionCreated,
      EventKind.Accept,
      EventKind.IoCount,
      EventKind.IoPosted,
      EventKind.SessionReleased,
    ],
    onGap: () => {
      waiting.clear();
      lastCreated.clear();
    },
    onSnapshot: () => {
      waiting.clear();
      lastCreated.clear();
    },
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const s = step.session;
      if (s === null) return;
      if (step.kind === EventKind.Accept) {
        const mine = lastCreated.get(step.tid);
        if (mine !== undefined && mine.id !== s.id && s.createdIndex > mine.index) {
          ctx.report(rule, {
            check: 'joined-other-session',
            subject: sessionSubject(mine.id),
            evidence: [mine.index, s.createdIndex, i],
            dedupe: 'o' + mine.id.toString(16),
            message:
              `${ctx.threadName(step.tid)} created ${ctx.sessionName(mine.id)} at event ${mine.index}, but finished ` +
              `accepting ${ctx.sessionName(s.id)} at event ${i}: the slot it was still using had been released and ` +
              `given to another session, so its write landed in that session's state. Hold an IOCount from ` +
              `creation until the acceptor is done.`,
          });
          return;
        }
      }
      if (step.kind === EventKind.Accept && step.lifecycleBefore === 'released') {
        ctx.report(rule, {
          check: 'join-after-leave',
          subject: sessionSubject(s.id),
          evidence: [s.createdIndex, s.releasedIndex, i],
          dedupe: 'j' + s.id.toString(16),
          message:
            `${ctx.sessionName(s.id)} was released at event ${s.releasedIndex}, before ${ctx.threadName(step.tid)} ` +
            `finished accepting it (event ${i}): the acceptor was still using a freed session (join after leave). ` +
            `Hold an IOCount from creation until the acceptor is done.`,
        });
        return;
      }
      if (step.kind === EventKind.SessionCreated) lastCreated.set(step.tid, { id: s.id, index: i });
      if (step.kind === EventKind.SessionCreated || step.kind === EventKind.Accept) {
        if (s.complete && s.ops.length === 0 && s.recentOps.length === 0) waiting.add(s.id);
        return;
      }
      if (step.kind === EventKind.SessionReleased) {
        waiting.delete(s.id);
        return;
      }
      if (!waiting.has(s.id)) return;
      const op = issuedOp(step, i);
      if (op === null) return;
      waiting.delete(s.id);
      if (step.tid !== s.creatorTid || !s.complete || s.holds.length > 0) return;
      ctx.report(rule, {
        check: 'no-hold',
        subject: sessionSubject(s.id),
        evidence: [s.createdIndex >= 0 ? s.createdIndex : s.acceptIndex, i],
        message:
          `${ctx.sessionName(s.id)}: ${ctx.threadName(step.tid)} accepted it and issued its first ${wsaName(op.op)} ` +
          `(io #${op.ioId}) at event ${i} without holding an IOCount. If that I/O fails or completes at once, a ` +
          `worker can drop IOCount to 0 and release the session while the accept thread still uses it. Take a ` +
          `hold (IOCount+1) before the first RecvPost and drop it afterwards.`,
      });
    },
  };
}
