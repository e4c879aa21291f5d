// Hand-written events, one or more of every kind, shared by the tests and the
// golden fixtures. Changing a value here changes the fixtures on purpose.

import {
  BlockReason,
  DisconnectReason,
  EVENT_KIND_MAX,
  EventKind,
  GapSource,
  IoCountCause,
  JobKind,
  LockMode,
  Op,
  SITE_MAX,
  SendBufferOp,
  RECORD_WORDS,
  ThreadRole,
  ThreadStateValue,
  WinError,
  encodeEvent,
  type TraceEvent,
} from '../src/index.ts';

/** Above 2^53: not representable as a double. Slot 5, generation 0x00200001. */
export const BIG_SESSION = (0x00200001n << 32n) | 5n;
export const BIG_SESSION_2 = 0xfffffffffffffffen;

export const STRINGS: Array<[number, string]> = [
  [1, 'worker-0'],
  [2, 'accept'],
  [3, '127.0.0.1:50123'],
  [4, 'session-table'],
  [5, 'phase: ünïcödé ✓'],
];

/** Every v1 kind: the events of the frozen v1 fixtures (test/fixtures/v1/). */
export const SAMPLE_EVENTS_V1: TraceEvent[] = [
  { kind: EventKind.PortCreated, tsNs: 0, tid: 0, backend: 0, concurrency: 2, workerCount: 4 },
  {
    kind: EventKind.ThreadStart,
    tsNs: 10,
    tid: 1,
    role: ThreadRole.Worker,
    nameStr: 1,
    osThreadId: 4242,
  },
  {
    kind: EventKind.ThreadStart,
    tsNs: 11,
    tid: 2,
    role: ThreadRole.Accept,
    nameStr: 2,
    osThreadId: 4243,
  },
  { kind: EventKind.GqcsEnter, tsNs: 20, tid: 1, timeoutMs: 0xffffffff, maxEntries: 1 },
  { kind: EventKind.Accept, tsNs: 100, tid: 2, session: BIG_SESSION, peerStr: 3, socket: 812 },
  {
    kind: EventKind.SessionCreated,
    tsNs: 101,
    tid: 2,
    session: BIG_SESSION,
    peerStr: 3,
    socket: 812,
    slot: 5,
  },
  {
    kind: EventKind.IoCount,
    tsNs: 102,
    tid: 2,
    cause: IoCountCause.AcceptHold,
    session: BIG_SESSION,
    value: 1,
    delta: 1,
    ioId: 0,
  },
  {
    kind: EventKind.IoCount,
    tsNs: 103,
    tid: 2,
    cause: IoCountCause.RecvPost,
    session: BIG_SESSION,
    value: 2,
    delta: 1,
    ioId: 7,
  },
  {
    kind: EventKind.IoPosted,
    tsNs: 104,
    tid: 2,
    op: Op.Recv,
    bufCount: 2,
    requestedBytes: 8192,
    session: BIG_SESSION,
    result: WinError.IoPending,
    ioId: 7,
  },
  {
    kind: EventKind.IoCount,
    tsNs: 105,
    tid: 2,
    cause: IoCountCause.AcceptRelease,
    session: BIG_SESSION,
    value: 1,
    delta: -1,
    ioId: 0,
  },
  {
    kind: EventKind.PacketQueued,
    tsNs: 150,
    tid: 0xffff,
    op: Op.Recv,
    bytes: 64,
    key: BIG_SESSION,
    status: 0,
    ioId: 7,
  },
  {
    kind: EventKind.GqcsReturn,
    tsNs: 151,
    tid: 1,
    ok: true,
    hasOverlapped: true,
    op: Op.Recv,
    bytes: 64,
    key: BIG_SESSION,
    error: 0,
    ioId: 7,
  },
  {
    kind: EventKind.ThreadState,
    tsNs: 152,
    tid: 1,
    state: ThreadStateValue.Blocked,
    reason: BlockReason.Lock,
    detail: 9,
  },
  { kind: EventKind.LockWait, tsNs: 153, tid: 1, lockId: 9, nameStr: 4, session: BIG_SESSION },
  { kind: EventKind.LockAcquire, tsNs: 154, tid: 1, lockId: 9, nameStr: 4, session: BIG_SESSION },
  { kind: EventKind.LockRelease, tsNs: 155, tid: 1, lockId: 9, nameStr: 4, session: BIG_SESSION },
  {
    kind: EventKind.IoPosted,
    tsNs: 160,
    tid: 1,
    op: Op.Send,
    bufCount: 1,
    requestedBytes: 64,
    session: BIG_SESSION,
    result: 0,
    ioId: 8,
  },
  {
    kind: EventKind.IoCount,
    tsNs: 161,
    tid: 1,
    cause: IoCountCause.Completion,
    session: BIG_SESSION,
    value: 1,
    delta: -1,
    ioId: 7,
  },
  { kind: EventKind.Marker, tsNs: 170, tid: 1, labelStr: 5, session: BIG_SESSION_2 },
  { kind: EventKind.GqcsEnter, tsNs: 180, tid: 1, timeoutMs: 0xffffffff, maxEntries: 1 },
  {
    kind: EventKind.PacketQueued,
    tsNs: 190,
    tid: 0xffff,
    op: Op.Send,
    bytes: 64,
    key: BIG_SESSION,
    status: 0,
    ioId: 8,
  },
  {
    kind: EventKind.GqcsReturn,
    tsNs: 191,
    tid: 1,
    ok: false,
    hasOverlapped: true,
    op: Op.Send,
    bytes: 0,
    key: BIG_SESSION,
    error: WinError.NetnameDeleted,
    ioId: 8,
  },
  {
    kind: EventKind.Disconnect,
    tsNs: 192,
    tid: 1,
    session: BIG_SESSION,
    reason: DisconnectReason.IoError,
    error: WinError.NetnameDeleted,
  },
  {
    kind: EventKind.IoCount,
    tsNs: 193,
    tid: 1,
    cause: IoCountCause.Completion,
    session: BIG_SESSION,
    value: 0,
    delta: -1,
    ioId: 8,
  },
  { kind: EventKind.SessionReleased, tsNs: 194, tid: 1, session: BIG_SESSION, ioCount: 0 },
  { kind: EventKind.SocketClosed, tsNs: 195, tid: 1, session: BIG_SESSION, socket: 812 },
  { kind: EventKind.Gap, tsNs: 200, tid: 0xffff, source: GapSource.ClientQueue, lost: 2 ** 40 + 3 },
  { kind: EventKind.GqcsEnter, tsNs: 210, tid: 1, timeoutMs: 0xffffffff, maxEntries: 1 },
  {
    kind: EventKind.Pqcs,
    tsNs: 300,
    tid: 0,
    hasOverlapped: false,
    op: Op.None,
    bytes: 0,
    key: 0n,
    ioId: 0,
  },
  {
    kind: EventKind.GqcsReturn,
    tsNs: 301,
    tid: 1,
    ok: true,
    hasOverlapped: false,
    op: Op.None,
    bytes: 0,
    key: 0n,
    error: 0,
    ioId: 0,
  },
  {
    kind: EventKind.ThreadState,
    tsNs: 302,
    tid: 1,
    state: ThreadStateValue.Exited,
    reason: BlockReason.None,
    detail: 0,
  },
  { kind: EventKind.ThreadExit, tsNs: 303, tid: 1, exitCode: 0 },
  { kind: EventKind.ThreadExit, tsNs: 2 ** 53 - 1, tid: 2, exitCode: 0xffffffff },
];

const OV = 0x000001f4_a0b0c0d0n;
/** The kinds and fields added in v2, after the v1 events (a C++ server's, with call sites). */
export const SAMPLE_EVENTS_V2: TraceEvent[] = [
  { kind: EventKind.CallSite, tsNs: 400, tid: 1, siteId: 7, fileStr: 4, line: 123, funcStr: 5 },
  {
    kind: EventKind.SessionRings,
    tsNs: 401,
    tid: 2,
    session: BIG_SESSION,
    recvCap: 16384,
    sendCap: 32768,
  },
  {
    kind: EventKind.IoDetail,
    tsNs: 402,
    tid: 1,
    site: 7,
    op: Op.Recv,
    skipOnSuccess: false,
    session: BIG_SESSION,
    overlapped: OV,
    ioId: 9,
  },
  {
    kind: EventKind.IoRing,
    tsNs: 402,
    tid: 1,
    op: Op.Recv,
    off0: 16000,
    len0: 384,
    off1: 0,
    avail: 1000,
    ioId: 9,
  },
  { kind: EventKind.Snapshot, tsNs: 403, tid: 0xffff, phase: 0, reason: 1, count: 0 },
  {
    kind: EventKind.IoCount,
    tsNs: 403,
    tid: 0xffff,
    cause: IoCountCause.Snapshot,
    session: BIG_SESSION,
    value: 2,
    delta: 0,
    ioId: 0,
  },
  { kind: EventKind.Snapshot, tsNs: 403, tid: 0xffff, phase: 1, reason: 1, count: 1 },
  {
    kind: EventKind.LockAcquire,
    tsNs: 404,
    tid: 1,
    lockId: 3,
    nameStr: 4,
    session: 0n,
    mode: LockMode.Shared,
    site: SITE_MAX,
  },
  {
    kind: EventKind.JobPush,
    tsNs: 405,
    tid: 1,
    jobKind: JobKind.Chat,
    queueId: 2,
    session: BIG_SESSION,
    length: 1,
    jobId: 77,
  },
  { kind: EventKind.JobFlush, tsNs: 406, tid: 1, phase: 0, queueId: 2, jobs: 1, flushId: 5 },
  { kind: EventKind.Broadcast, tsNs: 407, tid: 1, queueId: 2, recipients: 3, bufferId: 11 },
  {
    kind: EventKind.SendBuffer,
    tsNs: 408,
    tid: 1,
    op: SendBufferOp.AddRef,
    bufferId: 11,
    session: BIG_SESSION,
    refCount: 2,
    ioId: 10,
  },
  { kind: EventKind.JobFlush, tsNs: 409, tid: 1, phase: 1, queueId: 2, jobs: 1, flushId: 5 },
  { kind: EventKind.TimerJob, tsNs: 410, tid: 1, phase: 0, queueId: 2, delayMs: 100, timerId: 1 },
  {
    kind: EventKind.HandleAssociated,
    tsNs: 411,
    tid: 2,
    key: BIG_SESSION_2,
    handle: 0x1f4n,
    portId: 1,
  },
  {
    kind: EventKind.CompletionModes,
    tsNs: 412,
    tid: 2,
    session: BIG_SESSION,
    handle: 0x1f4,
    flags: 3,
    ok: true,
  },
  { kind: EventKind.TraceEnd, tsNs: 2 ** 53 - 1, tid: 0xffff, reason: 0, records: 2 ** 33 + 5 },
];

/** Every kind of the current version. */
export const SAMPLE_EVENTS: TraceEvent[] = [...SAMPLE_EVENTS_V1, ...SAMPLE_EVENTS_V2];

export function encodeAll(events: readonly TraceEvent[]): Uint32Array {
  const w = new Uint32Array(events.length * RECORD_WORDS);
  events.forEach((e, i) => encodeEvent(w, i, e));
  return w;
}

/** A deterministic PRNG (mulberry32), for seeded chunking and corruption. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Word-for-word equality, cheaper than a deep equal in tight test loops. */
export function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `n` random valid records of the current version (random kinds, fields and call sites). */
export function randomRecords(next: () => number, n: number): Uint32Array {
  const w = new Uint32Array(n * 8);
  for (let i = 0; i < w.length; i++) w[i] = Math.floor(next() * 4294967296);
  for (let i = 0; i < n; i++) {
    w[i * 8] = (w[i * 8]! & 0xffffff00) | (1 + Math.floor(next() * EVENT_KIND_MAX));
  }
  return w;
}
