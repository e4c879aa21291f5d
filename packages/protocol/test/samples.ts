// Hand-written events, one or more of every kind, shared by the tests and the
// golden fixtures. Changing a value here changes the fixtures on purpose.

import {
  BlockReason,
  DisconnectReason,
  EventKind,
  GapSource,
  IoCountCause,
  Op,
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

export const SAMPLE_EVENTS: TraceEvent[] = [
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

/** `n` random valid records (random kinds and fields, tsNs < 2^53). */
export function randomRecords(next: () => number, n: number): Uint32Array {
  const w = new Uint32Array(n * 8);
  for (let i = 0; i < w.length; i++) w[i] = Math.floor(next() * 4294967296);
  for (let i = 0; i < n; i++) {
    w[i * 8] = (w[i * 8]! & 0xffffff00) | (1 + Math.floor(next() * 20));
    w[i * 8 + 3] = w[i * 8 + 3]! & 0x1fffff;
  }
  return w;
}
