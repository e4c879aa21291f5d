// §3.2 Release while I/O is pending / completion for a released session.
// Invariants: a session is released only when nothing is pending (closesocket
// and CancelIoEx do not wait: every pending operation still queues a packet);
// after its release a SessionID sees no post, no dequeue and no IOCount change.
// - io-pending: SessionReleased while an operation of the session is pending;
// - count-not-zero: the releasing thread itself recorded an IOCount other than
//   0 (completions dequeued but still being handled, or holds);
// - after-release: a post, a dequeued completion or an IOCount change (other
//   than a lookup's hold taken and dropped, which the combined count+flag design
//   allows to bounce off a released session) after the release.
// A second release is rule 13's; a socket closed right after the release is the
// release itself closing it, so neither is reported here.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import { outstandingOps as outstandingOps_, type SessionState } from '../state.ts';
import {
  opName as opName_,
  opStart as opStart_,
  sessionSubject as sessionSubject_,
  wsaName as wsaName_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const outstandingOps = outstandingOps_;
const opName = opName_;
const opStart = opStart_;
const sessionSubject = sessionSubject_;
const wsaName = wsaName_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, IoCountCause } = proto;

const rule = RULE_BY_ID.get('use-after-release')!;

/** Released while the releasing thread itself saw IOCount ≠ 0: completions still being handled, or holds. */
function releasedNonZero(ctx: Ctx, s: SessionState, seen: number, i: number): void {
  const handling = s.ops.filter((o) => o.dequeueIndex >= 0 && o.decIndex < 0);
  const users = [
    ...handling.map(
      (o) => `the ${opName(o.op)} completion io #${o.ioId} dequeued at event ${o.dequeueIndex}`,
    ),
    ...s.holds.map((h) => `a hold taken at event ${h.index}`),
  ];
  ctx.report(rule, {
    check: 'count-not-zero',
    subject: sessionSubject(s.id),
    evidence: [...handling.map((o) => o.dequeueIndex), ...s.holds.map((h) => h.index), i],
    message:
      `${ctx.sessionName(s.id)} was released at event ${i} while the releasing thread saw IOCount ${seen}` +
      `${users.length > 0 ? `: ${users.join(', ')} still use${users.length === 1 ? 's' : ''} it` : ''}. ` +
      `Only the thread that takes IOCount to 0 may release, and only then.`,
  });
}

export function useAfterRelease(): Detector {
  return {
    rule,
    kinds: [EventKind.SessionReleased, EventKind.IoPosted, EventKind.IoCount, EventKind.GqcsReturn],
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const s = step.session;
      if (s === null) return;

      if (step.kind === EventKind.SessionReleased) {
        if (!s.complete || step.lifecycleBefore === 'released') return;
        const pending = outstandingOps(s);
        if (pending.length === 0) {
          const seen = ctx.words[ctx.o + 1]! | 0;
          if (seen !== 0) releasedNonZero(ctx, s, seen, i);
          return;
        }
        const list = pending
          .map((op) => `${opName(op.op)} io #${op.ioId} (issued at event ${opStart(op)})`)
          .join(', ');
        ctx.report(rule, {
          check: 'io-pending',
          subject: sessionSubject(s.id),
          evidence: [...pending.map(opStart), i],
          message:
            `${ctx.sessionName(s.id)} was released at event ${i} while ${list} ${pending.length > 1 ? 'were' : 'was'} ` +
            `still pending. Its completion will arrive for freed memory. Release only when IOCount reaches 0, ` +
            `after every pending completion has been dequeued.`,
        });
        return;
      }

      // Activity after the release.
      let releasedAt = -1;
      if (step.lifecycleBefore === 'released') releasedAt = s.releasedIndex;
      else if (step.lifecycleBefore === null) {
        // The reducer no longer remembers it; the runner's bounded id memory may.
        const r = ctx.releasedAt(s.id);
        if (r >= 0 && r > ctx.createdAt(s.id)) releasedAt = r;
      }
      if (releasedAt < 0) return;
      let what: string;
      if (step.kind === EventKind.IoCount) {
        const cause = (ctx.words[ctx.o]! >>> 8) & 0xff;
        if (cause === IoCountCause.HoldAcquire || cause === IoCountCause.HoldRelease) return;
        const delta = ctx.words[ctx.o + 6]! | 0;
        what = `its IOCount changed (${delta > 0 ? '+' : ''}${delta})`;
      } else if (step.kind === EventKind.IoPosted) {
        what = `a ${wsaName((ctx.words[ctx.o]! >>> 8) & 0x0f)} was issued on it`;
      } else {
        if (step.handled === null || !step.handled.hasOverlapped) return;
        what = `a ${opName(step.handled.op)} completion for it was dequeued`;
      }
      ctx.report(rule, {
        check: 'after-release',
        subject: sessionSubject(s.id),
        evidence: [releasedAt, i],
        message:
          `${ctx.sessionName(s.id)}: at event ${i} ${what}, after the session was released at event ${releasedAt}. ` +
          `Its memory may already belong to another session (use after free). Some I/O was still pending at ` +
          `the release, or IOCount was dropped too early.`,
      });
    },
  };
}
