// §3.7 Ring-buffer wrap mistakes.
// Invariants: a post covers the free (recv) or used (send) space of its ring
// buffer, as one WSABUF, or two when that space wraps: WSABUF[0] from the
// pointer to the physical end of the buffer, WSABUF[1] from its base; the
// total fits the space; and each completion moves the pointer by the bytes it
// reported, modulo the capacity. What the events show (IoRing and
// SessionRings, v2, written by servers with ring buffers):
// - wrap-not-at-end: a post with two WSABUFs whose first does not run to the
//   physical end (bytes skipped or overlapping at the wrap);
// - second-not-at-base: WSABUF[1] does not start at the base;
// - past-end: WSABUF[0] starts or runs beyond the buffer;
// - beyond-space: more bytes posted than the free (recv) or used (send) space
//   the server computed;
// - free-over-capacity: RecvQ said to have more free bytes than it holds;
// - pointer-advance: a post that does not start where the previous
//   completion left the pointer: a recv not at RecvQ's rear, or a send
//   behind SendQ's front (bytes sent twice); a send ahead of it is rule 15's
//   (bytes never sent);
// - zero-length: a recv with no free space posted (its 0-byte completion looks
//   exactly like a graceful close) or a send with nothing in it;
// - overrun: a completion reporting more bytes than were posted.
// The WSABUF count is not checked: a port computes it from the lengths.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import { postFailed as postFailed_, type OpState, type SessionState } from '../state.ts';
import {
  opName as opName_,
  sessionSubject as sessionSubject_,
  wsaName as wsaName_,
  type Ctx,
  type Detector,
} from './common.ts';
import { RingChains, type ChainBreak } from './ring-chain.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const postFailed = postFailed_;
const opName = opName_;
const sessionSubject = sessionSubject_;
const wsaName = wsaName_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, Op } = proto;

const rule = RULE_BY_ID.get('ring-buffer')!;

const ringName = (op: number): string => (op === Op.Send ? 'SendQ' : 'RecvQ');

/** Geometry of one post against its ring: the first problem found, or null. */
function geometry(op: OpState, cap: number): { check: string; what: string } | null {
  const off0 = op.ringOff0;
  const len0 = op.ringLen0;
  const len1 = op.requestedBytes - len0;
  const q = ringName(op.op);
  if (off0 >= cap || off0 + len0 > cap) {
    return {
      check: 'past-end',
      what: `WSABUF[0] covers bytes ${off0}..${off0 + len0} of a ${cap}-byte ${q}: past its end`,
    };
  }
  if (len1 > 0 && off0 + len0 !== cap) {
    return {
      check: 'wrap-not-at-end',
      what:
        `the ${op.op === Op.Send ? 'used' : 'free'} space wraps, but WSABUF[0] (${len0} bytes from offset ${off0}) ` +
        `ends at ${off0 + len0}, not at the physical end (${cap}): ${cap - off0 - len0 > 0 ? `${cap - off0 - len0} byte${cap - off0 - len0 === 1 ? ' is' : 's are'} skipped` : 'it overlaps the wrap'} ` +
        `and every byte after the wrap lands at the wrong stream position`,
    };
  }
  if (len1 > 0 && op.ringOff1 !== 0) {
    return {
      check: 'second-not-at-base',
      what: `WSABUF[1] starts at offset ${op.ringOff1}, not at the base of ${q}`,
    };
  }
  if (op.requestedBytes > op.ringAvail) {
    return {
      check: 'beyond-space',
      what:
        `${op.requestedBytes} bytes were posted but ${q} had only ${op.ringAvail} ` +
        `${op.op === Op.Send ? 'bytes queued' : 'free bytes'}`,
    };
  }
  if (op.op === Op.Recv && op.ringAvail > cap) {
    return {
      check: 'free-over-capacity',
      what: `RecvQ was said to have ${op.ringAvail} free bytes, more than its ${cap}-byte capacity`,
    };
  }
  return null;
}

export function ringBuffer(): Detector {
  const chains = new RingChains((ctx: Ctx, b: ChainBreak) => {
    // A send ahead of SendQ's front skipped bytes: rule 15's.
    if (b.op === Op.Send && (b.off0 - b.expected + b.cap) % b.cap <= b.cap / 2) return;
    const q = ringName(b.op);
    ctx.report(rule, {
      check: 'pointer-advance',
      subject: sessionSubject(b.session),
      evidence: [b.prevIndex, b.index],
      at: b.index,
      message:
        `${ctx.sessionName(b.session)}: ${wsaName(b.op)} io #${b.ioId} starts at offset ${b.off0} of ${q}, but the ` +
        `previous ${opName(b.op)} (io #${b.prevIoId}, from offset ${b.prevOff0}) completed with ${b.prevBytes} bytes, ` +
        `so the ${b.op === Op.Send ? 'front' : 'rear'} is at ${b.expected}. A completion must move the pointer by the ` +
        `bytes it reported, modulo the capacity (${b.cap}).`,
    });
  });

  const report = (
    ctx: Ctx,
    s: SessionState,
    op: OpState,
    i: number,
    g: { check: string; what: string },
  ): void => {
    ctx.report(rule, {
      check: g.check,
      subject: sessionSubject(s.id),
      evidence: [op.postIndex, i],
      message:
        `${ctx.sessionName(s.id)}: ${wsaName(op.op)} io #${op.ioId} (event ${op.postIndex}): ${g.what}. A ring buffer ` +
        `is posted as WSABUF[0] from the pointer to the physical end, then WSABUF[1] from the base, for exactly the ` +
        `free (recv) or used (send) space.`,
    });
  };

  return {
    rule,
    kinds: [
      EventKind.IoPosted,
      EventKind.IoRing,
      EventKind.GqcsReturn,
      EventKind.IoCount,
      EventKind.SessionCreated,
      EventKind.SessionReleased,
    ],
    onGap: () => chains.clear(),
    onSnapshot: (ctx) => chains.seed(ctx),
    onEvent(ctx: Ctx, i: number): void {
      chains.onEvent(ctx, i);
      const step = ctx.step;
      const s = step.session;
      const op = step.op;
      if (s === null || op === null || !s.complete || (op.op !== Op.Recv && op.op !== Op.Send))
        return;
      if (step.kind === EventKind.IoRing) {
        const cap = op.op === Op.Send ? s.sendCap : s.recvCap;
        if (cap <= 0 || op.ringOff0 < 0 || postFailed(op)) return;
        const g = geometry(op, cap);
        if (g !== null) report(ctx, s, op, i, g);
        return;
      }
      if (step.kind === EventKind.IoPosted && op.postIndex === i && !postFailed(op)) {
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
      if (step.kind !== EventKind.IoPosted && step.kind !== EventKind.GqcsReturn) return;
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
