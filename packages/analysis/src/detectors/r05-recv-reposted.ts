// §3.5 Recv not re-posted.
// Invariant: after a recv completion with bytes > 0, the handling thread posts a
// recv (or disconnects) before its next GQCS. A recv post by any thread or a
// Disconnect record settles the obligation; so does a session that was already
// disconnecting when the completion was dequeued (rule 12 says not to post
// then). A 0-byte recv (peer closed) and a failed recv owe nothing. A closed
// socket alone does not settle it: releasing a session that stopped reading closes
// its socket too.
// Race: another thread may have started a disconnect (set the flag that makes
// RecvPost refuse) without its Disconnect record being in the trace yet when
// this thread returns to GQCS. So a miss is reported only if no Disconnect or
// recv post for the session follows within `raceGraceNs`, or by the trace end.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { SessionId } from '../ids.ts';
import {
  issuedOp as issuedOp_,
  sessionSubject as sessionSubject_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const issuedOp = issuedOp_;
const sessionSubject = sessionSubject_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, Op } = proto;

const rule = RULE_BY_ID.get('recv-reposted')!;

interface Owed {
  session: SessionId;
  ioId: number;
  bytes: number;
  dequeueIndex: number;
  tid: number;
  /** The thread's next GQCS (or exit), once it happened. */
  backIndex: number;
  backTs: number;
  what: string;
}

export function recvReposted(): Detector {
  /** Per thread: recv completions handled in its current GQCS call. */
  const owed = new Map<number, Owed[]>();
  /** Returned to GQCS without a post: waiting out the grace period, oldest first. */
  let suspects: Owed[] = [];

  const settle = (id: SessionId): void => {
    for (const [tid, list] of owed) {
      const rest = list.filter((o) => o.session !== id);
      if (rest.length === list.length) continue;
      if (rest.length === 0) owed.delete(tid);
      else owed.set(tid, rest);
    }
    if (suspects.length > 0) suspects = suspects.filter((o) => o.session !== id);
  };

  const report = (ctx: Ctx, o: Owed): void => {
    ctx.report(rule, {
      check: 'not-reposted',
      subject: sessionSubject(o.session),
      evidence: [o.dequeueIndex, o.backIndex],
      at: o.backIndex,
      message:
        `${ctx.sessionName(o.session)}: ${ctx.threadName(o.tid)} handled a ${o.bytes}-byte recv completion ` +
        `(io #${o.ioId}, event ${o.dequeueIndex}) and ${o.what} at event ${o.backIndex} without posting a new recv ` +
        `or disconnecting. With no recv outstanding nothing reads the socket any more, and once the session's ` +
        `last I/O completes its IOCount reaches 0 and it is released: the server hangs up on a client that ` +
        `was still talking (it gets one echo, then the connection closes).`,
    });
  };

  return {
    rule,
    kinds: [
      EventKind.GqcsReturn,
      EventKind.IoCount,
      EventKind.IoPosted,
      EventKind.Disconnect,
      EventKind.GqcsEnter,
      EventKind.ThreadExit,
    ],
    onGap: () => {
      owed.clear();
      suspects = [];
    },
    onSnapshot: () => {
      owed.clear();
      suspects = [];
    },
    finish(ctx: Ctx): void {
      for (const o of suspects) report(ctx, o);
      suspects = [];
    },
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      while (suspects.length > 0 && step.tsNs - suspects[0]!.backTs >= ctx.options.raceGraceNs) {
        report(ctx, suspects.shift()!);
      }
      switch (step.kind) {
        case EventKind.GqcsReturn: {
          const h = step.handled;
          const s = step.session;
          if (h === null || s === null || !h.ok || h.op !== Op.Recv || h.bytes === 0 || !s.complete)
            return;
          if (step.lifecycleBefore !== 'live') return;
          let list = owed.get(step.tid);
          if (list === undefined) owed.set(step.tid, (list = []));
          list.push({
            session: s.id,
            ioId: h.ioId,
            bytes: h.bytes,
            dequeueIndex: i,
            tid: step.tid,
            backIndex: -1,
            backTs: 0,
            what: '',
          });
          return;
        }
        case EventKind.IoCount:
        case EventKind.IoPosted: {
          const op = step.op;
          if (op === null || op.op !== Op.Recv || step.session === null) return;
          // Any sign of a new recv: its +1, or its post record.
          if (issuedOp(step, i) !== null || op.postIndex === i) settle(step.session.id);
          return;
        }
        case EventKind.Disconnect:
          if (step.session !== null) settle(step.session.id);
          return;
        default: {
          const list = owed.get(step.tid);
          if (list === undefined) return;
          owed.delete(step.tid);
          const what = step.kind === EventKind.ThreadExit ? 'exited' : 'called GQCS again';
          for (const o of list) {
            o.backIndex = i;
            o.backTs = step.tsNs;
            o.what = what;
            suspects.push(o);
          }
        }
      }
    },
  };
}
