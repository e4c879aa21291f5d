// "The viewer comes and goes": the example server streams to a port nobody
// listens on (IOCPSCOPE_CONNECT), a viewer appears later, is killed mid-stream,
// and comes back. The server must keep echoing every byte throughout, and each
// stream a viewer received must parse (FORMAT.md §11: a handshake, then the
// bytes of an .iocptrace file), starting with a LateJoin Snapshot bracket.
// The viewer here is a small TCP listener around packages/protocol's
// TracerStreamReader, answering the one JSON line the protocol asks for.

import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { EventKind, TracerStreamReader, type TraceFileHeader } from '../../protocol/src/index.ts';
import {
  CLI,
  ROOT,
  TSX,
  check,
  expect,
  freePort,
  load,
  readText,
  sleep,
  startEchoServer,
  workDir,
  type Suite,
} from './harness.ts';
import { checkEchoTrace, decodeFile, decodeWords, type Rec } from './trace-model.ts';

export interface ReceivedStream {
  /** Every byte received, handshake included. */
  bytes: Buffer;
  header: TraceFileHeader | undefined;
  records: Rec[];
  strings: Map<number, string>;
  chunks: number;
  /** GqcsReturn records received so far (counted as chunks arrive). */
  completions: number;
  error: string | undefined;
  ended: boolean;
  socket: Socket;
}

/** A viewer: accepts tracer streams on 127.0.0.1:port and keeps what they carry. */
export class TestViewer {
  readonly streams: ReceivedStream[] = [];
  private server: Server | null = null;

  /** 'ok' answers {"ok":true}; 'busy' refuses as a viewer with a tracer attached; 'garbage' talks nonsense. */
  constructor(
    readonly port: number,
    private readonly mode: 'ok' | 'busy' | 'garbage' = 'ok',
  ) {}

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
    const raw: Buffer[] = [];
    const s: ReceivedStream = {
      bytes: Buffer.alloc(0),
      header: undefined,
      records: [],
      strings: new Map(),
      chunks: 0,
      completions: 0,
      error: undefined,
      ended: false,
      socket,
    };
    const reader = new TracerStreamReader({
      onHeader: (h) => {
        s.header = h;
        if (this.mode === 'ok') socket.write('{"ok":true}\n');
        else if (this.mode === 'busy') {
          socket.end('{"ok":false,"code":"BUSY","message":"another tracer is attached"}\n');
        }
      },
      onChunk: (records, strings) => {
        words.push(records.slice());
        for (let i = 0; i < records.length; i += 8) if ((records[i]! & 0xff) === 6) s.completions++;
        for (const [id, str] of strings) s.strings.set(id, str);
        s.chunks++;
      },
    });
    this.streams.push(s);
    if (this.mode === 'garbage') socket.write(Buffer.alloc(2048, 0x78)); // no newline, over 1 KiB
    socket.on('data', (d: Buffer) => {
      raw.push(d);
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
      s.bytes = Buffer.concat(raw);
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

  /** Until stream `index` has carried at least `n` completions (the load is running). */
  async waitForCompletions(index: number, n: number, timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    while ((this.streams[index]?.completions ?? 0) < n) {
      if (Date.now() - t0 > timeoutMs) {
        const got = this.streams[index]?.completions ?? 0;
        throw new Error(`stream #${index + 1} carried ${got} completions in ${timeoutMs} ms`);
      }
      await sleep(50);
    }
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

/** Until the recording being written at `file` holds at least `n` completions (bounded). */
async function recordedCompletions(file: string, n: number, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    let seen: number;
    try {
      // a file being written: the reader keeps every whole chunk so far
      seen = decodeFile(new Uint8Array(readFileSync(file))).records.filter(
        (x) => x.kind === 6,
      ).length;
    } catch {
      seen = 0;
    }
    if (seen >= n) return;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`${file} holds ${seen} completions after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** `iocpscope serve --ingest` in the background, recording each tracer connection to `record`. */
function startIngest(ingestPort: number, dashPort: number, record: string, logFile: string) {
  const out = openSync(logFile, 'w');
  const child = spawn(
    TSX,
    [
      CLI,
      'serve',
      '--ingest',
      `127.0.0.1:${ingestPort}`,
      '--port',
      String(dashPort),
      '--record',
      record,
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', out, out],
    },
  );
  closeSync(out);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    log: () => readText(logFile),
    async waitFor(re: RegExp, timeoutMs: number): Promise<void> {
      const t0 = Date.now();
      while (!re.test(readText(logFile))) {
        if (Date.now() - t0 > timeoutMs)
          throw new Error(`serve --ingest never logged ${re}:\n${readText(logFile)}`);
        await sleep(100);
      }
    },
    /** SIGTERM (SIGKILL after 10 s), as the workspace stops its servers. */
    async stop(): Promise<number | null> {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export async function viewerTests(suite: Suite): Promise<void> {
  await suite.test(
    'a viewer that refuses (BUSY) or answers garbage: logged, retried with a growing backoff, the server unaffected',
    async () => {
      const viewerPort = await freePort();
      const busy = new TestViewer(viewerPort, 'busy');
      await busy.listen();
      const server = await startEchoServer('viewer-refuses', {
        traced: true,
        env: { IOCPSCOPE_CONNECT: `127.0.0.1:${viewerPort}`, IOCPSCOPE_RETRY_MS: '2000' },
      });
      let stopped;
      let garbage: TestViewer | null = null;
      let busyAttempts: number;
      try {
        const l = await load(server.port, ['-c', '6', '-s', '64', '-p', '2', '-d', '4s']);
        busyAttempts = busy.streams.length;
        await busy.close();
        garbage = new TestViewer(viewerPort, 'garbage');
        await garbage.listen();
        await garbage.waitForStream(0, 10_000).catch(() => undefined);
        const l2 = await load(server.port, ['-c', '4', '-s', '64', '-d', '1s']);
        for (const x of [l, l2])
          expect(
            x.status === 0 && x.report?.mismatches.count === 0,
            `iocpscope load failed (exit ${x.status}): ${x.output.slice(-800)}`,
          );
      } finally {
        stopped = await server.stop();
        await busy.close();
        await garbage?.close();
      }
      expect(
        stopped.status === 0 && stopped.stats?.drained,
        `the server did not shut down cleanly: ${stopped.log}`,
      );
      // 100, 200, 400, 800, 1600, 2000 ms...: a handful of attempts in ~5 s, not one per cycle.
      expect(
        busyAttempts >= 2 && busyAttempts <= 8,
        `${busyAttempts} connection attempts to a refusing viewer in ~5 s`,
      );
      expect(
        /refused the stream: .*BUSY/.test(stopped.log),
        `the refusal should be logged:\n${stopped.log}`,
      );
      expect(
        /longer than 1 KiB/.test(stopped.log),
        `the garbage answer should be logged:\n${stopped.log}`,
      );
    },
  );

  await suite.test(
    'serve --ingest comes and goes: the server keeps echoing; each recording parses; the late-join one checks clean',
    async () => {
      const ingestPort = await freePort();
      const dir = workDir('ingest');
      const server = await startEchoServer('ingest-server', {
        traced: true,
        workers: 2,
        env: { IOCPSCOPE_CONNECT: `127.0.0.1:${ingestPort}`, IOCPSCOPE_RETRY_MS: '400' },
      });
      const rec1 = join(dir, 'first.iocptrace');
      const rec2 = join(dir, 'second.iocptrace');
      let ingest1;
      let ingest2;
      let stopped;
      try {
        const loadRun = load(server.port, [
          '-c',
          '10',
          '-s',
          '96',
          '-p',
          '2',
          '-d',
          '12s',
          '--resets',
          '4',
        ]);
        await sleep(1500);
        ingest1 = startIngest(ingestPort, await freePort(), rec1, join(dir, 'serve1.log'));
        await ingest1.waitFor(/tracer attached/, 15_000);
        await recordedCompletions(rec1, 200, 20_000); // attached while traffic flows
        await ingest1.stop(); // the viewer goes away mid-stream
        await sleep(1000);
        ingest2 = startIngest(ingestPort, await freePort(), rec2, join(dir, 'serve2.log'));
        await ingest2.waitFor(/tracer attached/, 15_000);
        const l = await loadRun;
        expect(
          l.status === 0 && l.report !== null && l.report.mismatches.count === 0,
          `iocpscope load failed while serve --ingest came and went (exit ${l.status}): ${l.output.slice(-1500)}`,
        );
      } finally {
        stopped = await server.stop();
        if (ingest2) {
          await ingest2.waitFor(/detached/, 10_000).catch(() => undefined);
          await ingest2.stop();
        }
        if (ingest1) await ingest1.stop();
      }
      expect(
        stopped.status === 0 && stopped.stats?.drained,
        `the server did not shut down cleanly: ${stopped.log}`,
      );
      for (const [file, what] of [
        [rec1, 'the first recording'],
        [rec2, 'the second recording'],
      ] as const) {
        const t = decodeFile(new Uint8Array(readFileSync(file)));
        expect(!t.error, `${what} is damaged: ${t.error}`);
        expect(
          t.header?.process?.name === 'echo_server_traced.exe',
          `${what}: process ${JSON.stringify(t.header?.process)}`,
        );
        expect(
          t.records[0]?.kind === EventKind.Snapshot && t.records[0].x === 1,
          `${what} should start with a LateJoin snapshot`,
        );
        expect(
          t.records.some((x) => x.kind === EventKind.GqcsReturn),
          `${what} holds no completion`,
        );
      }
      const second = decodeFile(new Uint8Array(readFileSync(rec2)));
      expect(
        second.records.at(-1)?.kind === EventKind.TraceEnd,
        'the second recording should end with TraceEnd',
      );
      const c = await check(rec2);
      expect(
        c.report && c.report.summary.total === 0,
        `iocpscope check on the late-join recording: ${c.report?.summary.line ?? c.output}\n${(
          c.report?.findings ?? []
        )
          .slice(0, 6)
          .map((f) => `[${f.rule}/${f.check}] ${f.message}`)
          .join('\n')}`,
      );
    },
  );

  await suite.test(
    'viewer comes and goes: the server keeps echoing, each stream parses and starts with a LateJoin snapshot',
    async () => {
      const viewerPort = await freePort();
      // Recording to a file as well: the viewer attaches to a trace already being written.
      const dir = workDir('viewer-files');
      const fileTrace = join(dir, 'viewer.iocptrace');
      const server = await startEchoServer('viewer', {
        traced: true,
        workers: 3,
        output: fileTrace,
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
          '12s',
          '--resets',
          '4',
        ]);
        await sleep(1500); // nobody listens: the tracer retries, the server serves
        await viewer1.listen();
        await viewer1.waitForStream(0, 8000);
        await viewer1.waitForCompletions(0, 200, 20_000); // attached while traffic flows
        await viewer1.kill(); // gone mid-stream
        await sleep(1500);
        await viewer2.listen();
        await viewer2.waitForStream(0, 8000);
        await viewer2.waitForCompletions(0, 50, 20_000);
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
      // The file written meanwhile is whole: the model holds and check finds nothing.
      const file = checkEchoTrace(decodeFile(new Uint8Array(readFileSync(fileTrace))));
      expect(
        file.problems.length === 0,
        `the file recording breaks the model:\n${file.problems.join('\n')}`,
      );
      const cf = await check(fileTrace);
      expect(
        cf.report && cf.report.summary.total === 0,
        `iocpscope check on the file: ${cf.report?.summary.line ?? cf.output}`,
      );
      // The second stream is a whole .iocptrace file after its 16-byte handshake (FORMAT.md §11).
      const streamFile = join(dir, 'second-stream.iocptrace');
      writeFileSync(streamFile, second.bytes.subarray(16));
      const cs = await check(streamFile);
      expect(
        cs.report && cs.report.summary.total === 0,
        `iocpscope check on the second stream: ${cs.report?.summary.line ?? cs.output}\n${(
          cs.report?.findings ?? []
        )
          .slice(0, 6)
          .map((f) => `[${f.rule}/${f.check}] ${f.message}`)
          .join('\n')}`,
      );
    },
  );
}
