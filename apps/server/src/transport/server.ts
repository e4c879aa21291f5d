// The one-port server: the dashboard's static files, the WebSocket endpoint
// /ws (binary = event frames from the hub, text = control messages) and the
// recordings API, on one HTTP listener (default 127.0.0.1:7700).
//
// Every request passes the guard (Host/token) first; upgrades and /api also
// pass the Origin check. Upgrades beyond the hub's client limit get 503.
// ws runs with noServer, no compression (frames are already dense and the
// CPU is better spent elsewhere), maxPayload for every client message, and a
// heartbeat: a client that has not answered the previous ping (and sent
// nothing) is terminated.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { TraceFileHeader } from '@iocpscope/protocol';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { StreamError } from '../hub/errors.ts';
import { Hub, type ClientSink, type HubOptions } from '../hub/hub.ts';
import type { EventSource, StringEntries } from '../hub/types.ts';
import { RecordingCatalogue } from '../record/catalogue.ts';
import { RecordingManager, type RecordingManagerOptions } from '../record/manager.ts';
import { rm } from 'node:fs/promises';
import type { ChunkWritten } from '../record/sink.ts';
import { LiveTrace } from '../tracedb/live-trace.ts';
import { TraceService } from '../tracedb/service.ts';
import { LiveSpool, SPOOL_ROOT_NAME, spoolScratchDir } from '../tracedb/spool.ts';
import { serveApi } from './api.ts';
import type { LiveTraces } from './trace-api.ts';
import { ControlChannel, type ControlTarget } from './control.ts';
import { RequestGuard } from './guard.ts';
import { resolveTransportOptions, type TransportOptions } from './options.ts';
import { serveStatic } from './static.ts';

export interface StreamServerOptions extends TransportOptions {
  /** Every event of the trace (the drainer's feed, or a replay). */
  source?: EventSource;
  /** State of `source` before the hub subscribed (the feed's snapshot). */
  seed?: { records: Uint32Array; strings: StringEntries };
  /** Load, port and fault control. Without it those requests answer UNSUPPORTED. */
  control?: ControlTarget;
  /** Where named recordings go and are listed from. Default ./recordings. */
  recordingsDir?: string;
  /** Example traces to list. Default examples/ at the repository root. */
  examplesDir?: string;
  /** Files listed first, by name (`iocpscope open FILE`). */
  catalogueFiles?: string[];
  /** Wall-clock ms of trace time 0, for recording headers. Default: when the server started. */
  startWallMs?: number;
  /** The file header of recordings made here (a foreign trace brings its own). Default: this server's. */
  header?: () => TraceFileHeader;
  hub?: HubOptions;
  /** Recording file tuning (flushMs, maxFileBytes, ...). */
  recording?: RecordingManagerOptions['sink'];
  /**
   * The live spool of `source` (trace id `live`): off unless given; serve
   * gives it (2 GB by default). `dir`: the spools' directory, default
   * `.spool` in the recordings directory. `fromStart`: the source holds its
   * start-up batches (the spool starts at its first record).
   */
  spool?: {
    limitBytes: number;
    partBytes?: number;
    dir?: string;
    fromStart?: boolean;
    /** LiveTrace tuning (tests). */
    maxLagMs?: number;
    checkpointInterval?: number;
  };
  /** One line per refused request or connection error. Default: silent. */
  log?: (line: string) => void;
}

export interface StreamServer {
  /** http://host:port/ */
  readonly url: string;
  /** ws://host:port/ws */
  readonly wsUrl: string;
  readonly host: string;
  readonly port: number;
  readonly hub: Hub;
  readonly control: ControlChannel;
  /** Present when the server has a source to record. */
  readonly recordings: RecordingManager | undefined;
  readonly catalogue: RecordingCatalogue;
  /** The live spool, when it was asked for. */
  readonly spool: LiveSpool | null;
  /** Stop a running recording (file closed), close every client, stop listening. */
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

function refuseUpgrade(socket: Duplex, r: { status: number; reason: string }): void {
  const text: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    421: 'Misdirected Request',
    503: 'Service Unavailable',
  };
  const body = `${r.reason}\n`;
  socket.end(
    `HTTP/1.1 ${r.status} ${text[r.status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function parseUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export async function startStreamServer(options: StreamServerOptions = {}): Promise<StreamServer> {
  const opts = resolveTransportOptions(options);
  const log = options.log ?? (() => undefined);
  const guard = new RequestGuard(opts);
  const hub = new Hub(options.hub);
  const serverStartMs = Date.now();
  const target = options.control;

  // The catalogue asks the manager which file is being written, the manager
  // reports changes to the control channel: closures, called only after setup.
  const catalogue: RecordingCatalogue = new RecordingCatalogue({
    dir: options.recordingsDir ?? path.resolve('recordings'),
    ...(options.examplesDir !== undefined ? { examplesDir: options.examplesDir } : {}),
    ...(options.catalogueFiles !== undefined ? { files: options.catalogueFiles } : {}),
    isActive: (file: string): boolean => recordings?.isActive(file) ?? false,
  });
  const ownHeader = (): TraceFileHeader => ({
    clock: 'monotonic-ns',
    host: hostname().slice(0, 256),
    backend: target?.backend ?? 'emulated',
    portConfig: target?.portConfig() ?? { workers: 1, concurrency: 0 },
    startWallMs: Math.round(options.startWallMs ?? serverStartMs),
    ...(target !== undefined ? { serverVersion: target.serverVersion } : {}),
  });
  const header = options.header ?? ownHeader;
  const spoolRoot = options.spool?.dir ?? path.join(catalogue.dir, SPOOL_ROOT_NAME);
  // A recording in progress is queryable as it is written (one LiveTrace per file).
  const recordingTraces = new Map<string, LiveTrace>();
  const onRecordingChunk = (c: ChunkWritten): void => {
    let t = recordingTraces.get(c.file);
    if (t === undefined) {
      t = new LiveTrace({ scratchDir: spoolScratchDir(spoolRoot), header: header() });
      recordingTraces.set(c.file, t);
    }
    t.addChunk(c);
  };
  const endRecordingTraces = async (): Promise<void> => {
    const ts = [...recordingTraces.values()];
    recordingTraces.clear();
    for (const t of ts) {
      t.end();
      await t.close();
      await rm(t.scratchDir, { recursive: true, force: true });
    }
  };
  const recordings: RecordingManager | undefined =
    options.source === undefined
      ? undefined
      : new RecordingManager({
          dir: catalogue.dir,
          source: options.source,
          snapshot: () => hub.snapshot(),
          header,
          catalogue,
          sink: {
            ...options.recording,
            onChunk: (c) => {
              options.recording?.onChunk?.(c);
              onRecordingChunk(c);
            },
          },
          onChange: () => {
            ctl.broadcastStatus();
            if (!recordings!.recording) void endRecordingTraces();
          },
        });
  const traces = new TraceService({ prewarm: true });
  const ctl = new ControlChannel({
    hub,
    ...(target !== undefined ? { target } : {}),
    ...(recordings !== undefined ? { recordings } : {}),
    catalogue,
  });
  if (options.seed !== undefined) hub.seed(options.seed);
  // The spool subscribes first: the hub numbers its frames with the spool's position.
  const spool =
    options.source !== undefined && options.spool !== undefined && options.spool.limitBytes > 0
      ? await LiveSpool.start({
          root: spoolRoot,
          limitBytes: options.spool.limitBytes,
          ...(options.spool.partBytes !== undefined ? { partBytes: options.spool.partBytes } : {}),
          ...(options.spool.fromStart !== undefined ? { fromStart: options.spool.fromStart } : {}),
          ...(options.spool.maxLagMs !== undefined ? { maxLagMs: options.spool.maxLagMs } : {}),
          ...(options.spool.checkpointInterval !== undefined
            ? { checkpointInterval: options.spool.checkpointInterval }
            : {}),
          source: options.source,
          header,
          snapshot: () => hub.snapshot(),
          log,
        })
      : null;
  const live: LiveTraces = {
    spool: () => spool,
    recording: (file) => recordingTraces.get(file),
  };
  if (options.source !== undefined) {
    hub.attach(options.source, spool !== null ? { position: () => spool.position } : {});
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxPayload,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const sockets = new Map<WebSocket, { alive: boolean }>();

  const onConnection = (ws: WebSocket): void => {
    const life = { alive: true };
    sockets.set(ws, life);
    const sink: ClientSink = {
      sendBinary: (data, done) => ws.send(data, { binary: true }, done),
      sendText: (text, done) => ws.send(text, { binary: false }, done),
      close: (code, reason) => {
        if (code === 1008)
          ws.terminate(); // not reading: a closing handshake would wait for it
        else ws.close(code, reason);
      },
    };
    const client = hub.addClient(sink, (c) => ctl.connected(c));
    ctl.broadcastStatus();
    ws.on('pong', () => {
      life.alive = true;
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      life.alive = true;
      if (isBinary) ctl.handleBinary(client);
      else ctl.handleText(client, rawToString(data));
    });
    ws.on('error', (err) => log(`ws client error: ${err.message}`));
    ws.on('close', () => {
      sockets.delete(ws);
      if (!client.closed) {
        client.close(1000, 'closed');
        ctl.broadcastStatus();
      }
    });
  };

  const heartbeat = setInterval(() => {
    for (const [ws, life] of sockets) {
      if (!life.alive) {
        log('terminating a client that missed a heartbeat');
        ws.terminate();
        continue;
      }
      life.alive = false;
      ws.ping();
    }
  }, opts.heartbeatMs);
  heartbeat.unref();
  // While recording, the status (bytes, events written) changes continuously:
  // push it once a second (coalesced per client) so dashboards show progress.
  const recordingProgress = setInterval(() => {
    if (recordings?.recording) ctl.broadcastStatus();
  }, 1000);
  recordingProgress.unref();

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const url = parseUrl(req);
    if (url === undefined) {
      res.writeHead(400).end();
      return;
    }
    const refused = guard.checkAccess(req, url);
    if (refused !== null) {
      log(`refused ${req.method} ${url.pathname}: ${refused.reason}`);
      res.writeHead(refused.status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${refused.reason}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const cookie = guard.sessionCookie(url);
    if (cookie !== undefined) res.setHeader('set-cookie', cookie);
    const p = url.pathname;
    if (p === '/api' || p.startsWith('/api/')) {
      const bad = guard.checkOrigin(req);
      if (bad !== null) {
        res.writeHead(bad.status, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`${bad.reason}\n`);
        return;
      }
      await serveApi(req, res, p, { catalogue, control: ctl, traces, live }, url);
      return;
    }
    if (p === '/ws') {
      res
        .writeHead(426, { upgrade: 'websocket', 'content-type': 'text/plain' })
        .end('use WebSocket\n');
      return;
    }
    await serveStatic(req, res, opts.webRoot, p);
  };

  const server = createServer((req, res) => {
    onRequest(req, res).catch((e: unknown) => {
      log(`request failed: ${String(e)}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A reset during the handshake must not become an uncaught 'error'.
    socket.on('error', (err) => log(`upgrade socket error: ${err.message}`));
    const url = parseUrl(req);
    if (url === undefined) return refuseUpgrade(socket, { status: 400, reason: 'bad URL' });
    if (url.pathname !== '/ws') {
      return refuseUpgrade(socket, { status: 404, reason: 'no WebSocket here; use /ws' });
    }
    const refused = guard.checkAccess(req, url) ?? guard.checkOrigin(req);
    if (refused !== null) {
      log(`refused upgrade: ${refused.reason}`);
      return refuseUpgrade(socket, refused);
    }
    if (!hub.canAcceptClient) {
      return refuseUpgrade(socket, { status: 503, reason: 'too many clients' });
    }
    wss.handleUpgrade(req, socket, head, onConnection);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => {
      reject(
        new StreamError(
          'LISTEN_FAILED',
          `cannot listen on ${opts.host}:${opts.port}: ${e.message}`,
          { cause: e },
        ),
      );
    };
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  }).catch(async (e: unknown) => {
    clearInterval(heartbeat);
    clearInterval(recordingProgress);
    hub.close();
    await spool?.close();
    throw e;
  });
  server.on('error', (e) => log(`server error: ${e.message}`));

  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port;
  guard.bindPort(port);
  const hostForUrl = formatHost(
    opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host,
  );
  let closing: Promise<void> | undefined;

  return {
    url: `http://${hostForUrl}:${port}/`,
    wsUrl: `ws://${hostForUrl}:${port}/ws`,
    host: opts.host,
    port,
    hub,
    control: ctl,
    recordings,
    catalogue,
    spool,
    close(): Promise<void> {
      closing ??= (async () => {
        clearInterval(heartbeat);
        clearInterval(recordingProgress);
        ctl.close();
        if (recordings?.recording) {
          await recordings.stop().catch((e: unknown) => log(`recording stop failed: ${String(e)}`));
        }
        hub.close();
        await spool?.close();
        await endRecordingTraces();
        await traces.close();
        for (const ws of sockets.keys()) ws.terminate();
        sockets.clear();
        wss.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
