// Rule: an I/O call that fails with an error other than pending queues no
// packet, ever. Each case is followed by an I/O that does complete: its packet
// must be the only one that arrives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKind, Op } from '@iocpscope/protocol';
import {
  ERROR_NETNAME_DELETED,
  WAIT_TIMEOUT,
  WSAECONNRESET,
  WSAEFAULT,
  WSAENOTCONN,
  WSAENOTSOCK,
} from '../../src/port/index.ts';
import {
  connectedPair,
  createTestPort,
  entryOf,
  ofKind,
  startThreads,
  stopThreads,
  type PortThread,
  type TestPort,
} from './harness/index.ts';

describe('an error other than pending queues no packet', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(1);
  });
  afterAll(() => stopThreads(threads));

  /** Post a send that completes on `socket`; the next packet must be exactly it. */
  async function expectOnlyTheWitness(tp: TestPort, a: PortThread, socket: number): Promise<void> {
    tp.host.arena.set(Buffer.from('w'), 0);
    const w = await a.send(socket, 999, [[0, 1]]);
    expect([0, 997]).toContain(w.value);
    const r = await a.gqcs();
    expect(entryOf(r)).toMatchObject({ overlapped: 999, op: Op.Send, ioId: w.lastIoId });
    expect((await a.gqcs(0)).lastError).toBe(WAIT_TIMEOUT);
  }

  it('fails a recv on a closed handle with WSAENOTSOCK and records the failed post', async () => {
    const tp = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(tp.host);
    const dead = await connectedPair(tp.host, a, 31);
    const live = await connectedPair(tp.host, a, 32);
    expect((await a.closesocket(dead.socket)).value).toBe(0);
    const { reply, events } = await a.traced({
      op: 'recv',
      socket: dead.socket,
      overlapped: 1,
      off0: 0,
      len0: 16,
      off1: 0,
      len1: 0,
      ioId: 0,
    });
    expect(reply.value).toBe(WSAENOTSOCK);
    expect(reply.lastError).toBe(WSAENOTSOCK);
    expect(ofKind(events, EventKind.IoPosted)[0]).toMatchObject({ result: WSAENOTSOCK });
    expect((await a.send(dead.socket, 2, [[0, 1]])).value).toBe(WSAENOTSOCK);
    await expectOnlyTheWitness(tp, a, live.socket);
    dead.client.destroy();
    live.client.destroy();
    await a.detach();
    await tp.host.close();
  });

  it('fails I/O on a reset connection with WSAECONNRESET', async () => {
    const tp = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(tp.host);
    const gone = await connectedPair(tp.host, a, 41);
    const live = await connectedPair(tp.host, a, 42);
    expect((await a.recv(gone.socket, 1, [[0, 16]])).value).toBe(997);
    gone.client.reset();
    // The pending recv learns of the reset first (FALSE / ERROR_NETNAME_DELETED)...
    const failed = await a.gqcs();
    expect([failed.value, entryOf(failed).error]).toEqual([false, ERROR_NETNAME_DELETED]);
    // ...and from then on posts fail at once, without a packet.
    expect((await a.recv(gone.socket, 2, [[0, 16]])).value).toBe(WSAECONNRESET);
    expect((await a.send(gone.socket, 3, [[0, 1]])).value).toBe(WSAECONNRESET);
    await expectOnlyTheWitness(tp, a, live.socket);
    live.client.destroy();
    await a.detach();
    await tp.host.close();
  });

  it('fails a buffer outside the arena with WSAEFAULT and I/O on a listening socket with WSAENOTCONN', async () => {
    const tp = await createTestPort({ concurrency: 1, arenaBytes: 4096 });
    const [a] = threads as [PortThread];
    await a.attach(tp.host);
    const live = await connectedPair(tp.host, a, 51);
    expect((await a.recv(live.socket, 1, [[4000, 200]])).value).toBe(WSAEFAULT);
    expect(
      (
        await a.send(live.socket, 2, [
          [0, 10],
          [4090, 10],
        ])
      ).value,
    ).toBe(WSAEFAULT);
    expect((await a.recv(live.listen, 3, [[0, 10]])).value).toBe(WSAENOTCONN);
    await expectOnlyTheWitness(tp, a, live.socket);
    live.client.destroy();
    await a.detach();
    await tp.host.close();
  });
});
