// `iocpscope serve`: a reference server on the (emulated) completion port,
// with tracing on by default: the echo server, or the chat server with
// `--app chat` (rooms as JobQueues, pooled SendBuffers, a JobTimer). Flags are validated into ServerOptions
// (bad flags: a ServeOptionError with code ERR_SERVE_OPTIONS, exit 2). The
// server runs until SIGINT/SIGTERM or --duration, then shuts down gracefully
// and prints what the shutdown found (zombie sessions, workers that never got
// an exit packet). The dashboard (HTTP + WebSocket on --port) is attached
// through the `attachDashboard` seam by whoever provides it. --demo runs the
// built-in load generator against the echo port for the whole run (demo.ts).
//
// Recording (--record FILE) goes through the dashboard's RecordingManager
// (record/: chunks flushed every 100 ms, rotation at a size limit, shown in
// the dashboard's recording status and stoppable from there); without a
// dashboard, through a RecordingManager of its own on the same drainer feed.
// Either way it subscribes to the drainer, so it misses nothing that reached it.
//
// The dashboard also keeps a live spool (--spool-bytes, 2 GB by default; 0
// turns it off): the recent history on disk from the first record, in parts
// under --spool-dir (default <recordings-dir>/.spool), the oldest deleted past
// the budget, the whole spool deleted when the server stops (tracedb/spool.ts).
//
// Off loopback the dashboard needs a token (--token, or IOCPSCOPE_TOKEN so the
// secret stays off the command line); serve refuses to start without one.
//
// Shutdown order: the demo load and the dashboard's loads stop first (their
// sockets close cleanly), then the server (dashboards and the recording see
// the whole shutdown), then the recording is closed, then the dashboard.

import { Option, type Command } from 'commander';
import { TraceEndReason } from '@iocpscope/protocol';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  APP_FAULTS,
  APP_NAMES,
  CHAT_FAULT_NAMES,
  ECHO_FAULT_NAMES,
  FAULT_DESCRIPTIONS,
  isFaultName,
  type AppName,
} from '../session/faults.ts';
import type { ServerOptions } from '../session/config.ts';
import { startServer, type RunningServer, type ShutdownReport } from '../session/server.ts';
import { RecordingManager } from '../record/manager.ts';
import type { RecordingSummary } from '../record/sink.ts';
import { DEFAULT_SPOOL_BYTES } from '../tracedb/spool.ts';
import { dashboardAttach } from '../transport/attach.ts';
import { DEFAULT_WEB_ROOT, MIN_TOKEN_CHARS, isLoopbackHost } from '../transport/options.ts';
import {
  DEMO_CHAT_CLIENTS,
  DEMO_CHAT_ROUND_MS,
  DEMO_CONNECTIONS,
  DEMO_ROUND_MS,
  startDemoLoad,
  type DemoLoad,
} from './demo.ts';
import { defaultBackend } from '../port/index.ts';
import { DEFAULT_INGEST_PORT, runIngestCli } from './ingest.ts';
import { waitForStop } from './wait.ts';

export const SERVE_EXIT = { ok: 0, failed: 1, badOptions: 2 } as const;

export interface ServeCliFlags {
  /** Which reference server: echo (default) or chat. */
  app?: string;
  host?: string;
  port?: string;
  echoPort?: string;
  /** Where the echo server listens (default loopback, whatever --host says). */
  echoHost?: string;
  workers?: string;
  concurrency?: string;
  maxSessions?: string;
  gqcsBatch?: string;
  record?: string;
  trace?: boolean;
  fault?: string[];
  backend?: string;
  duration?: string;
  demo?: boolean;
  /** The dashboard's shared secret (the CLI falls back to IOCPSCOPE_TOKEN). */
  token?: string;
  recordingsDir?: string;
  /** A recording's total size limit, e.g. 2G (default 8G). */
  recordLimit?: string;
  /** The live spool's budget, e.g. 512M; 0 turns it off (default 2G). */
  spoolBytes?: string;
  /** Where the live spool goes (default <recordings-dir>/.spool). */
  spoolDir?: string;
  /** The live spool's part size (default 64M, at most a quarter of the budget). */
  spoolPartBytes?: string;
  /** [HOST:]PORT: run without the reference server and show the tracer that connects here. */
  ingest?: string;
  /** Idle (read) timeout, e.g. 60s; 0 = off. */
  idleTimeout?: string;
  /** Partial-packet timeout, e.g. 10s; 0 = off. */
  partialTimeout?: string;
  /** Chat: rooms, the JobTimer's room tick, SendBuffers in the pool. */
  rooms?: string;
  tick?: string;
  sendBuffers?: string;
}

/** Where and how the dashboard is served. */
export interface DashboardWhere {
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Every HTTP and WebSocket request must present it (required off loopback). */
  token?: string;
  /** Where named recordings go and are listed from (default ./recordings). */
  recordingsDir?: string;
  /** A recording's total size limit, bytes (--record-limit; default 8 GiB). */
  recordLimit?: number;
  /**
   * The live spool (trace id `live`): recent history on disk, `limitBytes` at
   * most (0: none). `fromStart`: the trace's start-up batches are held for it.
   */
  spool?: { limitBytes: number; partBytes?: number; dir?: string; fromStart?: boolean };
}

export interface ServeConfig {
  server: ServerOptions;
  dashboard: DashboardWhere;
  /** --record: an explicit file, overwritten. */
  recordFile: string | null;
  /** Stop after this long; null = until a signal. */
  durationMs: number | null;
  /** Run the demo load against the echo port. */
  demo: boolean;
}

/** A running dashboard as serve uses it. */
export interface ServeDashboard {
  url: string;
  /** Its recorder: --record goes through it, so the dashboard shows and can stop it. */
  recordings?: RecordingManager | undefined;
  /** Stop the loads the dashboard started (before the server stops). */
  quiesce?(): void;
  close(): Promise<void>;
}

/** Starts the dashboard for a running server; returns how to reach and stop it. */
export type DashboardAttach = (
  server: RunningServer,
  where: DashboardWhere,
) => Promise<ServeDashboard>;

export interface ServeCliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Aborting stops the server (the CLI wires SIGINT/SIGTERM to it). */
  signal?: AbortSignal;
  attachDashboard?: DashboardAttach;
}

export class ServeOptionError extends Error {
  readonly code = 'ERR_SERVE_OPTIONS';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`--${option}: ${message}`);
  }
}

function int(
  option: string,
  text: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()))
    throw new ServeOptionError(option, `expected an integer, got ${JSON.stringify(text)}`);
  const n = Number(text.trim());
  if (n < min || n > max) throw new ServeOptionError(option, `must be in ${min}..${max}, got ${n}`);
  return n;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseServeDuration(option: string, text: string): number {
  // A unit is required: a bare "60" read as 60 ms stopped servers meant to run a minute.
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m)
    throw new ServeOptionError(
      option,
      `expected a time with its unit, like 500ms, 10s, 2m; got ${JSON.stringify(text)}`,
    );
  const ms = Math.round(Number(m[1]) * UNITS[m[2]!]!);
  if (ms < 1 || ms > 7 * 24 * 3_600_000)
    throw new ServeOptionError(option, 'must be between 1ms and 7 days');
  return ms;
}

/** A size with its unit: 512M, 2G, 64MiB, 1T (bytes: B). At least 1 MiB. */
export function parseSize(option: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)$/i.exec(text.trim());
  if (!m)
    throw new ServeOptionError(
      option,
      `expected a size like 512M or 2G; got ${JSON.stringify(text)}`,
    );
  const unit = m[2]!.toLowerCase()[0]!;
  const mult: Record<string, number> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  const v = Math.round(Number(m[1]) * mult[unit]!);
  if (v < 2 ** 20) throw new ServeOptionError(option, 'must be at least 1M');
  return v;
}

/** --spool-bytes, --spool-part-bytes, --spool-dir: the live spool (2 GB by default). */
export function parseSpoolFlags(f: ServeCliFlags): NonNullable<DashboardWhere['spool']> {
  const limitBytes =
    f.spoolBytes === undefined
      ? DEFAULT_SPOOL_BYTES
      : /^\s*0+\s*[kmgt]?i?b?\s*$/i.test(f.spoolBytes)
        ? 0
        : parseSize('spool-bytes', f.spoolBytes);
  const out: NonNullable<DashboardWhere['spool']> = { limitBytes };
  if (f.spoolPartBytes !== undefined) {
    out.partBytes = parseSize('spool-part-bytes', f.spoolPartBytes);
    if (limitBytes > 0 && out.partBytes > limitBytes) {
      throw new ServeOptionError('spool-part-bytes', 'must not be more than --spool-bytes');
    }
  }
  if (f.spoolDir !== undefined) {
    if (f.spoolDir.trim() === '') throw new ServeOptionError('spool-dir', 'needs a directory');
    out.dir = path.resolve(f.spoolDir);
  }
  return out;
}

/** A timeout: `0` (off) or a time like 500ms, 30s, 2m. */
function parseTimeout(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (/^0+(ms|s|m|h)?$/.test(text.trim())) return 0;
  return parseServeDuration(option, text);
}

/** Flags -> validated configuration. Throws ServeOptionError. */
export function parseServeFlags(f: ServeCliFlags): ServeConfig {
  const host = (f.host ?? '127.0.0.1').trim();
  if (host.length === 0) throw new ServeOptionError('host', 'must not be empty');
  const app = (f.app ?? 'echo') as AppName;
  if (!APP_NAMES.includes(app)) {
    throw new ServeOptionError(
      'app',
      `must be ${APP_NAMES.join(' or ')}, got ${JSON.stringify(f.app)}`,
    );
  }
  const faults = f.fault ?? [];
  for (const name of faults) {
    if (!isFaultName(name)) {
      throw new ServeOptionError(
        'fault',
        `unknown fault ${JSON.stringify(name)} (see --help for the list)`,
      );
    }
    if (!APP_FAULTS[app].includes(name)) {
      throw new ServeOptionError(
        'fault',
        `${name} is not a switch of the ${app} server` +
          (app === 'echo' ? ' (it is the chat server’s: add --app chat)' : ''),
      );
    }
  }
  if (app === 'echo') {
    for (const [flag, v] of [
      ['rooms', f.rooms],
      ['tick', f.tick],
      ['send-buffers', f.sendBuffers],
    ] as const) {
      if (v !== undefined)
        throw new ServeOptionError(flag, 'is a chat server option: add --app chat');
    }
  }
  const backend = f.backend ?? defaultBackend();
  if (backend !== 'emulated' && backend !== 'native') {
    throw new ServeOptionError(
      'backend',
      `must be emulated or native, got ${JSON.stringify(backend)}`,
    );
  }
  const token = f.token === undefined || f.token === '' ? undefined : f.token;
  if (
    token !== undefined &&
    (token.length < MIN_TOKEN_CHARS || token.length > 256 || !/^[\x21-\x7e]+$/.test(token))
  ) {
    throw new ServeOptionError(
      'token',
      `must be ${MIN_TOKEN_CHARS}..256 visible ASCII characters (no spaces)`,
    );
  }
  if (token === undefined && !isLoopbackHost(host)) {
    throw new ServeOptionError(
      'token',
      `--host ${host} exposes the dashboard beyond this machine: give --token <secret> ` +
        `(at least ${MIN_TOKEN_CHARS} characters) or set IOCPSCOPE_TOKEN`,
    );
  }
  if (f.recordingsDir !== undefined && f.recordingsDir.trim() === '') {
    throw new ServeOptionError('recordings-dir', 'needs a directory');
  }
  const trace = f.trace !== false;
  if (f.record !== undefined && !trace) {
    throw new ServeOptionError('record', 'needs tracing: do not combine with --no-trace');
  }
  if (f.record !== undefined && f.record.trim() === '')
    throw new ServeOptionError('record', 'needs a file name');
  const dashPort = int('port', f.port, 0, 65535) ?? 7700;
  const echoPort = int('echo-port', f.echoPort, 0, 65535) ?? 7701;
  if (echoPort === dashPort && echoPort !== 0)
    throw new ServeOptionError('echo-port', `must differ from --port (${dashPort})`);
  // The echo port has no authentication: it stays on loopback unless asked.
  const echoHost = (f.echoHost ?? '127.0.0.1').trim();
  if (echoHost.length === 0) throw new ServeOptionError('echo-host', 'must not be empty');
  const server: ServerOptions = {
    app,
    host: echoHost,
    echoPort,
    trace,
    faults: faults as ServerOptions['faults'],
    backend,
  };
  const workers = int('workers', f.workers, 1, 64);
  if (workers !== undefined) server.workers = workers;
  const concurrency = int('concurrency', f.concurrency, 0, 64);
  if (concurrency !== undefined) server.concurrency = concurrency;
  const maxSessions = int('max-sessions', f.maxSessions, 1, 65535);
  if (maxSessions !== undefined) server.maxSessions = maxSessions;
  const gqcsBatch = int('gqcs-batch', f.gqcsBatch, 1, 256);
  if (gqcsBatch !== undefined) server.gqcsBatch = gqcsBatch;
  const idle = parseTimeout('idle-timeout', f.idleTimeout);
  if (idle !== undefined) server.idleTimeoutMs = idle;
  const partial = parseTimeout('partial-timeout', f.partialTimeout);
  if (partial !== undefined) server.partialTimeoutMs = partial;
  if (app === 'chat') {
    const chat: NonNullable<ServerOptions['chat']> = {};
    const rooms = int('rooms', f.rooms, 1, 256);
    if (rooms !== undefined) chat.rooms = rooms;
    const tick = parseTimeout('tick', f.tick);
    if (tick !== undefined) {
      if (tick > 60_000) throw new ServeOptionError('tick', 'must be at most 60s');
      chat.tickMs = tick;
    }
    const buffers = int('send-buffers', f.sendBuffers, 16, 65536);
    if (buffers !== undefined) chat.sendBuffers = buffers;
    server.chat = chat;
  }
  const dashboard: DashboardWhere = { host, port: dashPort };
  if (token !== undefined) dashboard.token = token;
  if (f.recordingsDir !== undefined) dashboard.recordingsDir = f.recordingsDir;
  if (f.recordLimit !== undefined) dashboard.recordLimit = parseSize('record-limit', f.recordLimit);
  dashboard.spool = parseSpoolFlags(f);
  return {
    server,
    dashboard,
    recordFile: f.record ?? null,
    durationMs: f.duration === undefined ? null : parseServeDuration('duration', f.duration),
    demo: f.demo === true,
  };
}

export function formatShutdown(r: ShutdownReport): string {
  const lines = [
    `sessions: ${r.acceptedSessions} accepted, ${r.releasedSessions} released, ${r.stuckSessions} never released`,
    `workers: ${r.workersJoined} joined after their exit packet (${r.exitPacketsPosted} posted)` +
      (r.workersWokenByPortClose
        ? `, ${r.workersWokenByPortClose} only woke when the port closed`
        : '') +
      (r.workersTerminated ? `, ${r.workersTerminated} terminated` : ''),
  ];
  for (const s of r.stuckIoCounts.slice(0, 10)) {
    lines.push(
      `  zombie session 0x${s.session.toString(16)} (slot ${s.slot}) IOCount ${s.ioCount}`,
    );
  }
  if (r.trace) {
    lines.push(
      `trace: ${r.trace.records} events from ${r.trace.threads} threads, ${r.trace.lostRecords} lost` +
        (r.trace.lostStrings ? `, ${r.trace.lostStrings} strings not interned` : ''),
    );
  }
  if (r.traceError) lines.push(`trace error: ${r.traceError}`);
  for (const e of r.threadErrors) lines.push(`thread error: ${e}`);
  return lines.join('\n') + '\n';
}

/** Runs `serve` with parsed flags until the signal or --duration; resolves the exit code. */
export async function runServeCli(flags: ServeCliFlags, io: ServeCliIo): Promise<number> {
  if (flags.ingest !== undefined) return runIngestCli(flags, io);
  let cfg: ServeConfig;
  try {
    cfg = parseServeFlags(flags);
  } catch (e) {
    if (e instanceof ServeOptionError) {
      io.stderr.write(`iocpscope serve: ${e.message}\n`);
      return SERVE_EXIT.badOptions;
    }
    throw e;
  }
  // The spool lives in the dashboard's stream server: from the first record.
  const spooling = io.attachDashboard !== undefined && (cfg.dashboard.spool?.limitBytes ?? 0) > 0;
  if (spooling) cfg.dashboard.spool = { ...cfg.dashboard.spool!, fromStart: true };
  let server: RunningServer;
  try {
    // --record and the live spool: the trace's first records are kept until they take them.
    server = await startServer(cfg.server, { holdTrace: cfg.recordFile !== null || spooling });
  } catch (e) {
    const err = e as Error & { code?: string };
    io.stderr.write(
      `iocpscope serve: cannot start: ${err.message}${err.code ? ` (${err.code})` : ''}\n`,
    );
    return err.code === 'ERR_SERVER_OPTIONS' ? SERVE_EXIT.badOptions : SERVE_EXIT.failed;
  }
  const c = server.config;
  if (!isLoopbackHost(c.host)) {
    io.stderr.write(
      `iocpscope serve: warning: the echo port ${c.host}:${server.echoPort} accepts anyone who can reach it ` +
        '(it has no authentication; --token protects only the dashboard)\n',
    );
  }
  io.stdout.write(
    `${c.app} server on ${c.host}:${server.echoPort}: ${c.workers} workers, concurrency ${c.concurrency || 'CPUs'}, ` +
      (c.app === 'chat'
        ? `${c.chat.rooms} rooms, tick ${c.chat.tickMs ? `${c.chat.tickMs} ms` : 'off'}, ${c.chat.sendBuffers} SendBuffers, `
        : '') +
      `${c.backend} port, tracing ${c.trace ? 'on' : 'off'}` +
      (c.faults.length ? `, faults: ${c.faults.join(', ')}` : '') +
      '\n',
  );
  let dashboard: ServeDashboard | null = null;
  if (!io.attachDashboard) {
    io.stdout.write(
      `dashboard: not started (no dashboard transport in this build; --port ${cfg.dashboard.port} unused)\n`,
    );
  } else {
    try {
      dashboard = await io.attachDashboard(server, cfg.dashboard);
    } catch (e) {
      io.stderr.write(`iocpscope serve: dashboard failed to start: ${(e as Error).message}\n`);
      await server.stop();
      return SERVE_EXIT.failed;
    }
  }
  let recorder: RecordingManager | null = null;
  if (cfg.recordFile !== null) {
    try {
      recorder =
        dashboard?.recordings ??
        standaloneRecorder(server, cfg.dashboard.recordingsDir, cfg.dashboard.recordLimit);
      await recorder.start({ file: cfg.recordFile, fromStart: true });
    } catch (e) {
      server.releaseTraceHold();
      const err = e as Error & { code?: string };
      io.stderr.write(
        `iocpscope serve: cannot record to ${cfg.recordFile}: ${err.message}${err.code ? ` (${err.code})` : ''}\n`,
      );
      await server.stop();
      await dashboard?.close();
      return SERVE_EXIT.failed;
    }
    server.releaseTraceHold();
    io.stdout.write(`recording to ${path.resolve(cfg.recordFile)}\n`);
  }
  // The recording (if any) and the spool took the held start-up batches.
  server.releaseTraceHold();
  let demo: DemoLoad | null = null;
  if (cfg.demo) {
    demo = startDemoLoad({
      target: { host: loopbackOf(c.host), port: server.echoPort },
      onFailure: (text) => io.stderr.write(`${text}\n`),
      app: c.app,
      rooms: c.chat.rooms,
    });
    io.stdout.write(
      c.app === 'chat'
        ? `demo load: ${DEMO_CHAT_CLIENTS} chat clients per ${DEMO_CHAT_ROUND_MS / 1000} s round in ` +
            `${Math.min(4, c.chat.rooms)} rooms, a few joining late, one reset now and then\n`
        : `demo load: ${DEMO_CONNECTIONS} connections every ${DEMO_ROUND_MS / 1000} s echoing small random ` +
            'messages, a few reset mid-stream (the dashboard can start more load)\n',
    );
  }
  if (dashboard) {
    if (!existsSync(path.join(DEFAULT_WEB_ROOT, 'index.html'))) {
      io.stdout.write(
        'note: the dashboard is not built yet: run `pnpm --filter @iocpscope/web build` (or scripts/setup.sh)\n',
      );
    }
    io.stdout.write(
      `\n  iocpscope dashboard: ${dashboard.url}\n` +
        (cfg.dashboard.token !== undefined
          ? `  it needs the token: open ${dashboard.url}?token=<your --token or IOCPSCOPE_TOKEN>\n`
          : '  open it in a browser') +
        (cfg.durationMs === null
          ? `${cfg.dashboard.token !== undefined ? '  ' : '; '}Ctrl-C stops the server`
          : '') +
        '\n\n',
    );
  }
  await waitForStop(cfg.durationMs, io.signal);
  io.stdout.write('shutting down...\n');
  dashboard?.quiesce?.();
  if (demo) await demo.stop();
  const report = await server.stop();
  // A recording started from the dashboard and still running ends with the server too.
  if (recorder === null && dashboard?.recordings?.recording) {
    await dashboard.recordings.stop(TraceEndReason.ServerExit).catch(() => undefined);
  }
  let recordingFailed = false;
  if (recorder !== null) {
    const failure = recorder.lastError;
    if (recorder.recording) {
      // The recording covers the server's whole run: its end is the server's exit.
      const { summary } = await recorder.stop(TraceEndReason.ServerExit);
      io.stdout.write(formatRecording(summary));
      if (summary.error) recordingFailed = true;
    }
    if (failure !== undefined) {
      io.stdout.write(`recording error: ${failure.message} (${failure.code})\n`);
      recordingFailed = true;
    }
  }
  if (dashboard) await dashboard.close();
  io.stdout.write(formatShutdown(report));
  return report.threadErrors.length > 0 || report.traceError || recordingFailed
    ? SERVE_EXIT.failed
    : SERVE_EXIT.ok;
}

/** --record without a dashboard: the same recorder on the server's drainer feed. */
function standaloneRecorder(
  server: RunningServer,
  dir: string | undefined,
  limit: number | undefined,
): RecordingManager {
  const feed = server.drainer;
  if (feed === null) throw new Error('recording needs tracing (--no-trace is on)');
  return new RecordingManager({
    dir: dir ?? path.resolve('recordings'),
    source: feed,
    snapshot: () => feed.snapshot(),
    header: () => server.fileHeader(),
    ...(limit !== undefined ? { sink: { maxTotalBytes: limit } } : {}),
  });
}

export function formatRecording(s: RecordingSummary): string {
  const bytes = s.files.reduce((n, f) => n + f.bytes, 0);
  const lines = [
    `recording: ${s.events} events, ${bytes} bytes in ${s.files.map((f) => f.path).join(', ')}` +
      (s.dropped > 0 ? ` (${s.dropped} events dropped: the disk did not keep up)` : ''),
  ];
  if (s.error) lines.push(`recording error: ${s.error.message} (${s.error.code})`);
  return lines.join('\n') + '\n';
}

/** Where a local client reaches a server bound to `host` (the wildcard binds: loopback). */
export function loopbackOf(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** --token, else IOCPSCOPE_TOKEN from the environment (so the secret need not be on the command line). */
export function withEnvToken(
  flags: ServeCliFlags,
  env: Record<string, string | undefined>,
): ServeCliFlags {
  const t = env.IOCPSCOPE_TOKEN;
  return flags.token === undefined && t !== undefined && t !== '' ? { ...flags, token: t } : flags;
}

/**
 * Adds `serve` to the iocpscope program. `attachDashboard` serves the dashboard
 * on --port; `io` replaces the process's streams and signals (tests).
 */
export function registerServeCommand(
  program: Command,
  attachDashboard?: DashboardAttach,
  io?: ServeCliIo & { setExitCode?: (code: number) => void },
): void {
  const help = (names: readonly string[]): string =>
    names
      .map((n) => `  ${n.padEnd(28)} ${FAULT_DESCRIPTIONS[n as keyof typeof FAULT_DESCRIPTIONS]}`)
      .join('\n');
  const sessionFaults = APP_FAULTS.chat.filter((n) => !CHAT_FAULT_NAMES.includes(n as never));
  const echoOnly = ECHO_FAULT_NAMES.filter((n) => !sessionFaults.includes(n));
  const faultHelp =
    `${help(sessionFaults)}\n\nEcho server only (its SendQ path):\n${help(echoOnly)}` +
    `\n\nChat server only (--app chat):\n${help(CHAT_FAULT_NAMES)}`;
  program
    .command('serve')
    .description(
      'run an instrumented reference server (the echo server, or --app chat) on the IOCP model and stream its trace',
    )
    .option('--app <name>', 'which reference server: echo (default) or chat')
    .option('--host <address>', 'address for the dashboard', '127.0.0.1')
    .option('--port <n>', 'dashboard HTTP/WebSocket port', '7700')
    .option('--echo-port <n>', 'echo server TCP port, 0 = any free port (default 7701)')
    .option(
      '--echo-host <address>',
      'address for the echo port (default 127.0.0.1 even with --host: it has no authentication)',
    )
    .option('--workers <n>', 'worker threads looping on GQCS, 1..64 (default 2)')
    .option('--concurrency <n>', "the port's concurrency value, 0 = number of CPUs (default 0)")
    .option('--max-sessions <n>', 'session slots, 1..65535 (default 4096)')
    .option(
      '--gqcs-batch <n>',
      'packets per dequeue: 1 = GetQueuedCompletionStatus, more = GQCS-Ex (default 16)',
    )
    .option(
      '--record <file>',
      'record the trace to an .iocptrace file from the start (rotated at 256 MiB; the dashboard shows it)',
    )
    .option(
      '--recordings-dir <dir>',
      'where recordings started from the dashboard go, and where it lists them (default ./recordings)',
    )
    .option(
      '--record-limit <size>',
      "a recording's total size over all its parts, e.g. 2G: reaching it stops the recording, keeping what it wrote (default 8G)",
    )
    .option(
      '--spool-bytes <size>',
      'keep this much recent history on disk (the trace `live`: pause and scroll back), e.g. 512M; ' +
        '0 turns it off (default 2G). A cache: deleted when the server stops',
    )
    .option(
      '--spool-dir <dir>',
      'where the live spool goes (default <recordings-dir>/.spool; on disk rather than a temp ' +
        'directory that may be in memory)',
    )
    .option(
      '--spool-part-bytes <size>',
      "the live spool's part size: the oldest part goes when the spool is full (default 64M, or a quarter of --spool-bytes)",
    )
    .option(
      '--token <secret>',
      `the dashboard's shared secret (${MIN_TOKEN_CHARS}+ characters); required when --host is not loopback. ` +
        'Default: the IOCPSCOPE_TOKEN environment variable',
    )
    .option('--no-trace', 'turn instrumentation off (for comparison)')
    .addOption(
      new Option('--fault <name>', 'turn on a fault switch (repeatable; list below)').argParser(
        collect,
      ),
    )
    .option(
      '--backend <name>',
      'completion port backend: emulated or native (default: native on Windows when the addon is built, else emulated)',
    )
    .option('--duration <time>', 'stop after this long, e.g. 30s (default: until Ctrl-C)')
    .option(
      '--idle-timeout <time>',
      'kick a session that receives nothing for this long (reason IdleTimeout), e.g. 30s; 0 = off (default 60s)',
    )
    .option(
      '--partial-timeout <time>',
      'kick a session whose packet (header or body) stays incomplete this long (reason PartialTimeout); 0 = off (default 10s)',
    )
    .option('--rooms <n>', 'chat: rooms, each a JobQueue, 1..256 (default 10)')
    .option('--tick <time>', "chat: the JobTimer's room tick, e.g. 100ms; 0 = off (default 100ms)")
    .option('--send-buffers <n>', 'chat: SendBuffers in the pool, 16..65536 (default 4096)')
    .option(
      '--ingest <[host:]port>',
      `no reference server: show your own IOCP server, traced by iocpscope.h or the hook DLL, ` +
        `which connects here (e.g. 127.0.0.1:${DEFAULT_INGEST_PORT}; loopback unless --token is given)`,
    )
    .option(
      '--demo',
      `run a gentle built-in load against the echo port (${DEMO_CONNECTIONS} connections per round, small random messages, a few resets)`,
    )
    .addHelpText(
      'after',
      `\nFault switches (each reproduces one classic bug for real; both servers):\n${faultHelp}\n\nExit codes: 0 clean shutdown, 1 a server thread or the recording failed, 2 bad options.`,
    )
    .action(async (parsed: ServeCliFlags) => {
      const flags = withEnvToken(parsed, process.env);
      if (io) {
        const code = await runServeCli(flags, {
          ...(attachDashboard ? { attachDashboard } : {}),
          ...io,
        });
        io.setExitCode?.(code);
        return;
      }
      const controller = new AbortController();
      const onSignal = (): void => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        process.exitCode = await runServeCli(flags, {
          stdout: process.stdout,
          stderr: process.stderr,
          signal: controller.signal,
          attachDashboard: attachDashboard ?? dashboardAttach(),
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
