// The trace index on disk, kept beside the trace (FILE.iocptrace.idx) so the
// next open of a large trace is instant. One file:
//
//   8 bytes  magic "\x89IOCPIDX"
//   u32      version (1)
//   u32      metaBytes M, then M bytes of UTF-8 JSON (IndexMeta), zero padding to 8
//   ...      the arrays IndexMeta.arrays lists, each at its offset (8-aligned)
//   u32      CRC-32 of every byte before it
//
// An index belongs to one state of its trace: the trace's size, mtime and the
// CRC of its first and last 64 KiB are in the meta; an index that does not
// match (the trace changed, a recording grew) is rebuilt, never trusted. A
// damaged index (bad magic, CRC, shape) is an IndexFileError and is rebuilt.

import { open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { processAlive } from './alive.ts';
import { crc32, StringTable, type TraceFileHeader } from '@iocpscope/protocol';
import { fastCrc32 } from './crc.ts';
import type { ChunkTable, LaneInfo, TraceIndex } from './builder.ts';
import { SessionList } from './session-list.ts';
import type { SummaryLevel } from './summary.ts';

export const INDEX_EXTENSION = '.idx';
const MAGIC = Uint8Array.of(0x89, 0x49, 0x4f, 0x43, 0x50, 0x49, 0x44, 0x58);
const VERSION = 1;
const EDGE = 64 * 1024;

export class IndexFileError extends Error {
  readonly code = 'BAD_INDEX';
}

/** What identifies the state of a trace file an index was built from. */
export interface SourceStamp {
  size: number;
  mtimeMs: number;
  headCrc: number;
  tailCrc: number;
}

/** What scanning the trace found besides the index. */
export interface ScanFacts {
  header: TraceFileHeader | undefined;
  version: number;
  validBytes: number;
  totalBytes: number;
  error?: { code: string; message: string; offset?: number };
}

type ArrayType = 'u8' | 'u32' | 'i32' | 'f64';
interface ArrayEntry {
  name: string;
  type: ArrayType;
  offset: number;
  length: number;
}

interface IndexMeta {
  source: SourceStamp;
  facts: ScanFacts;
  events: number;
  startNs: number;
  endNs: number;
  chunks: number;
  lanes: LaneInfo[];
  levels: Array<{ shift: number; origin: number; count: number }>;
  sessions: number;
  traceEnd: number;
  clamped: number;
  arrays: ArrayEntry[];
}

export async function stampOf(path: string): Promise<SourceStamp> {
  const st = await stat(path);
  const fh = await open(path, 'r');
  try {
    const head = new Uint8Array(Math.min(EDGE, st.size));
    await fh.read(head, 0, head.length, 0);
    const tail = new Uint8Array(Math.min(EDGE, st.size));
    await fh.read(tail, 0, tail.length, Math.max(0, st.size - tail.length));
    return { size: st.size, mtimeMs: st.mtimeMs, headCrc: crc32(head), tailCrc: crc32(tail) };
  } finally {
    await fh.close();
  }
}

export const sameStamp = (a: SourceStamp, b: SourceStamp): boolean =>
  a.size === b.size &&
  a.mtimeMs === b.mtimeMs &&
  a.headCrc === b.headCrc &&
  a.tailCrc === b.tailCrc;

const BYTES: Record<ArrayType, number> = { u8: 1, u32: 4, i32: 4, f64: 8 };

/** Serialize an index with the facts and strings of its trace. */
export function encodeIndex(
  idx: TraceIndex,
  strings: StringTable,
  source: SourceStamp,
  facts: ScanFacts,
): Uint8Array {
  const arrays: Array<[string, ArrayType, ArrayBufferView & { length: number }]> = [];
  const add = (name: string, type: ArrayType, a: ArrayBufferView & { length: number }): void => {
    arrays.push([name, type, a]);
  };
  const c = idx.chunks;
  add('chunks.offset', 'f64', c.offset);
  add('chunks.bytes', 'f64', c.bytes);
  add('chunks.firstEvent', 'f64', c.firstEvent);
  add('chunks.events', 'u32', c.events);
  add('chunks.firstNs', 'f64', c.firstNs);
  add('chunks.lastNs', 'f64', c.lastNs);
  add('chunks.kindsLo', 'u32', c.kindsLo);
  add('chunks.kindsHi', 'u32', c.kindsHi);
  add('chunks.lanes', 'u32', c.lanes);
  idx.levels.forEach((l, k) => {
    l.lanes.forEach((ln, j) => {
      add(`level${k}.lane${j}.frac`, 'u8', ln.frac);
      add(`level${k}.lane${j}.flags`, 'u8', ln.flags);
    });
    add(`level${k}.queueMin`, 'i32', l.queueMin);
    add(`level${k}.queueMax`, 'i32', l.queueMax);
    add(`level${k}.runMin`, 'i32', l.runMin);
    add(`level${k}.runMax`, 'i32', l.runMax);
  });
  const n = idx.sessions.length;
  const ss = idx.sessions;
  add('sessions.lo', 'u32', ss.lo);
  add('sessions.hi', 'u32', ss.hi);
  add('sessions.nums', 'f64', ss.nums);
  add('sessions.peer', 'u32', ss.peer);
  add('sessions.events', 'u32', ss.events);
  add('sessions.runsAt', 'u32', ss.runsAt);
  add('sessions.runs', 'u32', ss.runs);
  add('gaps.events', 'f64', idx.gaps.events);
  add('gaps.ns', 'f64', idx.gaps.ns);
  add('gaps.lost', 'f64', idx.gaps.lost);
  add('markers.events', 'f64', idx.markers.events);
  add('markers.ns', 'f64', idx.markers.ns);
  add('snapshots.events', 'f64', idx.snapshots.events);
  const entries = [...strings.entries()];
  const enc = new TextEncoder();
  const sIds = new Uint32Array(entries.length);
  const sAt = new Uint32Array(entries.length + 1);
  const parts: Uint8Array[] = [];
  let bytes = 0;
  entries.forEach(([id, v], k) => {
    sIds[k] = id;
    sAt[k] = bytes;
    const b = enc.encode(v);
    parts.push(b);
    bytes += b.length;
  });
  sAt[entries.length] = bytes;
  const sBytes = new Uint8Array(bytes);
  let o = 0;
  for (const p of parts) {
    sBytes.set(p, o);
    o += p.length;
  }
  add('strings.ids', 'u32', sIds);
  add('strings.at', 'u32', sAt);
  add('strings.bytes', 'u8', sBytes);

  const list: ArrayEntry[] = [];
  let at = 0;
  for (const [name, type, a] of arrays) {
    list.push({ name, type, offset: at, length: a.length });
    at += Math.ceil((a.length * BYTES[type]) / 8) * 8;
  }
  const meta: IndexMeta = {
    source,
    facts,
    events: idx.events,
    startNs: idx.startNs,
    endNs: idx.endNs,
    chunks: c.count,
    lanes: idx.lanes,
    levels: idx.levels.map((l) => ({ shift: l.shift, origin: l.origin, count: l.count })),
    sessions: n,
    traceEnd: idx.traceEnd,
    clamped: idx.clamped,
    arrays: list,
  };
  const metaBytes = enc.encode(JSON.stringify(meta));
  const head = 16 + Math.ceil(metaBytes.length / 8) * 8;
  const out = new Uint8Array(head + at + 4);
  out.set(MAGIC, 0);
  const v = new DataView(out.buffer);
  v.setUint32(8, VERSION, true);
  v.setUint32(12, metaBytes.length, true);
  out.set(metaBytes, 16);
  for (let k = 0; k < arrays.length; k++) {
    const a = arrays[k]![2];
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), head + list[k]!.offset);
  }
  v.setUint32(head + at, fastCrc32(out, 0, head + at), true);
  return out;
}

export interface DecodedIndex {
  index: TraceIndex;
  strings: StringTable;
  source: SourceStamp;
  facts: ScanFacts;
}

export function decodeIndex(bytes: Uint8Array): DecodedIndex {
  const bad = (why: string): never => {
    throw new IndexFileError(`not a usable trace index: ${why}`);
  };
  if (bytes.length < 20) bad('too short');
  for (let i = 0; i < 8; i++) if (bytes[i] !== MAGIC[i]) bad('bad magic');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(8, true) !== VERSION) bad(`version ${v.getUint32(8, true)}`);
  const end = bytes.length - 4;
  if (v.getUint32(end, true) !== fastCrc32(bytes, 0, end)) bad('CRC mismatch');
  const metaLen = v.getUint32(12, true);
  if (16 + metaLen > end) bad('meta runs past the end');
  let meta: IndexMeta;
  try {
    meta = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + metaLen))) as IndexMeta;
  } catch {
    return bad('meta is not JSON');
  }
  const head = 16 + Math.ceil(metaLen / 8) * 8;
  const areaBytes = end - head;
  // Every array is a view into the array area: in place when it sits 8-aligned
  // (a file read whole, a buffer handed over), else in one 8-aligned copy.
  let area: ArrayBuffer;
  let base: number;
  if ((bytes.byteOffset + head) % 8 === 0 && bytes.buffer instanceof ArrayBuffer) {
    area = bytes.buffer;
    base = bytes.byteOffset + head;
  } else {
    area = new ArrayBuffer(areaBytes);
    new Uint8Array(area).set(bytes.subarray(head, end));
    base = 0;
  }
  const byName = new Map<string, ArrayEntry>();
  for (const e of meta.arrays) byName.set(e.name, e);
  const get = <T>(name: string, type: ArrayType): T => {
    const e = byName.get(name);
    if (e === undefined || e.type !== type) return bad(`array ${name} missing`);
    if (e.offset % 8 !== 0 || e.offset + e.length * BYTES[type] > areaBytes)
      bad(`array ${name} runs past the end`);
    const at = base + e.offset;
    switch (type) {
      case 'u8':
        return new Uint8Array(area, at, e.length) as T;
      case 'u32':
        return new Uint32Array(area, at, e.length) as T;
      case 'i32':
        return new Int32Array(area, at, e.length) as T;
      default:
        return new Float64Array(area, at, e.length) as T;
    }
  };
  const chunks: ChunkTable = {
    count: meta.chunks,
    offset: get('chunks.offset', 'f64'),
    bytes: get('chunks.bytes', 'f64'),
    firstEvent: get('chunks.firstEvent', 'f64'),
    events: get('chunks.events', 'u32'),
    firstNs: get('chunks.firstNs', 'f64'),
    lastNs: get('chunks.lastNs', 'f64'),
    kindsLo: get('chunks.kindsLo', 'u32'),
    kindsHi: get('chunks.kindsHi', 'u32'),
    lanes: get('chunks.lanes', 'u32'),
  };
  const levels: SummaryLevel[] = meta.levels.map((l, k) => ({
    shift: l.shift,
    origin: l.origin ?? 0,
    count: l.count,
    lanes: meta.lanes.map((_, j) => ({
      frac: get<Uint8Array>(`level${k}.lane${j}.frac`, 'u8'),
      flags: get<Uint8Array>(`level${k}.lane${j}.flags`, 'u8'),
    })),
    queueMin: get(`level${k}.queueMin`, 'i32'),
    queueMax: get(`level${k}.queueMax`, 'i32'),
    runMin: get(`level${k}.runMin`, 'i32'),
    runMax: get(`level${k}.runMax`, 'i32'),
  }));
  const lo = get<Uint32Array>('sessions.lo', 'u32');
  const hi = get<Uint32Array>('sessions.hi', 'u32');
  const nums = get<Float64Array>('sessions.nums', 'f64');
  const peer = get<Uint32Array>('sessions.peer', 'u32');
  const sev = get<Uint32Array>('sessions.events', 'u32');
  const runsAt = get<Uint32Array>('sessions.runsAt', 'u32');
  const runs = get<Uint32Array>('sessions.runs', 'u32');
  if (lo.length !== meta.sessions)
    bad(`sessions: ${lo.length} rows, the meta says ${meta.sessions}`);
  const sessions = sessionColumns(lo, hi, nums, peer, sev, runsAt, runs, bad);
  const strings = new StringTable();
  const sIds = get<Uint32Array>('strings.ids', 'u32');
  const sAt = get<Uint32Array>('strings.at', 'u32');
  const sBytes = get<Uint8Array>('strings.bytes', 'u8');
  const dec = new TextDecoder();
  for (let k = 0; k < sIds.length; k++) {
    strings.set(sIds[k]!, dec.decode(sBytes.subarray(sAt[k]!, sAt[k + 1]!)));
  }
  return {
    index: {
      events: meta.events,
      startNs: meta.startNs,
      endNs: meta.endNs,
      chunks,
      lanes: meta.lanes,
      levels,
      sessions,
      gaps: {
        events: get('gaps.events', 'f64'),
        ns: get('gaps.ns', 'f64'),
        lost: get('gaps.lost', 'f64'),
      },
      markers: { events: get('markers.events', 'f64'), ns: get('markers.ns', 'f64') },
      snapshots: { events: get('snapshots.events', 'f64') },
      traceEnd: meta.traceEnd,
      clamped: meta.clamped,
    },
    strings,
    source: meta.source,
    facts: meta.facts,
  };
}

/**
 * The temporary file this process writes `path` through (`path.PID.tmp`,
 * renamed into place when whole). The ones a process left behind when it was
 * killed mid-write (their PID no longer runs) are removed first: a trace
 * opened again and again must not collect them beside it.
 */
export async function tempFor(path: string): Promise<string> {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length, -'.tmp'.length));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    await unlink(join(dir, name)).catch(() => undefined);
  }
  return `${path}.${process.pid}.tmp`;
}

/** Write atomically (a temporary file renamed into place). */
export async function writeIndexFile(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = await tempFor(path);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

export async function readIndexFile(path: string): Promise<DecodedIndex> {
  return decodeIndex(new Uint8Array(await readFile(path)));
}

function sessionColumns(
  lo: Uint32Array,
  hi: Uint32Array,
  nums: Float64Array,
  peer: Uint32Array,
  events: Uint32Array,
  runsAt: Uint32Array,
  runs: Uint32Array,
  bad: (why: string) => never,
): SessionList {
  try {
    return new SessionList(lo, hi, nums, peer, events, runsAt, runs);
  } catch (e) {
    return bad((e as Error).message);
  }
}
