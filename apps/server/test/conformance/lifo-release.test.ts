// Rule: waiting threads are released LIFO (the most recent waiter gets the next packet).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_ABANDONED_WAIT_0 } from '../../src/port/index.ts';
import {
  createTestPort,
  entryOf,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('waiting threads are released LIFO', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(3);
  });
  afterAll(() => stopThreads(threads));

  it('hands each packet to the thread that started waiting most recently', async () => {
    const { host } = await createTestPort({ concurrency: 3 });
    const [a, b, c] = threads as [PortThread, PortThread, PortThread];
    for (const t of threads) await t.attach(host);
    const wa = await a.gqcsWaiting();
    const wb = await b.gqcsWaiting();
    const wc = await c.gqcsWaiting();

    host.postQueuedCompletionStatus(1, 1, 0, 0);
    expect(entryOf(await wc.result).keyLo).toBe(1);
    host.postQueuedCompletionStatus(2, 2, 0, 0);
    expect(entryOf(await wb.result).keyLo).toBe(2);
    host.postQueuedCompletionStatus(3, 3, 0, 0);
    expect(entryOf(await wa.result).keyLo).toBe(3);

    await host.close();
    for (const t of threads) await t.detach();
  });

  it('puts a thread that waits again on top of the stack', async () => {
    const { host } = await createTestPort({ concurrency: 3 });
    const [a, b] = threads as [PortThread, PortThread];
    for (const t of [a, b]) await t.attach(host);
    const wa = await a.gqcsWaiting();
    const wb = await b.gqcsWaiting();
    host.postQueuedCompletionStatus(0, 10, 0, 0);
    expect(entryOf(await wb.result).keyLo).toBe(10);
    // B waits again, after A: B is now the most recent waiter and gets the next packet too.
    const wb2 = await b.gqcsWaiting();
    host.postQueuedCompletionStatus(0, 11, 0, 0);
    expect(entryOf(await wb2.result).keyLo).toBe(11);

    await host.close();
    expect((await wa.result).lastError).toBe(ERROR_ABANDONED_WAIT_0);
    for (const t of [a, b]) await t.detach();
  });
});
