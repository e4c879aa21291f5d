// Rule (instrumentation): the port records what it does through the calling
// thread's recorder, with the fields packages/protocol defines, and one ioId
// links a post, its packet and its dequeue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, EventKind, Op } from '@iocpscope/protocol';
import { ERROR_IO_PENDING } from '../../src/port/index.ts';
import {
  BACKEND,
  connectedPair,
  createTestPort,
  ofKind,
  packetQueued,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('the port records its events through the calling thread', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(1);
  });
  afterAll(() => stopThreads(threads));

  it('records PortCreated once on the host with the backend and concurrency value', async () => {
    const tp = await createTestPort({ concurrency: 3, workerCount: 5 });
    const created = ofKind(tp.hostLog.events, EventKind.PortCreated);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({
      backend: BACKEND === 'native' ? Backend.Native : Backend.Emulated,
      concurrency: 3,
      workerCount: 5,
    });
    await tp.host.close();
  });

  it('links IoPosted, PacketQueued and GqcsReturn of one recv by its reserved ioId', async () => {
    const tp = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(tp.host);
    const { socket, client } = await connectedPair(tp.host, a, 0x10, 0x20);
    const ioId = (await a.allocIoId()).value as number;
    expect(ioId).not.toBe(0);
    const { reply, events: postEvents } = await a.traced({
      op: 'recv',
      socket,
      overlapped: 4,
      off0: 0,
      len0: 100,
      off1: 0,
      len1: 0,
      ioId,
    });
    expect([reply.value, reply.lastIoId]).toEqual([ERROR_IO_PENDING, ioId]);
    const posted = ofKind(postEvents, EventKind.IoPosted);
    expect(posted).toEqual([
      expect.objectContaining({
        op: Op.Recv,
        bufCount: 1,
        requestedBytes: 100,
        session: (0x20n << 32n) | 0x10n,
        result: ERROR_IO_PENDING,
        ioId,
      }),
    ]);
    await client.write('ping');
    const { events: getEvents } = await a.traced({ op: 'gqcs', timeoutMs: 1000 });
    expect(ofKind(getEvents, EventKind.GqcsEnter)[0]).toMatchObject({
      timeoutMs: 1000,
      maxEntries: 1,
    });
    const ret = ofKind(getEvents, EventKind.GqcsReturn)[0]!;
    expect(ret).toMatchObject({
      ok: true,
      hasOverlapped: true,
      op: Op.Recv,
      bytes: 4,
      key: (0x20n << 32n) | 0x10n,
      error: 0,
      ioId,
    });
    if (BACKEND === 'emulated') {
      await packetQueued(tp, ioId);
      const queued = ofKind(tp.hostLog.events, EventKind.PacketQueued).find(
        (e) => e.ioId === ioId,
      )!;
      expect(queued).toMatchObject({ op: Op.Recv, bytes: 4, status: 0, key: ret.key });
      expect(posted[0]!.seq).toBeLessThan(queued.seq);
      expect(queued.seq).toBeLessThan(ret.seq);
    }
    client.destroy();
    await a.detach();
    await tp.host.close();
  });

  it('gives every post its own ioId', async () => {
    const tp = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(tp.host);
    const ids = new Set<number>();
    for (let k = 0; k < 20; k++) ids.add((await a.pqcs(0, k, 0, 0)).lastIoId);
    for (let k = 0; k < 5; k++) ids.add((await a.allocIoId()).value as number);
    expect(ids.size).toBe(25);
    expect(ids.has(0)).toBe(false);
    await a.detach();
    await tp.host.close();
  });
});
