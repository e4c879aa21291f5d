// Event kinds, enums and the fixed 32-byte record layout shared by the server,
// trace files and the browser. FORMAT.md is the normative description; this file
// must agree with it byte for byte.
//
// Record layout (little-endian, 32 bytes, 8 u32 words):
//   off  0 u8  kind       EventKind
//   off  1 u8  a          small per-kind field (op, state, role, cause, flags)
//   off  2 u16 tid        thread index in the trace's thread table (0xFFFF = none)
//   off  4 u32 x          per-kind field
//   off  8 u64 tsNs       nanoseconds since trace start, one monotonic clock
//   off 16 u64 session    SessionID or completion key (exact 64-bit; 0 = none)
//   off 24 u32 y          per-kind field
//   off 28 u32 z          per-kind field (usually ioId, the overlapped sequence)
//
// Added in protocol version 1 unless marked otherwise.

export const PROTOCOL_VERSION = 1;
export const RECORD_BYTES = 32;
export const RECORD_WORDS = 8;
/** tid value meaning "no thread". */
export const NO_THREAD = 0xffff;
/** GQCS timeout value meaning INFINITE. */
export const INFINITE = 0xffffffff;

export const EventKind = {
  ThreadStart: 1,
  ThreadExit: 2,
  ThreadState: 3,
  PortCreated: 4,
  GqcsEnter: 5,
  GqcsReturn: 6,
  PacketQueued: 7,
  Pqcs: 8,
  IoPosted: 9,
  IoCount: 10,
  SessionCreated: 11,
  SessionReleased: 12,
  Accept: 13,
  Disconnect: 14,
  SocketClosed: 15,
  LockWait: 16,
  LockAcquire: 17,
  LockRelease: 18,
  Marker: 19,
  Gap: 20,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];
export const EVENT_KIND_MAX = 20;

export const ThreadRole = { Main: 0, Worker: 1, Accept: 2, Kernel: 3, Other: 4 } as const;
export type ThreadRole = (typeof ThreadRole)[keyof typeof ThreadRole];

export const ThreadStateValue = { Waiting: 0, Running: 1, Blocked: 2, Exited: 3 } as const;
export type ThreadStateValue = (typeof ThreadStateValue)[keyof typeof ThreadStateValue];

export const BlockReason = {
  None: 0,
  Lock: 1,
  Sleep: 2,
  SyncIo: 3,
  Join: 4,
  Accept: 5,
  Other: 6,
} as const;
export type BlockReason = (typeof BlockReason)[keyof typeof BlockReason];

/** Which operation an overlapped belongs to. `Post` = a PQCS packet. */
export const Op = { None: 0, Recv: 1, Send: 2, Post: 3 } as const;
export type Op = (typeof Op)[keyof typeof Op];

/** Why an IOCount changed. */
export const IoCountCause = {
  Other: 0,
  AcceptHold: 1,
  AcceptRelease: 2,
  RecvPost: 3,
  SendPost: 4,
  PostFailed: 5,
  Completion: 6,
  HoldAcquire: 7,
  HoldRelease: 8,
} as const;
export type IoCountCause = (typeof IoCountCause)[keyof typeof IoCountCause];

export const DisconnectReason = {
  Unknown: 0,
  PeerClosed: 1,
  IoError: 2,
  BadLength: 3,
  BadType: 4,
  SendOverflow: 5,
  Shutdown: 6,
  Kicked: 7,
} as const;
export type DisconnectReason = (typeof DisconnectReason)[keyof typeof DisconnectReason];

export const GapSource = { RingOverflow: 0, ClientQueue: 1, File: 2 } as const;
export type GapSource = (typeof GapSource)[keyof typeof GapSource];

/** Which port implementation produced a trace. */
export const Backend = { Emulated: 0, Native: 1 } as const;
export type Backend = (typeof Backend)[keyof typeof Backend];

/** Win32 error codes that matter to the model. */
export const WinError = {
  Success: 0,
  NetnameDeleted: 64,
  WaitTimeout: 258,
  OperationAborted: 995,
  IoPending: 997,
  AbandonedWait0: 735,
  ConnectionReset: 10054,
  ConnectionAborted: 10053,
  NotSocket: 10038,
  InvalidHandle: 6,
} as const;

// ---------------------------------------------------------------------------
// The decoded, object form of every kind. Hot paths use the word accessors in
// record.ts instead; this form is for tests, exporters and detectors' reports.

interface Base {
  tsNs: number;
  tid: number;
}

export type TraceEvent =
  | (Base & {
      kind: typeof EventKind.ThreadStart;
      role: ThreadRole;
      nameStr: number;
      osThreadId: number;
    })
  | (Base & { kind: typeof EventKind.ThreadExit; exitCode: number })
  | (Base & {
      kind: typeof EventKind.ThreadState;
      state: ThreadStateValue;
      reason: BlockReason;
      detail: number;
    })
  | (Base & {
      kind: typeof EventKind.PortCreated;
      backend: Backend;
      concurrency: number;
      workerCount: number;
    })
  | (Base & { kind: typeof EventKind.GqcsEnter; timeoutMs: number; maxEntries: number })
  | (Base & {
      kind: typeof EventKind.GqcsReturn;
      ok: boolean;
      hasOverlapped: boolean;
      op: Op;
      bytes: number;
      key: bigint;
      error: number;
      ioId: number;
    })
  | (Base & {
      kind: typeof EventKind.PacketQueued;
      op: Op;
      bytes: number;
      key: bigint;
      status: number;
      ioId: number;
    })
  | (Base & {
      kind: typeof EventKind.Pqcs;
      hasOverlapped: boolean;
      op: Op;
      bytes: number;
      key: bigint;
      ioId: number;
    })
  | (Base & {
      kind: typeof EventKind.IoPosted;
      op: Op;
      bufCount: number;
      requestedBytes: number;
      session: bigint;
      /** 0 = finished at once, 997 = pending, anything else = failed (no packet will come). */
      result: number;
      ioId: number;
    })
  | (Base & {
      kind: typeof EventKind.IoCount;
      cause: IoCountCause;
      session: bigint;
      value: number;
      delta: number;
      ioId: number;
    })
  | (Base & {
      kind: typeof EventKind.SessionCreated;
      session: bigint;
      peerStr: number;
      socket: number;
      slot: number;
    })
  | (Base & { kind: typeof EventKind.SessionReleased; session: bigint; ioCount: number })
  | (Base & { kind: typeof EventKind.Accept; session: bigint; peerStr: number; socket: number })
  | (Base & {
      kind: typeof EventKind.Disconnect;
      session: bigint;
      reason: DisconnectReason;
      error: number;
    })
  | (Base & { kind: typeof EventKind.SocketClosed; session: bigint; socket: number })
  | (Base & { kind: typeof EventKind.LockWait; lockId: number; nameStr: number; session: bigint })
  | (Base & {
      kind: typeof EventKind.LockAcquire;
      lockId: number;
      nameStr: number;
      session: bigint;
    })
  | (Base & {
      kind: typeof EventKind.LockRelease;
      lockId: number;
      nameStr: number;
      session: bigint;
    })
  | (Base & { kind: typeof EventKind.Marker; labelStr: number; session: bigint })
  | (Base & { kind: typeof EventKind.Gap; source: GapSource; lost: number });

export type EventOf<K extends EventKind> = Extract<TraceEvent, { kind: K }>;

export const EVENT_KIND_NAMES: Record<EventKind, string> = {
  1: 'thread-start',
  2: 'thread-exit',
  3: 'thread-state',
  4: 'port-created',
  5: 'gqcs-enter',
  6: 'gqcs-return',
  7: 'packet-queued',
  8: 'pqcs',
  9: 'io-posted',
  10: 'iocount',
  11: 'session-created',
  12: 'session-released',
  13: 'accept',
  14: 'disconnect',
  15: 'socket-closed',
  16: 'lock-wait',
  17: 'lock-acquire',
  18: 'lock-release',
  19: 'marker',
  20: 'gap',
};

export const OP_NAMES: Record<Op, string> = { 0: 'none', 1: 'recv', 2: 'send', 3: 'post' };
