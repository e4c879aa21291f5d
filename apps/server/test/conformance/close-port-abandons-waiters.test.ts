// Rule: closing the port while threads wait in GQCS wakes them with FALSE,
// overlapped NULL and ERROR_ABANDONED_WAIT_0 (735). Later calls fail with
// ERROR_INVALID_HANDLE: the handle is gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_ABANDONED_WAIT_0, ERROR_INVALID_HANDLE } from '../../src/port/index.ts';
import {
  createTestPort,
  entryOf,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('closing the port wakes waiters with ERROR_ABANDONED_WAIT_0', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(3);
  });
  afterAll(() => stopThreads(threads));

  it('wakes every GQCS and GQCS-Ex waiter with FALSE/NULL/735', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a, b, c] = threads as [PortThread, PortThread, PortThread];
    for (const t of threads) await t.attach(host);
    const wa = await a.gqcsWaiting();
    const wb = await b.gqcsWaiting();
    const wc = await c.waitingIn({ op: 'gqcsEx', max: 8, timeoutMs: 0xffffffff });
    await host.close();
    for (const w of [wa, wb]) {
      const r = await w.result;
      expect([r.value, entryOf(r).overlapped, r.lastError]).toEqual([
        false,
        0,
        ERROR_ABANDONED_WAIT_0,
      ]);
    }
    const rc = await wc.result;
    expect([rc.value, rc.lastError]).toEqual([0, ERROR_ABANDONED_WAIT_0]);
    for (const t of threads) await t.detach();
  });

  it('fails GQCS and PQCS after the close with ERROR_INVALID_HANDLE', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    host.postQueuedCompletionStatus(0, 1, 0, 0);
    await host.close();
    const r = await a.gqcs(0);
    expect([r.value, entryOf(r).overlapped, r.lastError]).toEqual([false, 0, ERROR_INVALID_HANDLE]);
    const p = await a.pqcs(0, 1, 0, 0);
    expect([p.value, p.lastError]).toEqual([false, ERROR_INVALID_HANDLE]);
    expect(host.postQueuedCompletionStatus(0, 1, 0, 0)).toBe(false);
    await a.detach();
  });
});
