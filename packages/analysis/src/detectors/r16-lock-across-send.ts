// §3.16 A lock held across WSASend while other workers wait for it.
// A WSASend issued (its IoPosted record, written when the call returned, so
// the lock was held across the whole call) by a thread holding a lock that
// another thread waits for — in either order: the wait began during a hold
// that had already sent, or the send happened while someone was waiting.
// - held-across-send (error): as above.
// - shared-across-send (warning): a lock held across WSASend that another
//   thread also takes (acquires or waits for, before or after), though no wait
//   happened to overlap such a hold in this trace: whenever two workers meet
//   there, one sits off the port for the length of a send. A lock only one
//   thread ever takes costs nothing, and is not reported.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import { type Ctx, type Detector } from './common.ts';

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, Op } = proto;

const rule = RULE_BY_ID.get('lock-across-send')!;

interface Hold {
  holder: number;
  acquiredIndex: number;
  sendIndex: number;
  nameStr: number;
  /** Waiting threads and where each began waiting. */
  waiters: Map<number, number>;
  reported: boolean;
}

export function lockAcrossSend(): Detector {
  const locks = new Map<number, Hold>();
  /** Per lock: the threads that took or waited for it, and its first hold across a send. */
  const users = new Map<number, Map<number, number>>();
  const sentUnder = new Map<
    number,
    { tid: number; acquiredIndex: number; sendIndex: number; nameStr: number }
  >();
  const warned = new Set<number>();

  const shared = (ctx: Ctx, lockId: number): void => {
    const first = sentUnder.get(lockId);
    const u = users.get(lockId);
    if (first === undefined || u === undefined || warned.has(lockId)) return;
    const other = [...u.entries()].find(([tid]) => tid !== first.tid);
    if (other === undefined) return;
    warned.add(lockId);
    ctx.report(rule, {
      check: 'shared-across-send',
      severity: 'warning',
      subject: { kind: 'lock', lockId, tid: first.tid },
      evidence: [first.acquiredIndex, first.sendIndex, other[1]],
      at: Math.max(first.sendIndex, other[1]),
      dedupe: `s${lockId}`,
      message:
        `${ctx.threadName(first.tid)} held ${ctx.lockName(lockId, first.nameStr)} (acquired at event ` +
        `${first.acquiredIndex}) across WSASend (event ${first.sendIndex}), and ${ctx.threadName(other[0])} takes ` +
        `the same lock (event ${other[1]}). No wait overlapped such a hold in this trace, but whenever two ` +
        `workers meet there one sits off the port for the length of a send: copy into SendQ under the lock, ` +
        `release it, then call WSASend.`,
    });
  };

  const use = (ctx: Ctx, lockId: number, tid: number, i: number): void => {
    let u = users.get(lockId);
    if (u === undefined) users.set(lockId, (u = new Map()));
    if (!u.has(tid)) u.set(tid, i);
    shared(ctx, lockId);
  };

  const check = (ctx: Ctx, lockId: number, h: Hold, i: number): void => {
    if (h.reported || h.sendIndex < 0 || h.waiters.size === 0) return;
    h.reported = true;
    warned.add(lockId); // the error says it all
    const [waiter, since] = h.waiters.entries().next().value!;
    ctx.report(rule, {
      check: 'held-across-send',
      subject: { kind: 'lock', lockId, tid: h.holder },
      evidence: [h.acquiredIndex, h.sendIndex, since, i],
      dedupe: `l${lockId}/${h.holder}`,
      message:
        `${ctx.threadName(h.holder)} held ${ctx.lockName(lockId, h.nameStr)} (acquired at event ${h.acquiredIndex}) ` +
        `across WSASend (event ${h.sendIndex}) while ${ctx.threadName(waiter)} waited for it (since event ${since}). ` +
        `Copy into SendQ under the lock, release it, then call WSASend: every worker waiting on the lock is a ` +
        `worker not serving the port.`,
    });
  };

  return {
    rule,
    kinds: [EventKind.LockWait, EventKind.LockAcquire, EventKind.LockRelease, EventKind.IoPosted],
    onGap: () => locks.clear(),
    onSnapshot(ctx: Ctx): void {
      // Held locks as given: whether their holders already sent is not known.
      locks.clear();
      for (const l of ctx.state.locks.values()) {
        const waiters = new Map<number, number>();
        for (const t of l.waiters) waiters.set(t, ctx.state.snapshotIndex);
        locks.set(l.lockId, {
          holder: l.owner,
          acquiredIndex: l.acquiredIndex,
          sendIndex: -1,
          nameStr: l.nameStr,
          waiters,
          reported: false,
        });
      }
    },
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const tid = step.tid;
      const w = ctx.words;
      if (step.kind === EventKind.IoPosted) {
        if ((((w[ctx.o]! >>> 8) & 0x0f) as number) !== Op.Send) return;
        const t = step.thread;
        if (t === null) return;
        for (const lockId of t.locksHeld) {
          const h = locks.get(lockId);
          if (h === undefined || h.holder !== tid) continue;
          if (h.sendIndex < 0) h.sendIndex = i;
          check(ctx, lockId, h, i);
          if (!sentUnder.has(lockId)) {
            sentUnder.set(lockId, {
              tid,
              acquiredIndex: h.acquiredIndex,
              sendIndex: i,
              nameStr: h.nameStr,
            });
            shared(ctx, lockId);
          }
        }
        return;
      }
      const lockId = w[ctx.o + 1]!;
      let h = locks.get(lockId);
      if (step.kind === EventKind.LockAcquire) {
        const waiters = h?.waiters ?? new Map<number, number>();
        waiters.delete(tid);
        h = {
          holder: tid,
          acquiredIndex: i,
          sendIndex: -1,
          nameStr: w[ctx.o + 6]!,
          waiters,
          reported: false,
        };
        locks.set(lockId, h);
        use(ctx, lockId, tid, i);
        return;
      }
      if (step.kind === EventKind.LockWait) {
        if (h === undefined) {
          h = {
            holder: -1,
            acquiredIndex: -1,
            sendIndex: -1,
            nameStr: w[ctx.o + 6]!,
            waiters: new Map(),
            reported: false,
          };
          locks.set(lockId, h);
        }
        if (!h.waiters.has(tid)) h.waiters.set(tid, i);
        check(ctx, lockId, h, i);
        use(ctx, lockId, tid, i);
        return;
      }
      // LockRelease: the hold ends; forget the lock if nobody waits.
      if (h === undefined || h.holder !== tid) return;
      if (h.waiters.size === 0) locks.delete(lockId);
      else {
        h.holder = -1;
        h.sendIndex = -1;
        h.reported = false;
      }
    },
  };
}
