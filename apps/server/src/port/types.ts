// The completion-port contract, modelled on Win32 (../shared/docs/iocp-model.md §1).
// Two backends implement it: emulated/ (worker_threads + SharedArrayBuffer, the
// main thread acting as the kernel) and native/ (a Win32 N-API addon doing real
// blocking GQCS on each worker's OS thread). Server code (echo/) sees only these
// types and port/index.ts, never a backend module.
//
// Threads (which call is legal where)
// - The main thread creates the port with createPort() and holds the `PortHost`.
//   In the emulated backend the main thread *is* the kernel (it runs node:net and
//   queues packets), so PortHost offers only calls that never block: listen,
//   postQueuedCompletionStatus, closesocket, close. Never attach on the main thread.
// - Every other thread (workers, the accept thread) attaches once with
//   `attachPort(host.descriptor, recorder)`; the descriptor is structured-cloneable
//   (pass it in workerData or postMessage). port/threads.ts spawnThread() starts a
//   worker whose entry is TypeScript. The resulting `CompletionPort` belongs to
//   that thread alone: do not hand it to another thread. Its calls may block the
//   calling OS thread exactly as Win32 does (GQCS, GQCS-Ex, accept).
// - Any attached thread may issue I/O on any socket, associate, closesocket and
//   PQCS. A thread becomes one of the port's threads (counted against the
//   concurrency value) on its first GQCS call and stops being one on detach().
// - A port thread that waits on anything other than the port (a lock, a sleep)
//   brackets that wait with blockBegin/blockEnd. The emulation needs this to free
//   the thread's concurrency slot (the NT scheduler sees it directly; a native
//   backend only records the ThreadState events). After blockEnd more threads than
//   the concurrency value may run for a while, visibly in the trace.
//
// Keys and values are u32 numbers so the hot path allocates nothing: a 64-bit
// completion key travels as (keyLo, keyHi); `overlapped` is an opaque non-zero u32
// chosen by the issuer (0 = NULL); bytes are u32.
//
// The shared I/O arena
// - The port owns one block of memory shared by all threads: `host.arena` and
//   `port.arena` are Uint8Array views of the same bytes on each thread (emulated:
//   a SharedArrayBuffer; native: memory the addon can pin). Do not assume its
//   `.buffer` type; use only the view.
// - A WSABUF is (offset, length) into the arena. wsaRecv/wsaSend take up to two,
//   the two contiguous pieces of a ring buffer that wraps (len1 = 0: one buffer).
//   The kernel reads (send) or writes (recv) those bytes directly. A posted range
//   must not be written by anyone else until its completion is dequeued.
// - How the arena is carved up (per-session RecvQ/SendQ...) is the caller's choice.
//
// Instrumentation
// - Every port call records the events it causes through the calling thread's
//   `ThreadRecorder` (trace/ implements it; any object with record() works;
//   NO_RECORDER is the --no-trace sink). The host's recorder is the kernel's.
// - Events (fields exactly as packages/protocol events.ts/record.ts define them):
//   PortCreated (host, once), GqcsEnter, GqcsReturn (one per dequeued entry, or one
//   with ok=false/hasOverlapped=false for a timeout or an abandoned wait),
//   ThreadState (Waiting before sleeping in GQCS, Running on wake-up or blockEnd,
//   Blocked with its reason on blockBegin or a blocking accept), IoPosted (session =
//   the socket's completion key, result 0/997/error, bufCount, ioId) and right after
//   it IoDetail (v2: the caller's `overlapped`, the OVERLAPPED the call used), Pqcs (on the
//   poster's recorder; its packet needs no PacketQueued), PacketQueued (kernel
//   recorder, I/O completion packets only, recorded before the packet is visible).
// - ioId is a per-port sequence (never 0) naming one post; the matching packet
//   carries it back in CompletionEntry.ioId. allocIoId() reserves one so the caller
//   can record IOCount+1 with it *before* the post (the completion may be dequeued
//   on another thread before wsaRecv returns).
//
// Shutdown with GQCS-Ex: one batch may hold several (0,0,NULL) exit packets. A
// worker that stops on the first must post the extra ones again, or another
// worker never gets its own.
//
// Results mean what they mean on Win32: a WSARecv that returns 0 found bytes
// buffered (or the peer's FIN) and completes TRUE with them whatever happens to
// the socket next; a WSASend returns 0 only if the socket's send buffer took
// all its bytes at the call (SO_SNDBUF, 64 KiB, with no other send pending),
// and then completes TRUE with all of them even if a close or reset discards
// them later; a pending send whose bytes had not all left when the socket is
// closed completes FALSE/995, and pending I/O on a reset connection FALSE/64.
//
// Where the emulation differs from Win32 (documented, not tested as rules)
// - The packet of a post that returned 0 is queued by the kernel in its next
//   event-loop turn, not before the call returns; a send's, once its bytes
//   left node's write queue (its arena range is in use until then).
// - I/O on a socket that was never associated fails with WSAEINVAL (Win32 would
//   complete it without a packet).
// - Two recvs that returned 0 on the same buffered bytes (two at once on one
//   socket) share them: the second gets what the first left, possibly 0.
// - A full packet queue fails PQCS with ERROR_NO_SYSTEM_RESOURCES.
// - Only instrumented waits (blockBegin/blockEnd, accept) free a concurrency slot.

import type { Op } from '@iocpscope/protocol';

/** Win32 error codes the contract uses. */
export const ERROR_SUCCESS = 0;
export const ERROR_INVALID_HANDLE = 6;
export const ERROR_NETNAME_DELETED = 64;
export const ERROR_INVALID_PARAMETER = 87;
export const WAIT_TIMEOUT = 258;
export const ERROR_ABANDONED_WAIT_0 = 735;
export const ERROR_OPERATION_ABORTED = 995;
export const ERROR_IO_PENDING = 997;
export const ERROR_NO_SYSTEM_RESOURCES = 1450;
export const WSAEINTR = 10004;
export const WSAEFAULT = 10014;
export const WSAEINVAL = 10022;
export const WSAENOTSOCK = 10038;
export const WSAECONNRESET = 10054;
export const WSAENOTCONN = 10057;
export const WSAETIMEDOUT = 10060;
export const INFINITE = 0xffffffff;

/**
 * One dequeued packet (an OVERLAPPED_ENTRY plus the GQCS out-parameters). Callers
 * allocate these once (newCompletionEntry) and the port overwrites them.
 * GQCS's four cases, read from the BOOL it returns and `overlapped`:
 *   TRUE  && overlapped !== 0   an I/O completed (recv bytes 0 = graceful close)
 *   FALSE && overlapped !== 0   an I/O failed; bytes/key/overlapped valid, error says why
 *   FALSE && overlapped === 0   nothing dequeued: WAIT_TIMEOUT, ERROR_ABANDONED_WAIT_0
 *                               (port closed while waiting), ERROR_INVALID_HANDLE (closed before)
 *   TRUE  && overlapped === 0   a PQCS packet with a NULL overlapped (by convention (0,0,NULL) = exit)
 */
export interface CompletionEntry {
  bytes: number;
  keyLo: number;
  keyHi: number;
  /** The issuer's overlapped id; 0 = NULL. */
  overlapped: number;
  /** 0 on success, else a Win32 error (GetLastError for GQCS, the entry's status for GQCS-Ex). */
  error: number;
  /** Recv/Send for socket I/O, Post for a PQCS packet, None when nothing was dequeued. */
  op: Op;
  /** The post's ioId (see allocIoId); 0 when nothing was dequeued. */
  ioId: number;
}

/** Result of a blocking accept. */
export interface AcceptResult {
  socket: number;
  peerAddress: string;
  peerPort: number;
}

/**
 * Per-thread event sink (implemented by trace/). Must never block; it stamps the
 * time and the thread id itself. Arguments are the record words of
 * packages/protocol record.ts writeRecord, minus tid and tsNs.
 */
export interface ThreadRecorder {
  record(
    kind: number,
    a: number,
    x: number,
    sessLo: number,
    sessHi: number,
    y: number,
    z: number,
  ): void;
}

/** A worker thread's handle on the port. Calls may block the calling thread like Win32. */
export interface CompletionPort {
  /**
   * GetQueuedCompletionStatus. Returns the BOOL; fills `out` (all fields zero but
   * `error` when nothing was dequeued). timeoutMs: 0 = poll, INFINITE = forever.
   */
  getQueuedCompletionStatus(out: CompletionEntry, timeoutMs: number): boolean;
  /**
   * GetQueuedCompletionStatusEx: dequeue 1..min(max, out.length) packets in FIFO
   * order into out[0..n). Returns n, or 0 with lastError = WAIT_TIMEOUT,
   * ERROR_ABANDONED_WAIT_0 or ERROR_INVALID_HANDLE. Each entry's `error` is its I/O status.
   */
  getQueuedCompletionStatusEx(out: CompletionEntry[], max: number, timeoutMs: number): number;
  /** Queues (bytes, key, overlapped) unchanged; FALSE + lastError if the port is closed or full. */
  postQueuedCompletionStatus(
    bytes: number,
    keyLo: number,
    keyHi: number,
    overlapped: number,
  ): boolean;
  /** Reserve an ioId to pass to the next wsaRecv/wsaSend (record IOCount+1 with it first). */
  allocIoId(): number;
  /**
   * WSARecv into one or two arena ranges (len1 = 0: one buffer). Returns 0
   * (finished at once: a packet still comes), ERROR_IO_PENDING (a packet will come),
   * or another error (WSAENOTSOCK, WSAECONNRESET, WSAEINVAL...: no packet ever).
   * ioId 0 = allocate one; lastIoId tells which was used.
   */
  wsaRecv(
    socket: number,
    overlapped: number,
    off0: number,
    len0: number,
    off1: number,
    len1: number,
    ioId?: number,
  ): number;
  /** WSASend of one or two arena ranges; same results as wsaRecv. Completes with all bytes or fails. */
  wsaSend(
    socket: number,
    overlapped: number,
    off0: number,
    len0: number,
    off1: number,
    len1: number,
    ioId?: number,
  ): number;
  /** Does not wait: every pending I/O on the socket completes FALSE/995. 0 or WSAENOTSOCK. */
  closesocket(socket: number): number;
  /**
   * Blocking accept on a listening socket (the course's dedicated accept thread).
   * Records ThreadState Blocked(Accept) while it waits. Returns null with lastError
   * WSAEINTR when the listening socket or the port is closed, WSAETIMEDOUT after
   * timeoutMs (INFINITE by default), WSAENOTSOCK for a bad handle.
   */
  accept(listenSocket: number, timeoutMs?: number): AcceptResult | null;
  /** CreateIoCompletionPort(socket, port, key): once per socket, before any I/O on it. */
  associate(socket: number, keyLo: number, keyHi: number): boolean;
  /** An instrumented wait outside the port begins (protocol BlockReason, free detail). */
  blockBegin(reason: number, detail: number): void;
  blockEnd(): void;
  /** Leave the port (thread exit): frees this thread's concurrency slot. Idempotent. */
  detach(): void;
  /** GetLastError() of this thread's last failing call. */
  readonly lastError: number;
  /** ioId used by this thread's last wsaRecv/wsaSend/PQCS. */
  readonly lastIoId: number;
  /** The shared I/O arena that WSABUF offsets point into. */
  readonly arena: Uint8Array;
  readonly concurrency: number;
}

/** Serialisable handle another thread uses to attach (structured-cloneable). */
export interface PortDescriptor {
  readonly backend: BackendName;
  readonly [k: string]: unknown;
}

export type BackendName = 'emulated' | 'native';

export interface PortOptions {
  /** Concurrency value N; 0 = number of processors. */
  concurrency: number;
  /** Size of the shared I/O arena in bytes. */
  arenaBytes: number;
  /** Most threads that may attach (default 64). */
  maxThreads?: number;
  /** Most sockets open at once, listening ones included (default 16384). */
  maxSockets?: number;
  /** Informational: the worker count written into PortCreated. */
  workerCount?: number;
  /** The kernel's (main thread's) recorder; default NO_RECORDER. */
  recorder?: ThreadRecorder;
  /**
   * setsockopt(TCP_NODELAY) on every accepted socket (default off: Nagle, as a
   * server that never sets it). The chat server sets it: a broadcast's small
   * write must not wait for the member's delayed ACK.
   */
  tcpNoDelay?: boolean;
}

/** The main thread's side: creates the port, listens, closes it. Never blocks. */
export interface PortHost {
  readonly backend: BackendName;
  readonly descriptor: PortDescriptor;
  /** The effective concurrency value (0 resolved to the processor count). */
  readonly concurrency: number;
  readonly arena: Uint8Array;
  /** socket()+bind()+listen(); port 0 picks a free port. */
  listen(address: string, port: number, backlog?: number): Promise<ListenResult>;
  postQueuedCompletionStatus(
    bytes: number,
    keyLo: number,
    keyHi: number,
    overlapped: number,
  ): boolean;
  closesocket(socket: number): number;
  /**
   * CloseHandle(port): waiters return FALSE/NULL/ERROR_ABANDONED_WAIT_0, later calls
   * ERROR_INVALID_HANDLE, queued packets are dropped, every socket is closed.
   */
  close(): Promise<void>;
}

export interface ListenResult {
  socket: number;
  port: number;
}

/** Error codes of PortError (bad options, misuse of a thread, unknown backend). */
export type PortErrorCode =
  | 'ERR_PORT_OPTIONS'
  | 'ERR_PORT_THREAD'
  | 'ERR_PORT_BACKEND'
  | 'ERR_PORT_DESCRIPTOR'
  | 'ERR_PORT_LIMIT';

export class PortError extends Error {
  readonly code: PortErrorCode;
  constructor(code: PortErrorCode, message: string) {
    super(message);
    this.name = 'PortError';
    this.code = code;
  }
}

/** The --no-trace sink. */
export const NO_RECORDER: ThreadRecorder = {
  record(): void {},
};

export function newCompletionEntry(): CompletionEntry {
  return { bytes: 0, keyLo: 0, keyHi: 0, overlapped: 0, error: 0, op: 0, ioId: 0 };
}

/** The 64-bit completion key of an entry. */
export function entryKey(e: CompletionEntry): bigint {
  return (BigInt(e.keyHi >>> 0) << 32n) | BigInt(e.keyLo >>> 0);
}

export const keyLo = (key: bigint): number => Number(key & 0xffffffffn);
export const keyHi = (key: bigint): number => Number((key >> 32n) & 0xffffffffn);
