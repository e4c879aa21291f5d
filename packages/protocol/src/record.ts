// One event = 8 little-endian u32 words (see events.ts for the layout).
// Word view:  w0 = kind | a<<8 | tid<<16,  w1 = x,  w2/w3 = tsNs lo/hi,
//             w4/w5 = session lo/hi,  w6 = y,  w7 = z.
// Hot paths read and write the words directly through these accessors; the
// object form (encodeEvent/decodeEvent) is for tests, exporters and reports.
//
// Uint32Array uses the platform's byte order. Every platform iocpscope runs on
// (x64, arm64, browsers) is little-endian; isLittleEndian() guards the codec.

import {
  EVENT_KIND_MAX_BY_VERSION,
  EventKind,
  PROTOCOL_VERSION,
  RECORD_WORDS,
  type TraceEvent,
  type Op,
} from './events.ts';

const TWO_32 = 4294967296;
/** The tsNs bits of w3 (v2: the 11 bits above them are the call-site id). */
export const TS_HI_MASK = 0x1fffff;
/** Shift of the call-site id within w3. */
export const SITE_SHIFT = 21;

export function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

// ---- readers -------------------------------------------------------------
export const kindAt = (w: Uint32Array, i: number): number => w[i * RECORD_WORDS]! & 0xff;
export const aAt = (w: Uint32Array, i: number): number => (w[i * RECORD_WORDS]! >>> 8) & 0xff;
export const tidAt = (w: Uint32Array, i: number): number => w[i * RECORD_WORDS]! >>> 16;
export const xAt = (w: Uint32Array, i: number): number => w[i * RECORD_WORDS + 1]!;
export const tsAt = (w: Uint32Array, i: number): number =>
  w[i * RECORD_WORDS + 2]! + (w[i * RECORD_WORDS + 3]! & TS_HI_MASK) * TWO_32;
/** Call-site id of record i (v2; 0 = none). */
export const siteAt = (w: Uint32Array, i: number): number =>
  w[i * RECORD_WORDS + 3]! >>> SITE_SHIFT;
/** tsNs from the two time words at word offset o (masks the site bits). */
export const tsOfWords = (w: Uint32Array, o: number): number =>
  w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
/** Set the call-site id of record i (0..SITE_MAX), keeping its timestamp. */
export function setSiteAt(w: Uint32Array, i: number, site: number): void {
  const o = i * RECORD_WORDS + 3;
  w[o] = ((w[o]! & TS_HI_MASK) | ((site & 0x7ff) << SITE_SHIFT)) >>> 0;
}
export const sessLoAt = (w: Uint32Array, i: number): number => w[i * RECORD_WORDS + 4]!;
export const sessHiAt = (w: Uint32Array, i: number): number => w[i * RECORD_WORDS + 5]!;
export const yAt = (w: Uint32Array, i: number): number => w[i * RECORD_WORDS + 6]!;
export const zAt = (w: Uint32Array, i: number): number => w[i * RECORD_WORDS + 7]!;
/** The 64-bit session/key, exact. */
export const sessionAt = (w: Uint32Array, i: number): bigint =>
  (BigInt(w[i * RECORD_WORDS + 5]!) << 32n) | BigInt(w[i * RECORD_WORDS + 4]!);
/** Op of GqcsReturn, PacketQueued, Pqcs and IoPosted (low nibble of a). */
export const opAt = (w: Uint32Array, i: number): Op => (aAt(w, i) & 0x0f) as Op;

// ---- writer --------------------------------------------------------------
/**
 * Write one record at index i. `tsNs` must be an integer in [0, 2^53).
 * sessLo/sessHi are the two halves of the 64-bit session (or key).
 */
export function writeRecord(
  w: Uint32Array,
  i: number,
  kind: number,
  a: number,
  tid: number,
  x: number,
  tsNs: number,
  sessLo: number,
  sessHi: number,
  y: number,
  z: number,
): void {
  const o = i * RECORD_WORDS;
  w[o] = (kind & 0xff) | ((a & 0xff) << 8) | ((tid & 0xffff) << 16);
  w[o + 1] = x;
  w[o + 2] = tsNs % TWO_32;
  w[o + 3] = Math.floor(tsNs / TWO_32);
  w[o + 4] = sessLo;
  w[o + 5] = sessHi;
  w[o + 6] = y;
  w[o + 7] = z;
}

const lo = (v: bigint): number => Number(v & 0xffffffffn);
const hi = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);
const b = (v: boolean): number => (v ? 1 : 0);

/** Encode the object form into record i of `w`. */
export function encodeEvent(w: Uint32Array, i: number, e: TraceEvent): void {
  encodeFields(w, i, e);
  if (e.site !== undefined && e.site !== 0) setSiteAt(w, i, e.site);
}

function encodeFields(w: Uint32Array, i: number, e: TraceEvent): void {
  const t = e.tsNs;
  const d = e.tid;
  switch (e.kind) {
    case EventKind.ThreadStart:
      return writeRecord(w, i, e.kind, e.role, d, e.nameStr, t, 0, 0, e.osThreadId, 0);
    case EventKind.ThreadExit:
      return writeRecord(w, i, e.kind, 0, d, e.exitCode, t, 0, 0, 0, 0);
    case EventKind.ThreadState:
      return writeRecord(w, i, e.kind, e.state, d, e.reason, t, 0, 0, e.detail, 0);
    case EventKind.PortCreated:
      return writeRecord(w, i, e.kind, e.backend, d, e.concurrency, t, 0, 0, e.workerCount, 0);
    case EventKind.GqcsEnter:
      return writeRecord(w, i, e.kind, 0, d, e.timeoutMs, t, 0, 0, e.maxEntries, 0);
    case EventKind.GqcsReturn:
      return writeRecord(
        w,
        i,
        e.kind,
        e.op | (b(e.ok) << 4) | (b(e.hasOverlapped) << 5),
        d,
        e.bytes,
        t,
        lo(e.key),
        hi(e.key),
        e.error,
        e.ioId,
      );
    case EventKind.PacketQueued:
      return writeRecord(w, i, e.kind, e.op, d, e.bytes, t, lo(e.key), hi(e.key), e.status, e.ioId);
    case EventKind.Pqcs:
      return writeRecord(
        w,
        i,
        e.kind,
        e.op | (b(e.hasOverlapped) << 5),
        d,
        e.bytes,
        t,
        lo(e.key),
        hi(e.key),
        0,
        e.ioId,
      );
    case EventKind.IoPosted:
      return writeRecord(
        w,
        i,
        e.kind,
        e.op | (e.bufCount << 4),
        d,
        e.requestedBytes,
        t,
        lo(e.session),
        hi(e.session),
        e.result,
        e.ioId,
      );
    case EventKind.IoCount:
      return writeRecord(
        w,
        i,
        e.kind,
        e.cause,
        d,
        e.value >>> 0,
        t,
        lo(e.session),
        hi(e.session),
        e.delta >>> 0,
        e.ioId,
      );
    case EventKind.SessionCreated:
      return writeRecord(
        w,
        i,
        e.kind,
        0,
        d,
        e.peerStr,
        t,
        lo(e.session),
        hi(e.session),
        e.socket,
        e.slot,
      );
    case EventKind.SessionReleased:
      return writeRecord(
        w,
        i,
        e.kind,
        0,
        d,
        e.ioCount >>> 0,
        t,
        lo(e.session),
        hi(e.session),
        0,
        0,
      );
    case EventKind.Accept:
      return writeRecord(
        w,
        i,
        e.kind,
        0,
        d,
        e.peerStr,
        t,
        lo(e.session),
        hi(e.session),
        e.socket,
        0,
      );
    case EventKind.Disconnect:
      return writeRecord(w, i, e.kind, e.reason, d, 0, t, lo(e.session), hi(e.session), e.error, 0);
    case EventKind.SocketClosed:
      return writeRecord(w, i, e.kind, 0, d, 0, t, lo(e.session), hi(e.session), e.socket, 0);
    case EventKind.LockWait:
    case EventKind.LockAcquire:
    case EventKind.LockRelease:
      return writeRecord(
        w,
        i,
        e.kind,
        e.mode ?? 0,
        d,
        e.lockId,
        t,
        lo(e.session),
        hi(e.session),
        e.nameStr,
        0,
      );
    case EventKind.Marker:
      return writeRecord(w, i, e.kind, 0, d, e.labelStr, t, lo(e.session), hi(e.session), 0, 0);
    case EventKind.Gap:
      return writeRecord(
        w,
        i,
        e.kind,
        e.source,
        d,
        e.lost % TWO_32,
        t,
        0,
        0,
        Math.floor(e.lost / TWO_32),
        0,
      );
    // ---- v2 ----
    case EventKind.IoDetail:
      return writeRecord(
        w,
        i,
        e.kind,
        e.op | (e.skipOnSuccess ? 0x10 : 0),
        d,
        lo(e.overlapped),
        t,
        lo(e.session),
        hi(e.session),
        hi(e.overlapped),
        e.ioId,
      );
    case EventKind.IoRing:
      return writeRecord(w, i, e.kind, e.op, d, e.off0, t, e.off1, e.avail, e.len0, e.ioId);
    case EventKind.SessionRings:
      return writeRecord(
        w,
        i,
        e.kind,
        0,
        d,
        e.recvCap,
        t,
        lo(e.session),
        hi(e.session),
        e.sendCap,
        0,
      );
    case EventKind.Snapshot:
      return writeRecord(w, i, e.kind, e.phase, d, e.reason, t, 0, 0, e.count, 0);
    case EventKind.TraceEnd:
      return writeRecord(
        w,
        i,
        e.kind,
        e.reason,
        d,
        e.records % TWO_32,
        t,
        0,
        0,
        Math.floor(e.records / TWO_32),
        0,
      );
    case EventKind.CallSite:
      return writeRecord(w, i, e.kind, 0, d, e.fileStr, t, e.siteId, 0, e.line, e.funcStr);
    case EventKind.JobPush:
      return writeRecord(
        w,
        i,
        e.kind,
        e.jobKind,
        d,
        e.queueId,
        t,
        lo(e.session),
        hi(e.session),
        e.length,
        e.jobId,
      );
    case EventKind.JobFlush:
      return writeRecord(w, i, e.kind, e.phase, d, e.queueId, t, 0, 0, e.jobs, e.flushId);
    case EventKind.TimerJob:
      return writeRecord(w, i, e.kind, e.phase, d, e.queueId, t, 0, 0, e.delayMs, e.timerId);
    case EventKind.SendBuffer:
      return writeRecord(
        w,
        i,
        e.kind,
        e.op,
        d,
        e.bufferId,
        t,
        lo(e.session),
        hi(e.session),
        e.refCount,
        e.ioId,
      );
    case EventKind.Broadcast:
      return writeRecord(w, i, e.kind, 0, d, e.queueId, t, 0, 0, e.recipients, e.bufferId);
    case EventKind.HandleAssociated:
      return writeRecord(
        w,
        i,
        e.kind,
        0,
        d,
        lo(e.handle),
        t,
        lo(e.key),
        hi(e.key),
        hi(e.handle),
        e.portId,
      );
    case EventKind.CompletionModes:
      return writeRecord(
        w,
        i,
        e.kind,
        e.ok ? 1 : 0,
        d,
        e.handle,
        t,
        lo(e.session),
        hi(e.session),
        e.flags,
        0,
      );
  }
}

/**
 * Decode record i into the object form. Returns undefined for an unknown kind
 * (callers that validate input report it with a coded error).
 */
export function decodeEvent(w: Uint32Array, i: number): TraceEvent | undefined {
  const e = decodeFields(w, i);
  const site = siteAt(w, i);
  if (e !== undefined && site !== 0) e.site = site;
  return e;
}

function decodeFields(w: Uint32Array, i: number): TraceEvent | undefined {
  const kind = kindAt(w, i);
  const a = aAt(w, i);
  const tid = tidAt(w, i);
  const tsNs = tsAt(w, i);
  const x = xAt(w, i);
  const y = yAt(w, i);
  const z = zAt(w, i);
  const s = (): bigint => sessionAt(w, i);
  switch (kind) {
    case EventKind.ThreadStart:
      return { kind, tsNs, tid, role: a as never, nameStr: x, osThreadId: y };
    case EventKind.ThreadExit:
      return { kind, tsNs, tid, exitCode: x };
    case EventKind.ThreadState:
      return { kind, tsNs, tid, state: a as never, reason: x as never, detail: y };
    case EventKind.PortCreated:
      return { kind, tsNs, tid, backend: a as never, concurrency: x, workerCount: y };
    case EventKind.GqcsEnter:
      return { kind, tsNs, tid, timeoutMs: x, maxEntries: y };
    case EventKind.GqcsReturn:
      return {
        kind,
        tsNs,
        tid,
        op: (a & 0x0f) as Op,
        ok: (a & 0x10) !== 0,
        hasOverlapped: (a & 0x20) !== 0,
        bytes: x,
        key: s(),
        error: y,
        ioId: z,
      };
    case EventKind.PacketQueued:
      return { kind, tsNs, tid, op: (a & 0x0f) as Op, bytes: x, key: s(), status: y, ioId: z };
    case EventKind.Pqcs:
      return {
        kind,
        tsNs,
        tid,
        op: (a & 0x0f) as Op,
        hasOverlapped: (a & 0x20) !== 0,
        bytes: x,
        key: s(),
        ioId: z,
      };
    case EventKind.IoPosted:
      return {
        kind,
        tsNs,
        tid,
        op: (a & 0x0f) as Op,
        bufCount: a >>> 4,
        requestedBytes: x,
        session: s(),
        result: y,
        ioId: z,
      };
    case EventKind.IoCount:
      return {
        kind,
        tsNs,
        tid,
        cause: a as never,
        session: s(),
        value: x | 0,
        delta: y | 0,
        ioId: z,
      };
    case EventKind.SessionCreated:
      return { kind, tsNs, tid, session: s(), peerStr: x, socket: y, slot: z };
    case EventKind.SessionReleased:
      return { kind, tsNs, tid, session: s(), ioCount: x | 0 };
    case EventKind.Accept:
      return { kind, tsNs, tid, session: s(), peerStr: x, socket: y };
    case EventKind.Disconnect:
      return { kind, tsNs, tid, session: s(), reason: a as never, error: y };
    case EventKind.SocketClosed:
      return { kind, tsNs, tid, session: s(), socket: y };
    case EventKind.LockWait:
    case EventKind.LockAcquire:
    case EventKind.LockRelease:
      return a === 0
        ? { kind, tsNs, tid, lockId: x, nameStr: y, session: s() }
        : { kind, tsNs, tid, lockId: x, nameStr: y, session: s(), mode: a as never };
    case EventKind.Marker:
      return { kind, tsNs, tid, labelStr: x, session: s() };
    case EventKind.Gap:
      return { kind, tsNs, tid, source: a as never, lost: x + y * TWO_32 };
    case EventKind.IoDetail:
      return {
        kind,
        tsNs,
        tid,
        op: (a & 0x0f) as Op,
        skipOnSuccess: (a & 0x10) !== 0,
        session: s(),
        overlapped: (BigInt(y) << 32n) | BigInt(x),
        ioId: z,
      };
    case EventKind.IoRing:
      return {
        kind,
        tsNs,
        tid,
        op: (a & 0x0f) as Op,
        off0: x,
        len0: y,
        off1: sessLoAt(w, i),
        avail: sessHiAt(w, i),
        ioId: z,
      };
    case EventKind.SessionRings:
      return { kind, tsNs, tid, session: s(), recvCap: x, sendCap: y };
    case EventKind.Snapshot:
      return { kind, tsNs, tid, phase: a as never, reason: x as never, count: y };
    case EventKind.TraceEnd:
      return { kind, tsNs, tid, reason: a as never, records: x + y * TWO_32 };
    case EventKind.CallSite:
      return { kind, tsNs, tid, siteId: sessLoAt(w, i), fileStr: x, line: y, funcStr: z };
    case EventKind.JobPush:
      return {
        kind,
        tsNs,
        tid,
        jobKind: a as never,
        queueId: x,
        session: s(),
        length: y,
        jobId: z,
      };
    case EventKind.JobFlush:
      return { kind, tsNs, tid, phase: a as never, queueId: x, jobs: y, flushId: z };
    case EventKind.TimerJob:
      return { kind, tsNs, tid, phase: a as never, queueId: x, delayMs: y, timerId: z };
    case EventKind.SendBuffer:
      return {
        kind,
        tsNs,
        tid,
        op: a as never,
        bufferId: x,
        session: s(),
        refCount: y,
        ioId: z,
      };
    case EventKind.Broadcast:
      return { kind, tsNs, tid, queueId: x, recipients: y, bufferId: z };
    case EventKind.HandleAssociated:
      return {
        kind,
        tsNs,
        tid,
        key: s(),
        handle: (BigInt(y) << 32n) | BigInt(x),
        portId: z,
      };
    case EventKind.CompletionModes:
      return { kind, tsNs, tid, session: s(), handle: x, flags: y, ok: a !== 0 };
    default:
      return undefined;
  }
}

// ---- validation ------------------------------------------------------------
/** Largest valid high word of tsNs: timestamps stay below 2^53 so they are exact numbers. */
export const TS_HI_MAX = 0x1fffff;

/**
 * Index of the first invalid record in records [from, to) of `w`, or -1.
 * A record is valid when its kind is 1..the version's largest kind; in v1,
 * tsNs must also be < 2^53 (in v2 the bits above are the call-site id, so
 * every timestamp is below 2^53 by construction). Only these are checked:
 * per-kind fields are opaque to the codec.
 */
export function findInvalidRecord(
  w: Uint32Array,
  from: number,
  to: number,
  version: number = PROTOCOL_VERSION,
): number {
  const end = to * RECORD_WORDS;
  const max = EVENT_KIND_MAX_BY_VERSION[version]!;
  const hiMax = version === 1 ? TS_HI_MAX : 0xffffffff;
  for (let o = from * RECORD_WORDS; o < end; o += RECORD_WORDS) {
    const k = w[o]! & 0xff;
    if (k === 0 || k > max || w[o + 3]! > hiMax) return o / RECORD_WORDS;
  }
  return -1;
}

/** Why record i is invalid, for error messages. */
export function describeInvalidRecord(
  w: Uint32Array,
  i: number,
  version: number = PROTOCOL_VERSION,
): string {
  const k = kindAt(w, i);
  return k === 0 || k > EVENT_KIND_MAX_BY_VERSION[version]!
    ? `record ${i}: unknown event kind ${k} for protocol version ${version}`
    : `record ${i}: timestamp above 2^53 ns`;
}
