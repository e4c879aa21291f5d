// §3.18 A pooled SendBuffer returned and reused while a send still reads it.
// A broadcast's buffer is shared by every member's send: each AddRef (a
// member's send queue took it) is one reference that the send's completion
// drops (Release with that member's session and the send's ioId); the
// acquirer's own reference is dropped once the fan-out is done (Release
// with no session). The last Release returns it to the pool; only then may
// an Acquire hand it out again. What the events show, per buffer life
// (Acquire .. Returned):
// - released-twice (error): a Release by a session that holds no reference
//   to the buffer in this life (or by the owner, twice): one reference was
//   dropped twice, so the count reaches 0 too early.
// - reused-while-sending (error): an Acquire of a buffer whose previous life
//   still has a member reference that no Release dropped: the next broadcast
//   is written into bytes that member's WSASend has not sent yet (the
//   member gets a corrupted broadcast). Reported at the Acquire, with the
//   member's AddRef and the early Returned as evidence.
// Buffers whose Acquire the trace does not hold (a gap, a snapshot, a trace
// started mid-run) are not judged until their next life.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import { formatSessionId, type SessionId } from '../ids.ts';
import { sessionSubject as sessionSubject_, type Ctx, type Detector } from './common.ts';

const sessionSubject = sessionSubject_;
const { EventKind, SendBufferOp } = proto;

const rule = RULE_BY_ID.get('send-buffer-reuse')!;

interface Life {
  acquiredAt: number;
  /** References the acquirer still holds (1 after Acquire). */
  owner: number;
  /** Member references: session -> count and the AddRef that took the oldest one. */
  refs: Map<SessionId, { n: number; addRefIndex: number }>;
  /** Where it went back to the pool (-1: not yet). */
  returnedAt: number;
  /** A finding was made about this life (one per life). */
  reported: boolean;
}

export function sendBufferReuse(): Detector {
  const lives = new Map<number, Life>();
  const sessionOf = (w: Uint32Array, o: number): SessionId =>
    (BigInt(w[o + 5]!) << 32n) | BigInt(w[o + 4]!);
  return {
    rule,
    kinds: [EventKind.SendBuffer],
    onGap: () => lives.clear(),
    onSnapshot: () => lives.clear(),
    onEvent(ctx: Ctx, i: number): void {
      const w = ctx.words;
      const o = ctx.o;
      const op = (w[o]! >>> 8) & 0xff;
      const buf = w[o + 1]!;
      if (op === SendBufferOp.PoolEmpty || buf === 0) return;
      const life = lives.get(buf);
      if (op === SendBufferOp.Acquire) {
        if (life !== undefined) {
          for (const [session, r] of life.refs) {
            if (r.n <= 0) continue;
            ctx.report(rule, {
              check: 'reused-while-sending',
              subject: sessionSubject(session),
              evidence: [r.addRefIndex, life.returnedAt, i],
              dedupe: `b${buf}@${life.acquiredAt}`,
              message:
                `SendBuffer ${buf} was acquired again at event ${i}` +
                (life.returnedAt >= 0 ? ` (back in the pool since event ${life.returnedAt})` : '') +
                ` while ${ctx.sessionName(session)} still held it: its send took a reference at event ` +
                `${r.addRefIndex} that no completion released. The next broadcast is written into bytes that ` +
                `member's WSASend has not sent yet: it gets a corrupted broadcast. A buffer goes back to the ` +
                `pool only when its last reference is released: drop each send's reference exactly once, ` +
                `when that send completes.`,
            });
            break;
          }
        }
        lives.set(buf, {
          acquiredAt: i,
          owner: 1,
          refs: new Map(),
          returnedAt: -1,
          reported: false,
        });
        return;
      }
      if (life === undefined) return;
      if (op === SendBufferOp.Returned) {
        life.returnedAt = i;
        return;
      }
      const session = sessionOf(w, o);
      if (op === SendBufferOp.AddRef) {
        const r = life.refs.get(session);
        if (r === undefined || r.n <= 0) life.refs.set(session, { n: 1, addRefIndex: i });
        else r.n++;
        return;
      }
      if (op !== SendBufferOp.Release) return;
      if (session === 0n) {
        if (life.owner > 0) {
          life.owner--;
          return;
        }
      } else {
        const r = life.refs.get(session);
        if (r !== undefined && r.n > 0) {
          r.n--;
          return;
        }
      }
      if (life.reported) return;
      life.reported = true;
      const ioId = w[o + 7]!;
      ctx.report(rule, {
        check: 'released-twice',
        subject: session === 0n ? { kind: 'thread', tid: ctx.step.tid } : sessionSubject(session),
        evidence: [life.acquiredAt, i],
        dedupe: `r${buf}@${life.acquiredAt}`,
        message:
          `SendBuffer ${buf} (acquired at event ${life.acquiredAt}): ` +
          (session === 0n
            ? `its owner released it at event ${i} without holding a reference any more`
            : `${ctx.sessionName(session)} (session ${formatSessionId(session)})` +
              `${ioId !== 0 ? `, send io #${ioId},` : ''} released it at event ${i} without holding a reference`) +
          `: a reference was dropped twice, so the count reaches 0 while other members' sends still read the ` +
          `buffer and it goes back to the pool under them. Each AddRef is matched by exactly one Release.`,
      });
    },
  };
}
