// §3.19 Locks taken in opposite orders on two paths (the lock-order check).
// Every time a thread acquires (or starts waiting for) lock B while it holds
// lock A, the trace shows the order A -> B (a wait counts: in a real deadlock
// the second acquisitions never happen, the waits do). Two paths that take the same locks in opposite orders
// deadlock the day two threads run them at once, each holding the lock the
// other waits for; the classic lock-order check (lockdep, the seeds' "lock
// 순서를 맞춰줘서") finds that from the orders alone, before any deadlock.
// - cycle (error): a new order A -> B closes a cycle in the graph of orders
//   seen so far (B -> ... -> A). Reported once per set of locks, with the
//   acquisitions that showed each order, whether or not a deadlock happened
//   in this run. Orders whose every acquisition is shared (reader) cannot
//   deadlock each other and are not edges.
// A gap or a snapshot forgets which locks each thread holds (the orders
// already seen stay: they happened).

import * as proto from '../proto.ts';
import { RULE_BY_ID } from '../findings.ts';
import type { Ctx, Detector } from './common.ts';

const { EventKind } = proto;

const rule = RULE_BY_ID.get('lock-order')!;
const SHARED = 1;

interface Edge {
  /** Acquisition of the first lock and of the second, by `tid`. */
  fromIndex: number;
  toIndex: number;
  tid: number;
  fromMode: number;
  toMode: number;
  /** The order was first seen as a wait (the second lock was held by someone else). */
  wait: boolean;
}

export function lockOrder(): Detector {
  /** Per thread: held lock -> its acquisition (index, mode). */
  const held = new Map<number, Map<number, { index: number; mode: number }>>();
  /** from -> to -> the first acquisitions that showed it. */
  const edges = new Map<number, Map<number, Edge>>();
  const names = new Map<number, number>();
  const reported = new Set<string>();

  /** A path to -> ... -> from in the graph, as lock ids, or null. */
  const path = (to: number, from: number): number[] | null => {
    const prev = new Map<number, number>();
    const queue = [to];
    prev.set(to, to);
    while (queue.length > 0) {
      const x = queue.shift()!;
      if (x === from) {
        const out = [x];
        let y = x;
        while (y !== to) out.push((y = prev.get(y)!));
        return out.reverse();
      }
      for (const n of edges.get(x)?.keys() ?? []) {
        if (!prev.has(n)) {
          prev.set(n, x);
          queue.push(n);
        }
      }
    }
    return null;
  };

  const mode = (m: number): string => (m === SHARED ? 'shared' : 'exclusive');

  return {
    rule,
    kinds: [EventKind.LockWait, EventKind.LockAcquire, EventKind.LockRelease, EventKind.ThreadExit],
    onGap: () => held.clear(),
    onSnapshot: () => held.clear(),
    onEvent(ctx: Ctx, i: number): void {
      const w = ctx.words;
      const o = ctx.o;
      const tid = ctx.step.tid;
      if (ctx.step.kind === EventKind.ThreadExit) {
        held.delete(tid);
        return;
      }
      const lockId = w[o + 1]!;
      const m = (w[o]! >>> 8) & 0xff;
      names.set(lockId, w[o + 6]!);
      let h = held.get(tid);
      if (ctx.step.kind === EventKind.LockRelease) {
        h?.delete(lockId);
        return;
      }
      if (h === undefined) held.set(tid, (h = new Map()));
      for (const [a, acq] of h) {
        if (a === lockId) continue;
        if (acq.mode === SHARED && m === SHARED) continue;
        let out = edges.get(a);
        if (out === undefined) edges.set(a, (out = new Map()));
        if (out.has(lockId)) continue;
        const wait = ctx.step.kind === EventKind.LockWait;
        out.set(lockId, {
          fromIndex: acq.index,
          toIndex: i,
          tid,
          fromMode: acq.mode,
          toMode: m,
          wait,
        });
        // Does the new order a -> lockId close a cycle (lockId -> ... -> a)?
        const back = path(lockId, a);
        if (back === null) continue;
        const cycle = [a, ...back]; // a -> lockId -> ... -> a
        const key = [...new Set(cycle)].sort((x, y) => x - y).join(',');
        if (reported.has(key)) continue;
        reported.add(key);
        const evidence: number[] = [];
        const parts: string[] = [];
        for (let k = 0; k + 1 < cycle.length; k++) {
          const e = edges.get(cycle[k]!)!.get(cycle[k + 1]!)!;
          evidence.push(e.fromIndex, e.toIndex);
          parts.push(
            `${ctx.threadName(e.tid)} ${e.wait ? 'waited for' : 'took'} ${ctx.lockName(cycle[k + 1]!, names.get(cycle[k + 1]!) ?? -1)} ` +
              `(${mode(e.toMode)}, event ${e.toIndex}) while holding ${ctx.lockName(cycle[k]!, names.get(cycle[k]!) ?? -1)} ` +
              `(${mode(e.fromMode)}, since event ${e.fromIndex})`,
          );
        }
        ctx.report(rule, {
          check: 'cycle',
          subject: { kind: 'lock', lockId, tid },
          evidence,
          dedupe: `c${key}`,
          message:
            `Lock-order cycle: ${parts.join('; and ')}. Two threads on these paths at once each hold the lock ` +
            `the other waits for: a deadlock, whether or not this run hit it. Take the locks in one global ` +
            `order everywhere (or release the first before taking the second).`,
        });
      }
      if (ctx.step.kind === EventKind.LockAcquire && !h.has(lockId))
        h.set(lockId, { index: i, mode: m });
    },
  };
}
