// §3.15 Send flood and lost bytes.
// SendQ over capacity must lead to a disconnect, not to memory growth or lost
// bytes; and an overlapped send completes with all its bytes or fails, so a
// short send must be treated as a failure. Checked:
// - sendq-over-capacity: a send posted while SendQ held more bytes than its
//   capacity (IoRing `avail` above SessionRings' sendCap, v2): the server kept
//   queueing past the end of the ring, over bytes it had not sent yet,
//   instead of disconnecting the session (disconnect reason send-overflow);
// - unsent-skipped: a send that starts past SendQ's front (IoRing, v2: the
//   previous send started at F and reported n bytes sent, this one starts
//   beyond F + n): the server moved the front by more than the kernel sent, so
//   the bytes in between are never sent;
// - short-send-ignored: a send that completed TRUE with fewer bytes than
//   posted, after which the handling thread went back to GQCS without the
//   session disconnecting.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { SessionId } from '../ids.ts';
import { sessionSubject as sessionSubject_, type Ctx, type Detector } from './common.ts';
import { RingChains, type ChainBreak } from './ring-chain.ts';

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
  const chains = new RingChains((ctx: Ctx, b: ChainBreak) => {
    if (b.op !== Op.Send) return;
    const ahead = (b.off0 - b.expected + b.cap) % b.cap;
    if (ahead > b.cap / 2) return; // behind the front: rule 7's
    ctx.report(rule, {
      check: 'unsent-skipped',
      subject: sessionSubject(b.session),
      evidence: [b.prevIndex, b.index],
      at: b.index,
      message:
        `${ctx.sessionName(b.session)}: send io #${b.prevIoId} started at offset ${b.prevOff0} of SendQ and the kernel ` +
        `reported ${b.prevBytes} bytes sent, so SendQ's front was at ${b.expected}; yet the next send (io #${b.ioId}) ` +
        `starts at ${b.off0}. The server moved the front by more than was sent: ${ahead} byte${ahead === 1 ? '' : 's'} ` +
        `of the echo will never reach the client. Advance SendQ by the bytes the completion reports, and treat a ` +
        `send that did not send everything as a failure (disconnect).`,
    });
  });

  return {
    rule,
    kinds: [
      EventKind.GqcsReturn,
      EventKind.IoPosted,
      EventKind.IoRing,
      EventKind.IoCount,
      EventKind.Disconnect,
      EventKind.SocketClosed,
      EventKind.GqcsEnter,
      EventKind.ThreadExit,
      EventKind.SessionCreated,
      EventKind.SessionReleased,
    ],
    onGap: () => {
      byThread.clear();
      chains.clear();
    },
    onSnapshot: (ctx) => {
      byThread.clear();
      chains.seed(ctx);
    },
    onEvent(ctx: Ctx, i: number): void {
      chains.onEvent(ctx, i);
      const step = ctx.step;
      const s = step.session;
      switch (step.kind) {
        case EventKind.IoRing: {
          const op = step.op;
          if (s === null || op === null || op.op !== Op.Send || !s.complete) return;
          if (s.sendCap <= 0 || op.ringAvail <= s.sendCap) return;
          ctx.report(rule, {
            check: 'sendq-over-capacity',
            subject: sessionSubject(s.id),
            evidence: [op.postIndex, i],
            message:
              `${ctx.sessionName(s.id)}: when send io #${op.ioId} was posted (event ${op.postIndex}), SendQ held ` +
              `${op.ringAvail} bytes in a ${s.sendCap}-byte ring: the server kept copying echoes into it after it was ` +
              `full, over bytes it had not sent yet. A client that sends faster than it reads must be disconnected ` +
              `(send overflow), not allowed to overwrite or grow the queue.`,
          });
          return;
        }
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
        case EventKind.GqcsEnter:
        case EventKind.ThreadExit: {
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
          return;
        }
        default:
          return;
      }
    },
  };
}
