// Rule: completion packets are queued FIFO.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Op } from '@iocpscope/protocol';
import {
  connectedPair,
  createTestPort,
  entryOf,
  packetQueued,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('completion packets are FIFO', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(3);
  });
  afterAll(() => stopThreads(threads));

  it('dequeues packets in the order they were posted', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    for (let k = 1; k <= 40; k++) host.postQueuedCompletionStatus(k * 3, k, 0, k + 1000);
    for (let k = 1; k <= 40; k++) {
      const e = entryOf(await a.gqcs(0));
      expect([e.keyLo, e.bytes, e.overlapped]).toEqual([k, k * 3, k + 1000]);
    }
    expect((await a.gqcs(0)).value).toBe(false);
    await a.detach();
    await host.close();
  });

  it('keeps the posting order across GQCS-Ex batches of any size', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    for (let k = 1; k <= 30; k++) host.postQueuedCompletionStatus(0, k, 0, 0);
    const got: number[] = [];
    for (const max of [1, 7, 3, 16, 16]) {
      const r = await a.gqcsEx(max, 0);
      got.push(...r.entries.map((e) => e.keyLo));
    }
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    await a.detach();
    await host.close();
  });

  it("keeps each poster's order when two threads post at the same time", async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a, b, c] = threads as [PortThread, PortThread, PortThread];
    for (const t of threads) await t.attach(host);
    const posts: Promise<unknown>[] = [];
    for (let k = 0; k < 25; k++) {
      posts.push(a.pqcs(0, 100 + k, 0, 0), b.pqcs(0, 200 + k, 0, 0));
    }
    await Promise.all(posts);
    const got = (await c.gqcsEx(64, 0)).entries.map((e) => e.keyLo);
    expect(got).toHaveLength(50);
    expect(got.filter((k) => k < 200)).toEqual(Array.from({ length: 25 }, (_, i) => 100 + i));
    expect(got.filter((k) => k >= 200)).toEqual(Array.from({ length: 25 }, (_, i) => 200 + i));
    for (const t of threads) await t.detach();
    await host.close();
  });

  it('orders an I/O completion between the PQCS packets queued before and after it', async () => {
    const tp = await createTestPort({ concurrency: 1 });
    const { host } = tp;
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket, client } = await connectedPair(host, a, 9);
    host.postQueuedCompletionStatus(0, 1, 0, 0);
    host.arena.set(Buffer.from('x'), 0);
    const sent = await a.send(socket, 77, [[0, 1]]);
    expect([0, 997]).toContain(sent.value);
    await packetQueued(tp, sent.lastIoId);
    host.postQueuedCompletionStatus(0, 2, 0, 0);
    const r = await a.gqcsEx(3, 0);
    expect(r.entries.map((e) => [e.op, e.keyLo])).toEqual([
      [Op.Post, 1],
      [Op.Send, 9],
      [Op.Post, 2],
    ]);
    client.destroy();
    await a.detach();
    await host.close();
  });
});
