// Rule: a running thread that calls GQCS while packets are queued takes one
// at once, without sleeping (even when other threads are waiting).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_ABANDONED_WAIT_0, WAIT_TIMEOUT } from '../../src/port/index.ts';
import { EventKind } from '@iocpscope/protocol';
import {
  createTestPort,
  entryOf,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('a running thread calling GQCS with packets queued takes one without sleeping', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(2);
  });
  afterAll(() => stopThreads(threads));

  it('returns a queued packet with no ThreadState change between GqcsEnter and GqcsReturn', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    host.postQueuedCompletionStatus(5, 1, 0, 0);
    host.postQueuedCompletionStatus(6, 2, 0, 0);
    for (const key of [1, 2]) {
      const { reply, events } = await a.traced({ op: 'gqcs', timeoutMs: 0xffffffff });
      expect(entryOf(reply).keyLo).toBe(key);
      expect(events.map((e) => e.kind)).toEqual([EventKind.GqcsEnter, EventKind.GqcsReturn]);
    }
    await a.detach();
    await host.close();
  });

  it('serves the running thread before a sleeping waiter when the concurrency value is reached', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a, b] = threads as [PortThread, PortThread];
    for (const t of threads) await t.attach(host);
    host.postQueuedCompletionStatus(0, 1, 0, 0);
    expect(entryOf(await a.gqcs()).keyLo).toBe(1); // A is now the one running thread
    const wb = await b.gqcsWaiting();
    host.postQueuedCompletionStatus(0, 2, 0, 0);
    host.postQueuedCompletionStatus(0, 3, 0, 0);
    // Running (A) = concurrency, so B stays asleep; A takes both at once.
    for (const key of [2, 3]) {
      const { reply, events } = await a.traced({ op: 'gqcs', timeoutMs: 0xffffffff });
      expect(entryOf(reply).keyLo).toBe(key);
      expect(events.some((e) => e.kind === EventKind.ThreadState)).toBe(false);
    }
    expect((await a.gqcs(0)).lastError).toBe(WAIT_TIMEOUT);
    await host.close();
    expect((await wb.result).lastError).toBe(ERROR_ABANDONED_WAIT_0);
    for (const t of threads) await t.detach();
  });
});
