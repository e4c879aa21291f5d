// §3.14 Workers blocked outside GQCS while packets wait; running above the
// concurrency value for long.
// - starved: packets sat in the port for at least `starvationNs` while no
//   thread waited in GQCS, fewer threads ran than the concurrency value allows,
//   and at least one worker was blocked (a lock held across I/O, a Sleep, a
//   synchronous call). The port would have released a thread; none was there.
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

export function portStarvation(): Detector {
  let starvedSince = -1;
  let starvedTs = 0;
  let starvedReported = false;
  let overSince = -1;
  let overTs = 0;
  let overReported = false;
  let overMax = 0;

  return {
    rule,
    kinds: [],
    onGap: () => {
      starvedSince = -1;
      overSince = -1;
    },
    onSnapshot: () => {
      starvedSince = -1;
      overSince = -1;
    },
    onEvent(ctx: Ctx, i: number): void {
      // Only these kinds change the port's queue, waiters or running threads; the
      // others only move time forward, which matters only during an episode.
      if (!PORT_KINDS[ctx.step.kind] && starvedSince < 0 && overSince < 0) return;
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
          starvedReported = true;
          ctx.report(rule, {
            check: 'starved',
            subject: { kind: 'port' },
            evidence: [starvedSince, ...blocked.map((t) => t.sinceIndex), i],
            at: i,
            dedupe: `starved@${starvedSince}`,
            message:
              `For ${fmtMs(ts - starvedTs)} (events ${starvedSince}–${i}) completion packets waited in the port ` +
              `(${p.queue.size} now) while no worker was free to take them: ` +
              `${blocked.map((t) => describeBlocked(ctx, t)).join('; ')}. Do not hold a lock across I/O, sleep or ` +
              `block in a handler: every blocked worker is one fewer serving the port.`,
          });
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
