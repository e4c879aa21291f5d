// The trace query API (FORMAT.md §12): the parts of a recording the browser
// needs, so it never has to hold a whole large trace. Every route is GET,
// names the trace by its catalogue id, and validates every parameter
// (unknown or out of range: 400 BAD_QUERY). The first request for a trace
// starts building its index in a worker thread; until it is there, routes
// answer 202 with the progress.
//
//   /api/traces/:id                       meta (JSON)
//   /api/traces/:id/summary?level&from&to summary buckets (binary, protocol query.ts)
//   /api/traces/:id/records?from&count    records (a stream frame; X-First-Event)
//   /api/traces/:id/window?from&count     a window for a viewer that holds only it: a
//                                         Snapshot bracket for the state before `from`,
//                                         then records [from, from+count), one frame
//                                         (X-Bracket-Records, X-First-Event)
//   /api/traces/:id/at?ns                 the first event at or after ns
//   /api/traces/:id/sessions?from&limit   sessions by first event
//   /api/traces/:id/sessions/:sid?from&limit   one session and its events
//   /api/traces/:id/next?from&dir&kind&tid&session   stepping across the trace
//   /api/traces/:id/state?at              the state after event `at`: a Snapshot
//                                         bracket (a checkpoint) then the records
//                                         from there through `at`, as one frame
//                                         (X-Bracket-Records, X-State-Base)
//   /api/traces/:id/findings?from&limit   the detectors' findings so far, from
//                                         index `from` of their list (JSON)
//
// The id `live` is the live spool (tracedb/spool.ts), and the id of a
// recording in progress is that recording as written so far: both are
// LiveTraces, answering the same routes up to their newest chunk. Events the
// spool no longer holds (deleted past its budget) answer 410 NOT_AVAILABLE.

import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  EVENT_KIND_MAX,
  MAX_QUERY_RECORDS,
  MAX_SESSION_EVENTS,
  MAX_SUMMARY_BUCKETS,
  encodeFrame,
  encodeSummary,
  isProtocolError,
} from '@iocpscope/protocol';
import { isStreamError } from '../hub/errors.ts';
import type { RecordingCatalogue } from '../record/catalogue.ts';
import type { FindingsJob } from '../tracedb/findings-job.ts';
import type { LiveTrace } from '../tracedb/live-trace.ts';
import type { TraceService } from '../tracedb/service.ts';
import type { SpoolStatus } from '../tracedb/spool.ts';
import type { TraceView } from '../tracedb/view.ts';

/** The trace id of the live spool. */
export const LIVE_TRACE_ID = 'live';

/** Traces being written: the live spool and the files of a recording in progress. */
export interface LiveTraces {
  spool(): { trace: LiveTrace; status(): SpoolStatus } | null;
  /** The LiveTrace of a file being recorded now. */
  recording(file: string): LiveTrace | undefined;
}

export interface TraceApiContext {
  catalogue: RecordingCatalogue;
  traces: TraceService;
  live?: LiveTraces;
}

class BadQuery extends Error {}

/** A query for events the live spool no longer holds. */
class NotAvailable extends Error {
  constructor(
    readonly event: number,
    readonly firstEvent: number,
    readonly limitBytes: number | null,
  ) {
    super(
      `event ${event} is no longer held: ` +
        (limitBytes === null
          ? 'this trace starts later'
          : `the live spool keeps the newest ${formatBytes(limitBytes)} of the trace ` +
            '(serve --spool-bytes raises it)') +
        `; the oldest event held is ${firstEvent}`,
    );
  }
}

function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (n >= size) return `${Number((n / size).toFixed(1))} ${unit}`;
  }
  return `${n} bytes`;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v: unknown) =>
    typeof v === 'bigint' ? `0x${v.toString(16)}` : v,
  );
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function binary(
  res: ServerResponse,
  bytes: Uint8Array,
  headers: Record<string, string> = {},
): void {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': bytes.length,
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(bytes);
}

/** Largest join kept for reuse, in words (2 MiB: a window of 8 K records and its bracket fit). */
const JOIN_KEEP_WORDS = 512 * 1024;
let joinScratch = new Uint32Array(0);

/**
 * `a` then `b`, for encodeFrame, which copies them out before anything else
 * runs: a buffer reused by every answer up to JOIN_KEEP_WORDS (each window
 * answer used to allocate a fresh one, ~300 KB, and with the frame itself
 * that drove the server into a full GC every few dozen seeks), a fresh one beyond.
 */
function joined(a: Uint32Array, b: Uint32Array): Uint32Array {
  const n = a.length + b.length;
  let out = joinScratch;
  if (out.length < n) {
    out = new Uint32Array(n);
    if (n <= JOIN_KEEP_WORDS) joinScratch = out;
  }
  out.set(a, 0);
  out.set(b, a.length);
  return out.subarray(0, n);
}

/** The query's parameters, each allowed once and nothing else. */
function params(url: URL, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of url.searchParams) {
    if (k === 'token') continue;
    if (!allowed.includes(k))
      throw new BadQuery(`unknown parameter ${JSON.stringify(k).slice(0, 40)}`);
    if (out.has(k)) throw new BadQuery(`parameter ${k} given twice`);
    out.set(k, v);
  }
  return out;
}

function int(
  p: Map<string, string>,
  name: string,
  min: number,
  max: number,
  dflt?: number,
): number {
  const v = p.get(name);
  if (v === undefined) {
    if (dflt === undefined) throw new BadQuery(`${name} is required`);
    return dflt;
  }
  if (!/^-?\d{1,16}$/.test(v)) throw new BadQuery(`${name}: expected an integer`);
  const n = Number(v);
  if (n < min || n > max) throw new BadQuery(`${name}: must be in ${min}..${max}`);
  return n;
}

function sessionId(text: string): bigint {
  const t = text.trim();
  if (!/^(0x[0-9a-fA-F]{1,16}|\d{1,20})$/.test(t))
    throw new BadQuery('session: expected 0x... or a decimal id');
  const v = BigInt(t);
  if (v > 0xffffffffffffffffn) throw new BadQuery('session: above 64 bits');
  return v;
}

function meta(t: TraceView): Record<string, unknown> {
  const ix = t.index;
  return {
    state: 'ready',
    events: ix.events,
    startNs: ix.startNs,
    endNs: ix.endNs,
    chunks: ix.chunks.count,
    lanes: ix.lanes.map((l) => ({ ...l, name: t.strings.get(l.nameStr) ?? '' })),
    levels: ix.levels.map((l) => ({ shift: l.shift, origin: l.origin, count: l.count })),
    sessions: ix.sessions.length,
    gaps: Array.from(ix.gaps.events, (e, k) => ({
      event: e,
      ns: ix.gaps.ns[k],
      lost: ix.gaps.lost[k],
    })),
    markers: ix.markers.events.length,
    checkpoints: {
      interval: t.checkpoints?.interval ?? null,
      built: t.checkpoints?.count ?? t.checkpointProgress.checkpoints,
      done: t.checkpoints !== null,
    },
    snapshots: ix.snapshots.events.length,
    traceEnd: ix.traceEnd,
    header: t.header ?? null,
    damage: t.facts.error ?? null,
    validBytes: t.facts.validBytes,
    totalBytes: t.facts.totalBytes,
  };
}

/** Meta of a LiveTrace: live, what it holds, what it dropped, its newest event. */
function liveMeta(t: LiveTrace, spool: { status(): SpoolStatus } | null): Record<string, unknown> {
  const m = meta(t);
  m.live = true;
  m.head = t.index.events;
  m.available = t.available;
  m.streamMap = t.streamMap;
  if (spool !== null) {
    const s = spool.status();
    m.dropped = {
      ...s.dropped,
      reason: 'spool-limit',
      limitBytes: s.limitBytes,
      ...(t.droppedFromNs !== null ? { fromNs: t.droppedFromNs } : {}),
    };
    m.spool = {
      bytes: s.bytes,
      limitBytes: s.limitBytes,
      partBytes: s.partBytes,
      parts: s.parts,
      stream: s.stream,
      ...(s.error !== undefined ? { error: s.error } : {}),
    };
  } else m.dropped = { events: 0, parts: 0 };
  return m;
}

/** The event a query starts from (the `from` or `at` parameter), if it names one. */
function queryStart(route: string | undefined, url: URL): number | null {
  const key =
    route === 'records' || route === 'window' || route === 'next'
      ? 'from'
      : route === 'state'
        ? 'at'
        : null;
  if (key === null) return null;
  const v = url.searchParams.get(key);
  return v !== null && /^-?\d{1,16}$/.test(v) ? Number(v) : null;
}

const ROUTE =
  /^\/api\/traces\/([^/]+)(?:\/(summary|records|window|at|sessions|next|state|findings)(?:\/([^/]+))?)?\/?$/;

/** Handle /api/traces/...; false when the path is not one of its routes. */
export async function serveTraceApi(
  _req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  ctx: TraceApiContext,
): Promise<boolean> {
  const m = ROUTE.exec(url.pathname);
  if (m === null) return false;
  try {
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      throw new BadQuery('bad id encoding');
    }
    const route = m[2];
    let t: TraceView;
    let live: LiveTrace | null = null;
    let findings: FindingsJob | null;
    const spool = id === LIVE_TRACE_ID ? (ctx.live?.spool() ?? null) : null;
    if (id === LIVE_TRACE_ID) {
      if (spool === null) {
        send(res, 404, {
          code: 'NO_SPOOL',
          message: 'this server keeps no live spool (no live source, or serve --spool-bytes 0)',
        });
        return true;
      }
      t = live = spool.trace;
      findings = live.findings;
    } else {
      const found = await ctx.catalogue.resolve(id);
      const rec = found.entry.active ? ctx.live?.recording(found.file) : undefined;
      if (rec !== undefined) {
        t = live = rec;
        findings = rec.findings;
      } else {
        const key = `${found.file}`;
        const st = ctx.traces.state(key, found.file);
        if (st.state === 'failed') {
          send(res, 422, { code: st.code, message: st.message });
          return true;
        }
        if (st.state === 'indexing') {
          send(res, 202, {
            state: 'indexing',
            bytesRead: st.bytesRead,
            totalBytes: st.totalBytes,
            events: st.events,
          });
          return true;
        }
        t = st.trace;
        findings = ctx.traces.findings(key, found.file);
      }
    }
    if (live !== null) {
      // Events before the oldest one held are gone (the spool's budget).
      const first = live.available.firstEvent;
      const from = queryStart(route, url);
      if (from !== null && from < first && !(from === -1 && first === 0)) {
        throw new NotAvailable(from, first, spool?.status().limitBytes ?? null);
      }
    }
    switch (route) {
      case undefined:
        params(url, []);
        send(res, 200, live !== null ? liveMeta(live, spool) : meta(t));
        return true;
      case 'findings': {
        const p = params(url, ['from', 'limit']);
        const from = int(p, 'from', 0, Number.MAX_SAFE_INTEGER, 0);
        const limit = int(p, 'limit', 1, 10_000, 1000);
        if (findings === null) {
          send(res, 404, { code: 'NO_FINDINGS', message: 'findings are off on this server' });
          return true;
        }
        send(res, 200, { ...findings.view(from, limit), events: t.index.events });
        return true;
      }
      case 'summary': {
        const p = params(url, ['level', 'from', 'to']);
        const level = int(p, 'level', 0, t.index.levels.length - 1);
        const from = int(p, 'from', 0, 2 ** 40);
        const to = int(p, 'to', from, from + MAX_SUMMARY_BUCKETS);
        const s = t.summary(level, from, to);
        binary(
          res,
          encodeSummary({
            ...s,
            lanes: s.lanes.map((l, k) => ({ tid: t.index.lanes[k]!.tid, ...l })),
          }),
        );
        return true;
      }
      case 'records': {
        const p = params(url, ['from', 'count']);
        const from = int(p, 'from', 0, Number.MAX_SAFE_INTEGER);
        const count = int(p, 'count', 0, MAX_QUERY_RECORDS);
        const records = await t.records(from, count);
        binary(res, encodeFrame({ seq: 0, records, strings: t.stringsOf(records) }), {
          'x-first-event': String(Math.min(from, t.index.events)),
        });
        return true;
      }
      case 'window': {
        const p = params(url, ['from', 'count']);
        const from = int(p, 'from', 0, Number.MAX_SAFE_INTEGER);
        const count = int(p, 'count', 0, MAX_QUERY_RECORDS);
        const w = await t.window(from, count);
        if (w === null) {
          send(res, 202, { state: 'checkpointing', ...t.checkpointProgress });
          return true;
        }
        const all = joined(w.bracket, w.records);
        binary(res, encodeFrame({ seq: 0, records: all, strings: t.stringsOf(all) }), {
          'x-bracket-records': String(w.bracket.length / 8),
          'x-first-event': String(w.from),
        });
        return true;
      }
      case 'at': {
        const p = params(url, ['ns']);
        send(res, 200, { event: await t.eventAtNs(int(p, 'ns', 0, Number.MAX_SAFE_INTEGER)) });
        return true;
      }
      case 'sessions': {
        if (m[3] === undefined) {
          const p = params(url, ['from', 'limit']);
          const from = int(p, 'from', 0, Number.MAX_SAFE_INTEGER, 0);
          const limit = int(p, 'limit', 1, 10_000, 1000);
          const list = t.index.sessions.slice(from, from + limit).map((s) => ({
            ...s,
            peer: t.strings.get(s.peerStr) ?? '',
          }));
          send(res, 200, { total: t.index.sessions.length, from, sessions: list });
          return true;
        }
        const p = params(url, ['from', 'limit']);
        const sid = sessionId(decodeURIComponent(m[3]));
        const s = t.session(sid);
        if (s === undefined) {
          send(res, 404, {
            code: 'UNKNOWN_SESSION',
            message: `no session 0x${sid.toString(16)} in this trace`,
          });
          return true;
        }
        const from = int(p, 'from', 0, Number.MAX_SAFE_INTEGER, 0);
        const limit = int(p, 'limit', 1, MAX_SESSION_EVENTS, MAX_SESSION_EVENTS);
        const events = await t.sessionEvents(sid, from, limit);
        send(res, 200, { session: { ...s, peer: t.strings.get(s.peerStr) ?? '' }, events });
        return true;
      }
      case 'state': {
        const p = params(url, ['at']);
        const at = int(p, 'at', -1, Number.MAX_SAFE_INTEGER);
        const st = await t.stateAt(at);
        if (st === null) {
          send(res, 202, { state: 'checkpointing', ...t.checkpointProgress });
          return true;
        }
        const all = joined(st.bracket, st.records);
        binary(res, encodeFrame({ seq: 0, records: all, strings: t.stringsOf(all) }), {
          'x-bracket-records': String(st.bracket.length / 8),
          'x-state-base': String(st.base),
        });
        return true;
      }
      case 'next': {
        const p = params(url, ['from', 'dir', 'kind', 'tid', 'session']);
        const from = int(p, 'from', -1, Number.MAX_SAFE_INTEGER);
        const dir = int(p, 'dir', -1, 1);
        if (dir === 0) throw new BadQuery('dir: 1 or -1');
        const filter: { kind?: number; tid?: number; session?: bigint } = {};
        if (p.has('kind')) filter.kind = int(p, 'kind', 1, EVENT_KIND_MAX);
        if (p.has('tid')) filter.tid = int(p, 'tid', 0, 0xffff);
        if (p.has('session')) filter.session = sessionId(p.get('session')!);
        const start = from < 0 ? (dir > 0 ? -1 : t.index.events) : from;
        send(res, 200, { event: await t.nextEvent(start, dir as 1 | -1, filter) });
        return true;
      }
    }
    return false;
  } catch (e) {
    if (e instanceof BadQuery) send(res, 400, { code: 'BAD_QUERY', message: e.message });
    else if (e instanceof NotAvailable) {
      send(res, 410, { code: 'NOT_AVAILABLE', message: e.message, firstEvent: e.firstEvent });
    } else if (isStreamError(e)) send(res, 404, { code: e.code, message: e.message });
    else if (isProtocolError(e)) send(res, 422, { code: e.code, message: e.message });
    else throw e;
    return true;
  }
}
