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
//                         (v2: the low 53 bits; bits 53..63 are the call-site id)
//   off 16 u64 session    SessionID or completion key (exact 64-bit; 0 = none)
//   off 24 u32 y          per-kind field
//   off 28 u32 z          per-kind field (usually ioId, the overlapped sequence)
//
// Added in protocol version 1 unless marked otherwise.

/** The version this code writes. */
export const PROTOCOL_VERSION = 2;
/** The oldest version readers still accept (every older file stays readable). */
export const PROTOCOL_VERSION_MIN = 1;
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
  // ---- added in v2 ----
  /** The OVERLAPPED of a post (and whether an immediate success skips its packet); follows IoPosted. */
  IoDetail: 21,
  /** Ring-buffer geometry of a post (servers with RecvQ/SendQ rings); follows IoPosted. */
  IoRing: 22,
  /** A session's ring capacities, once, after SessionCreated. */
  SessionRings: 23,
  /** Brackets state given as a snapshot (recording or view started mid-run, resync after a gap). */
  Snapshot: 24,
  /** The last record of a trace that ended cleanly. */
  TraceEnd: 25,
  /** Defines a call-site id (file, line, function) that records carry in their site bits. */
  CallSite: 26,
  /** A job pushed onto a JobQueue (a chat room). */
  JobPush: 27,
  /** A JobQueue flush began or ended on a thread. */
  JobFlush: 28,
  /** A JobTimer job scheduled, fired or cancelled. */
  TimerJob: 29,
  /** A pooled SendBuffer acquired, shared, released or returned. */
  SendBuffer: 30,
  /** One SendBuffer broadcast to a room's members. */
  Broadcast: 31,
  /** CreateIoCompletionPort associated a handle with a port and a key. */
  HandleAssociated: 32,
  /** SetFileCompletionNotificationModes on a handle. */
  CompletionModes: 33,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];
/** Largest kind in the current version. */
export const EVENT_KIND_MAX = 33;
/** Largest kind a v1 trace may hold. */
export const EVENT_KIND_MAX_V1 = 20;
/** Largest kind of each readable version (index = version). */
export const EVENT_KIND_MAX_BY_VERSION: readonly number[] = [0, EVENT_KIND_MAX_V1, EVENT_KIND_MAX];

export const ThreadRole = {
  Main: 0,
  Worker: 1,
  Accept: 2,
  Kernel: 3,
  Other: 4,
  /** v2: a thread of a foreign process whose role the tracer could not tell yet. */
  Unknown: 5,
} as const;
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

/**
 * Which operation an overlapped belongs to. `Post` = a PQCS packet. Accept,
 * Connect and Disconnect (v2) are AcceptEx, ConnectEx and DisconnectEx.
 */
export const Op = {
  None: 0,
  Recv: 1,
  Send: 2,
  Post: 3,
  Accept: 4,
  Connect: 5,
  Disconnect: 6,
} as const;
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
  /** v2: the count as given by a snapshot (delta 0): state, not a change. */
  Snapshot: 9,
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
  /** v2: no bytes arrived for the idle timeout. */
  IdleTimeout: 8,
  /** v2: a packet's header or body stayed incomplete past the partial-packet timeout. */
  PartialTimeout: 9,
} as const;
export type DisconnectReason = (typeof DisconnectReason)[keyof typeof DisconnectReason];

/** Unseen (v2): dequeues the hook DLL could not see (a GQCS begun before it attached). */
export const GapSource = { RingOverflow: 0, ClientQueue: 1, File: 2, Unseen: 3 } as const;
export type GapSource = (typeof GapSource)[keyof typeof GapSource];

/** Which port implementation produced a trace. External (v2): a foreign process's own Win32 port. */
export const Backend = { Emulated: 0, Native: 1, External: 2 } as const;
export type Backend = (typeof Backend)[keyof typeof Backend];

/** Why a Snapshot bracket was written (Snapshot `x`, v2). */
export const SnapshotReason = { RecordingStart: 0, LateJoin: 1, Resync: 2 } as const;
export type SnapshotReason = (typeof SnapshotReason)[keyof typeof SnapshotReason];

/** How a trace ended (TraceEnd `a`, v2). */
export const TraceEndReason = { Stopped: 0, SizeCap: 1, ServerExit: 2, Detached: 3 } as const;
export type TraceEndReason = (typeof TraceEndReason)[keyof typeof TraceEndReason];

/** A lock's acquisition mode (LockWait/Acquire/Release `a`, v2; v1 records are exclusive). */
export const LockMode = { Exclusive: 0, Shared: 1 } as const;
export type LockMode = (typeof LockMode)[keyof typeof LockMode];

/** What a job does (JobPush `a`, v2). */
export const JobKind = { Other: 0, Enter: 1, Leave: 2, Chat: 3, Tick: 4, Login: 5 } as const;
export type JobKind = (typeof JobKind)[keyof typeof JobKind];

/** What happened to a SendBuffer (SendBuffer `a`, v2). */
export const SendBufferOp = {
  Acquire: 0,
  AddRef: 1,
  Release: 2,
  Returned: 3,
  PoolEmpty: 4,
} as const;
export type SendBufferOp = (typeof SendBufferOp)[keyof typeof SendBufferOp];

/** JobFlush `a` (v2). */
export const FlushPhase = { Begin: 0, End: 1 } as const;
/** TimerJob `a` (v2). */
export const TimerPhase = { Scheduled: 0, Fired: 1, Cancelled: 2 } as const;
/** Snapshot `a` (v2). */
export const SnapshotPhase = { Begin: 0, End: 1 } as const;

/** IoDetail `a` bit 4 (v2): FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is on, so an immediate success queues no packet. */
export const IO_DETAIL_SKIP_ON_SUCCESS = 0x10;
/** SetFileCompletionNotificationModes flags (CompletionModes `y`). */
export const FILE_SKIP_COMPLETION_PORT_ON_SUCCESS = 0x1;
export const FILE_SKIP_SET_EVENT_ON_HANDLE = 0x2;

/** Call-site ids are 11 bits (v2 records, bits 53..63 of the tsNs word); 0 = none. */
export const SITE_MAX = 0x7ff;

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
  /** v2: call-site id (CallSite), 0 or absent = none. */
  site?: number;
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
  | (Base & {
      kind: typeof EventKind.LockWait;
      lockId: number;
      nameStr: number;
      session: bigint;
      mode?: LockMode;
    })
  | (Base & {
      kind: typeof EventKind.LockAcquire;
      lockId: number;
      nameStr: number;
      session: bigint;
      mode?: LockMode;
    })
  | (Base & {
      kind: typeof EventKind.LockRelease;
      lockId: number;
      nameStr: number;
      session: bigint;
      mode?: LockMode;
    })
  | (Base & { kind: typeof EventKind.Marker; labelStr: number; session: bigint })
  | (Base & { kind: typeof EventKind.Gap; source: GapSource; lost: number })
  // ---- v2 ----
  | (Base & {
      kind: typeof EventKind.IoDetail;
      op: Op;
      session: bigint;
      /** The OVERLAPPED's address, or the server's own id for it (exact 64-bit). */
      overlapped: bigint;
      /** An immediate success queues no packet (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS). */
      skipOnSuccess: boolean;
      ioId: number;
    })
  | (Base & {
      kind: typeof EventKind.IoRing;
      op: Op;
      /** WSABUF[0]'s offset in the ring, bytes from its base. */
      off0: number;
      len0: number;
      /** WSABUF[1]'s offset in the ring (must be 0, the base); 0 when there is one WSABUF. */
      off1: number;
      /** Free bytes of RecvQ (recv) or used bytes of SendQ (send) when the post was made. */
      avail: number;
      ioId: number;
    })
  | (Base & {
      kind: typeof EventKind.SessionRings;
      session: bigint;
      recvCap: number;
      sendCap: number;
    })
  | (Base & {
      kind: typeof EventKind.Snapshot;
      phase: (typeof SnapshotPhase)[keyof typeof SnapshotPhase];
      reason: SnapshotReason;
      /** On the end record: the records between begin and end. */
      count: number;
    })
  | (Base & { kind: typeof EventKind.TraceEnd; reason: TraceEndReason; records: number })
  | (Base & {
      kind: typeof EventKind.CallSite;
      siteId: number;
      fileStr: number;
      line: number;
      funcStr: number;
    })
  | (Base & {
      kind: typeof EventKind.JobPush;
      jobKind: JobKind;
      queueId: number;
      session: bigint;
      /** Jobs in the queue after the push. */
      length: number;
      jobId: number;
    })
  | (Base & {
      kind: typeof EventKind.JobFlush;
      phase: (typeof FlushPhase)[keyof typeof FlushPhase];
      queueId: number;
      /** Begin: jobs queued at the start; end: jobs this flush ran. */
      jobs: number;
      flushId: number;
    })
  | (Base & {
      kind: typeof EventKind.TimerJob;
      phase: (typeof TimerPhase)[keyof typeof TimerPhase];
      queueId: number;
      delayMs: number;
      timerId: number;
    })
  | (Base & {
      kind: typeof EventKind.SendBuffer;
      op: SendBufferOp;
      bufferId: number;
      session: bigint;
      /** Reference count after the operation. */
      refCount: number;
      ioId: number;
    })
  | (Base & {
      kind: typeof EventKind.Broadcast;
      queueId: number;
      recipients: number;
      bufferId: number;
    })
  | (Base & {
      kind: typeof EventKind.HandleAssociated;
      /** The completion key given. */
      key: bigint;
      handle: bigint;
      portId: number;
    })
  | (Base & {
      kind: typeof EventKind.CompletionModes;
      session: bigint;
      handle: number;
      flags: number;
      ok: boolean;
    });

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
  21: 'io-detail',
  22: 'io-ring',
  23: 'session-rings',
  24: 'snapshot',
  25: 'trace-end',
  26: 'call-site',
  27: 'job-push',
  28: 'job-flush',
  29: 'timer-job',
  30: 'send-buffer',
  31: 'broadcast',
  32: 'handle-associated',
  33: 'completion-modes',
};

export const OP_NAMES: Record<Op, string> = {
  0: 'none',
  1: 'recv',
  2: 'send',
  3: 'post',
  4: 'accept',
  5: 'connect',
  6: 'disconnect',
};
