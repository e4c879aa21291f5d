// Rule: an I/O call that finishes at once (returns 0) still queues a
// completion packet, exactly one, just like a pending one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKind, Op } from '@iocpscope/protocol';
import { ERROR_IO_PENDING } from '../../src/port/index.ts';
import {
  connectedPair,
  createTestPort,
  entryOf,
  ofKind,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('an immediate success still queues a packet', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(1);
  });
  afterAll(() => stopThreads(threads));

  it('queues a packet for a send that returned 0', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket, client } = await connectedPair(host, a, 21);
    host.arena.set(Buffer.from('hello'), 10);
    const sent = await a.send(socket, 5, [[10, 5]]);
    expect(sent.value).toBe(0);
    const r = await a.gqcs();
    expect(r.value).toBe(true);
    expect(entryOf(r)).toMatchObject({ bytes: 5, keyLo: 21, overlapped: 5, error: 0, op: Op.Send });
    expect(entryOf(r).ioId).toBe(sent.lastIoId);
    await client.receivedAtLeast(5);
    expect(client.received.toString()).toBe('hello');
    expect((await a.gqcs(0)).value).toBe(false); // one packet, not two
    client.destroy();
    await a.detach();
    await host.close();
  });

  it('queues a packet for a recv that found data already buffered', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket, client } = await connectedPair(host, a, 22);
    await client.write('abcdef');
    // A 2-byte recv completes with part of the data; the rest is then buffered.
    const first = await a.recv(socket, 1, [[0, 2]]);
    expect([0, ERROR_IO_PENDING]).toContain(first.value);
    expect(entryOf(await a.gqcs())).toMatchObject({ bytes: 2, overlapped: 1, error: 0 });
    const { reply: second, events } = await a.traced({
      op: 'recv',
      socket,
      overlapped: 2,
      off0: 100,
      len0: 64,
      off1: 0,
      len1: 0,
      ioId: 0,
    });
    expect(second.value).toBe(0);
    expect(ofKind(events, EventKind.IoPosted)[0]).toMatchObject({ result: 0, op: Op.Recv });
    const r = await a.gqcs();
    expect(r.value).toBe(true);
    expect(entryOf(r)).toMatchObject({ bytes: 4, keyLo: 22, overlapped: 2, error: 0 });
    expect(Buffer.from(host.arena.subarray(0, 2)).toString()).toBe('ab');
    expect(Buffer.from(host.arena.subarray(100, 104)).toString()).toBe('cdef');
    expect((await a.gqcs(0)).value).toBe(false);
    client.destroy();
    await a.detach();
    await host.close();
  });
});
