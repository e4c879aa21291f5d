// §3.5 Recv not re-posted.
// Invariant: after a recv completion with bytes > 0, the handling thread posts a
// recv (or disconnects) before its next GQCS. A recv post by any thread, a
// disconnect or a closed socket settles the obligation; so does a session that
// was already disconnecting when the completion was dequeued (rule 12 says not
// to post then). A 0-byte recv (peer closed) and a failed recv owe nothing.

import { EventKind, Op } from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { SessionId } from '../ids.ts';
import { issuedOp, sessionSubject, type Ctx, type Detector } from './common.ts';

const rule = RULE_BY_ID.get('recv-reposted')!;

interface Owed {
  session: SessionId;
  ioId: number;
  bytes: number;
  dequeueIndex: number;
}

export function recvReposted(): Detector {
  const owed = new Map<number, Owed[]>();

  const settle = (id: SessionId): void => {
    for (const [tid, list] of owed) {
      const k = list.findIndex((o) => o.session === id);
      if (k < 0) continue;
      list.splice(k, 1);
      if (list.length === 0) owed.delete(tid);
    }
  };

  return {
    rule,
    kinds: [
      EventKind.GqcsReturn,
      EventKind.IoCount,
      EventKind.IoPosted,
      EventKind.Disconnect,
      EventKind.SocketClosed,
      EventKind.GqcsEnter,
      EventKind.ThreadExit,
    ],
    onGap: () => owed.clear(),
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      switch (step.kind) {
        case EventKind.GqcsReturn: {
          const h = step.handled;
          const s = step.session;
          if (h === null || s === null || !h.ok || h.op !== Op.Recv || h.bytes === 0 || !s.complete)
            return;
          if (step.lifecycleBefore !== 'live') return;
          let list = owed.get(step.tid);
          if (list === undefined) owed.set(step.tid, (list = []));
          list.push({ session: s.id, ioId: h.ioId, bytes: h.bytes, dequeueIndex: i });
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
        case EventKind.SocketClosed:
          if (step.session !== null) settle(step.session.id);
          return;
        default: {
          const list = owed.get(step.tid);
          if (list === undefined) return;
          owed.delete(step.tid);
          const what = step.kind === EventKind.ThreadExit ? 'exited' : 'called GQCS again';
          for (const o of list) {
            ctx.report(rule, {
              check: 'not-reposted',
              subject: sessionSubject(o.session),
              evidence: [o.dequeueIndex, i],
              message:
                `${ctx.sessionName(o.session)}: ${ctx.threadName(step.tid)} handled a ${o.bytes}-byte recv ` +
                `completion (io #${o.ioId}, event ${o.dequeueIndex}) and ${what} at event ${i} without posting a ` +
                `new recv or disconnecting. Nothing will ever read this socket again: the client hangs and the ` +
                `server never notices it leave.`,
            });
          }
        }
      }
    },
  };
}
