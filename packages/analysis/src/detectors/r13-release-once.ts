// §3.13 A broken release (no atomic flag or CAS).
// The release must happen exactly once, and only after IOCount 0 and a clear
// release flag were observed together (one CAS on count+flag, or an atomic
// flag set by whoever reaches 0).
// - released-twice: a second SessionReleased for the same session.
// - stale-release: a thread releases a session it never decremented, which
//   took the slot of the session it did decrement last (created since): it
//   decided to release on what it read of that earlier session and released
//   whatever the slot held by the time it acted. That earlier session was
//   released by whoever else passed the same check (a release recorded by
//   slot, as the reference server's is, shows the second release this way).
// A release at a count other than 0 is otherwise rule 2's (something still uses it).

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import { sessionSubject as sessionSubject_, type Ctx, type Detector } from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const sessionSubject = sessionSubject_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, NO_THREAD } = proto;

const rule = RULE_BY_ID.get('release-once')!;

interface LastDec {
  id: bigint;
  slot: number;
  index: number;
}

export function releaseOnce(): Detector {
  /** Each thread's last IOCount -1: the session, its slot, the event. */
  const lastDec = new Map<number, LastDec>();
  return {
    rule,
    kinds: [
      EventKind.SessionReleased,
      EventKind.IoCount,
      EventKind.GqcsReturn,
      EventKind.Disconnect,
      EventKind.SocketClosed,
    ],
    onGap: () => lastDec.clear(),
    onSnapshot: () => lastDec.clear(),
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const s = step.session;
      if (s === null) return;
      if (step.kind !== EventKind.SessionReleased) {
        if (step.tid === NO_THREAD) return;
        const d = lastDec.get(step.tid);
        if (step.kind !== EventKind.IoCount || (ctx.words[ctx.o + 6]! | 0) >= 0) {
          // The thread moved on to another session: what it releases next is
          // not a decision about the last one it decremented.
          if (d !== undefined && d.id !== s.id) lastDec.delete(step.tid);
          return;
        }
        if (d === undefined) lastDec.set(step.tid, { id: s.id, slot: s.slot, index: i });
        else {
          d.id = s.id;
          d.slot = s.slot;
          d.index = i;
        }
        return;
      }
      const d = lastDec.get(step.tid);
      lastDec.delete(step.tid);
      if (
        d !== undefined &&
        d.id !== s.id &&
        s.slot >= 0 &&
        d.slot === s.slot &&
        s.complete &&
        s.createdIndex > d.index
      ) {
        const prev = ctx.releasedAt(d.id);
        ctx.report(rule, {
          check: 'stale-release',
          subject: sessionSubject(s.id),
          evidence: [
            d.index,
            ...(prev !== undefined && prev > d.index ? [prev] : []),
            s.createdIndex,
            i,
          ].sort((a, b) => a - b),
          message:
            `${ctx.threadName(step.tid)} released ${ctx.sessionName(s.id)} at event ${i}, a session it never ` +
            `decremented: its last -1 was on ${ctx.sessionName(d.id)} (event ${d.index}), whose slot this session ` +
            `took at event ${s.createdIndex}` +
            (prev !== undefined && prev > d.index
              ? `, after another thread released that session at event ${prev}`
              : '') +
            `. It decided to release on what it had read of the earlier session and released whatever the slot ` +
            `held by then: two threads passed the release check for one session. Make the decision and the release ` +
            `one atomic step (a CAS on count and flag together), on the session, not on its slot.`,
        });
        return;
      }
      let first = -1;
      if (step.lifecycleBefore === 'released') first = s.releasedIndex;
      else if (step.lifecycleBefore === null) {
        const r = ctx.releasedAt(s.id);
        if (r >= 0 && r > ctx.createdAt(s.id)) first = r;
      }
      if (first >= 0 && first !== i) {
        ctx.report(rule, {
          check: 'released-twice',
          subject: sessionSubject(s.id),
          evidence: [first, i],
          message:
            `${ctx.sessionName(s.id)} was released twice: at event ${first} and again at event ${i} by ` +
            `${ctx.threadName(step.tid)}. Two threads both saw IOCount reach 0 (or one revived it with a +1 and ` +
            `dropped it again). Make the release happen once: an atomic release flag, or one CAS on count and ` +
            `flag together.`,
        });
        return;
      }
    },
  };
}
