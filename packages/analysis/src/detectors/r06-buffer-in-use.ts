// §3.6 Buffers or OVERLAPPED reused while I/O uses them.
// Invariant: a posted byte range is not written by anyone else until its
// completion is dequeued, and each outstanding operation has its own
// OVERLAPPED. Checked:
// - overlapped-in-use: a post whose OVERLAPPED (IoDetail, v2: its address, or
//   the server's id for it) is the OVERLAPPED of another post that is still
//   in flight (issued, not failed, its completion not dequeued yet), whatever
//   the session: the kernel writes into an OVERLAPPED until its packet is
//   dequeued, and the packet names it;
// - two-recvs: a second recv while one is outstanding — the reference server
//   has one RecvQ, and both recvs own its free space (not on a derived trace:
//   several outstanding WSARecvs are legal in a server without that design);
// - overlapped-reused: one ioId posted again while its I/O is still in flight
//   (traces without IoDetail name an operation only by its ioId).
// A post that failed at once never used its OVERLAPPED. A snapshot's
// outstanding operations hold their OVERLAPPEDs from the start.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { SessionId } from '../ids.ts';
import { isOutstanding as isOutstanding_, postFailed as postFailed_ } from '../state.ts';
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
const postFailed = postFailed_;
const issuedOp = issuedOp_;
const opName = opName_;
const opStart = opStart_;
const sessionSubject = sessionSubject_;
const wsaName = wsaName_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, Op } = proto;

const rule = RULE_BY_ID.get('buffer-in-use')!;

interface User {
  session: SessionId;
  ioId: number;
  /** Where the post was first seen (its +1 or IoPosted). */
  issued: number;
}

export function bufferInUse(): Detector {
  /** OVERLAPPED -> the post that used it last. */
  let users = new Map<number, User>();

  /** The post of `u`, if it is still in flight. */
  const inFlight = (ctx: Ctx, u: User): boolean => {
    const s = ctx.state.sessions.get(u.session);
    if (s === undefined) return false;
    const o = s.ops.find((x) => x.ioId === u.ioId);
    return o !== undefined && isOutstanding(o);
  };

  return {
    rule,
    kinds: [EventKind.IoCount, EventKind.IoPosted, EventKind.IoDetail],
    onGap: () => {
      users = new Map();
    },
    onSnapshot(ctx: Ctx): void {
      users = new Map();
      for (const s of ctx.state.sessions.values()) {
        for (const o of s.ops) {
          if (o.overlapped >= 0 && isOutstanding(o))
            users.set(o.overlapped, { session: s.id, ioId: o.ioId, issued: opStart(o) });
        }
      }
    },
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const s = step.session;
      const op = step.op;
      if (s === null || op === null || !s.complete) return;
      if (step.kind === EventKind.IoDetail) {
        // A post whose completion was dequeued before its call's records (the
        // call had not returned yet) no longer uses its OVERLAPPED.
        if (op.overlapped < 0 || postFailed(op) || !isOutstanding(op)) return;
        const prev = users.get(op.overlapped);
        users.set(op.overlapped, { session: s.id, ioId: op.ioId, issued: opStart(op) });
        if (prev === undefined || (prev.session === s.id && prev.ioId === op.ioId)) return;
        if (!inFlight(ctx, prev)) return;
        const same = prev.session === s.id;
        ctx.report(rule, {
          check: 'overlapped-in-use',
          subject: sessionSubject(s.id),
          evidence: [prev.issued, opStart(op), i],
          message:
            `${ctx.sessionName(s.id)}: ${wsaName(op.op)} io #${op.ioId} (event ${opStart(op)}) was issued with ` +
            `OVERLAPPED 0x${op.overlapped.toString(16)}, which ${same ? 'its' : `${ctx.sessionName(prev.session)}'s`} ` +
            `io #${prev.ioId} (issued at event ${prev.issued}) still uses: that I/O has not completed and been ` +
            `dequeued yet. The kernel writes into an OVERLAPPED until its packet is dequeued, and the packet ` +
            `names it, so both completions now point at one structure: give each outstanding operation its own.`,
        });
        return;
      }
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
      if (ctx.derived) return;
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
