// §3.6 Buffers or OVERLAPPED reused while I/O uses them.
// Invariant: a posted byte range is not written by anyone else until its
// completion is dequeued. The events carry sizes, not addresses, so two
// visible consequences are checked:
// - two-recvs: a second recv while one is outstanding — the reference server
//   has one RecvQ, and both recvs own its free space;
// - overlapped-reused: the same OVERLAPPED (ioId) posted again while its I/O
//   is still in flight.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import { isOutstanding as isOutstanding_ } from '../state.ts';
import {
  issuedOp as issuedOp_,
  opName as opName_,
  opStart as opStart_,
  sessionSubject as sessionSubject_,
  wsaName as wsaName_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const isOutstanding = isOutstanding_;
const issuedOp = issuedOp_;
const opName = opName_;
const opStart = opStart_;
const sessionSubject = sessionSubject_;
const wsaName = wsaName_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, Op } = proto;

const rule = RULE_BY_ID.get('buffer-in-use')!;

export function bufferInUse(): Detector {
  return {
    rule,
    kinds: [EventKind.IoCount, EventKind.IoPosted],
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const s = step.session;
      const op = step.op;
      if (s === null || op === null || !s.complete) return;
      if (step.opDuplicate && step.opIsNew && (op.incIndex === i || op.postIndex === i)) {
        const first = s.ops.find((o) => o !== op && o.ioId === op.ioId && isOutstanding(o));
        if (first !== undefined) {
          ctx.report(rule, {
            check: 'overlapped-reused',
            subject: sessionSubject(s.id),
            evidence: [opStart(first), i],
            message:
              `${ctx.sessionName(s.id)}: io #${op.ioId} was posted again at event ${i} while the same OVERLAPPED ` +
              `was still in flight (issued at event ${opStart(first)}). The kernel writes into an OVERLAPPED until ` +
              `its completion is dequeued: give each outstanding operation its own.`,
          });
          return;
        }
      }
      const issued = issuedOp(step, i);
      if (issued === null || issued.op !== Op.Recv) return;
      const other = s.ops.find((o) => o !== issued && o.op === Op.Recv && isOutstanding(o));
      if (other === undefined) return;
      ctx.report(rule, {
        check: 'two-recvs',
        subject: sessionSubject(s.id),
        evidence: [opStart(other), i],
        message:
          `${ctx.sessionName(s.id)}: a second ${wsaName(Op.Recv)} (io #${issued.ioId}) was issued at event ${i} ` +
          `while ${opName(other.op)} io #${other.ioId} (event ${opStart(other)}) still owns RecvQ's free space. ` +
          `Both will write into the same bytes, and their completions may come in any order.`,
      });
    },
  };
}
