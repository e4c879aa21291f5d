// §3.10 Shutdown.
// The reference shutdown: stop accepting, disconnect sessions, wait for every
// IOCount to reach 0, post one exit packet (0,0,NULL) per worker, join them.
// The workers are the port's roster: threads with the worker role (from their
// ThreadStart, or a snapshot), and any other thread seen calling GQCS, that
// are alive. Under LIFO the worker left without an exit packet is the idle one
// at the bottom of the stack, often never seen entering GQCS in a recording
// (it was already waiting when the recording began), so the roster does not
// come from GqcsEnter records. Exit packets are counted where they are
// consumed (a worker dequeuing one); an exit packet a worker posts again (the
// extra ones of a GQCS-Ex batch) is not a new one.
// - too-few-exit-packets: a worker never got an exit packet: it woke only
//   when the port was closed under it (FALSE/NULL/735: whatever a gap hid, it
//   did not get one in that wait), it was still alive when the main thread
//   exited, or it was still waiting when the trace ended;
// - exit-before-drain: the first exit packet was posted while sessions were
//   still alive (their last completions will never be handled);
// - threads-alive: the main thread exited while other threads had not.
// Not visible: waiting on a wrong handle count (WAIT_FAILED) or on more than
// 64 handles — WaitForMultipleObjects is not instrumented.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { ThreadState } from '../state.ts';
import {
  isExitPacketReturn as isExitPacketReturn_,
  sessionSubject as sessionSubject_,
  threadSubject as threadSubject_,
  type Ctx,
  type Detector,
} from './common.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const isExitPacketReturn = isExitPacketReturn_;
const sessionSubject = sessionSubject_;
const threadSubject = threadSubject_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { EventKind, ThreadRole, ThreadStateValue, WinError } = proto;

const rule = RULE_BY_ID.get('shutdown')!;

/** One of the port's workers: the worker role, or any other thread that called GQCS (not main/kernel/accept). */
const isWorker = (t: ThreadState): boolean =>
  t.role === ThreadRole.Worker ||
  (t.isPortThread &&
    t.role !== ThreadRole.Main &&
    t.role !== ThreadRole.Kernel &&
    t.role !== ThreadRole.Accept);

const alive = (t: ThreadState): boolean => t.exitIndex < 0 && t.state !== ThreadStateValue.Exited;
/**
 * Alive as far as the trace can tell: a thread whose records a gap lost and
 * that wrote nothing since (its recorder overflowed up to its exit) may have
 * taken its exit packet and exited unseen.
 */
const seenAlive = (t: ThreadState): boolean => alive(t) && t.known;

export function shutdown(): Detector {
  /** Exit packets posted by someone other than a worker passing one on. */
  let posted: number[] = [];
  /** Workers alive when the first exit packet was posted. */
  let workersAtStart = -1;
  /** Workers that dequeued an exit packet, and where. */
  const consumed = new Map<number, number>();
  /** A gap since the first exit packet: who consumed what may have been lost. */
  let gapSinceShutdown = false;
  const reported = new Set<number>();

  const describeCount = (ctx: Ctx): string => {
    const workers =
      workersAtStart >= 0
        ? workersAtStart
        : [...ctx.state.threads.values()].filter((t) => isWorker(t) && alive(t)).length;
    return (
      `Shutdown posted ${posted.length} exit packet${posted.length === 1 ? '' : 's'} (0, 0, NULL) for ` +
      `${workers} worker${workers === 1 ? '' : 's'}` +
      (posted.length > 0 ? ` (first at event ${posted[0]})` : '') +
      `, and ${consumed.size} ${consumed.size === 1 ? 'was' : 'were'} dequeued`
    );
  };

  const tooFew = (ctx: Ctx, left: ThreadState[], i: number, why: string): void => {
    const fresh = left.filter((t) => !reported.has(t.tid));
    if (fresh.length === 0) return;
    for (const t of fresh) reported.add(t.tid);
    const names = fresh.map((t) => ctx.threadName(t.tid)).join(', ');
    ctx.report(rule, {
      check: 'too-few-exit-packets',
      subject: threadSubject(fresh[0]!.tid),
      evidence: [...posted, ...fresh.map((t) => t.lastGqcsEnterIndex), i],
      at: i,
      dedupe: `too-few@${fresh[0]!.tid}`,
      message:
        `${describeCount(ctx)}. ${names} never got one and ${why}. One packet wakes one thread: post exactly ` +
        `one exit packet per worker, then wait for all of them.`,
    });
  };

  /** Workers alive that did not get an exit packet. */
  const stuck = (ctx: Ctx, except = -1): ThreadState[] =>
    [...ctx.state.threads.values()].filter(
      (t) => t.tid !== except && isWorker(t) && seenAlive(t) && !consumed.has(t.tid),
    );

  return {
    rule,
    kinds: [EventKind.Pqcs, EventKind.GqcsReturn, EventKind.ThreadExit],
    onGap: () => {
      if (posted.length > 0) gapSinceShutdown = true;
    },
    onSnapshot(ctx: Ctx): void {
      posted = [];
      consumed.clear();
      workersAtStart = -1;
      gapSinceShutdown = false;
      // Exit packets still in the queue were posted before the snapshot.
      for (const p of ctx.state.port.queue.toArray()) {
        if (p.posted && !p.hasOverlapped && p.key === 0n && p.bytes === 0)
          posted.push(p.queuedIndex);
      }
    },
    finish(ctx: Ctx): void {
      if (posted.length === 0 || gapSinceShutdown) return;
      const left = stuck(ctx);
      if (left.length === 0) return;
      tooFew(
        ctx,
        left,
        Math.max(0, ctx.state.count - 1),
        left.every((t) => t.inGqcs)
          ? 'was still waiting in GQCS when the trace ended'
          : 'had not exited when the trace ended',
      );
    },
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const st = ctx.state;
      switch (step.kind) {
        case EventKind.Pqcs: {
          const pk = step.packet;
          if (pk === null || pk.hasOverlapped || pk.key !== 0n || pk.bytes !== 0) return;
          // A worker that took an exit packet in this GQCS call passes the extras on.
          if (step.thread !== null && consumed.has(step.tid) && step.thread.exitIndex < 0) return;
          if (posted.length === 0) {
            workersAtStart = [...st.threads.values()].filter((t) => isWorker(t) && alive(t)).length;
            const live = [...st.sessions.values()].filter(
              (s) => s.complete && s.lifecycle !== 'released',
            );
            if (live.length > 0) {
              const first = live[0]!;
              ctx.report(rule, {
                check: 'exit-before-drain',
                severity: 'warning',
                subject: sessionSubject(first.id),
                evidence: [first.createdIndex, first.lastIndex, i],
                dedupe: 'exit-before-drain',
                message:
                  `The first exit packet was posted at event ${i} while ${live.length} session` +
                  `${live.length === 1 ? ' was' : 's were'} still alive (for example ${ctx.sessionName(first.id)}, ` +
                  `${first.lifecycle}, IOCount ${first.ioCount}). Workers that leave now never handle those ` +
                  `sessions' last completions: wait for every IOCount to reach 0 first.`,
              });
            }
          }
          posted.push(i);
          return;
        }
        case EventKind.GqcsReturn: {
          const h = step.handled;
          if (h !== null && isExitPacketReturn(h.ok, h.hasOverlapped, h.key, h.bytes)) {
            if (!consumed.has(step.tid)) consumed.set(step.tid, i);
            return;
          }
          const err = ctx.words[ctx.o + 6]!;
          const a = (ctx.words[ctx.o]! >>> 8) & 0xff;
          const t = step.thread;
          if ((a & 0x30) === 0 && err === WinError.AbandonedWait0 && t !== null && isWorker(t)) {
            // The port was closed while this worker still waited: it never got its exit packet.
            tooFew(
              ctx,
              [t],
              i,
              `only woke when the port was closed under it (event ${i}, FALSE/NULL/735)`,
            );
          }
          return;
        }
        case EventKind.ThreadExit: {
          const t = st.threads.get(step.tid);
          if (t === undefined || t.role !== ThreadRole.Main) return;
          if (posted.length > 0 && !gapSinceShutdown) {
            tooFew(
              ctx,
              stuck(ctx, t.tid),
              i,
              `was still alive when the main thread exited (event ${i})`,
            );
          }
          const others = [...st.threads.values()].filter(
            (x) => x.tid !== t.tid && seenAlive(x) && x.role !== ThreadRole.Kernel,
          );
          if (others.length === 0 || reported.size > 0) return;
          ctx.report(rule, {
            check: 'threads-alive',
            severity: 'warning',
            subject: threadSubject(others[0]!.tid),
            evidence: [...others.map((x) => x.sinceIndex), i],
            dedupe: 'threads-alive',
            message:
              `The main thread exited at event ${i} while ${others.map((x) => ctx.threadName(x.tid)).join(', ')} ` +
              `had not. Every thread must be joined before the process ends.`,
          });
          return;
        }
        default:
          return;
      }
    },
  };
}
