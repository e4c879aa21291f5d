// Rule: WSARecv/WSASend take up to two WSABUFs (the two pieces of a ring
// buffer that wraps); the kernel reads and writes the shared arena directly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKind, Op } from '@iocpscope/protocol';
import {
  connectedPair,
  createTestPort,
  entryOf,
  ofKind,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('recv and send use up to two WSABUFs in the shared arena', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(1);
  });
  afterAll(() => stopThreads(threads));

  it('fills the first buffer, then the second, in one recv', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket, client } = await connectedPair(host, a, 91);
    // A ring of 64 bytes at offset 1000 whose free space wraps: [1060, 1064) then [1000, 1032).
    await client.write('0123456789');
    const { reply, events } = await a.traced({
      op: 'recv',
      socket,
      overlapped: 1,
      off0: 1060,
      len0: 4,
      off1: 1000,
      len1: 32,
      ioId: 0,
    });
    expect([0, 997]).toContain(reply.value);
    expect(ofKind(events, EventKind.IoPosted)[0]).toMatchObject({
      op: Op.Recv,
      bufCount: 2,
      requestedBytes: 36,
      session: 91n,
    });
    const e = entryOf(await a.gqcs());
    expect(e.bytes).toBe(10);
    expect(Buffer.from(host.arena.subarray(1060, 1064)).toString()).toBe('0123');
    expect(Buffer.from(host.arena.subarray(1000, 1006)).toString()).toBe('456789');
    client.destroy();
    await a.detach();
    await host.close();
  });

  it('sends the first buffer, then the second, as one stream', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket, client } = await connectedPair(host, a, 92);
    host.arena.set(Buffer.from('wrapped '), 2040);
    host.arena.set(Buffer.from('around'), 2000);
    const { reply, events } = await a.traced({
      op: 'send',
      socket,
      overlapped: 2,
      off0: 2040,
      len0: 8,
      off1: 2000,
      len1: 6,
      ioId: 0,
    });
    expect([0, 997]).toContain(reply.value);
    expect(ofKind(events, EventKind.IoPosted)[0]).toMatchObject({
      bufCount: 2,
      requestedBytes: 14,
    });
    const e = entryOf(await a.gqcs());
    expect([e.bytes, e.error, e.op]).toEqual([14, 0, Op.Send]);
    await client.receivedAtLeast(14);
    expect(client.received.toString()).toBe('wrapped around');
    client.destroy();
    await a.detach();
    await host.close();
  });
});
