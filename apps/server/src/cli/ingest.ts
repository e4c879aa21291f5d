// `iocpscope serve --ingest [HOST:]PORT`: the dashboard for a foreign IOCP
// server, without the reference server. Tracers (iocpscope.h compiled into
// the user's server, or the hook DLL) connect to HOST:PORT (FORMAT.md §11);
// the dashboard on --port shows the attached one live, records it
// (--record, or the Record button), and everything else works as for the
// reference server: several dashboards, stepping, detectors, check, export.
//
// One tracer at a time. Each tracer connection is its own trace: when a new
// one attaches after another ended, the dashboard's stream restarts with a
// new trace id (dashboards reconnect and start a fresh view; the ended run
// stays available as its recording if one was made). --record FILE records
// the first trace to FILE and later ones to FILE-2, FILE-3, ...
//
// Exit codes as for serve: 0 clean, 1 a failure (listen, recording), 2 bad options.

import path from 'node:path';
import { hostname } from 'node:os';
import type { SourceInfo, TraceFileHeader } from '@iocpscope/protocol';
import { IngestViewer, type IngestTrace } from '../ingest/viewer.ts';
import type { RecordingManager } from '../record/manager.ts';
import type { ControlTarget } from '../transport/control.ts';
import { startStreamServer, type StreamServer } from '../transport/server.ts';
import { SERVER_VERSION } from '../transport/attach.ts';
import { waitForStop } from './wait.ts';
import { isLoopbackHost } from '../transport/options.ts';
import {
  SERVE_EXIT,
  ServeOptionError,
  formatRecording,
  parseServeDuration,
  parseSpoolFlags,
  type DashboardWhere,
  type ServeCliFlags,
  type ServeCliIo,
} from './serve.ts';

export const DEFAULT_INGEST_PORT = 7702;

/** Flags of the reference server that mean nothing without it. */
const ECHO_ONLY: Array<[keyof ServeCliFlags, string]> = [
  ['echoPort', 'echo-port'],
  ['echoHost', 'echo-host'],
  ['workers', 'workers'],
  ['concurrency', 'concurrency'],
  ['maxSessions', 'max-sessions'],
  ['gqcsBatch', 'gqcs-batch'],
  ['fault', 'fault'],
  ['backend', 'backend'],
  ['demo', 'demo'],
];

export interface IngestConfig {
  ingestHost: string;
  ingestPort: number;
  dashHost: string;
  dashPort: number;
  token?: string;
  recordFile: string | null;
  recordingsDir?: string;
  durationMs: number | null;
  /** The live spool of each trace (--spool-bytes, 2 GB by default; 0: none). */
  spool: NonNullable<DashboardWhere['spool']>;
}

/** "7702", "127.0.0.1:7702", "[::1]:7702" -> host and port. */
export function parseIngestAddress(text: string): { host: string; port: number } {
  const t = text.trim();
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))?:?(\d+)$/.exec(t);
  if (!m) {
    throw new ServeOptionError(
      'ingest',
      `expected [HOST:]PORT such as 127.0.0.1:${DEFAULT_INGEST_PORT}, got ${JSON.stringify(text)}`,
    );
  }
  const port = Number(m[3]);
  if (port > 65535) throw new ServeOptionError('ingest', `port must be in 0..65535, got ${port}`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

export function parseIngestFlags(f: ServeCliFlags): IngestConfig {
  for (const [k, name] of ECHO_ONLY) {
    const v = f[k];
    if (v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0)) {
      throw new ServeOptionError(
        name,
        'belongs to the reference server; with --ingest the server is the traced process',
      );
    }
  }
  if (f.trace === false) {
    throw new ServeOptionError('no-trace', 'makes no sense with --ingest (the tracer decides)');
  }
  const { host: ingestHost, port: ingestPort } = parseIngestAddress(f.ingest ?? '');
  const dashHost = (f.host ?? '127.0.0.1').trim();
  const token = f.token === undefined || f.token === '' ? undefined : f.token;
  if (token === undefined && !isLoopbackHost(ingestHost)) {
    throw new ServeOptionError(
      'token',
      `--ingest ${ingestHost} accepts tracers from beyond this machine: give --token <secret> ` +
        '(tracers send it as IOCPSCOPE_TOKEN)',
    );
  }
  if (token === undefined && !isLoopbackHost(dashHost)) {
    throw new ServeOptionError(
      'token',
      `--host ${dashHost} exposes the dashboard beyond this machine: give --token <secret>`,
    );
  }
  const dashPort = f.port === undefined ? 7700 : Number(f.port);
  if (!/^\d+$/.test(f.port ?? '7700') || dashPort > 65535) {
    throw new ServeOptionError('port', `expected a port 0..65535, got ${JSON.stringify(f.port)}`);
  }
  if (ingestPort === dashPort && ingestPort !== 0 && ingestHost === dashHost) {
    throw new ServeOptionError('ingest', `must differ from --port (${dashPort})`);
  }
  if (f.record !== undefined && f.record.trim() === '') {
    throw new ServeOptionError('record', 'needs a file name');
  }
  const cfg: IngestConfig = {
    ingestHost,
    ingestPort,
    dashHost,
    dashPort,
    recordFile: f.record ?? null,
    durationMs: f.duration === undefined ? null : parseServeDuration('duration', f.duration),
    spool: parseSpoolFlags(f),
  };
  if (token !== undefined) cfg.token = token;
  if (f.recordingsDir !== undefined) cfg.recordingsDir = f.recordingsDir;
  return cfg;
}

/** FILE for the first trace, FILE-2.iocptrace for the second, ... */
export function numberedRecordFile(file: string, n: number): string {
  if (n <= 1) return file;
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}-${n}${ext || '.iocptrace'}`;
}

/** Runs `serve --ingest` until the signal or --duration; resolves the exit code. */
export async function runIngestCli(flags: ServeCliFlags, io: ServeCliIo): Promise<number> {
  let cfg: IngestConfig;
  try {
    cfg = parseIngestFlags(flags);
  } catch (e) {
    if (e instanceof ServeOptionError) {
      io.stderr.write(`iocpscope serve: ${e.message}\n`);
      return SERVE_EXIT.badOptions;
    }
    throw e;
  }
  const log = (line: string): void => void io.stdout.write(`${line}\n`);
  let dash: StreamServer | null = null;
  let traces = 0;
  let recordingFailed = false;
  /** Serializes dashboard restarts and recording starts/stops. */
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (f: () => Promise<void>): Promise<void> => (chain = chain.then(f, f));

  const viewer = new IngestViewer({
    host: cfg.ingestHost,
    port: cfg.ingestPort,
    ...(cfg.token !== undefined ? { token: cfg.token } : {}),
    log,
    onTraceStart: (trace) =>
      enqueue(async () => {
        traces++;
        // A new process: a fresh hub (strings, threads, sessions are per trace).
        if (traces > 1 && dash !== null) {
          await dash.close();
          dash = null;
          dash = await startDash();
        }
        dash?.control.broadcastStatus();
        if (cfg.recordFile !== null && dash?.recordings !== undefined) {
          const file = numberedRecordFile(cfg.recordFile, traces);
          try {
            await dash.recordings.start({ file });
            log(`recording ${describe(trace)} to ${path.resolve(file)}`);
          } catch (e) {
            recordingFailed = true;
            const err = e as Error & { code?: string };
            io.stderr.write(`iocpscope serve: cannot record to ${file}: ${err.message}\n`);
          }
        }
      }),
    onTraceEnd: () => {
      void enqueue(async () => {
        await stopRecording(dash?.recordings);
        dash?.control.broadcastStatus();
      });
    },
  });

  const stopRecording = async (rec: RecordingManager | undefined): Promise<void> => {
    if (rec === undefined || !rec.recording) return;
    const { summary } = await rec.stop();
    io.stdout.write(formatRecording(summary));
    if (summary.error) recordingFailed = true;
  };

  const target: ControlTarget = {
    backend: 'external',
    serverVersion: SERVER_VERSION,
    portConfig: () => viewer.trace?.header.portConfig ?? { workers: 0, concurrency: 0 },
    faults: () => [],
    source: (): SourceInfo => {
      const t = viewer.trace;
      const info: SourceInfo = {
        kind: 'ingest',
        attached: viewer.attached,
        listen: viewer.address,
      };
      if (t === null) return info;
      info.traceId = t.id;
      const h = t.header;
      if (h.process) info.process = h.process;
      if (h.tracer) info.tracer = h.tracer;
      if (h.app) info.app = h.app;
      if (h.ioCount) info.ioCount = h.ioCount;
      return info;
    },
  };
  const header = (): TraceFileHeader =>
    viewer.trace?.header ?? {
      clock: 'monotonic-ns',
      host: hostname().slice(0, 256),
      backend: 'external',
      portConfig: { workers: 0, concurrency: 0 },
      startWallMs: Date.now(),
    };
  const startDash = (): Promise<StreamServer> =>
    startStreamServer({
      host: cfg.dashHost,
      port: boundDashPort ?? cfg.dashPort,
      ...(cfg.token !== undefined ? { token: cfg.token } : {}),
      ...(cfg.recordingsDir !== undefined ? { recordingsDir: cfg.recordingsDir } : {}),
      // Each tracer's trace has its own spool (a new dashboard per trace).
      spool: cfg.spool,
      source: viewer.feed,
      seed: viewer.feed.snapshot(),
      control: target,
      header,
      ...(viewer.trace ? { startWallMs: viewer.trace.header.startWallMs } : {}),
      log: (line) => log(`dashboard: ${line}`),
    });
  let boundDashPort: number | undefined;

  try {
    await viewer.listen();
  } catch (e) {
    io.stderr.write(`iocpscope serve: ${(e as Error).message}\n`);
    return SERVE_EXIT.failed;
  }
  try {
    dash = await startDash();
    boundDashPort = dash.port;
  } catch (e) {
    io.stderr.write(`iocpscope serve: dashboard failed to start: ${(e as Error).message}\n`);
    await viewer.close();
    return SERVE_EXIT.failed;
  }
  io.stdout.write(
    `waiting for a tracer on ${viewer.address}: run your server with ` +
      `IOCPSCOPE_CONNECT=${viewer.address}${cfg.token !== undefined ? ' and IOCPSCOPE_TOKEN' : ''}\n` +
      `\n  iocpscope dashboard: ${dash.url}\n` +
      (cfg.token !== undefined
        ? `  it needs the token: open ${dash.url}?token=<your --token or IOCPSCOPE_TOKEN>\n`
        : '  open it in a browser') +
      (cfg.durationMs === null ? `${cfg.token !== undefined ? '  ' : '; '}Ctrl-C stops it` : '') +
      '\n\n',
  );

  await waitForStop(cfg.durationMs, io.signal);
  io.stdout.write('shutting down...\n');
  await viewer.close();
  await chain;
  const d: StreamServer | null = dash;
  if (d !== null) {
    await stopRecording(d.recordings).catch((e: unknown) => {
      recordingFailed = true;
      io.stderr.write(`iocpscope serve: recording: ${String(e)}\n`);
    });
    await d.close();
  }
  io.stdout.write(`ingest: ${traces} trace${traces === 1 ? '' : 's'} received\n`);
  return recordingFailed ? SERVE_EXIT.failed : SERVE_EXIT.ok;
}

function describe(t: IngestTrace): string {
  const p = t.header.process;
  return p ? `${p.name} (pid ${p.pid})` : `the tracer at ${t.peer}`;
}
