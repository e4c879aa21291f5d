// The small HTTP API beside the dashboard files:
//   GET /api/recordings        the catalogue (recordings and examples)
//   GET /api/recordings/:id    one recording's bytes, looked up by id only
//   GET /api/status            what the control channel's status says
//   GET /api/traces/...        the trace query API (trace-api.ts)
// Errors are JSON {code, message} with the StreamError codes (NOT_FOUND for
// unknown routes).

import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isStreamError } from '../hub/errors.ts';
import type { RecordingCatalogue } from '../record/catalogue.ts';
import type { TraceService } from '../tracedb/service.ts';
import type { ControlChannel } from './control.ts';
import { serveTraceApi, type LiveTraces } from './trace-api.ts';

export interface ApiContext {
  catalogue: RecordingCatalogue | undefined;
  control: ControlChannel;
  traces?: TraceService;
  /** The live spool and recordings in progress, for the trace API. */
  live?: LiveTraces;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  json(res, status, { code, message });
}

/** Handle a request under /api/. */
export async function serveApi(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  ctx: ApiContext,
  url?: URL,
): Promise<void> {
  if (
    url !== undefined &&
    pathname.startsWith('/api/traces/') &&
    ctx.traces !== undefined &&
    ctx.catalogue !== undefined &&
    (await serveTraceApi(req, res, url, {
      catalogue: ctx.catalogue,
      traces: ctx.traces,
      ...(ctx.live !== undefined ? { live: ctx.live } : {}),
    }))
  ) {
    return;
  }
  if (pathname === '/api/status') {
    json(res, 200, ctx.control.status());
    return;
  }
  if (pathname === '/api/recordings' || pathname === '/api/recordings/') {
    json(res, 200, { recordings: ctx.catalogue === undefined ? [] : await ctx.catalogue.list() });
    return;
  }
  const m = /^\/api\/recordings\/([^/]+)$/.exec(pathname);
  if (m === null) {
    fail(res, 404, 'NOT_FOUND', 'no such API route');
    return;
  }
  if (ctx.catalogue === undefined) {
    fail(res, 404, 'UNKNOWN_RECORDING', 'this server has no recordings');
    return;
  }
  let id: string;
  try {
    id = decodeURIComponent(m[1]!);
  } catch {
    fail(res, 400, 'UNKNOWN_RECORDING', 'bad id encoding');
    return;
  }
  let found;
  try {
    found = await ctx.catalogue.resolve(id);
  } catch (e) {
    if (!isStreamError(e)) throw e;
    fail(res, 404, e.code, e.message);
    return;
  }
  // Serve the bytes present now: for a recording in progress that is a valid
  // prefix (the reader reports a cut last chunk as TRUNCATED and keeps the rest).
  const size = found.entry.bytes;
  const filename = `${found.entry.name.replace(/[^A-Za-z0-9_.-]/g, '_')}.iocptrace`;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': size,
    'content-disposition': `attachment; filename="${filename}"`,
    'cache-control': 'no-store',
  });
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(found.file, { start: 0, end: size - 1 });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
