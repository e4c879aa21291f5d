// §3.4 Two sends in flight on one session.
// Invariant: outstanding sends per session ≤ 1 (the send-in-flight flag, set by
// an atomic exchange, guards SendPost). Checked when a send is issued (its
// IOCount +1, or its IoPosted record for servers that do not tag the +1).
// Not visible: the lost wake-up (SendQ not empty, no send in flight, nothing
// scheduled) — the events do not carry the SendQ level.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import { isOutstanding as isOutstanding_ } from '../state.ts';
import {
  issuedOp as issuedOp_,
  opStart as opStart_,
  sessionSubject as sessionSubject_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const isOutstanding = isOutstanding_;
const issuedOp = issuedOp_;
const opStart = opStart_;
const sessionSubject = sessionSubject_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, Op } = proto;

const rule = RULE_BY_ID.get('one-send-in-flight')!;

export function oneSendInFlight(): Detector {
  return {
    rule,
    kinds: [EventKind.IoCount, EventKind.IoPosted],
    onEvent(ctx: Ctx, i: number): void {
      const s = ctx.step.session;
      const op = issuedOp(ctx.step, i);
      if (s === null || op === null || op.op !== Op.Send || !s.complete) return;
      const other = s.ops.find((o) => o !== op && o.op === Op.Send && isOutstanding(o));
      if (other === undefined) return;
      ctx.report(rule, {
        check: 'two-in-flight',
        subject: sessionSubject(s.id),
        evidence: [opStart(other), i],
        message:
          `${ctx.sessionName(s.id)}: a second WSASend (io #${op.ioId}) was issued at event ${i} while send ` +
          `io #${other.ioId} (issued at event ${opStart(other)}) was still in flight. Two sends on one socket can ` +
          `interleave their bytes: allow one send at a time with a send flag set by an atomic exchange.`,
      });
    },
  };
}
