// Rule: closesocket does not wait; every I/O still pending on the socket
// completes with FALSE / ERROR_OPERATION_ABORTED (995).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Op } from '@iocpscope/protocol';
import {
  ERROR_IO_PENDING,
  ERROR_OPERATION_ABORTED,
  WAIT_TIMEOUT,
  WSAENOTSOCK,
  type CompletionEntry,
} from '../../src/port/index.ts';
import {
  connectedPair,
  createTestPort,
  entryOf,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('closesocket aborts pending I/O with FALSE/995', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(2);
  });
  afterAll(() => stopThreads(threads));

  it('completes a pending recv with FALSE/995 and its bytes, key and overlapped', async () => {
    const { host } = await createTestPort({ concurrency: 2 });
    const [a, b] = threads as [PortThread, PortThread];
    for (const t of threads) await t.attach(host);
    const { socket, client } = await connectedPair(host, a, 61, 7);
    expect((await a.recv(socket, 0x1234, [[0, 32]])).value).toBe(ERROR_IO_PENDING);
    const wb = await b.gqcsWaiting();
    expect((await a.closesocket(socket)).value).toBe(0); // returns without waiting
    const r = await wb.result;
    expect(r.value).toBe(false);
    expect(entryOf(r)).toMatchObject({
      overlapped: 0x1234,
      keyLo: 61,
      keyHi: 7,
      bytes: 0,
      error: ERROR_OPERATION_ABORTED,
      op: Op.Recv,
    });
    expect(r.lastError).toBe(ERROR_OPERATION_ABORTED);
    expect((await a.closesocket(socket)).value).toBe(WSAENOTSOCK);
    expect((await a.gqcs(0)).lastError).toBe(WAIT_TIMEOUT);
    client.destroy();
    for (const t of threads) await t.detach();
    await host.close();
  });

  it('gives every post on a socket with a full send pipe exactly one packet, aborting the pending ones', async () => {
    const MB = 1 << 20;
    const { host } = await createTestPort({ concurrency: 1, arenaBytes: MB + 64 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket, client } = await connectedPair(host, a, 62);
    client.sock.pause(); // the peer stops reading: sends back up
    const results = new Map<number, number>(); // ioId -> result
    const recv = await a.recv(socket, 1, [[MB, 64]]);
    results.set(recv.lastIoId, recv.value as number);
    for (let k = 0; k < 32; k++) {
      const s = await a.send(socket, 100 + k, [[0, MB]]);
      expect([0, ERROR_IO_PENDING]).toContain(s.value);
      results.set(s.lastIoId, s.value as number);
    }
    expect((await a.closesocket(socket)).value).toBe(0);
    const packets: CompletionEntry[] = [];
    while (packets.length < results.size) packets.push(...(await a.gqcsEx(64)).entries);
    expect((await a.gqcs(0)).lastError).toBe(WAIT_TIMEOUT);
    expect(new Set(packets.map((p) => p.ioId))).toEqual(new Set(results.keys()));
    const recvPacket = packets.find((p) => p.op === Op.Recv)!;
    expect(recvPacket).toMatchObject({ overlapped: 1, error: ERROR_OPERATION_ABORTED });
    const aborted = packets.filter((p) => p.op === Op.Send && p.error !== 0);
    expect(aborted.length).toBeGreaterThan(0);
    for (const p of aborted) {
      expect(p.error).toBe(ERROR_OPERATION_ABORTED);
      expect(results.get(p.ioId)).toBe(ERROR_IO_PENDING);
    }
    for (const p of packets.filter((q) => q.op === Op.Send && q.error === 0)) {
      expect(p.bytes).toBe(MB);
    }
    client.destroy();
    await a.detach();
    await host.close();
  });
});
