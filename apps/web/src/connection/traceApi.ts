// The server's trace query API (packages/protocol FORMAT.md §12), as the
// windowed view asks it: a trace's meta, windows of records with the state
// before them, zoomed-out summaries, sessions, stepping, findings. One
// TraceApi per open trace; every answer is checked before it is used, and
// every failure is a LoadError with a stable code:
//   NOT_FOUND      the trace is not on this server (404 UNKNOWN_RECORDING);
//   NOT_AVAILABLE  the events asked for are gone (410: beyond the live spool);
//   NO_SPOOL       the server keeps no live spool (404 NO_SPOOL);
//   HTTP           any other refusal, with the server's code and message;
//   NETWORK        no answer at all;
//   ABORTED        the caller gave up (its signal).
// 202 answers (the index or the checkpoints are still being built) are
// polled here with a growing delay, with progress reported to the caller.

import { decodeFrame, decodeSummary, RECORD_WORDS, type SummarySlice } from '@iocpscope/protocol';
import { LoadError } from './errors.ts';

export interface RemoteLane {
  tid: number;
  role: number;
  name: string;
  firstEvent: number;
  lastEvent: number;
  exitEvent: number;
}

export interface RemoteLevel {
  shift: number;
  origin: number;
  count: number;
}

export interface RemoteMeta {
  events: number;
  startNs: number;
  endNs: number;
  chunks: number;
  lanes: RemoteLane[];
  levels: RemoteLevel[];
  sessions: number;
  gaps: Array<{ event: number; ns: number; lost: number }>;
  markers: number;
  checkpoints: { interval: number | null; built: number; done: boolean };
  snapshots: number;
  traceEnd: number;
  damage: { code: string; message: string } | null;
  validBytes: number;
  totalBytes: number;
  /** The live spool (trace id `live`): what is still on disk, what was dropped and why. */
  live?: boolean;
  available?: { firstEvent: number; firstNs: number };
  /** `fromNs`: the first event ever held, once its part was deleted (the gone range starts there). */
  dropped?: { events: number; parts: number; reason: string; limitBytes: number; fromNs?: number };
  head?: number;
}

export interface IndexProgress {
  bytesRead: number;
  totalBytes: number;
  events: number;
}

export interface RemoteSession {
  /** "0x…" */
  id: string;
  firstEvent: number;
  lastEvent: number;
  createdEvent: number;
  releasedEvent: number;
  events: number;
  peer: string;
}

/** A window: the Snapshot bracket for the state before `from`, then records [from, ...). */
export interface RemoteWindow {
  from: number;
  /** Records of the bracket (the first `bracket` records of `records`). */
  bracket: number;
  records: Uint32Array;
  strings: Array<[number, string]>;
}

/** A finding as the server's detector pass reports it (packages/analysis Finding, JSON). */
export interface RemoteFinding {
  rule: string;
  ruleNumber: number;
  check: string;
  title: string;
  severity: 'error' | 'warning';
  subject:
    | { kind: 'session'; session: string }
    | { kind: 'thread'; tid: number }
    | { kind: 'lock'; tid: number; lock?: number }
    | { kind: string; [k: string]: unknown };
  index: number;
  tsNs: number;
  evidence: number[];
  message: string;
}

export interface RemoteFindings {
  state: 'running' | 'done' | 'failed';
  walked: number;
  events: number;
  from: number;
  total: number;
  findings: RemoteFinding[];
}

export interface TraceApiOptions {
  fetch?: typeof fetch;
  /** The page's query string (for its token). */
  search?: string;
  signal?: AbortSignal;
  /** Delay before a 202 is asked again, ms (doubles up to 1 s). */
  pollMs?: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function bad(what: string): never {
  throw new LoadError('HTTP', `the server's answer is not what the trace API promises: ${what}`);
}

export function checkMeta(v: unknown): RemoteMeta {
  if (!isObj(v)) bad('meta is not an object');
  for (const k of ['events', 'startNs', 'endNs'] as const) if (!isNum(v[k])) bad(`meta.${k}`);
  if (!Array.isArray(v.lanes) || !Array.isArray(v.levels) || !Array.isArray(v.gaps))
    bad('meta lists');
  for (const l of v.levels as unknown[]) {
    if (!isObj(l) || !isNum(l.shift) || !isNum(l.origin) || !isNum(l.count)) bad('meta.levels');
  }
  return v as unknown as RemoteMeta;
}

export class TraceApi {
  private readonly fetchImpl: typeof fetch;
  private readonly token: string | null;
  private readonly pollMs: number;

  constructor(
    readonly id: string,
    private readonly o: TraceApiOptions = {},
  ) {
    this.fetchImpl = o.fetch ?? ((...a) => fetch(...a));
    this.token = new URLSearchParams(o.search ?? '').get('token');
    this.pollMs = o.pollMs ?? 100;
  }

  url(route: string, q: Record<string, string | number | bigint> = {}): string {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) p.set(k, String(v));
    if (this.token) p.set('token', this.token);
    const qs = p.toString();
    return `/api/traces/${encodeURIComponent(this.id)}${route}${qs ? `?${qs}` : ''}`;
  }

  /** GET with the API's error mapping; 202 answers are polled (onWait gets their body). */
  private async get(
    url: string,
    onWait?: (body: Record<string, unknown>) => void,
    signal?: AbortSignal,
  ): Promise<Response> {
    const sig = signal ?? this.o.signal;
    let delay = this.pollMs;
    for (;;) {
      if (sig?.aborted) throw new LoadError('ABORTED', 'cancelled');
      let res: Response;
      try {
        res = await this.fetchImpl(url, sig ? { signal: sig } : {});
      } catch (e) {
        if (sig?.aborted) throw new LoadError('ABORTED', 'cancelled');
        throw new LoadError('NETWORK', `the server did not answer: ${String(e)}`);
      }
      if (res.status === 202) {
        const body: unknown = await res.json().catch(() => ({}));
        onWait?.(isObj(body) ? body : {});
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(1000, delay * 2);
        continue;
      }
      if (res.ok) return res;
      const body: unknown = await res.json().catch(() => null);
      const code = isObj(body) && typeof body.code === 'string' ? body.code : '';
      const message =
        isObj(body) && typeof body.message === 'string'
          ? body.message
          : `${res.status} ${res.statusText}`;
      if (res.status === 404 && (code === 'UNKNOWN_RECORDING' || code === '')) {
        throw new LoadError(
          'NOT_FOUND',
          `${this.id} is not on this server: it may have been deleted or renamed`,
        );
      }
      if (res.status === 404 && code === 'NO_SPOOL') throw new LoadError('NO_SPOOL', message);
      if (res.status === 410) throw new LoadError('NOT_AVAILABLE', message);
      throw new LoadError('HTTP', `${res.status}${code ? ` ${code}` : ''}: ${message}`);
    }
  }

  private async json(url: string, signal?: AbortSignal): Promise<unknown> {
    const res = await this.get(url, undefined, signal);
    try {
      return await res.json();
    } catch {
      return bad('not JSON');
    }
  }

  /** The trace's meta, waiting (with progress) while its index is built. */
  async meta(onProgress?: (p: IndexProgress) => void, signal?: AbortSignal): Promise<RemoteMeta> {
    const res = await this.get(
      this.url(''),
      (b) =>
        onProgress?.({
          bytesRead: isNum(b.bytesRead) ? b.bytesRead : 0,
          totalBytes: isNum(b.totalBytes) ? b.totalBytes : 0,
          events: isNum(b.events) ? b.events : 0,
        }),
      signal,
    );
    return checkMeta(await res.json().catch(() => bad('meta is not JSON')));
  }

  async window(from: number, count: number, signal?: AbortSignal): Promise<RemoteWindow> {
    const res = await this.get(
      this.url('/window', { from: Math.max(0, Math.floor(from)), count }),
      undefined,
      signal,
    );
    const first = Number(res.headers.get('x-first-event'));
    const bracket = Number(res.headers.get('x-bracket-records'));
    if (!Number.isInteger(first) || first < 0 || !Number.isInteger(bracket) || bracket < 0) {
      bad('window headers');
    }
    const f = decodeFrame(new Uint8Array(await res.arrayBuffer()));
    if (f.records.length < bracket * RECORD_WORDS) bad('window shorter than its bracket');
    return { from: first, bracket, records: f.records, strings: f.strings };
  }

  async summary(
    level: number,
    from: number,
    to: number,
    signal?: AbortSignal,
  ): Promise<SummarySlice> {
    const res = await this.get(this.url('/summary', { level, from, to }), undefined, signal);
    try {
      return decodeSummary(new Uint8Array(await res.arrayBuffer()));
    } catch (e) {
      return bad(String(e));
    }
  }

  async sessions(
    from: number,
    limit: number,
    signal?: AbortSignal,
  ): Promise<{ total: number; from: number; sessions: RemoteSession[] }> {
    const v = await this.json(this.url('/sessions', { from, limit }), signal);
    if (!isObj(v) || !isNum(v.total) || !Array.isArray(v.sessions)) bad('sessions');
    return v as unknown as { total: number; from: number; sessions: RemoteSession[] };
  }

  async session(
    id: bigint,
    from = 0,
    signal?: AbortSignal,
  ): Promise<{ session: RemoteSession; events: number[] }> {
    const v = await this.json(this.url(`/sessions/0x${id.toString(16)}`, { from }), signal);
    if (!isObj(v) || !isObj(v.session) || !Array.isArray(v.events)) bad('session');
    return v as unknown as { session: RemoteSession; events: number[] };
  }

  /** The next (dir 1) or previous (-1) event after `from` matching the filter; -1 / events when none. */
  async next(
    from: number,
    dir: 1 | -1,
    f: { kind?: number; tid?: number; session?: bigint },
    signal?: AbortSignal,
  ): Promise<number> {
    const q: Record<string, string | number> = { from, dir };
    if (f.kind !== undefined) q.kind = f.kind;
    if (f.tid !== undefined) q.tid = f.tid;
    if (f.session !== undefined) q.session = `0x${f.session.toString(16)}`;
    const v = await this.json(this.url('/next', q), signal);
    if (!isObj(v) || !isNum(v.event)) bad('next');
    return v.event;
  }

  /** The first event at or after `ns`. */
  async at(ns: number, signal?: AbortSignal): Promise<number> {
    const v = await this.json(this.url('/at', { ns: Math.max(0, Math.floor(ns)) }), signal);
    if (!isObj(v) || !isNum(v.event)) bad('at');
    return v.event;
  }

  async findings(from: number, signal?: AbortSignal): Promise<RemoteFindings> {
    const v = await this.json(this.url('/findings', { from }), signal);
    if (!isObj(v) || !Array.isArray(v.findings) || typeof v.state !== 'string') bad('findings');
    return v as unknown as RemoteFindings;
  }
}
