// §3.7 Ring-buffer wrap mistakes.
// Invariants: posted ranges fit the free (recv) or used (send) space, the
// second WSABUF starts at the buffer base, and the completion advances the
// pointer modulo capacity. The events carry the WSABUF count and total length
// but no addresses, so what is checked is what they show:
// - wsabuf-count: a ring buffer is posted as 1 piece, or 2 when it wraps;
// - zero-length: a recv with no free space posted (its 0-byte completion looks
//   exactly like a graceful close) or a send with nothing in it;
// - overrun: a completion reporting more bytes than were posted.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import { postFailed as postFailed_ } from '../state.ts';
import {
  opName as opName_,
  sessionSubject as sessionSubject_,
  wsaName as wsaName_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const postFailed = postFailed_;
const opName = opName_;
const sessionSubject = sessionSubject_;
const wsaName = wsaName_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, Op } = proto;

const rule = RULE_BY_ID.get('ring-buffer')!;

export function ringBuffer(): Detector {
  return {
    rule,
    kinds: [EventKind.IoPosted, EventKind.GqcsReturn],
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const s = step.session;
      const op = step.op;
      if (s === null || op === null || !s.complete || (op.op !== Op.Recv && op.op !== Op.Send))
        return;
      if (step.kind === EventKind.IoPosted && op.postIndex === i && !postFailed(op)) {
        if (op.bufCount !== 1 && op.bufCount !== 2) {
          ctx.report(rule, {
            check: 'wsabuf-count',
            subject: sessionSubject(s.id),
            evidence: [i],
            message:
              `${ctx.sessionName(s.id)}: ${wsaName(op.op)} io #${op.ioId} was posted with ${op.bufCount} WSABUFs at event ${i}. ` +
              `A ring buffer is posted as one piece, or two when the space wraps (the second starting at the base).`,
          });
          return;
        }
        if (op.requestedBytes === 0) {
          ctx.report(rule, {
            check: 'zero-length',
            subject: sessionSubject(s.id),
            evidence: [i],
            message:
              op.op === Op.Recv
                ? `${ctx.sessionName(s.id)}: WSARecv io #${op.ioId} was posted with 0 bytes of buffer at event ${i}: RecvQ had no free ` +
                  `space. Its 0-byte completion will look exactly like the peer closing. Cut complete packets out of ` +
                  `RecvQ before re-posting, and kick a session whose packet cannot fit.`
                : `${ctx.sessionName(s.id)}: WSASend io #${op.ioId} was posted with 0 bytes at event ${i}: the used part of SendQ was ` +
                  `computed as empty (a wrap mistake?). Only post a send when SendQ holds data.`,
          });
          return;
        }
      }
      // A completion larger than its post (whichever of the two records came last).
      if (
        op.bytes > op.requestedBytes &&
        op.postIndex >= 0 &&
        op.dequeueIndex >= 0 &&
        op.status === 0
      ) {
        if (op.postIndex !== i && op.dequeueIndex !== i) return;
        ctx.report(rule, {
          check: 'overrun',
          subject: sessionSubject(s.id),
          evidence: [op.postIndex, op.dequeueIndex],
          message:
            `${ctx.sessionName(s.id)}: ${opName(op.op)} io #${op.ioId} completed with ${op.bytes} bytes (event ${op.dequeueIndex}) but ` +
            `only ${op.requestedBytes} were posted (event ${op.postIndex}). The posted WSABUF lengths do not ` +
            `match the ring's free/used space.`,
        });
      }
    },
  };
}
