// The .iocptrace file header's metadata (FORMAT.md §6.1): its type and a
// hand-written validator. No schema library: every command that reads a
// file (check, export, open, the web app) loads this, and reading a small
// file must start in a few milliseconds.
//
// Like the schema it replaced: unknown keys are dropped (top level and
// nested), optional keys may be absent, and the first problem is reported by
// its key path. String limits count Unicode code points.

export const BACKEND_NAMES = ['emulated', 'native', 'external'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface TraceFileHeader {
  /** Timestamps are nanoseconds since trace start on one monotonic clock. */
  clock: 'monotonic-ns';
  host: string;
  backend: BackendName;
  /** Wider ranges than the control messages: a reader accepts any real server's port. */
  portConfig: { workers: number; concurrency: number };
  /** Wall-clock time of tsNs = 0, Unix milliseconds. */
  startWallMs: number;
  name?: string;
  serverVersion?: string;
  // ---- v2 ----
  /** The traced process. */
  process?: { pid: number; name: string };
  /** The clock the writer read before converting to ns. */
  clockSource?: string;
  ticksPerSecond?: number;
  /** Who wrote the trace: 'reference', 'header' (iocpscope.h), 'hook' (the hook DLL). */
  tracer?: string;
  /** 'derived' when IoCount records are outstanding I/O per socket, not the server's own count. */
  ioCount?: 'application' | 'derived';
  /** Which server: 'echo', 'chat', or a foreign server's own name. */
  app?: string;
}

export type HeaderCheck = { ok: true; value: TraceFileHeader } | { ok: false; message: string };

class Bad extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Unicode code points, as FORMAT.md counts string limits. */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function str(o: Record<string, unknown>, key: string, max: number, path = key): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Bad(`${path}: expected a string`);
  if (v.length > max && codePoints(v) > max) {
    throw new Bad(`${path}: longer than ${max} characters`);
  }
  return v;
}

function int(
  o: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
  path = key,
): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Bad(`${path}: expected an integer`);
  if (v < min || v > max) throw new Bad(`${path}: must be in ${min}..${max}, got ${v}`);
  return v;
}

function optStr(
  o: Record<string, unknown>,
  out: Record<string, unknown>,
  key: string,
  max: number,
): void {
  if (o[key] !== undefined) out[key] = str(o, key, max);
}

function check(json: unknown): TraceFileHeader {
  if (!isObject(json)) throw new Bad('metadata: expected a JSON object');
  if (json['clock'] !== 'monotonic-ns') throw new Bad('clock: expected "monotonic-ns"');
  const host = str(json, 'host', 256);
  const backend = json['backend'];
  if (typeof backend !== 'string' || !(BACKEND_NAMES as readonly string[]).includes(backend)) {
    throw new Bad(`backend: expected one of ${BACKEND_NAMES.join(', ')}`);
  }
  const pc = json['portConfig'];
  if (!isObject(pc)) throw new Bad('portConfig: expected an object');
  const portConfig = {
    workers: int(pc, 'workers', 0, 65_535, 'portConfig.workers'),
    concurrency: int(pc, 'concurrency', 0, 65_535, 'portConfig.concurrency'),
  };
  const startWallMs = int(json, 'startWallMs', 0, Number.MAX_SAFE_INTEGER);
  const out: Record<string, unknown> = {
    clock: 'monotonic-ns',
    host,
    backend,
    portConfig,
    startWallMs,
  };
  optStr(json, out, 'name', 256);
  optStr(json, out, 'serverVersion', 64);
  const p = json['process'];
  if (p !== undefined) {
    if (!isObject(p)) throw new Bad('process: expected an object');
    out['process'] = {
      pid: int(p, 'pid', 0, 0xffffffff, 'process.pid'),
      name: str(p, 'name', 256, 'process.name'),
    };
  }
  optStr(json, out, 'clockSource', 32);
  const tps = json['ticksPerSecond'];
  if (tps !== undefined) {
    if (typeof tps !== 'number' || !Number.isFinite(tps) || tps <= 0) {
      throw new Bad('ticksPerSecond: expected a positive number');
    }
    out['ticksPerSecond'] = tps;
  }
  optStr(json, out, 'tracer', 32);
  const io = json['ioCount'];
  if (io !== undefined) {
    if (io !== 'application' && io !== 'derived') {
      throw new Bad('ioCount: expected "application" or "derived"');
    }
    out['ioCount'] = io;
  }
  optStr(json, out, 'app', 32);
  return out as unknown as TraceFileHeader;
}

/** Validate parsed header metadata; unknown keys are dropped. */
export function checkFileHeader(json: unknown): HeaderCheck {
  try {
    return { ok: true, value: check(json) };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, message: e.message };
    throw e;
  }
}
