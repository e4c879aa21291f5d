// Event search (issue 19 §4): a small query language over the record words,
// compiled once, then matched by one pass over the records (no objects per
// event). A SearchIndex keeps the matches of one query for one trace and
// scans only what was appended since (a live trace).
//
// Query: terms separated by spaces, all of which must hold (case-insensitive):
//   io:N, io N, or a bare number     the overlapped's io id (posts, packets,
//                                    dequeues, IOCount changes)
//   session:X, s:X, or a bare 0x…    a session / completion key, hex (0x…) or decimal
//   op:recv, or a bare op name       recv, send, post, accept, connect, disconnect
//   thread:N, tid:N, thread:NAME,    a thread, by index or by name (a lane name
//     or a bare thread name          such as "worker 1" may stand alone)
//   error:N, err:NAME, or a bare     a Win32 code on a failed dequeue, post,
//     error name                     packet or disconnect: 64, 995,
//                                    ERROR_NETNAME_DELETED, netname_deleted
//   kind:NAME, or a bare kind name   gqcs-return, iocount, disconnect, …
// A parse error names the term it could not read.

import { EVENT_KIND_NAMES, EventKind, OP_NAMES, RECORD_WORDS, WinError } from '@iocpscope/protocol';
import { U32Column } from './column.ts';
import { SESSION_KINDS } from './flags.ts';
import { winErrorCode, winErrorName } from './winErrors.ts';
import type { WebTrace } from './webTrace.ts';

/** A compiled query: -1 (or null) fields are not constrained. */
export interface CompiledSearch {
  readonly ioId: number;
  readonly sessLo: number;
  readonly sessHi: number;
  readonly hasSession: boolean;
  readonly op: number;
  /** Thread indices, or null for any. */
  readonly tids: ReadonlySet<number> | null;
  readonly error: number;
  readonly kind: number;
  /** How the query was read, e.g. "io 7 · op recv". */
  readonly description: string;
}

export type ParsedSearch = { ok: true; query: CompiledSearch } | { ok: false; error: string };

/** Kinds whose z word is an io id. */
const IO_KINDS = kindSet([
  EventKind.GqcsReturn,
  EventKind.PacketQueued,
  EventKind.Pqcs,
  EventKind.IoPosted,
  EventKind.IoCount,
  EventKind.IoDetail,
  EventKind.IoRing,
  EventKind.SendBuffer,
]);
/** Kinds whose a byte carries an op in its low nibble. */
const OP_KINDS = kindSet([
  EventKind.GqcsReturn,
  EventKind.PacketQueued,
  EventKind.Pqcs,
  EventKind.IoPosted,
  EventKind.IoDetail,
  EventKind.IoRing,
]);

function kindSet(kinds: number[]): Uint8Array {
  const t = new Uint8Array(256);
  for (const k of kinds) t[k] = 1;
  return t;
}

const OPS_BY_NAME = new Map<string, number>(
  Object.entries(OP_NAMES)
    .filter(([, n]) => n !== 'none')
    .map(([code, n]) => [n, Number(code)]),
);
const KINDS_BY_NAME = new Map<string, number>(
  Object.entries(EVENT_KIND_NAMES).map(([code, n]) => [n, Number(code)]),
);
const KIND_ALIASES = new Map<string, string>([
  ['gqcs', 'gqcs-return'],
  ['dequeue', 'gqcs-return'],
  ['completion', 'gqcs-return'],
  ['queued', 'packet-queued'],
  ['posted', 'io-posted'],
  ['released', 'session-released'],
  ['created', 'session-created'],
]);

/** Parse a query; thread names are resolved against `trace`'s lanes. */
export function parseSearch(text: string, trace: WebTrace | null): ParsedSearch {
  let ioId = -1;
  let session: bigint | null = null;
  let op = -1;
  let tids: Set<number> | null = null;
  let error = -1;
  let kind = -1;
  const said: string[] = [];

  // Thread names may hold spaces ("worker 1"): take them out first, longest first.
  let rest = ` ${text.trim()} `;
  const lanes = trace ? [...trace.lanes].sort((a, b) => b.name.length - a.name.length) : [];
  const addTid = (tid: number, name: string): void => {
    (tids ??= new Set()).add(tid);
    said.push(`thread ${name}`);
  };
  for (const lane of lanes) {
    const name = lane.name.toLowerCase();
    if (name.length === 0) continue;
    // "accept" alone is the Accept kind; the accept thread is thread:accept.
    const bareToo = !isTermWord(name);
    for (const prefix of bareToo ? ['thread:', 'tid:', ''] : ['thread:', 'tid:']) {
      const quoted = [`${prefix}"${name}"`, `${prefix}${name}`];
      for (const q of quoted) {
        const at = rest.toLowerCase().indexOf(` ${q} `);
        if (at < 0) continue;
        rest = `${rest.slice(0, at)} ${rest.slice(at + q.length + 1)}`;
        addTid(lane.tid, lane.name);
      }
    }
  }

  const tokens = rest
    .trim()
    .split(/\s+/)
    .filter((t) => t.length > 0);
  for (let n = 0; n < tokens.length; n++) {
    const tok = tokens[n]!;
    const low = tok.toLowerCase();
    const m = /^([a-z]+):(.*)$/.exec(low);
    let field = m ? m[1]! : '';
    let value = m ? m[2]! : low;
    // "io 7", "session 0x10001", "error 64": a field name, then its value.
    if (
      !m &&
      ['io', 'ioid', 'session', 's', 'op', 'thread', 'tid', 'error', 'err', 'kind'].includes(low)
    ) {
      if (n + 1 >= tokens.length) return { ok: false, error: `"${tok}" needs a value` };
      field = low;
      value = tokens[++n]!.toLowerCase();
    }
    if (value === '') return { ok: false, error: `"${tok}" needs a value` };
    if (field === '') {
      // A bare term: guess the field from its form.
      if (/^0x[0-9a-f]+$/.test(value)) field = 'session';
      else if (/^\d+$/.test(value)) field = 'io';
      else if (KINDS_BY_NAME.has(value) || KIND_ALIASES.has(value)) field = 'kind';
      else if (OPS_BY_NAME.has(value)) field = 'op';
      else if (winErrorCode(value) !== undefined) field = 'error';
      else
        return {
          ok: false,
          error: `not a term: "${tok}" (try io:7, 0x10001, recv, worker 1, 995)`,
        };
    }
    switch (field) {
      case 'io':
      case 'ioid': {
        const v = parseNumber(value);
        if (v === null || v > 0xffffffff) return { ok: false, error: `not an io id: "${tok}"` };
        ioId = v;
        said.push(`io ${v}`);
        break;
      }
      case 'session':
      case 's': {
        let id: bigint;
        try {
          id = BigInt(value);
        } catch {
          return { ok: false, error: `not a session id: "${tok}"` };
        }
        if (id <= 0n || id > 0xffff_ffff_ffff_ffffn) {
          return { ok: false, error: `not a session id: "${tok}"` };
        }
        session = id;
        said.push(`session 0x${id.toString(16)}`);
        break;
      }
      case 'op': {
        const v = OPS_BY_NAME.get(value);
        if (v === undefined) return { ok: false, error: `not an op: "${tok}"` };
        op = v;
        said.push(`op ${value}`);
        break;
      }
      case 'thread':
      case 'tid': {
        const v = parseNumber(value);
        const lane = v !== null && trace ? trace.laneOfTid(v) : undefined;
        if (v === null) return { ok: false, error: `no thread "${tok}"` };
        addTid(v, lane ? lane.name : String(v));
        break;
      }
      case 'error':
      case 'err': {
        const v = parseNumber(value) ?? winErrorCode(value) ?? null;
        if (v === null) return { ok: false, error: `not an error code or name: "${tok}"` };
        error = v;
        const name = winErrorName(v);
        said.push(`error ${v}${name ? ` ${name}` : ''}`);
        break;
      }
      case 'kind': {
        const v = KINDS_BY_NAME.get(KIND_ALIASES.get(value) ?? value);
        if (v === undefined) return { ok: false, error: `not an event kind: "${tok}"` };
        kind = v;
        said.push(`kind ${EVENT_KIND_NAMES[v as EventKind]}`);
        break;
      }
      default:
        return {
          ok: false,
          error: `unknown field "${field}:" (io, session, op, thread, error, kind)`,
        };
    }
  }
  if (said.length === 0) return { ok: false, error: 'empty query' };
  const s = session as bigint | null;
  return {
    ok: true,
    query: {
      ioId,
      sessLo: s === null ? 0 : Number(s & 0xffffffffn),
      sessHi: s === null ? 0 : Number((s >> 32n) & 0xffffffffn),
      hasSession: s !== null,
      op,
      tids,
      error,
      kind,
      description: said.join(' · '),
    },
  };
}

/** A word that is a term of its own (a kind, an op or an error name). */
function isTermWord(w: string): boolean {
  return (
    KINDS_BY_NAME.has(w) ||
    KIND_ALIASES.has(w) ||
    OPS_BY_NAME.has(w) ||
    winErrorCode(w) !== undefined
  );
}

function parseNumber(v: string): number | null {
  if (/^\d+$/.test(v)) return Number(v);
  if (/^0x[0-9a-f]+$/.test(v)) return parseInt(v.slice(2), 16);
  return null;
}

const K_RETURN: number = EventKind.GqcsReturn;
const K_POSTED: number = EventKind.IoPosted;
const K_QUEUED: number = EventKind.PacketQueued;
const K_DISCONNECT: number = EventKind.Disconnect;
const PENDING: number = WinError.IoPending;

/** The error code event i failed with, or -1 (a failed dequeue, post or packet; a disconnect's error). */
function errorOf(w: Uint32Array, o: number, kind: number): number {
  const y = w[o + 6]!;
  switch (kind) {
    case K_RETURN:
      return (w[o]! >>> 8) & 0x10 ? -1 : y;
    case K_POSTED:
      return y === 0 || y === PENDING ? -1 : y;
    case K_QUEUED:
    case K_DISCONNECT:
      return y === 0 ? -1 : y;
    default:
      return -1;
  }
}

/** Whether event i matches q. */
export function matchesAt(q: CompiledSearch, w: Uint32Array, i: number): boolean {
  const o = i * RECORD_WORDS;
  const w0 = w[o]!;
  const kind = w0 & 0xff;
  if (q.kind >= 0 && kind !== q.kind) return false;
  if (q.tids !== null && !q.tids.has(w0 >>> 16)) return false;
  if (q.ioId >= 0) {
    if (IO_KINDS[kind] !== 1 || w[o + 7] !== q.ioId) return false;
    // A GQCS return without an overlapped has no io id.
    if (kind === K_RETURN && ((w0 >>> 8) & 0x20) === 0) return false;
  }
  if (q.hasSession) {
    if (SESSION_KINDS[kind] !== 1 || w[o + 4] !== q.sessLo || w[o + 5] !== q.sessHi) return false;
  }
  if (q.op >= 0 && (OP_KINDS[kind] !== 1 || ((w0 >>> 8) & 0x0f) !== q.op)) return false;
  if (q.error >= 0 && errorOf(w, o, kind) !== q.error) return false;
  return true;
}

/** The matches of one query over one trace, kept current as the trace grows. */
export class SearchIndex {
  readonly query: CompiledSearch;
  private readonly list = new U32Column();
  private trace: WebTrace | null = null;
  private scannedTo = 0;

  constructor(query: CompiledSearch) {
    this.query = query;
  }

  /** Scan what `trace` holds beyond the last update (all of it for a new trace). */
  update(trace: WebTrace): void {
    if (trace !== this.trace) {
      this.trace = trace;
      this.list.length = 0;
      this.scannedTo = 0;
    }
    const w = trace.words;
    const q = this.query;
    for (let i = this.scannedTo; i < trace.count; i++) if (matchesAt(q, w, i)) this.list.push(i);
    this.scannedTo = trace.count;
  }

  /** The matching event indices, ascending (a view: valid until the next update). */
  matches(): Uint32Array {
    return this.list.view();
  }

  get count(): number {
    return this.list.length;
  }
}
