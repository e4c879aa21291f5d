// Idle sessions for the memory measurement: open N connections to an echo
// server (at most 256 connects pending at a time), make each do one verified
// round trip so the server has fully set the session up, and keep them open
// until close(). A failed connect or a wrong echo rejects: a memory figure
// for sessions that do not exist would be meaningless.

import net from 'node:net';

export interface IdleConnections {
  count: number;
  close(): Promise<void>;
}

const MAX_PENDING = 256;
const PAYLOAD_BYTES = 64;

function packetFor(i: number): Buffer {
  const p = Buffer.alloc(4 + PAYLOAD_BYTES);
  p.writeUInt16LE(PAYLOAD_BYTES, 0);
  p.writeUInt16LE(1, 2);
  for (let j = 0; j < PAYLOAD_BYTES; j++) p[4 + j] = (i * 31 + j * 7) & 0xff;
  return p;
}

function openOne(port: number, i: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const packet = packetFor(i);
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(
      () => fail(new Error(`connection ${i}: no echo after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (e: Error) => {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    };
    const onData = (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got < packet.length) return;
      clearTimeout(timer);
      s.off('data', onData);
      if (!Buffer.concat(chunks).equals(packet))
        return fail(new Error(`connection ${i}: wrong echo`));
      resolve(s);
    };
    s.on('data', onData);
    s.on('error', (e) => fail(new Error(`connection ${i}: ${e.message}`)));
    s.once('connect', () => s.write(packet));
  });
}

export async function openIdleConnections(
  port: number,
  count: number,
  timeoutMs = 20_000,
): Promise<IdleConnections> {
  const sockets: net.Socket[] = [];
  let next = 0;
  let failure: Error | null = null;
  const worker = async () => {
    while (next < count && !failure) {
      const i = next++;
      try {
        sockets.push(await openOne(port, i, timeoutMs));
      } catch (e) {
        failure ??= e as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(MAX_PENDING, count) }, worker));
  const close = async () => {
    await Promise.all(
      sockets.map(
        (s) =>
          new Promise<void>((r) => {
            if (s.destroyed) return r();
            s.once('close', () => r());
            s.on('error', () => s.destroy());
            s.end();
            setTimeout(() => s.destroy(), 3000).unref();
          }),
      ),
    );
  };
  if (failure) {
    await close();
    throw failure;
  }
  return { count: sockets.length, close };
}
