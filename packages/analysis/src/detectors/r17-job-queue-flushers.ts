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
//   A flusher records its JobFlush end after the decrement that took the count
//   to 0, so a pusher on another thread may take the count from 0 and record
//   its begin first (the ender was preempted between the two): in the trace
//   the flushes overlap, though they did not. The pusher's JobPush says which:
//   its `length` is the count after its add, 1 when its add took the count
//   from 0. When the new flush and every open one began from such a push, the
//   open ones have ended (their end records are late) and nothing is reported;
//   a flush whose push found the count above 0 (or no push seen) is a second
//   flusher. (The fault: a pusher that read 0, then added, finds 2.)
// - not-from-zero (error): a thread flushes queue Q right after its push onto
//   Q found the count above 0 (the push's length is 2 or more): it was not
//   the 0->1 pusher, so another thread runs (or ran) Q too. This is the broken
//   decision itself, seen even when the two flushes did not overlap in time.
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
  /** Its thread's push just before took the count from 0 (its add returned 1). */
  fromZero: boolean;
}

export function jobQueueFlushers(): Detector {
  /** Per queue: the flushes begun and not yet ended. */
  const open = new Map<number, OpenFlush[]>();
  /** Per thread: the queue of its last JobPush and the count after its add. */
  const lastPush = new Map<number, { queue: number; after: number; index: number }>();
  return {
    rule,
    kinds: [EventKind.JobPush, EventKind.JobFlush, EventKind.ThreadExit],
    onGap: () => {
      open.clear();
      lastPush.clear();
    },
    onSnapshot: () => {
      open.clear();
      lastPush.clear();
    },
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
      if (ctx.step.kind === EventKind.JobPush) {
        lastPush.set(tid, { queue: w[o + 1]!, after: w[o + 6]!, index: i });
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
      const last = lastPush.get(tid);
      lastPush.delete(tid);
      const pushed = last?.queue === queue ? last : undefined;
      const fromZero = pushed?.after === 1;
      if (pushed !== undefined && pushed.after > 1) {
        ctx.report(rule, {
          check: 'not-from-zero',
          subject: threadSubject(tid),
          evidence: [pushed.index, i],
          dedupe: `z${queue}`,
          message:
            `Job queue ${queue} (room ${queue}): ${ctx.threadName(tid)} began flushing it at event ${i}, right ` +
            `after its push (event ${pushed.index}) found ${pushed.after - 1} job${pushed.after === 2 ? '' : 's'} ` +
            `already counted: its add did not take the count from 0, so another thread runs the room (or ` +
            `did, just now). Only the pusher whose fetch_add(1) returned 0 may run the queue; an earlier ` +
            `read of the count is not the add.`,
        });
      }
      const others = list.filter((f) => f.tid !== tid);
      if (fromZero && others.every((f) => f.fromZero)) {
        // The open flushes ended before this push's add (their end records are late).
        for (const f of others) list.splice(list.indexOf(f), 1);
      }
      const other = list.find((f) => f.tid !== tid);
      list.push({ tid, flushId, index: i, fromZero });
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
