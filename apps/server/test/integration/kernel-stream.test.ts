// The emulated kernel's stream paths under pressure, on loopback through the
// port interface (the conformance harness's threads):
// - a flood that arrives before any recv is posted: the kernel stops reading at
//   its receive-buffer limit and resumes as recvs drain it; no byte is lost or
//   reordered;
// - a connection that sent bytes and its FIN while still in the backlog: the
//   kernel takes its handle over at accept and loses neither;
// - sends to a peer that does not read: once the socket buffers are full a send
//   is only partly written at once, and it must complete only after its last
//   byte is out, in order, with every byte intact.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Op } from '@iocpscope/protocol';
import {
  Client,
  connectedPair,
  createTestPort,
  entryOf,
  startThreads,
  stopThreads,
  type PortThread,
} from '../conformance/harness/index.ts';

/** Deterministic bytes: position `i` of the stream holds a value derived from i. */
function patternAt(i: number): number {
  return (i * 131 + (i >>> 9) * 7 + 11) & 0xff;
}

function pattern(from: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let k = 0; k < length; k++) b[k] = patternAt(from + k);
  return b;
}

function firstMismatch(got: Buffer, from = 0): number {
  for (let k = 0; k < got.length; k++) if (got[k] !== patternAt(from + k)) return k;
  return -1;
}

describe('emulated kernel streams under pressure', () => {
  let threads: PortThread[];
  beforeAll(async () => {
    threads = await startThreads(1);
  });
  afterAll(() => stopThreads(threads));

  it('stops reading at its receive buffer and keeps every byte of a flood, in order', async () => {
    const { host } = await createTestPort({ concurrency: 1, arenaBytes: 64 * 1024 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket, client } = await connectedPair(host, a, 7);
    // Far more than the socket buffers hold (loopback autotunes them to a
    // few MiB): a kernel that kept reading would take it all into memory.
    const total = 32 * 1024 * 1024;
    let settled = false;
    const written = client.write(pattern(0, total)).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 500));
    expect(settled).toBe(false); // the kernel stopped reading; the peer is held back
    const got: Buffer[] = [];
    let received = 0;
    let ioId = 1;
    while (received < total) {
      // Two WSABUFs now and then, as a wrapped RecvQ posts them.
      const two = ioId % 3 === 0;
      const len0 = two ? 5000 : 32768;
      const r = await a.call({
        op: 'recv',
        socket,
        overlapped: 1,
        off0: 0,
        len0,
        off1: two ? 32768 : 0,
        len1: two ? 27000 : 0,
        ioId: ioId++,
      });
      expect([0, 997]).toContain(r.value);
      const e = entryOf(await a.gqcs());
      expect([e.error, e.op]).toEqual([0, Op.Recv]);
      expect(e.bytes).toBeGreaterThan(0);
      const first = Math.min(e.bytes, len0);
      got.push(Buffer.from(host.arena.subarray(0, first)));
      if (e.bytes > first) {
        got.push(Buffer.from(host.arena.subarray(32768, 32768 + e.bytes - first)));
      }
      received += e.bytes;
    }
    await written;
    const all = Buffer.concat(got);
    expect(all.length).toBe(total);
    expect(firstMismatch(all)).toBe(-1);
    client.destroy();
    await a.detach();
    await host.close();
  }, 60_000);

  it('delivers the bytes and the FIN of a connection that sent them before it was accepted', async () => {
    const { host } = await createTestPort({ concurrency: 1 });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket: listen, port } = await host.listen('127.0.0.1', 0);
    const client = await Client.connect(port);
    await client.write('sent while in the backlog');
    client.sock.end();
    await new Promise((r) => setTimeout(r, 100));
    const accepted = (await a.accept(listen, 5000)).accepted!;
    expect((await a.associate(accepted.socket, 9, 0)).value).toBe(true);
    const recv = (ioId: number) =>
      a.call({
        op: 'recv',
        socket: accepted.socket,
        overlapped: 1,
        off0: 0,
        len0: 64,
        off1: 0,
        len1: 0,
        ioId,
      });
    // The kernel read nothing before the accept: the first recv is pending or
    // finishes at once, either way with every byte.
    expect([0, 997]).toContain((await recv(1)).value);
    const first = entryOf(await a.gqcs());
    expect([first.bytes, first.error]).toEqual([25, 0]);
    expect(Buffer.from(host.arena.subarray(0, 25)).toString()).toBe('sent while in the backlog');
    expect([0, 997]).toContain((await recv(2)).value);
    const eof = entryOf(await a.gqcs());
    expect([eof.bytes, eof.error, eof.overlapped]).toEqual([0, 0, 1]);
    client.destroy();
    await a.detach();
    await host.close();
  });

  it('completes a send that the full socket could not take only once it is out, in order', async () => {
    const chunk = 64 * 1024;
    const { host } = await createTestPort({ concurrency: 1, arenaBytes: 2 * chunk });
    const [a] = threads as [PortThread];
    await a.attach(host);
    const { socket, client } = await connectedPair(host, a, 8);
    client.sock.pause(); // the peer stops reading: the socket buffers fill up
    let sent = 0;
    let blocked = false;
    for (let k = 0; k < 2000 && !blocked; k++) {
      host.arena.set(pattern(sent, chunk), 0);
      const r = await a.call({
        op: 'send',
        socket,
        overlapped: 2,
        off0: 0,
        len0: chunk,
        off1: 0,
        len1: 0,
        ioId: k + 1,
      });
      expect([0, 997]).toContain(r.value);
      let reply = await a.gqcs(150);
      if (reply.value === false && entryOf(reply).overlapped === 0) {
        blocked = true; // no completion while the peer does not read
        client.sock.resume();
        reply = await a.gqcs();
      }
      const e = entryOf(reply);
      expect([e.bytes, e.error, e.op]).toEqual([chunk, 0, Op.Send]);
      // A completed send's buffer is the server's again: scribble on it. A
      // kernel that reported the send before its bytes were out would now
      // put these bytes on the wire.
      host.arena.fill(0xee, 0, chunk);
      sent += chunk;
    }
    expect(blocked).toBe(true);
    await client.receivedAtLeast(sent);
    expect(client.received.length).toBe(sent);
    expect(firstMismatch(client.received)).toBe(-1);
    client.destroy();
    await a.detach();
    await host.close();
  }, 60_000);
});
