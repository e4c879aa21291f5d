// A tracer written in TypeScript, for tests of the ingest side: it speaks the
// tracer stream (FORMAT.md §11) over a real loopback socket, as iocpscope.h
// and the hook DLL do, and collects the viewer's reply lines.

import { connect, type Socket } from 'node:net';
import {
  EventKind,
  RECORD_WORDS,
  ThreadRole,
  encodeChunk,
  encodeFileHeader,
  encodeTracerHandshake,
  writeRecord,
  type TraceFileHeader,
} from '@iocpscope/protocol';

export const FOREIGN_HEADER: TraceFileHeader = {
  clock: 'monotonic-ns',
  host: 'win-build-box',
  backend: 'external',
  portConfig: { workers: 2, concurrency: 0 },
  startWallMs: 1_760_000_000_000,
  process: { pid: 4711, name: 'GameServer.exe' },
  tracer: 'header',
  clockSource: 'tsc',
  ticksPerSecond: 3_000_000_000,
  app: 'echo',
};

export interface TestTracer {
  socket: Socket;
  /** Reply lines received so far. */
  lines: string[];
  send(bytes: Uint8Array): Promise<void>;
  /** Resolves when the socket closed (either side). */
  closed: Promise<void>;
  end(): Promise<void>;
}

export function connectTracer(port: number, host = '127.0.0.1'): Promise<TestTracer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host });
    const lines: string[] = [];
    let buf = '';
    let onClose!: () => void;
    const closed = new Promise<void>((r) => (onClose = r));
    socket.on('data', (b) => {
      buf += b.toString('utf8');
      let k;
      while ((k = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, k));
        buf = buf.slice(k + 1);
      }
    });
    socket.on('close', () => onClose());
    socket.on('error', () => undefined);
    socket.once('connect', () =>
      resolve({
        socket,
        lines,
        closed,
        send: (bytes) =>
          new Promise<void>((res) => {
            if (!socket.writable) return res();
            socket.write(bytes, () => res());
          }),
        end: () => {
          socket.end();
          return closed;
        },
      }),
    );
    socket.once('error', reject);
  });
}

/** Handshake + file header, as a tracer sends them first. */
export function opening(token = '', header: TraceFileHeader = FOREIGN_HEADER): Uint8Array {
  const a = encodeTracerHandshake(token);
  const b = encodeFileHeader(header);
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * A chunk from a small foreign server: a worker thread named `name`
 * (string id 1), a session created with peer string 2, and `n` markers.
 */
export function foreignChunk(n: number, t0 = 1000, name = 'worker 1'): Uint8Array {
  const w = new Uint32Array((2 + n) * RECORD_WORDS);
  writeRecord(w, 0, EventKind.ThreadStart, ThreadRole.Worker, 0, 1, t0, 0, 0, 5150, 0);
  writeRecord(w, 1, EventKind.SessionCreated, 0, 0, 2, t0 + 1, 0x10001, 0, 812, 1);
  for (let i = 0; i < n; i++) {
    writeRecord(w, 2 + i, EventKind.Marker, 0, 0, 0, t0 + 2 + i, 0, 0, 0, 0);
  }
  return encodeChunk(w, [
    [1, name],
    [2, '10.0.0.7:50123'],
  ]);
}

/** Wait until `pred` holds, polling; throws after `ms`. */
export async function until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
