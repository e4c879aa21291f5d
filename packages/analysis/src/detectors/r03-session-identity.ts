// §3.3 SessionID or socket reuse confusion.
// Invariant: every dequeue matches an outstanding post of the same SessionID
// (slot and generation), and a SessionID names one session forever.
// - id-reused: SessionCreated with an id that already named a session;
// - slot-in-use: a slot handed to a new session while its previous session is
//   not released (the generation counter cannot tell them apart any more);
// - unknown-key: a completion whose key matches no session ever created (only
//   judged when the trace was recorded from the server's start, without gaps);
// - foreign-completion: a completion dequeued for a session that never posted
//   that I/O. The post's records may legally come after the dequeue (the call
//   had not returned yet), so this is decided when the session is released or
//   the trace ends, whichever comes first.
// A socket number reused by a new connection after closesocket is normal.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { SessionId } from '../ids.ts';
import {
  opName as opName_,
  sessionSubject as sessionSubject_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const opName = opName_;
const sessionSubject = sessionSubject_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, Op } = proto;

const rule = RULE_BY_ID.get('session-identity')!;

interface Unclaimed {
  ioId: number;
  op: number;
  queuedIndex: number;
  dequeueIndex: number;
}

export function sessionIdentity(): Detector {
  const slotOwner = new Map<number, { id: SessionId; createdIndex: number }>();
  /** Completions dequeued before anything showed their session posting them. */
  const unclaimed = new Map<SessionId, Unclaimed[]>();

  const foreign = (ctx: Ctx, id: SessionId, u: Unclaimed, at: number): void => {
    ctx.report(rule, {
      check: 'foreign-completion',
      subject: sessionSubject(id),
      evidence: [u.queuedIndex, u.dequeueIndex, at],
      at: u.dequeueIndex,
      message:
        `${ctx.sessionName(id)}: a ${opName(u.op)} completion (io #${u.ioId}) was dequeued with this session's key ` +
        `at event ${u.dequeueIndex}, but this session never posted io #${u.ioId}. The socket is associated with ` +
        `the wrong key, or an old session's completion reached a new one: key completions by the full SessionID ` +
        `(slot and reuse counter).`,
    });
  };

  return {
    rule,
    kinds: [
      EventKind.SessionCreated,
      EventKind.GqcsReturn,
      EventKind.IoPosted,
      EventKind.IoCount,
      EventKind.SessionReleased,
    ],
    onGap: () => unclaimed.clear(),
    onSnapshot: () => unclaimed.clear(),
    finish(ctx: Ctx): void {
      for (const [id, list] of unclaimed) for (const u of list) foreign(ctx, id, u, u.dequeueIndex);
      unclaimed.clear();
    },
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const s = step.session;
      if (s === null) return;

      if (step.kind === EventKind.IoPosted || step.kind === EventKind.IoCount) {
        const list = unclaimed.get(s.id);
        if (list === undefined || step.op === null) return;
        const k = list.findIndex((u) => u.ioId === step.op!.ioId);
        if (k >= 0) list.splice(k, 1);
        if (list.length === 0) unclaimed.delete(s.id);
        return;
      }
      if (step.kind === EventKind.SessionReleased) {
        const list = unclaimed.get(s.id);
        if (list === undefined) return;
        unclaimed.delete(s.id);
        for (const u of list) foreign(ctx, s.id, u, i);
        return;
      }

      if (step.kind === EventKind.SessionCreated) {
        const earlier = step.replaced !== null ? step.replaced.createdIndex : ctx.createdAt(s.id);
        if (step.replaced !== null || earlier >= 0) {
          ctx.report(rule, {
            check: 'id-reused',
            subject: sessionSubject(s.id),
            evidence: [earlier, i],
            message:
              `SessionID ${ctx.sessionName(s.id).slice(8)} was given to a new session at event ${i}, but it already ` +
              `named the session created at event ${earlier}. A late completion or lookup for the old session ` +
              `would now hit the new one: never reuse a SessionID (keep a reuse counter in its high bits).`,
            dedupe: `id${s.id.toString(16)}@${i}`,
          });
        }
        if (s.slot >= 0) {
          const prev = slotOwner.get(s.slot);
          if (prev !== undefined && prev.id !== s.id) {
            const old = ctx.state.sessions.get(prev.id);
            if (old !== undefined && old.complete && old.lifecycle !== 'released') {
              ctx.report(rule, {
                check: 'slot-in-use',
                subject: sessionSubject(s.id),
                evidence: [prev.createdIndex, i],
                message:
                  `${ctx.sessionName(s.id)} got slot ${s.slot} at event ${i}, but ${ctx.sessionName(prev.id)} ` +
                  `(created at event ${prev.createdIndex}) still uses it: it is ${old.lifecycle} with IOCount ` +
                  `${old.ioCount}. Return a slot to the pool only when its session is released.`,
              });
            }
          }
          slotOwner.set(s.slot, { id: s.id, createdIndex: i });
        }
        return;
      }

      // GqcsReturn of a recv or send completion (an AcceptEx's is the listening
      // socket's, which a server need not name a session).
      const op = step.op;
      if (op === null || op.dequeueIndex !== i || (op.op !== Op.Recv && op.op !== Op.Send)) return;
      if (s.createdIndex < 0 && s.acceptIndex < 0) {
        if (ctx.fromStart && ctx.createdAt(s.id) < 0 && ctx.releasedAt(s.id) < 0) {
          ctx.report(rule, {
            check: 'unknown-key',
            subject: sessionSubject(s.id),
            evidence: [op.queuedIndex, i],
            message:
              `A ${opName(op.op)} completion with key ${ctx.sessionName(s.id).slice(8)} was dequeued at event ${i}, ` +
              `but no session with that id was ever created. The completion key must be the SessionID the ` +
              `socket was associated with.`,
          });
        }
        return;
      }
      if (!s.complete || op.incIndex >= 0 || op.postIndex >= 0) return;
      let list = unclaimed.get(s.id);
      if (list === undefined) unclaimed.set(s.id, (list = []));
      list.push({ ioId: op.ioId, op: op.op, queuedIndex: op.queuedIndex, dequeueIndex: i });
    },
  };
}
