// Rule: the concurrency value caps the number of running port threads; a
// waiter is released only while fewer than that many run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_ABANDONED_WAIT_0 } from '../../src/port/index.ts';
import { EventKind } from '@iocpscope/protocol';
import {
  createTestPort,
  entryOf,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('the concurrency value caps running threads', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(3);
  });
  afterAll(() => stopThreads(threads));

  it('releases one waiter for two packets when the value is 1', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a, b] = threads as [PortThread, PortThread];
    for (const t of [a, b]) await t.attach(host);
    const wa = await a.gqcsWaiting();
    const wb = await b.gqcsWaiting();
    host.postQueuedCompletionStatus(0, 1, 0, 0);
    host.postQueuedCompletionStatus(0, 2, 0, 0);
    expect(entryOf(await wb.result).keyLo).toBe(1);
    // The second packet is still queued for B: A was never released to take it.
    const { reply, events } = await b.traced({ op: 'gqcs', timeoutMs: 0xffffffff });
    expect(entryOf(reply).keyLo).toBe(2);
    expect(events.some((e) => e.kind === EventKind.ThreadState)).toBe(false);
    await host.close();
    const ra = await wa.result;
    expect([ra.value, entryOf(ra).overlapped, ra.lastError]).toEqual([
      false,
      0,
      ERROR_ABANDONED_WAIT_0,
    ]);
    for (const t of [a, b]) await t.detach();
  });

  it('releases exactly two of three waiters for three packets when the value is 2', async () => {
    const { host } = await createTestPort({ concurrency: 2 });
    const [a, b, c] = threads as [PortThread, PortThread, PortThread];
    for (const t of threads) await t.attach(host);
    const wa = await a.gqcsWaiting();
    const wb = await b.gqcsWaiting();
    const wc = await c.gqcsWaiting();
    for (const k of [1, 2, 3]) host.postQueuedCompletionStatus(0, k, 0, 0);
    expect(entryOf(await wc.result).keyLo).toBe(1);
    expect(entryOf(await wb.result).keyLo).toBe(2);
    // Packet 3 waits for a running thread; C comes back for it without sleeping.
    const { reply, events } = await c.traced({ op: 'gqcs', timeoutMs: 0xffffffff });
    expect(entryOf(reply).keyLo).toBe(3);
    expect(events.some((e) => e.kind === EventKind.ThreadState)).toBe(false);
    await host.close();
    expect((await wa.result).lastError).toBe(ERROR_ABANDONED_WAIT_0);
    for (const t of threads) await t.detach();
  });
});
