// §3.10 Shutdown.
// The reference shutdown: stop accepting, disconnect sessions, wait for every
// IOCount to reach 0, post one exit packet (0,0,NULL) per worker, join them.
// - too-few-exit-packets: fewer exit packets than workers were waiting, so a
//   worker stays in GQCS: seen when the port is closed under it (735), when
//   the main thread exits, or at the end of the trace;
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

export function shutdown(): Detector {
  /** Port threads alive when the first exit packet was posted. */
  let workersAtStart = -1;
  const exitPackets: number[] = [];
  const gotExit = new Set<number>();
  let reported = false;

  const stuck = (ctx: Ctx): ThreadState[] =>
    [...ctx.state.threads.values()].filter(
      (t) =>
        t.isPortThread &&
        t.exitIndex < 0 &&
        t.state !== ThreadStateValue.Exited &&
        !gotExit.has(t.tid),
    );

  const checkTooFew = (ctx: Ctx, i: number, why: string): void => {
    if (reported || exitPackets.length === 0 || exitPackets.length >= workersAtStart) return;
    const left = stuck(ctx);
    if (left.length === 0) return;
    reported = true;
    const names = left.map((t) => ctx.threadName(t.tid)).join(', ');
    ctx.report(rule, {
      check: 'too-few-exit-packets',
      subject: threadSubject(left[0]!.tid),
      evidence: [...exitPackets, ...left.map((t) => t.lastGqcsEnterIndex), i],
      at: i,
      message:
        `Shutdown posted ${exitPackets.length} exit packet${exitPackets.length === 1 ? '' : 's'} (0, 0, NULL) for ` +
        `${workersAtStart} workers (first at event ${exitPackets[0]}). ${names} never got one and ${why}. ` +
        `One packet wakes one thread: post exactly one exit packet per worker, then wait for all of them.`,
    });
  };

  return {
    rule,
    kinds: [EventKind.Pqcs, EventKind.GqcsReturn, EventKind.ThreadExit],
    finish(ctx: Ctx): void {
      checkTooFew(
        ctx,
        Math.max(0, ctx.state.count - 1),
        'was still waiting in GQCS when the trace ended',
      );
    },
    onEvent(ctx: Ctx, i: number): void {
      const step = ctx.step;
      const st = ctx.state;
      switch (step.kind) {
        case EventKind.Pqcs: {
          const pk = step.packet;
          if (pk === null || pk.hasOverlapped || pk.key !== 0n || pk.bytes !== 0) return;
          if (exitPackets.length === 0) {
            workersAtStart = [...st.threads.values()].filter(
              (t) => t.isPortThread && t.exitIndex < 0 && t.role !== ThreadRole.Main,
            ).length;
            const alive = [...st.sessions.values()].filter(
              (s) => s.complete && s.lifecycle !== 'released',
            );
            if (alive.length > 0) {
              const first = alive[0]!;
              ctx.report(rule, {
                check: 'exit-before-drain',
                severity: 'warning',
                subject: sessionSubject(first.id),
                evidence: [first.createdIndex, first.lastIndex, i],
                dedupe: 'exit-before-drain',
                message:
                  `The first exit packet was posted at event ${i} while ${alive.length} session` +
                  `${alive.length === 1 ? ' was' : 's were'} still alive (for example ${ctx.sessionName(first.id)}, ` +
                  `${first.lifecycle}, IOCount ${first.ioCount}). Workers that leave now never handle those ` +
                  `sessions' last completions: wait for every IOCount to reach 0 first.`,
              });
            }
          }
          exitPackets.push(i);
          return;
        }
        case EventKind.GqcsReturn: {
          const h = step.handled;
          if (h !== null && isExitPacketReturn(h.ok, h.hasOverlapped, h.key, h.bytes)) {
            gotExit.add(step.tid);
            return;
          }
          const err = ctx.words[i * 8 + 6]!;
          const a = (ctx.words[i * 8]! >>> 8) & 0xff;
          if ((a & 0x30) === 0 && err === WinError.AbandonedWait0) {
            // The port was closed while this worker still waited: it never got its exit packet.
            checkTooFew(ctx, i, `was still waiting in GQCS when the port was closed (event ${i})`);
          }
          return;
        }
        case EventKind.ThreadExit: {
          const t = st.threads.get(step.tid);
          if (t === undefined || t.role !== ThreadRole.Main) return;
          checkTooFew(ctx, i, `was still waiting in GQCS when the main thread exited (event ${i})`);
          if (reported) return;
          const alive = [...st.threads.values()].filter(
            (x) => x.tid !== t.tid && x.exitIndex < 0 && x.role !== ThreadRole.Kernel,
          );
          if (alive.length === 0) return;
          ctx.report(rule, {
            check: 'threads-alive',
            severity: 'warning',
            subject: threadSubject(alive[0]!.tid),
            evidence: [...alive.map((x) => x.sinceIndex), i],
            dedupe: 'threads-alive',
            message:
              `The main thread exited at event ${i} while ${alive.map((x) => ctx.threadName(x.tid)).join(', ')} ` +
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
