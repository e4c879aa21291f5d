// §3.17 Two threads flush one JobQueue at once (the chat server's rooms).
// The JobQueue rule: any thread may push a job; the pusher whose add takes the
// queue's job count from 0 runs the queue until the count returns to 0, so
// exactly one thread runs a room at a time, and the room's state (members,
// sequence numbers) needs no lock. A flush is the JobFlush begin..end of one
// thread (same flushId).
// - two-flushers (error): a flush of queue Q begins on a thread while another
//   thread's flush of Q has begun and not ended. The two run Q's jobs at once:
//   broadcasts are numbered and sent concurrently, so members get them out
//   of order (and the room's state races). Reported once per queue.
// Records lost in a gap (or a snapshot) leave open flushes unknown: forgotten.

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import { threadSubject as threadSubject_, type Ctx, type Detector } from './common.ts';

const threadSubject = threadSubject_;
const { EventKind } = proto;

const rule = RULE_BY_ID.get('job-queue-flushers')!;

interface OpenFlush {
  tid: number;
  flushId: number;
  index: number;
}

export function jobQueueFlushers(): Detector {
  /** Per queue: the flushes begun and not yet ended. */
  const open = new Map<number, OpenFlush[]>();
  return {
    rule,
    kinds: [EventKind.JobFlush, EventKind.ThreadExit],
    onGap: () => open.clear(),
    onSnapshot: () => open.clear(),
    onEvent(ctx: Ctx, i: number): void {
      const w = ctx.words;
      const o = ctx.o;
      const tid = ctx.step.tid;
      if (ctx.step.kind === EventKind.ThreadExit) {
        for (const list of open.values()) {
          for (let k = list.length - 1; k >= 0; k--) if (list[k]!.tid === tid) list.splice(k, 1);
        }
        return;
      }
      const phase = (w[o]! >>> 8) & 0xff;
      const queue = w[o + 1]!;
      const flushId = w[o + 7]!;
      let list = open.get(queue);
      if (phase !== 0) {
        if (list === undefined) return;
        const k = list.findIndex((f) => f.flushId === flushId && f.tid === tid);
        if (k >= 0) list.splice(k, 1);
        if (list.length === 0) open.delete(queue);
        return;
      }
      if (list === undefined) open.set(queue, (list = []));
      const other = list.find((f) => f.tid !== tid);
      list.push({ tid, flushId, index: i });
      if (other === undefined) return;
      ctx.report(rule, {
        check: 'two-flushers',
        subject: threadSubject(tid),
        evidence: [other.index, i],
        dedupe: `q${queue}`,
        message:
          `Job queue ${queue} (room ${queue}): ${ctx.threadName(tid)} began flushing it at event ${i} while ` +
          `${ctx.threadName(other.tid)} was still flushing it (since event ${other.index}). Only the pusher whose ` +
          `add takes the job count from 0 may run the queue, and it runs it until the count is 0 again: ` +
          `two flushers run the room's jobs at once, so its broadcasts are numbered and sent concurrently ` +
          `and members get them out of order. Take the decision from the value the atomic add returned ` +
          `(fetch_add(1) == 0), not from an earlier read.`,
      });
    },
  };
}
