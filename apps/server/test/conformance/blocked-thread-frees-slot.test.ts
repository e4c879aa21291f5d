// Rule: a port thread blocked on something else (an instrumented lock or
// sleep) stops counting against the concurrency value, so a waiter is
// released; when it wakes, more threads than the value run for a while (the
// overcommit shows in the trace) and no waiter is released until the count
// drops below the value again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockReason, EventKind, ThreadStateValue } from '@iocpscope/protocol';
import { ERROR_ABANDONED_WAIT_0 } from '../../src/port/index.ts';
import {
  createTestPort,
  entryOf,
  startThreads,
  stopThreads,
  type PortThread,
  type SeqEvent,
} from './harness/index.ts';

/** Most threads in state Running at once, replaying ThreadState events in sequence order. */
function maxRunning(events: SeqEvent[], initiallyRunning: number[]): number {
  const running = new Set(initiallyRunning);
  let max = running.size;
  for (const e of [...events].sort((x, y) => x.seq - y.seq)) {
    if (e.kind !== EventKind.ThreadState) continue;
    if (e.state === ThreadStateValue.Running) running.add(e.tid);
    else running.delete(e.tid);
    max = Math.max(max, running.size);
  }
  return max;
}

describe('a blocked thread frees its concurrency slot', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(2);
  });
  afterAll(() => stopThreads(threads));

  it('releases a waiter when the running thread blocks, then overcommits when it wakes', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a, b] = threads as [PortThread, PortThread];
    for (const t of threads) await t.attach(host);
    const wa = await a.gqcsWaiting();
    const wb = await b.gqcsWaiting();
    host.postQueuedCompletionStatus(0, 1, 0, 0);
    expect(entryOf(await wb.result).keyLo).toBe(1);
    host.postQueuedCompletionStatus(0, 2, 0, 0); // stays queued: B runs, the value is 1

    const { events: blockEvents } = await b.traced({
      op: 'blockBegin',
      reason: BlockReason.Lock,
      detail: 42,
    });
    expect(blockEvents[0]).toMatchObject({
      kind: EventKind.ThreadState,
      state: ThreadStateValue.Blocked,
      reason: BlockReason.Lock,
      detail: 42,
    });
    expect(entryOf(await wa.result).keyLo).toBe(2); // A took B's slot
    await b.blockEnd(); // B runs again next to A: 2 running, value 1

    const all = [...a.events, ...b.events].filter((e) => e.seq >= blockEvents[0]!.seq);
    expect(maxRunning(all, [])).toBe(2);

    // While overcommitted, a packet releases nobody, and A calling GQCS must
    // wait even though the packet is queued (the running count is not below 1).
    host.postQueuedCompletionStatus(0, 3, 0, 0);
    const wa2 = await a.gqcsWaiting();
    // B brings the count down to 0 when it calls GQCS and takes the packet at once.
    const { reply, events } = await b.traced({ op: 'gqcs', timeoutMs: 0xffffffff });
    expect(entryOf(reply).keyLo).toBe(3);
    expect(events.some((e) => e.kind === EventKind.ThreadState)).toBe(false);

    await host.close();
    expect((await wa2.result).lastError).toBe(ERROR_ABANDONED_WAIT_0);
    for (const t of threads) await t.detach();
  });

  it('records the block reason of a sleep and releases nobody for a thread that was not running', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a, b] = threads as [PortThread, PortThread];
    for (const t of threads) await t.attach(host);
    host.postQueuedCompletionStatus(0, 1, 0, 0);
    expect(entryOf(await a.gqcs()).keyLo).toBe(1);
    const wb = await b.gqcsWaiting();
    host.postQueuedCompletionStatus(0, 2, 0, 0);
    const { events } = await a.traced({ op: 'blockBegin', reason: BlockReason.Sleep, detail: 5 });
    expect(events[0]).toMatchObject({ state: ThreadStateValue.Blocked, reason: BlockReason.Sleep });
    expect(entryOf(await wb.result).keyLo).toBe(2);
    await a.blockEnd();
    await host.close();
    for (const t of threads) await t.detach();
  });
});
