// Rule: GetQueuedCompletionStatusEx dequeues up to M packets at once, in
// FIFO order, each entry with its own status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKind, Op } from '@iocpscope/protocol';
import { ERROR_IO_PENDING, ERROR_OPERATION_ABORTED, WAIT_TIMEOUT } from '../../src/port/index.ts';
import {
  connectedPair,
  createTestPort,
  ofKind,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('GQCS-Ex dequeues up to M packets', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(2);
  });
  afterAll(() => stopThreads(threads));

  it('returns min(M, queued) entries per call and 0 with WAIT_TIMEOUT when empty', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    for (let k = 1; k <= 10; k++) host.postQueuedCompletionStatus(k, k, 0, 0);
    const sizes: number[] = [];
    const keys: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { reply, events } = await a.traced({ op: 'gqcsEx', max: 4, timeoutMs: 0xffffffff });
      sizes.push(reply.value as number);
      keys.push(...reply.entries.map((e) => e.keyLo));
      expect(ofKind(events, EventKind.GqcsEnter)[0]).toMatchObject({ maxEntries: 4 });
      expect(ofKind(events, EventKind.GqcsReturn)).toHaveLength(reply.value as number);
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect(keys).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const empty = await a.gqcsEx(4, 0);
    expect([empty.value, empty.lastError]).toEqual([0, WAIT_TIMEOUT]);
    await a.detach();
    await host.close();
  });

  it('wakes a sleeping GQCS-Ex caller with at least one entry', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const w = await a.waitingIn({ op: 'gqcsEx', max: 16, timeoutMs: 0xffffffff });
    host.postQueuedCompletionStatus(0, 1, 0, 0);
    const r = await w.result;
    expect(r.value).toBeGreaterThanOrEqual(1);
    expect(r.entries[0]!.keyLo).toBe(1);
    await a.detach();
    await host.close();
  });

  it('reports failed I/O inside a batch through those entries alone', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const one = await connectedPair(host, a, 71);
    const two = await connectedPair(host, a, 72);
    expect((await a.recv(one.socket, 5, [[0, 8]])).value).toBe(ERROR_IO_PENDING);
    expect((await a.recv(two.socket, 6, [[8, 8]])).value).toBe(ERROR_IO_PENDING);
    await a.closesocket(one.socket);
    await a.closesocket(two.socket);
    const entries = [];
    while (entries.length < 2) {
      const r = await a.gqcsEx(8);
      expect(r.value).toBe(r.entries.length); // a count, not FALSE, despite failures
      entries.push(...r.entries);
    }
    host.postQueuedCompletionStatus(3, 73, 0, 0);
    const post = await a.gqcsEx(8);
    expect(post.value).toBe(1);
    expect(entries.map((e) => [e.keyLo, e.overlapped, e.op, e.error])).toEqual([
      [71, 5, Op.Recv, ERROR_OPERATION_ABORTED],
      [72, 6, Op.Recv, ERROR_OPERATION_ABORTED],
    ]);
    expect(post.entries[0]).toMatchObject({ keyLo: 73, bytes: 3, error: 0, op: Op.Post });
    one.client.destroy();
    two.client.destroy();
    await a.detach();
    await host.close();
  });
});
