// Rule: PostQueuedCompletionStatus queues (bytes, key, overlapped) exactly as
// given; GQCS returns TRUE for it, with overlapped NULL when it was NULL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKind, Op } from '@iocpscope/protocol';
import {
  createTestPort,
  entryOf,
  ofKind,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

const VALUES: [bytes: number, keyLo: number, keyHi: number, overlapped: number][] = [
  [0, 0, 0, 0],
  [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
  [1234, 0xdeadbeef, 0x01020304, 77],
  [1, 0, 0x80000000, 0],
];

describe('PQCS passes its values through', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(2);
  });
  afterAll(() => stopThreads(threads));

  it('delivers every u32 value unchanged from one thread to another', async () => {
    const { host } = await createTestPort({ concurrency: 2 });
    const [a, b] = threads as [PortThread, PortThread];
    for (const t of threads) await t.attach(host);
    for (const [bytes, keyLo, keyHi, overlapped] of VALUES) {
      const { reply: posted, events } = await a.traced({
        op: 'pqcs',
        bytes,
        keyLo,
        keyHi,
        overlapped,
      });
      expect(posted.value).toBe(true);
      const r = await b.gqcs();
      expect(r.value).toBe(true);
      expect(r.lastError).toBe(0);
      expect(entryOf(r)).toEqual({
        bytes,
        keyLo,
        keyHi,
        overlapped,
        error: 0,
        op: Op.Post,
        ioId: posted.lastIoId,
      });
      expect(ofKind(events, EventKind.Pqcs)[0]).toMatchObject({
        bytes,
        key: (BigInt(keyHi) << 32n) | BigInt(keyLo),
        hasOverlapped: overlapped !== 0,
        op: Op.Post,
        ioId: posted.lastIoId,
      });
    }
    for (const t of threads) await t.detach();
    await host.close();
  });

  it('delivers packets the main thread posts', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    for (const [bytes, keyLo, keyHi, overlapped] of VALUES) {
      expect(host.postQueuedCompletionStatus(bytes, keyLo, keyHi, overlapped)).toBe(true);
    }
    for (const [bytes, keyLo, keyHi, overlapped] of VALUES) {
      const r = await a.gqcs();
      expect([r.value, entryOf(r)]).toMatchObject([true, { bytes, keyLo, keyHi, overlapped }]);
    }
    await a.detach();
    await host.close();
  });

  it('wakes one waiter per packet, so stopping N workers takes N exit packets', async () => {
    const { host } = await createTestPort({ concurrency: 2 });
    const [a, b] = threads as [PortThread, PortThread];
    for (const t of threads) await t.attach(host);
    const wa = await a.gqcsWaiting();
    const wb = await b.gqcsWaiting();
    host.postQueuedCompletionStatus(0, 0, 0, 0);
    const first = await wb.result;
    expect([first.value, entryOf(first).overlapped, entryOf(first).keyLo]).toEqual([true, 0, 0]);
    host.postQueuedCompletionStatus(0, 0, 0, 0);
    const second = await wa.result;
    expect([second.value, entryOf(second).overlapped]).toEqual([true, 0]);
    for (const t of threads) await t.detach();
    await host.close();
  });
});
