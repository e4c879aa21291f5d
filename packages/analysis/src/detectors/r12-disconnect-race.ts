// §3.12 Disconnect racing with new posts.
// After a disconnect starts, a new post must be refused or cancelled.
// Because the IoPosted record is written when the call returns, the IOCount +1
// (written before the call) dates a post; without it (an untagged server) the
// IoPosted record is used.
// - post-after-close: a post issued after the socket was closed that the
//   kernel accepted (0 or 997): the handle may already be another connection's.
//   A post after the close that fails (WSAENOTSOCK) is the legal "refused".
// - not-cancelled: a post issued after the disconnect started, accepted, and
//   still pending `uncancelledNs` later (or at the end of the trace) with no
//   closesocket after it. A post accepted just before closesocket and then
//   aborted with 995 is the legal "cancelled"; so is one that completes.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { SessionId } from '../ids.ts';
import { postFailed as postFailed_ } from '../state.ts';
import {
  fmtMs as fmtMs_,
  opName as opName_,
  opStart as opStart_,
  sessionSubject as sessionSubject_,
  wsaName as wsaName_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const postFailed = postFailed_;
const fmtMs = fmtMs_;
const opName = opName_;
const opStart = opStart_;
const sessionSubject = sessionSubject_;
const wsaName = wsaName_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind } = proto;

const rule = RULE_BY_ID.get('disconnect-race')!;

interface Watch {
  session: SessionId;
  ioId: number;
  op: number;
  issuedIndex: number;
  disconnectIndex: number;
  tsNs: number;
}

export function disconnectRace(): Detector {
  /** Posts issued after a disconnect started, oldest first, until cancelled or done. */
  let watch: Watch[] = [];

  const stillPending = (ctx: Ctx, w: Watch): boolean => {
    const s = ctx.state.sessions.get(w.session);
    if (s === undefined || (s.socketClosedIndex >= 0 && s.socketClosedIndex > w.issuedIndex))
      return false;
    const op = s.ops.find((o) => o.ioId === w.ioId);
    return op !== undefined && op.dequeueIndex < 0 && !postFailed(op);
  };

  const report = (ctx: Ctx, w: Watch, i: number, when: string): void => {
    ctx.report(rule, {
      check: 'not-cancelled',
      subject: sessionSubject(w.session),
      evidence: [w.disconnectIndex, w.issuedIndex, i],
      at: w.issuedIndex,
      message:
        `${ctx.sessionName(w.session)}: a ${wsaName(w.op)} (io #${w.ioId}) was issued at event ${w.issuedIndex}, after ` +
        `the disconnect started at event ${w.disconnectIndex}, and ${when} it was still pending with nothing ` +
        `cancelling it. After a disconnect starts, refuse new posts (check the flag after taking IOCount) or ` +
        `cancel them (CancelIoEx/closesocket), or the session lingers.`,
    });
  };

  return {
    rule,
    kinds: [],
    onGap: () => {
      watch = [];
    },
    onSnapshot: () => {
      watch = [];
    },
    finish(ctx: Ctx): void {
      for (const w of watch)
        if (stillPending(ctx, w))
          report(ctx, w, Math.max(0, ctx.state.count - 1), 'when the trace ended');
      watch = [];
    },
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      // Age out the watch list (cheap: only its head is looked at).
      while (watch.length > 0 && step.tsNs - watch[0]!.tsNs >= ctx.options.uncancelledNs) {
        const w = watch.shift()!;
        if (stillPending(ctx, w))
          report(ctx, w, i, `${fmtMs(step.tsNs - w.tsNs)} later (event ${i})`);
      }
      if (step.kind !== EventKind.IoPosted) return;
      const s = step.session;
      const op = step.op;
      if (s === null || op === null || !s.complete || op.postIndex !== i || postFailed(op)) return;
      const issued = op.incIndex >= 0 ? op.incIndex : i;
      // Only a +1 dates the call; an untagged IoPosted may be recorded after a close that followed the call.
      if (op.incIndex >= 0 && s.socketClosedIndex >= 0 && issued > s.socketClosedIndex) {
        ctx.report(rule, {
          check: 'post-after-close',
          subject: sessionSubject(s.id),
          evidence: [s.socketClosedIndex, opStart(op), i],
          message:
            `${ctx.sessionName(s.id)}: ${wsaName(op.op)} io #${op.ioId} was issued at event ${issued} on socket ` +
            `${s.socket}, which had been closed at event ${s.socketClosedIndex}, and the call was accepted ` +
            `(${op.postResult === 0 ? 'done at once' : 'pending'}). That handle may now belong to another ` +
            `connection. Check the disconnect flag before posting ${opName(op.op)}s.`,
        });
        return;
      }
      if (s.disconnectIndex >= 0 && issued > s.disconnectIndex && op.dequeueIndex < 0) {
        watch.push({
          session: s.id,
          ioId: op.ioId,
          op: op.op,
          issuedIndex: issued,
          disconnectIndex: s.disconnectIndex,
          tsNs: step.tsNs,
        });
      }
    },
  };
}
