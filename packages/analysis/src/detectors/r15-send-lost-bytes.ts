// §3.15 Send flood and lost bytes.
// An overlapped send completes with all its bytes or fails; a short send
// without an error must be treated as a failure (disconnect), or the bytes it
// did not send are lost. Checked: a successful send completion with fewer bytes
// than posted, after which the handling thread reached its next GQCS without
// the session disconnecting.
// Not visible: SendQ growing past its capacity — the events do not carry the
// SendQ level. A disconnect with reason send-overflow is the correct outcome.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { SessionId } from '../ids.ts';
import { sessionSubject as sessionSubject_, type Ctx, type Detector } from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const sessionSubject = sessionSubject_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, Op } = proto;

const rule = RULE_BY_ID.get('send-lost-bytes')!;

interface Short {
  session: SessionId;
  ioId: number;
  bytes: number;
  requested: number;
  postIndex: number;
  dequeueIndex: number;
}

export function sendLostBytes(): Detector {
  const byThread = new Map<number, Short[]>();
  const resolve = (id: SessionId): void => {
    for (const [tid, list] of byThread) {
      const rest = list.filter((x) => x.session !== id);
      if (rest.length === 0) byThread.delete(tid);
      else byThread.set(tid, rest);
    }
  };
  return {
    rule,
    kinds: [
      EventKind.GqcsReturn,
      EventKind.IoPosted,
      EventKind.Disconnect,
      EventKind.SocketClosed,
      EventKind.GqcsEnter,
      EventKind.ThreadExit,
    ],
    onGap: () => byThread.clear(),
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const s = step.session;
      switch (step.kind) {
        case EventKind.GqcsReturn:
        case EventKind.IoPosted: {
          const op = step.op;
          if (s === null || op === null || op.op !== Op.Send || !s.complete) return;
          if (
            op.status !== 0 ||
            op.postIndex < 0 ||
            op.dequeueIndex < 0 ||
            op.bytes >= op.requestedBytes
          )
            return;
          if (op.postIndex !== i && op.dequeueIndex !== i) return;
          const tid = op.dequeueTid;
          let list = byThread.get(tid);
          if (list === undefined) byThread.set(tid, (list = []));
          list.push({
            session: s.id,
            ioId: op.ioId,
            bytes: op.bytes,
            requested: op.requestedBytes,
            postIndex: op.postIndex,
            dequeueIndex: op.dequeueIndex,
          });
          return;
        }
        case EventKind.Disconnect:
        case EventKind.SocketClosed:
          if (s !== null) resolve(s.id);
          return;
        default: {
          const list = byThread.get(step.tid);
          if (list === undefined) return;
          byThread.delete(step.tid);
          for (const x of list) {
            ctx.report(rule, {
              check: 'short-send-ignored',
              subject: sessionSubject(x.session),
              evidence: [x.postIndex, x.dequeueIndex, i],
              at: x.dequeueIndex,
              message:
                `${ctx.sessionName(x.session)}: send io #${x.ioId} completed with only ${x.bytes} of ${x.requested} bytes ` +
                `(event ${x.dequeueIndex}) and no error, and the session carried on. An overlapped send sends ` +
                `everything or fails; a short send means ${x.requested - x.bytes} bytes lost: disconnect the session.`,
            });
          }
        }
      }
    },
  };
}
