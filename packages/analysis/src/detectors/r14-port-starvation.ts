// §3.14 Workers blocked outside GQCS while packets wait; running above the
// concurrency value for long.
// - starved: packets sat in the port for at least `starvationNs` while no
//   thread waited in GQCS, fewer threads ran than the concurrency value allows,
//   and a worker was blocked by something the server did: a Sleep, a
//   synchronous call, or a lock whose holder posted I/O or blocked while it
//   held it (a deadlock included). The port would have released a thread; none
//   was there.
//   A worker waiting for a lock whose running holder recorded nothing under it
//   is contention, and on a loaded machine a holder that is simply not
//   scheduled looks exactly like that: a 22 ms "episode" of a 2 µs critical
//   section was seen on a busy 2-core box. It is reported only once the episode
//   lasts SLOW_HOLD_FACTOR × `starvationNs` (a slow handler under a lock), as a
//   warning that says the holder may only have been descheduled.
// - overcommit: more port threads ran than the concurrency value for at least
//   `overcommitNs`. A short overcommit right after a blocked thread wakes is
//   the documented behaviour and is not reported.
// Busy workers with a growing queue (running = concurrency) are load, not a
// bug; a LIFO hot thread doing most of the work at low load is normal.
// Nothing is judged while a gap has left the queue or a port thread's state
// unknown: an episode must be seen whole.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { ThreadState } from '../state.ts';
import { fmtMs as fmtMs_, type Ctx, type Detector } from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const fmtMs = fmtMs_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, ThreadStateValue } = proto;

const rule = RULE_BY_ID.get('port-starvation')!;

/** A lock wait whose holder did nothing recorded under the lock counts after this many × starvationNs. */
export const SLOW_HOLD_FACTOR = 10;

const PORT_KINDS: boolean[] = [];
for (const k of [
  EventKind.ThreadStart,
  EventKind.ThreadExit,
  EventKind.ThreadState,
  EventKind.PortCreated,
  EventKind.GqcsEnter,
  EventKind.GqcsReturn,
  EventKind.PacketQueued,
  EventKind.Pqcs,
  EventKind.LockWait,
  EventKind.LockAcquire,
  EventKind.Gap,
]) {
  PORT_KINDS[k] = true;
}

/** What a lock's holder did under it that keeps its waiters off the port. */
interface HeldBadly {
  /** The hold it happened in (the lock's acquiredIndex then). */
  acquiredIndex: number;
  index: number;
  what: string;
}

const OP_CALL = [
  'an I/O call',
  'WSARecv',
  'WSASend',
  'an I/O call',
  'AcceptEx',
  'ConnectEx',
  'DisconnectEx',
];

const describeBlocked = (ctx: Ctx, t: ThreadState): string => {
  const why =
    t.reason === 1
      ? `on ${ctx.lockName(t.detail, ctx.state.locks.get(t.detail)?.nameStr ?? -1)}`
      : t.reason === 2
        ? 'in Sleep'
        : t.reason === 3
          ? 'in a synchronous call'
          : 'outside GQCS';
  return `${ctx.threadName(t.tid)} blocked ${why} since event ${t.sinceIndex}`;
};

const describeHeld = (ctx: Ctx, t: ThreadState): string => {
  const l = t.reason === 1 ? ctx.state.locks.get(t.detail) : undefined;
  return l === undefined || l.owner < 0
    ? describeBlocked(ctx, t)
    : `${describeBlocked(ctx, t)}, held by ${ctx.threadName(l.owner)} since event ${l.acquiredIndex}`;
};

export function portStarvation(): Detector {
  let starvedSince = -1;
  let starvedTs = 0;
  let starvedReported = false;
  let overSince = -1;
  let overTs = 0;
  let overReported = false;
  let overMax = 0;
  const heldBadly = new Map<number, HeldBadly>();

  // Something the thread did while holding locks, that keeps their waiters off the port.
  const underLocks = (ctx: Ctx, t: ThreadState, i: number, what: string): void => {
    for (const lockId of t.locksHeld) {
      const l = ctx.state.locks.get(lockId);
      if (l === undefined || l.owner !== t.tid) continue;
      const had = heldBadly.get(lockId);
      if (had === undefined || had.acquiredIndex !== l.acquiredIndex)
        heldBadly.set(lockId, { acquiredIndex: l.acquiredIndex, index: i, what });
    }
  };

  /**
   * Why a blocked thread is kept off the port by the server's own doing, or null
   * when nothing recorded says so (a lock whose running holder did nothing under it).
   */
  const culprit = (ctx: Ctx, t: ThreadState, seen: Set<number>): string | null => {
    if (t.reason !== 1) return describeBlocked(ctx, t);
    const l = ctx.state.locks.get(t.detail);
    if (l === undefined || l.owner < 0 || l.owner === t.tid) return null;
    const holder = ctx.state.threads.get(l.owner);
    const bad = heldBadly.get(l.lockId);
    const heldBy = `held by ${ctx.threadName(l.owner)} since event ${l.acquiredIndex}`;
    if (bad !== undefined && bad.acquiredIndex === l.acquiredIndex)
      return `${describeBlocked(ctx, t)}, ${heldBy}, which ${bad.what} (event ${bad.index}) while holding it`;
    if (holder === undefined || holder.state !== ThreadStateValue.Blocked) return null;
    if (seen.has(holder.tid))
      return `${describeBlocked(ctx, t)}, ${heldBy}, which is itself waiting in a cycle (a deadlock)`;
    seen.add(holder.tid);
    const up = culprit(ctx, holder, seen);
    return up === null ? null : `${describeBlocked(ctx, t)}, ${heldBy}: ${up}`;
  };

  return {
    rule,
    kinds: [],
    onGap: () => {
      starvedSince = -1;
      overSince = -1;
      heldBadly.clear();
    },
    onSnapshot: () => {
      starvedSince = -1;
      overSince = -1;
      heldBadly.clear();
    },
    onEvent(ctx: Ctx, i: number): void {
      const kind = ctx.step.kind;
      const th = ctx.step.thread;
      if (th !== null && th.locksHeld.length > 0) {
        if (kind === EventKind.IoPosted)
          underLocks(
            ctx,
            th,
            i,
            `called ${OP_CALL[(ctx.words[ctx.o]! >>> 8) & 0x0f] ?? OP_CALL[0]}`,
          );
        else if (kind === EventKind.Pqcs)
          underLocks(ctx, th, i, 'called PostQueuedCompletionStatus');
        else if (th.state === ThreadStateValue.Blocked && th.reason !== 1)
          underLocks(ctx, th, i, th.reason === 2 ? 'slept' : 'blocked in a call');
      }
      // Only these kinds change the port's queue, waiters or running threads; the
      // others only move time forward, which matters only during an episode.
      if (!PORT_KINDS[kind] && starvedSince < 0 && overSince < 0) return;
      const st = ctx.state;
      const p = st.port;
      const ts = ctx.step.tsNs;
      if (!p.queueKnown || p.unknownThreads > 0) {
        starvedSince = -1;
        overSince = -1;
        return;
      }
      const cap = p.concurrency > 0 ? p.concurrency : 1;

      // Packets waiting with spare concurrency and nobody in GQCS to take them.
      let starving = p.queue.size > 0 && p.waiting.length === 0 && p.running < cap;
      let blocked: ThreadState[] = [];
      if (starving) {
        blocked = [...st.threads.values()].filter(
          (t) => t.isPortThread && t.state === ThreadStateValue.Blocked,
        );
        starving = blocked.length > 0;
      }
      if (starving) {
        if (starvedSince < 0) {
          starvedSince = i;
          starvedTs = ts;
          starvedReported = false;
        } else if (!starvedReported && ts - starvedTs >= ctx.options.starvationNs) {
          const why = blocked.map((b) => culprit(ctx, b, new Set([b.tid])));
          const slow = ts - starvedTs >= SLOW_HOLD_FACTOR * ctx.options.starvationNs;
          if (why.some((w) => w !== null) || slow) {
            starvedReported = true;
            const unexplained = why.every((w) => w === null);
            const lines = blocked.map((b, k) => why[k] ?? describeHeld(ctx, b));
            ctx.report(rule, {
              check: 'starved',
              ...(unexplained ? { severity: 'warning' as const } : {}),
              subject: { kind: 'port' },
              evidence: [starvedSince, ...blocked.map((b) => b.sinceIndex), i],
              at: i,
              dedupe: `starved@${starvedSince}`,
              message:
                `For ${fmtMs(ts - starvedTs)} (events ${starvedSince}–${i}) completion packets waited in the port ` +
                `(${p.queue.size} now) while no worker was free to take them: ${lines.join('; ')}. ` +
                (unexplained
                  ? `Nothing recorded under the lock blocks (no I/O, no sleep): either the handler holding it is ` +
                    `slow, or its thread was not scheduled (a loaded machine). Keep critical sections short.`
                  : `Do not hold a lock across I/O, sleep or block in a handler: every blocked worker is one ` +
                    `fewer serving the port.`),
            });
          }
        }
      } else {
        starvedSince = -1;
      }

      const over = p.concurrency > 0 && p.running > p.concurrency;
      if (over) {
        if (overSince < 0) {
          overSince = i;
          overTs = ts;
          overReported = false;
          overMax = p.running;
        } else {
          overMax = Math.max(overMax, p.running);
          if (!overReported && ts - overTs >= ctx.options.overcommitNs) {
            overReported = true;
            ctx.report(rule, {
              check: 'overcommit',
              severity: 'warning',
              subject: { kind: 'port' },
              evidence: [overSince, i],
              at: i,
              dedupe: `over@${overSince}`,
              message:
                `Up to ${overMax} threads ran at once for ${fmtMs(ts - overTs)} (events ${overSince}–${i}) with a ` +
                `concurrency value of ${p.concurrency}. A short overcommit after a blocked thread wakes is normal; ` +
                `this long one means handlers keep running (or blocking and waking) instead of returning to GQCS.`,
            });
          }
        }
      } else {
        overSince = -1;
      }
    },
  };
}
