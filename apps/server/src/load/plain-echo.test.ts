import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startPlainEcho } from './plain-echo.ts';
import type { PlainEchoServer } from './plain-echo.ts';
import { createRandom } from './random.ts';

let server: PlainEchoServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

function packet(size: number, type: number, fill: number): Buffer {
  const b = Buffer.alloc(4 + size, fill);
  b.writeUInt16LE(size, 0);
  b.writeUInt16LE(type, 2);
  return b;
}

/** Connects, runs `drive`, collects everything received until the server closes or `untilBytes` arrive. */
function exchange(
  port: number,
  drive: (s: net.Socket, received: () => number) => void | Promise<void>,
  untilBytes: number,
  timeoutMs = 3000,
): Promise<{ data: Buffer; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const s = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`timed out with ${got} of ${untilBytes} bytes`));
    }, timeoutMs);
    const done = (closedByServer: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), closedByServer });
    };
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= untilBytes) done(false);
    });
    s.on('close', () => done(true));
    s.on('error', () => done(true));
    s.on('connect', () => void drive(s, () => got));
  });
}

describe('startPlainEcho', () => {
  it('echoes packets of 0..8192 payload bytes unchanged, however the stream is split', async () => {
    server = await startPlainEcho();
    const rnd = createRandom(2024);
    const sizes = [0, 1, 2, 3, 4, 5, 63, 64, 65, 1000, 4095, 4096, 8191, 8192];
    for (let i = 0; i < 30; i++) sizes.push(rnd.int(8193));
    const stream = Buffer.concat(sizes.map((n, i) => packet(n, i, i & 0xff)));
    const { data } = await exchange(
      server.port,
      async (s) => {
        // Random pieces of 1..3000 bytes, some after a pause so the server sees separate reads.
        for (let at = 0; at < stream.length;) {
          const n = 1 + rnd.int(3000);
          s.write(stream.subarray(at, at + n));
          at += n;
          if (rnd.float() < 0.2) await new Promise((r) => setTimeout(r, 2));
        }
      },
      stream.length,
    );
    expect(data.equals(stream)).toBe(true);
    expect(server.stats().packets).toBe(sizes.length);
  });

  it('echoes nothing of a packet until all of it has arrived', async () => {
    server = await startPlainEcho();
    const p = packet(100, 9, 0xab);
    const earlyBytes: number[] = [];
    const { data } = await exchange(
      server.port,
      async (s, received) => {
        s.write(p.subarray(0, 3));
        await new Promise((r) => setTimeout(r, 50));
        earlyBytes.push(received());
        s.write(p.subarray(3, 60));
        await new Promise((r) => setTimeout(r, 50));
        earlyBytes.push(received());
        s.write(p.subarray(60));
      },
      p.length,
    );
    expect(earlyBytes).toEqual([0, 0]);
    expect(data.equals(p)).toBe(true);
  });

  it('closes a connection whose length is above 8192, after echoing the complete packets before it', async () => {
    server = await startPlainEcho();
    const good = packet(10, 1, 1);
    const bad = Buffer.from([0x01, 0x20, 0x01, 0x00]); // length 8193
    const result = await exchange(
      server.port,
      (s) => void s.write(Buffer.concat([good, bad])),
      1e9,
    );
    expect(result.closedByServer).toBe(true);
    expect(result.data.equals(good)).toBe(true);
    expect(server.stats().kicked).toBe(1);
  });

  it('closes every open connection on close()', async () => {
    server = await startPlainEcho();
    const s = net.connect(server.port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    const closed = new Promise((r) => s.once('close', r));
    s.on('error', () => s.destroy());
    await server.close();
    server = null;
    await closed;
  });
});
