// Rule: a GQCS that times out returns FALSE with overlapped NULL and
// GetLastError() == WAIT_TIMEOUT (258); bytes and key are not meaningful (zero).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKind, ThreadStateValue } from '@iocpscope/protocol';
import { ERROR_ABANDONED_WAIT_0, WAIT_TIMEOUT } from '../../src/port/index.ts';
import {
  createTestPort,
  entryOf,
  ofKind,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('a GQCS timeout returns FALSE/NULL/258', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(2);
  });
  afterAll(() => stopThreads(threads));

  it('returns at once for a zero timeout on an empty port, without sleeping', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { reply, events } = await a.traced({ op: 'gqcs', timeoutMs: 0 });
    expect(reply.value).toBe(false);
    expect(reply.lastError).toBe(WAIT_TIMEOUT);
    expect(entryOf(reply)).toMatchObject({ overlapped: 0, bytes: 0, keyLo: 0, keyHi: 0 });
    expect(events.map((e) => e.kind)).toEqual([EventKind.GqcsEnter, EventKind.GqcsReturn]);
    expect(ofKind(events, EventKind.GqcsReturn)[0]).toMatchObject({
      ok: false,
      hasOverlapped: false,
      error: WAIT_TIMEOUT,
    });
    await a.detach();
    await host.close();
  });

  it('sleeps for a finite timeout, then returns FALSE/NULL/258', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { reply, events } = await a.traced({ op: 'gqcs', timeoutMs: 30 });
    expect([reply.value, entryOf(reply).overlapped, reply.lastError]).toEqual([
      false,
      0,
      WAIT_TIMEOUT,
    ]);
    const states = ofKind(events, EventKind.ThreadState).map((e) => e.state);
    expect(states).toEqual([ThreadStateValue.Waiting, ThreadStateValue.Running]);
    expect((await a.gqcsEx(4, 20)).value).toBe(0);
    await a.detach();
    await host.close();
  });

  it('takes a thread whose wait timed out off the waiter stack', async () => {
    const { host } = await createTestPort({ concurrency: 2 });
    const [a, b] = threads as [PortThread, PortThread];
    for (const t of threads) await t.attach(host);
    const wb = await b.gqcsWaiting();
    // A waits after B (so A would be released first) but gives up.
    expect((await a.gqcs(20)).lastError).toBe(WAIT_TIMEOUT);
    host.postQueuedCompletionStatus(0, 5, 0, 0);
    expect(entryOf(await wb.result).keyLo).toBe(5);
    expect((await a.gqcs(0)).lastError).toBe(WAIT_TIMEOUT);
    await host.close();
    expect((await a.gqcs(0)).lastError).not.toBe(ERROR_ABANDONED_WAIT_0);
    for (const t of threads) await t.detach();
  });
});
