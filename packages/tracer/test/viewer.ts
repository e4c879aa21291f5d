// "The viewer comes and goes": the example server streams to a port nobody
// listens on (IOCPSCOPE_CONNECT), a viewer appears later, is killed mid-stream,
// and comes back. The server must keep echoing every byte throughout, and each
// stream a viewer received must parse (FORMAT.md §11: a handshake, then the
// bytes of an .iocptrace file), starting with a LateJoin Snapshot bracket.
// The viewer here is a small TCP listener around packages/protocol's
// TracerStreamReader, answering the one JSON line the protocol asks for.

import { createServer, type Server, type Socket } from 'node:net';
import { EventKind, TracerStreamReader, type TraceFileHeader } from '../../protocol/src/index.ts';
import { expect, freePort, load, sleep, startEchoServer, type Suite } from './harness.ts';
import { decodeWords, type Rec } from './trace-model.ts';

export interface ReceivedStream {
  header: TraceFileHeader | undefined;
  records: Rec[];
  strings: Map<number, string>;
  chunks: number;
  error: string | undefined;
  ended: boolean;
  socket: Socket;
}

/** A viewer: accepts tracer streams on 127.0.0.1:port and keeps what they carry. */
export class TestViewer {
  readonly streams: ReceivedStream[] = [];
  private server: Server | null = null;

  constructor(readonly port: number) {}

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(socket));
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
      this.server = server;
    });
  }

  private accept(socket: Socket): void {
    const words: Uint32Array[] = [];
    const s: ReceivedStream = {
      header: undefined,
      records: [],
      strings: new Map(),
      chunks: 0,
      error: undefined,
      ended: false,
      socket,
    };
    const reader = new TracerStreamReader({
      onHeader: (h) => {
        s.header = h;
        socket.write('{"ok":true}\n');
      },
      onChunk: (records, strings) => {
        words.push(records.slice());
        for (const [id, str] of strings) s.strings.set(id, str);
        s.chunks++;
      },
    });
    this.streams.push(s);
    socket.on('data', (d: Buffer) => {
      reader.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      if (reader.error && !s.error) {
        s.error = `${reader.error.code}: ${reader.error.message}`;
        socket.destroy();
      }
    });
    const done = (): void => {
      if (s.ended) return;
      s.ended = true;
      if (!s.error) {
        const e = reader.finish();
        if (e) s.error = `${e.code}: ${e.message}`;
      }
      let n = 0;
      for (const w of words) n += w.length;
      const all = new Uint32Array(n);
      let at = 0;
      for (const w of words) {
        all.set(w, at);
        at += w.length;
      }
      s.records = decodeWords(all);
    };
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', () => undefined);
  }

  /** Kill every connection (no goodbye) and stop listening: the viewer is gone. */
  async kill(): Promise<void> {
    for (const s of this.streams) s.socket.destroy();
    await this.close();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server = null;
    });
  }

  async waitForStream(index: number, timeoutMs: number): Promise<ReceivedStream> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      const s = this.streams[index];
      if (s && s.chunks > 0) return s;
      await sleep(50);
    }
    throw new Error(`no stream #${index + 1} with a chunk within ${timeoutMs} ms`);
  }
}

/** A stream starts with a LateJoin Snapshot bracket whose end counts the records inside. */
export function expectLateJoinSnapshot(s: ReceivedStream, what: string): Rec[] {
  const r = s.records;
  expect(r.length > 2, `${what}: only ${r.length} records`);
  expect(
    r[0]!.kind === EventKind.Snapshot && r[0]!.a === 0 && r[0]!.x === 1,
    `${what}: the first record should be a Snapshot begin (LateJoin), got kind ${r[0]!.kind}`,
  );
  const end = r.findIndex((x) => x.kind === EventKind.Snapshot && x.a === 1);
  expect(end > 0, `${what}: the Snapshot bracket is not closed`);
  const inside = r.slice(1, end);
  expect(
    r[end]!.y === inside.length,
    `${what}: the Snapshot end counts ${r[end]!.y}, the bracket holds ${inside.length}`,
  );
  return inside;
}

export async function viewerTests(suite: Suite): Promise<void> {
  await suite.test(
    'viewer comes and goes: the server keeps echoing, each stream parses and starts with a LateJoin snapshot',
    async () => {
      const viewerPort = await freePort();
      const server = await startEchoServer('viewer', {
        traced: true,
        workers: 3,
        env: { IOCPSCOPE_CONNECT: `127.0.0.1:${viewerPort}`, IOCPSCOPE_RETRY_MS: '400' },
      });
      const viewer1 = new TestViewer(viewerPort);
      const viewer2 = new TestViewer(viewerPort);
      let loadRun;
      let stopped;
      try {
        loadRun = load(server.port, [
          '-c',
          '12',
          '-s',
          '128',
          '-p',
          '2',
          '-d',
          '9s',
          '--resets',
          '4',
        ]);
        await sleep(1500); // nobody listens: the tracer retries, the server serves
        await viewer1.listen();
        await viewer1.waitForStream(0, 8000);
        await sleep(1500);
        await viewer1.kill(); // gone mid-stream
        await sleep(1500);
        await viewer2.listen();
        await viewer2.waitForStream(0, 8000);
        const l = await loadRun;
        expect(
          l.status === 0 && l.report !== null && l.report.mismatches.count === 0,
          `iocpscope load failed while the viewer came and went (exit ${l.status}): ${l.output.slice(-1500)}`,
        );
      } finally {
        stopped = await server.stop();
        const t0 = Date.now();
        while (viewer2.streams[0] && !viewer2.streams[0].ended && Date.now() - t0 < 5000)
          await sleep(50);
        await viewer1.close();
        await viewer2.close();
      }
      expect(stopped.status === 0, `the server exited ${stopped.status}: ${stopped.log}`);
      expect(
        stopped.stats?.drained && stopped.stats.joined,
        `the server did not shut down cleanly: ${JSON.stringify(stopped.stats)}`,
      );
      expect(
        viewer1.streams.length >= 1 && viewer2.streams.length >= 1,
        'each viewer should have received a stream',
      );
      const first = viewer1.streams[0]!;
      const second = viewer2.streams[0]!;
      for (const [s, what] of [
        [first, 'the first stream'],
        [second, 'the second stream'],
      ] as const) {
        expect(
          s.header?.backend === 'external' && s.header.tracer === 'header',
          `${what}: header ${JSON.stringify(s.header)}`,
        );
        expect(
          s.header?.process?.name === 'echo_server_traced.exe',
          `${what}: process ${JSON.stringify(s.header?.process)}`,
        );
        const inside = expectLateJoinSnapshot(s, what);
        const workers = inside.filter((x) => x.kind === EventKind.ThreadStart && x.a === 1);
        expect(
          workers.length === 3,
          `${what}: the snapshot should name the 3 workers, found ${workers.length}`,
        );
        expect(
          s.records.some((x) => x.kind === EventKind.GqcsReturn),
          `${what}: no completion was streamed`,
        );
      }
      // The first was cut by the viewer: it keeps its whole chunks and nothing is damaged before the cut.
      expect(
        !first.error || first.error.startsWith('TRUNCATED'),
        `the first stream is damaged: ${first.error}`,
      );
      // The second ended as planned.
      expect(!second.error, `the second stream is damaged: ${second.error}`);
      const last = second.records.at(-1);
      expect(
        last?.kind === EventKind.TraceEnd && last.a === 2,
        'the second stream should end with TraceEnd (ServerExit)',
      );
      expect(
        last.x === second.records.length - 1,
        `TraceEnd counts ${last.x}, the stream holds ${second.records.length - 1} before it`,
      );
      const snapSessions = expectLateJoinSnapshot(second, 'the second stream').filter(
        (x) => x.kind === EventKind.SessionCreated,
      );
      expect(snapSessions.length > 0, 'the second snapshot should describe the live sessions');
      expect(
        /viewer attached/.test(stopped.log) && /viewer detached/.test(stopped.log),
        `the server's log should say the viewer came and went:\n${stopped.log}`,
      );
    },
  );
}
