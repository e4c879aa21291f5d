// The seam between `iocpscope serve` (echo/, cli/) and the dashboard side:
// `dashboardAttach(options)` returns the function cli/serve.ts calls with the
// running echo server and the dashboard address. It adapts the running server
// to what the stream server consumes: the drainer's feed as the event source
// (seeded with the feed's snapshot), fault switches, the built-in load
// generator aimed at the echo port, and port restarts (set-port-config ->
// RunningServer.restartPort).

import type { LoadOptions, LoadStats } from '@iocpscope/protocol';
import type { RunningServer } from '../echo/server.ts';
import { StreamError } from '../hub/errors.ts';
import type { RecordingManager } from '../record/manager.ts';
import { isLoadOptionError } from '../load/errors.ts';
import { validateLoadOptions, type LoadOptions as GeneratorOptions } from '../load/options.ts';
import { runLoad, type LoadProgress, type LoadReport } from '../load/run.ts';
import { runChatLoad, validateChatLoadOptions, type ChatLoadOptions } from '../load/chat.ts';
import { MAX_TEXT_BYTES } from '../chat/protocol.ts';
import { HEADER_BYTES } from '../load/stream.ts';
import { TraceShared } from '../trace/shared.ts';
import type { ControlTarget, LoadRunner } from './control.ts';
import { startStreamServer, type StreamServer, type StreamServerOptions } from './server.ts';

export const SERVER_VERSION = '0.1.0';

export interface DashboardOptions extends Pick<
  StreamServerOptions,
  | 'token'
  | 'webRoot'
  | 'allowedOrigins'
  | 'recordingsDir'
  | 'examplesDir'
  | 'maxPayload'
  | 'heartbeatMs'
  | 'hub'
  | 'recording'
  | 'log'
> {
  /**
   * Record from the start into this file with the rotating recorder
   * (instead of the drainer thread's own file sink).
   */
  recordFile?: string;
}

/** What cli/serve.ts receives: where to reach the dashboard and how to stop it. */
export interface AttachedDashboard {
  url: string;
  server: StreamServer;
  /** The stream server's recorder (serve --record goes through it). */
  recordings: RecordingManager | undefined;
  /** Stop the loads started from the dashboard (serve calls it before the server stops). */
  quiesce(): void;
  close(): Promise<void>;
}

/** Where serve wants the dashboard; token and recordingsDir override the attach options. */
export interface AttachWhere {
  host: string;
  port: number;
  token?: string;
  recordingsDir?: string;
  /** A recording's total size limit in bytes (serve --record-limit). */
  recordLimit?: number;
  /** The live spool (serve --spool-bytes): StreamServerOptions.spool. */
  spool?: StreamServerOptions['spool'];
}

/** Protocol load options → the generator's options, aimed at the echo port. */
export function toGeneratorOptions(o: LoadOptions, host: string, port: number): GeneratorOptions {
  const g: GeneratorOptions = {
    target: { host, port },
    connections: o.connections,
    messageSize: Math.max(0, o.messageSize - HEADER_BYTES),
    inFlight: o.inFlight,
    rampMs: o.rampMs,
    resetsPerSec: o.resetRate,
  };
  if (o.messages !== undefined) g.messages = Math.ceil(o.messages / o.connections);
  // Without a limit the load runs until stop-load: the generator's longest run.
  else g.durationMs = o.durationMs ?? 24 * 3_600_000;
  return g;
}

function progressStats(p: LoadProgress, size: number): LoadStats {
  return {
    elapsedMs: Math.round(p.elapsedMs),
    connected: p.connectionsOpen,
    sent: p.messages,
    received: p.messages,
    bytesSent: p.messages * size,
    bytesReceived: p.messages * size,
    errors: p.mismatches + p.failures,
    resets: p.resets,
  };
}

function reportStats(r: LoadReport, size: number): LoadStats {
  const s: LoadStats = {
    elapsedMs: Math.round(r.elapsedMs),
    connected: 0,
    sent: r.messages,
    received: r.messages,
    bytesSent: r.messages * size,
    bytesReceived: r.messages * size,
    errors: r.mismatches.count + r.failures.count,
    resets: r.connections.resets,
  };
  if (r.latencyUs.count > 0) {
    s.latencyP50Us = r.latencyUs.p50;
    s.latencyP99Us = r.latencyUs.p99;
  }
  return s;
}

/**
 * The dashboard's load against the chat server: its connections become chat
 * clients in the server's rooms (a few chats a second each, `inFlight` own
 * chats outstanding at most), every broadcast verified.
 */
function runChatLoadFor(
  o: LoadOptions,
  host: string,
  running: RunningServer,
  onProgress: (s: LoadStats) => void,
  signal: AbortSignal,
): Promise<LoadStats> {
  const size = Math.min(MAX_TEXT_BYTES, Math.max(16, o.messageSize - HEADER_BYTES));
  const co: ChatLoadOptions = {
    target: { host, port: running.echoPort },
    clients: o.connections,
    rooms: running.config.chat.rooms,
    rate: 5,
    inFlight: o.inFlight,
    textBytes: size,
    rampMs: o.rampMs,
    resetsPerSec: o.resetRate,
    progressIntervalMs: 1000,
  };
  if (o.messages !== undefined) co.messages = Math.max(1, Math.ceil(o.messages / o.connections));
  else co.durationMs = o.durationMs ?? 24 * 3_600_000;
  try {
    validateChatLoadOptions(co);
  } catch (e) {
    if (isLoadOptionError(e)) throw new StreamError('BAD_OPTIONS', e.message, { cause: e });
    throw e;
  }
  const t0 = performance.now();
  return runChatLoad(co, {
    signal,
    onProgress: (p) =>
      onProgress({
        elapsedMs: Math.round(p.elapsedMs),
        connected: p.joined,
        sent: p.chatsSent,
        received: p.deliveries,
        bytesSent: p.chatsSent * (size + HEADER_BYTES),
        bytesReceived: p.deliveries * (size + HEADER_BYTES),
        errors: p.violations,
        resets: 0,
        ...(p.latencyP50Us > 0
          ? { latencyP50Us: p.latencyP50Us, latencyP99Us: p.latencyP99Us }
          : {}),
      }),
  }).then((r) => {
    if (!r.ok && !r.aborted)
      throw new Error(
        `chat load failed: ${r.violations.count} violations (${r.violations.samples[0]?.detail ?? ''})`,
      );
    return {
      elapsedMs: Math.round(performance.now() - t0),
      connected: 0,
      sent: r.chatsSent,
      received: r.deliveries,
      bytesSent: r.chatsSent * (size + HEADER_BYTES),
      bytesReceived: r.deliveries * (size + HEADER_BYTES),
      errors: r.violations.count,
      resets: r.clients.resets,
      ...(r.latencyUs.count > 0
        ? { latencyP50Us: r.latencyUs.p50, latencyP99Us: r.latencyUs.p99 }
        : {}),
    };
  });
}

/** The control target of a running reference server (echo or chat). */
export function controlTargetOf(running: RunningServer): ControlTarget {
  const c = running.config;
  const loadHost = c.host === '0.0.0.0' ? '127.0.0.1' : c.host === '::' ? '::1' : c.host;
  const runner: LoadRunner = (options, { onProgress, signal }) => {
    if (c.app === 'chat') return runChatLoadFor(options, loadHost, running, onProgress, signal);
    const g = toGeneratorOptions(options, loadHost, running.echoPort);
    try {
      validateLoadOptions(g);
    } catch (e) {
      if (isLoadOptionError(e)) throw new StreamError('BAD_OPTIONS', e.message, { cause: e });
      throw e;
    }
    const size = options.messageSize;
    return runLoad(g, { signal, onProgress: (p) => onProgress(progressStats(p, size)) }).then(
      (r) => {
        if (!r.ok && !r.aborted) {
          throw new Error(
            r.stalled
              ? 'load stalled: no echo arrived while messages were outstanding'
              : `load failed: ${r.mismatches.count} mismatches, ${r.failures.count} connection failures`,
          );
        }
        return reportStats(r, size);
      },
    );
  };
  const target: ControlTarget = {
    backend: c.backend,
    serverVersion: SERVER_VERSION,
    portConfig: () => running.portConfig(),
    faults: () => running.faults.active(),
    setFaults: (faults) => {
      try {
        running.faults.set(faults);
      } catch (e) {
        // A switch this server does not have (the chat server's on the echo server...).
        if ((e as { code?: string }).code === 'ERR_FAULT_NOT_IN_APP')
          throw new StreamError('BAD_OPTIONS', (e as Error).message, { cause: e });
        throw e;
      }
    },
    runLoad: runner,
    // Which reference server this is: the dashboard offers its fault switches.
    source: () => ({ kind: 'reference', app: c.app }),
  };
  target.setPortConfig = async (config) => {
    try {
      await running.restartPort(config);
    } catch (e) {
      // Refusals keep the port running: say why with the stream's codes.
      const code = (e as { code?: string }).code;
      if (code === 'ERR_SERVER_OPTIONS')
        throw new StreamError('BAD_OPTIONS', (e as Error).message, { cause: e });
      if (code === 'ERR_RESTART_BUSY')
        throw new StreamError('BUSY', (e as Error).message, { cause: e });
      throw e;
    }
  };
  return target;
}

/**
 * The attach function for cli/serve.ts:
 *   attachDashboard: dashboardAttach({ token: flags.token, recordingsDir: flags.recordingsDir })
 */
export function dashboardAttach(
  options: DashboardOptions = {},
): (running: RunningServer, where: AttachWhere) => Promise<AttachedDashboard> {
  return async (running, where) => {
    const feed = running.drainer;
    const { recordFile, ...rest } = options;
    const streamOptions: StreamServerOptions = {
      ...rest,
      host: where.host,
      port: where.port,
      control: controlTargetOf(running),
      // Recordings made here carry the server's own header (its app: echo or chat).
      header: () => running.fileHeader(),
    };
    if (where.token !== undefined) streamOptions.token = where.token;
    if (where.recordingsDir !== undefined) streamOptions.recordingsDir = where.recordingsDir;
    if (where.recordLimit !== undefined) {
      streamOptions.recording = { ...streamOptions.recording, maxTotalBytes: where.recordLimit };
    }
    if (feed !== null) {
      streamOptions.source = feed;
      streamOptions.seed = feed.snapshot();
      // Trace time 0 on the wall clock, for the headers of recordings made here.
      const base = TraceShared.attach(feed.descriptor).clockBase;
      streamOptions.startWallMs = base.creatorTimeOriginMs + base.startPerfMs;
      if (where.spool !== undefined) streamOptions.spool = where.spool;
    }
    const server = await startStreamServer(streamOptions);
    if (recordFile !== undefined) {
      if (server.recordings === undefined) {
        await server.close();
        throw new StreamError('UNSUPPORTED', '--record needs tracing on');
      }
      await server.recordings.start({ file: recordFile });
    }
    return {
      url: server.url,
      server,
      recordings: server.recordings,
      quiesce: () => server.control.close(),
      close: () => server.close(),
    };
  };
}
