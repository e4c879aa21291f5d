// §3.13 A broken release (no atomic flag or CAS).
// The release must happen exactly once, and only after IOCount 0 and a clear
// release flag were observed together (one CAS on count+flag, or an atomic
// flag set by whoever reaches 0).
// - released-twice: a second SessionReleased for the same session.
// A release at a count other than 0 is rule 2's (something still uses it).

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import { sessionSubject as sessionSubject_, type Ctx, type Detector } from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const sessionSubject = sessionSubject_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind } = proto;

const rule = RULE_BY_ID.get('release-once')!;

export function releaseOnce(): Detector {
  return {
    rule,
    kinds: [EventKind.SessionReleased],
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const s = step.session;
      if (s === null) return;
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
