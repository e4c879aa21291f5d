// Rule (GQCS result table): a recv completes TRUE with 0 bytes when the peer
// closes gracefully, and FALSE with ERROR_NETNAME_DELETED (64) when the
// connection is reset; both carry the post's key and overlapped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Op } from '@iocpscope/protocol';
import { ERROR_IO_PENDING, ERROR_NETNAME_DELETED } from '../../src/port/index.ts';
import {
  connectedPair,
  createTestPort,
  entryOf,
  startThreads,
  stopThreads,
  type PortThread,
} from './harness/index.ts';

describe('a recv completes TRUE/0 on a graceful close and FALSE/64 on a reset', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(1);
  });
  afterAll(() => stopThreads(threads));

  it('completes a pending recv with TRUE and 0 bytes when the peer closes, and every later recv at once', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket, client } = await connectedPair(host, a, 81, 2);
    expect((await a.recv(socket, 3, [[0, 16]])).value).toBe(ERROR_IO_PENDING);
    client.sock.end();
    const r = await a.gqcs();
    expect(r.value).toBe(true);
    expect(entryOf(r)).toMatchObject({ bytes: 0, keyLo: 81, keyHi: 2, overlapped: 3, op: Op.Recv });
    // End of stream is now known: a new recv finishes at once, again with 0 bytes.
    expect((await a.recv(socket, 4, [[0, 16]])).value).toBe(0);
    const again = await a.gqcs();
    expect([again.value, entryOf(again).bytes, entryOf(again).overlapped]).toEqual([true, 0, 4]);
    expect((await a.closesocket(socket)).value).toBe(0);
    client.destroy();
    await a.detach();
    await host.close();
  });

  it('delivers the bytes sent before the close first', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket, client } = await connectedPair(host, a, 82);
    client.sock.end('last words');
    const got: number[] = [];
    let text = '';
    for (let ov = 1; ; ov++) {
      await a.recv(socket, ov, [[0, 4]]);
      const e = entryOf(await a.gqcs());
      got.push(e.bytes);
      text += Buffer.from(host.arena.subarray(0, e.bytes)).toString();
      if (e.bytes === 0) break;
    }
    expect(text).toBe('last words');
    expect(got.at(-1)).toBe(0);
    await a.closesocket(socket);
    client.destroy();
    await a.detach();
    await host.close();
  });

  it('fails a pending recv with FALSE/ERROR_NETNAME_DELETED when the peer resets', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket, client } = await connectedPair(host, a, 83);
    expect((await a.recv(socket, 9, [[0, 16]])).value).toBe(ERROR_IO_PENDING);
    client.reset();
    const r = await a.gqcs();
    expect(r.value).toBe(false);
    expect(r.lastError).toBe(ERROR_NETNAME_DELETED);
    expect(entryOf(r)).toMatchObject({
      overlapped: 9,
      keyLo: 83,
      bytes: 0,
      error: ERROR_NETNAME_DELETED,
    });
    expect((await a.closesocket(socket)).value).toBe(0);
    await a.detach();
    await host.close();
  });
});
