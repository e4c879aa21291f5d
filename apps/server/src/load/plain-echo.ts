// A plain node:net echo server for the echo wire format (iocp-model.md §2):
// one thread, no completion port, no tracing. It is the baseline of
// `pnpm bench:server` and the reference server of the load generator's tests.
//
// Model: per connection, complete packets are written back as they arrive;
// the complete packets of one read go back as one zero-copy subarray of that
// read, and a packet split across reads is assembled in a buffer of exactly
// its size. A length above maxPayload closes the connection (after echoing
// the complete packets before it), like the reference server's kick. Output
// is flow-controlled: when the peer does not read, reading pauses until the
// socket drains, so memory per connection stays bounded.

import net from 'node:net';
import { HEADER_BYTES, MAX_PAYLOAD_BYTES } from './stream.ts';

export interface PlainEchoOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Largest accepted payload; default 8192. */
  maxPayload?: number;
  /** listen() backlog; default 4096 (the kernel caps it at somaxconn). */
  backlog?: number;
}

export interface PlainEchoStats {
  /** Connections open now. */
  connections: number;
  accepted: number;
  /** Connections closed for a bad length. */
  kicked: number;
  /** Packets echoed. */
  packets: number;
}

export interface PlainEchoServer {
  readonly host: string;
  readonly port: number;
  stats(): PlainEchoStats;
  /** Stops listening, destroys every open connection and resolves when the server is closed. */
  close(): Promise<void>;
}

export async function startPlainEcho(options: PlainEchoOptions = {}): Promise<PlainEchoServer> {
  const host = options.host ?? '127.0.0.1';
  const maxPayload = options.maxPayload ?? MAX_PAYLOAD_BYTES;
  const sockets = new Set<net.Socket>();
  const stats: PlainEchoStats = { connections: 0, accepted: 0, kicked: 0, packets: 0 };

  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    stats.accepted++;
    stats.connections++;
    socket.on('close', () => {
      sockets.delete(socket);
      stats.connections--;
    });
    // Clients reset connections on purpose (load resets); the close that follows is enough.
    socket.on('error', () => socket.destroy());

    // A packet split across reads: its header bytes so far, then the whole packet.
    const head = Buffer.alloc(HEADER_BYTES);
    let headLen = 0;
    let partial: Buffer | null = null;
    let partialLen = 0;

    const send = (bytes: Buffer): void => {
      if (!socket.write(bytes)) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    };
    const kick = (): void => {
      stats.kicked++;
      socket.destroy();
    };

    socket.on('data', (chunk: Buffer) => {
      let at = 0;
      // Finish a packet begun in an earlier read.
      if (headLen > 0 || partial) {
        if (!partial) {
          const n = Math.min(HEADER_BYTES - headLen, chunk.length);
          chunk.copy(head, headLen, 0, n);
          headLen += n;
          at = n;
          if (headLen < HEADER_BYTES) return;
          const len = head.readUInt16LE(0);
          if (len > maxPayload) return kick();
          partial = Buffer.allocUnsafe(HEADER_BYTES + len);
          head.copy(partial, 0);
          partialLen = HEADER_BYTES;
        }
        const n = Math.min(partial.length - partialLen, chunk.length - at);
        chunk.copy(partial, partialLen, at, at + n);
        partialLen += n;
        at += n;
        if (partialLen < partial.length) return;
        stats.packets++;
        send(partial);
        partial = null;
        headLen = 0;
      }
      // Whole packets inside this read go back as one slice of it.
      let end = at;
      let bad = false;
      while (end + HEADER_BYTES <= chunk.length) {
        const len = chunk.readUInt16LE(end);
        if (len > maxPayload) {
          bad = true;
          break;
        }
        if (end + HEADER_BYTES + len > chunk.length) break;
        end += HEADER_BYTES + len;
        stats.packets++;
      }
      if (end > at) send(chunk.subarray(at, end));
      if (bad) return kick();
      const rest = chunk.length - end;
      if (rest === 0) return;
      if (rest < HEADER_BYTES) {
        chunk.copy(head, 0, end);
        headLen = rest;
        return;
      }
      const len = chunk.readUInt16LE(end);
      partial = Buffer.allocUnsafe(HEADER_BYTES + len);
      chunk.copy(partial, 0, end);
      partialLen = rest;
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 0, backlog: options.backlog ?? 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;

  return {
    host,
    port: address.port,
    stats: () => ({ ...stats }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
