/* iocpscope.h — trace your own IOCP server into iocpscope (a single-header tracer).
 *
 * WHAT IT DOES
 *   Records what a Windows I/O completion port server does — worker threads in
 *   GetQueuedCompletionStatus, every WSARecv/WSASend and its result, every
 *   completion matched to its post, every IOCount change, session lifetimes,
 *   locks — as the 32-byte records of iocpscope's protocol (version 2,
 *   packages/protocol/FORMAT.md), and writes them to an .iocptrace file and/or
 *   streams them live to `iocpscope serve --ingest HOST:PORT`. Then
 *   `iocpscope check FILE` runs the session-lifetime bug detectors on it.
 *
 * USING IT (stb style)
 *   In every file that calls it:        #include "iocpscope.h"
 *   In exactly one .c/.cpp file:         #define IOCPSCOPE_IMPLEMENTATION
 *                                        #include "iocpscope.h"
 *   Build with IOCPSCOPE_ENABLE defined (-DIOCPSCOPE_ENABLE, /D IOCPSCOPE_ENABLE)
 *   to trace. Without it every macro below compiles to the plain Win32 call
 *   (wrappers) or to nothing (explicit calls), no iocpscope code or symbol is
 *   emitted, and the header costs nothing (as TRACY_ENABLE).
 *   Include it before <windows.h> (it includes <winsock2.h> first), link
 *   ws2_32 (MinGW: -lws2_32; MSVC: ws2_32.lib). C99 or C++11; x64 (x86 and
 *   ARM64 build but take slower paths).
 *
 * CONFIGURATION (environment variables override IOCPSCOPE_INIT's config)
 *   IOCPSCOPE_OUTPUT=path.iocptrace  record to this file ("" = no file)
 *   IOCPSCOPE_CONNECT=host:port      stream live to `iocpscope serve --ingest host:port`;
 *                                    retried with a bounded backoff while nobody listens,
 *                                    and again whenever the viewer goes away
 *   IOCPSCOPE_TOKEN=secret           the viewer's token, when it asks for one
 *   IOCPSCOPE_APP=name               the server's name in the trace (default: the exe name)
 *   IOCPSCOPE_NAME=text              the recording's name
 *   IOCPSCOPE_WORKERS=n, IOCPSCOPE_CONCURRENCY=n   the port configuration shown (default 0)
 *   IOCPSCOPE_BUDGET_MB=n            memory budget for rings, tables and buffers (default 64)
 *   IOCPSCOPE_RING_KB=n              per-thread ring size, KiB (default 1024 = 32768 records)
 *   IOCPSCOPE_FLUSH_MS=n             chunk interval, 5..100 ms (default 50)
 *   IOCPSCOPE_RETRY_MS=n             longest wait between connection attempts (default 2000)
 *   IOCPSCOPE_MAX_THREADS/_SESSIONS/_OUTSTANDING=n   table sizes (256/16384/32768)
 *   IOCPSCOPE_CLOCK=auto|tsc|qpc     the clock (below); IOCPSCOPE_LOG=0 silences stderr
 *   Nothing is recorded while no file is open and no viewer is connected (on
 *   demand): the wrappers then only keep the small tables a late-joining viewer
 *   needs (threads, live sessions, outstanding I/O). A viewer that connects late
 *   or reconnects first receives a Snapshot bracket (LateJoin) of that state.
 *   If IOCPSCOPE_INIT is never called, the first traced call initialises from
 *   the environment alone.
 *
 * CLOCK
 *   Every record is stamped with the raw clock (ticks); the collector thread
 *   converts to nanoseconds, so the hot path never divides. The clock is the
 *   invariant TSC (rdtsc, ~10 ns a read under Wine) when CPUID.80000007H:EDX[8]
 *   says the TSC is invariant (constant rate, never stops, one value for every
 *   core), calibrated against QueryPerformanceCounter over 20 ms at init;
 *   otherwise QueryPerformanceCounter itself (~87 ns a call under Wine, a few ns
 *   on Windows 10). The file header says which (`clockSource` "tsc" or "qpc")
 *   and the rate (`ticksPerSecond`).
 *
 * RECORDING
 *   Each thread writes into its own lock-free single-producer ring (allocated
 *   on its first record, within the budget). One collector thread merges the
 *   rings by time, converts, and writes CRC-checked chunks. The merge stays 2 ms
 *   behind the present and never passes a record a thread has stamped but not
 *   yet published (a thread preempted in between), so records land in time
 *   order. IoCount records also land in the order the count changed: one whose
 *   CAS succeeded after the count went away and came back (its stamp is early)
 *   waits until the records that lead to its value have gone out. A full ring
 *   loses records; the next record that fits is preceded by a Gap record with
 *   the exact number lost (never silent). The tracer's own thread is never
 *   traced. Wrappers keep the return value, GetLastError() and WSAGetLastError()
 *   exactly as the real call left them.
 *
 * CALL SITES
 *   Every macro records the file, line and function it was called from (a
 *   CallSite record, kind 26, id in the top 11 bits of the time word): in C++
 *   through a function-local static per call site (free after its first use);
 *   in C through a small lock-free (file, line) table.
 *
 * MATCHING I/O
 *   Each post gets an ioId. WSARecv/WSASend/AcceptEx/PQCS enter the OVERLAPPED
 *   into a lock-free table before the real call (its completion can be dequeued
 *   on another thread before the call returns); the GQCS wrappers take it out
 *   and stamp the completion with the post's session and ioId. Pass the
 *   OVERLAPPED to IOCPSCOPE_IOCOUNT(_ADD) too: the +1 before a post then carries
 *   the ioId the post will get, and the -1 after a completion the ioId of the
 *   completion this thread dequeued last with that OVERLAPPED. Sockets map to
 *   sessions through IOCPSCOPE_SESSION_CREATED (or, failing that, the completion
 *   key given to CreateIoCompletionPort).
 *   The kernel queues packets out of sight: the dequeuing thread records each
 *   I/O packet's PacketQueued (with no thread, tid 0xFFFF: the kernel did it)
 *   just before its GqcsReturn, an upper bound of the real time, as iocpscope's
 *   own native backend does.
 *
 * ---------------------------------------------------------------------------
 * API (every name is a macro; arguments are evaluated once when enabled)
 *
 *   IOCPSCOPE_INIT(cfg)          start (cfg: const iocpscope_config*, or NULL); returns 0 on success
 *   IOCPSCOPE_SHUTDOWN()         flush everything, end each output with TraceEnd (ServerExit), stop
 *   IOCPSCOPE_FLUSH(timeout_ms)  wait until every record so far has been written out
 *
 *   What only the application knows:
 *   IOCPSCOPE_THREAD(role, name)                   this thread's role (IOCPSCOPE_ROLE_*) and name
 *   IOCPSCOPE_BLOCKED(reason, detail)              this thread blocks outside the port (IOCPSCOPE_BLOCK_*)
 *   IOCPSCOPE_RUNNING()                            ... and runs again
 *   IOCPSCOPE_SESSION_CREATED(session, peer, socket)   a new session (64-bit id, "ip:port")
 *   IOCPSCOPE_SESSION_CREATED_SLOT(session, peer, socket, slot)   ... with its pool slot
 *   IOCPSCOPE_SESSION_RINGS(session, recvCap, sendCap) its RecvQ/SendQ ring capacities (bytes)
 *   IOCPSCOPE_SESSION_ACCEPTED(session)            the acceptor is done with it (after the first RecvPost)
 *   IOCPSCOPE_SESSION_RELEASED(session, ioCount)   released (IOCount seen by the releasing thread)
 *   IOCPSCOPE_IOCOUNT(session, delta, value, cause, overlapped)   IOCount changed to value
 *   IOCPSCOPE_IOCOUNT_ADD(counter, delta, session, cause, overlapped)
 *                                                  InterlockedExchangeAdd(counter, delta) + delta, recorded:
 *                                                  the time is read before the exchange, so the records of
 *                                                  one session are in the order the count changed. Disabled,
 *                                                  `delta` is evaluated twice: pass a constant.
 *   IOCPSCOPE_DISCONNECT(session, reason, error)   a disconnect starts (IOCPSCOPE_REASON_*)
 *   IOCPSCOPE_LOCK_WAIT(lock, name) / _ACQUIRE / _RELEASE   lock: any pointer or integer; name: a
 *                                                  string constant (cached by address)
 *   IOCPSCOPE_LOCK_EX(what, lock, name, mode, session)   what: 0 wait, 1 acquire, 2 release
 *   IOCPSCOPE_MARKER(label, session)               a user marker (label copied; session may be 0)
 *   IOCPSCOPE_RING_POST(overlapped, off0, len0, off1, avail)
 *                                                  the ring geometry of this thread's next post with this
 *                                                  OVERLAPPED (an IoRing record after its IoDetail)
 *
 *   Drop-in wrappers (same arguments and result as the Win32 call):
 *   IOCPSCOPE_GetQueuedCompletionStatus   IOCPSCOPE_GetQueuedCompletionStatusEx
 *   IOCPSCOPE_PostQueuedCompletionStatus  IOCPSCOPE_WSARecv  IOCPSCOPE_WSASend
 *   IOCPSCOPE_closesocket  IOCPSCOPE_CancelIoEx  IOCPSCOPE_AcceptEx (fetched with WSAIoctl)
 *   IOCPSCOPE_CreateIoCompletionPort  IOCPSCOPE_SetFileCompletionNotificationModes
 *   Define IOCPSCOPE_WRAP_ALL before including to redirect the plain names to them.
 *
 *   IOCPSCOPE_STATS(out)   fill an iocpscope_stats (all zero when disabled)
 *
 * The recorded kinds, fields and enums are those of FORMAT.md §3; this header
 * adds no kind of its own.
 *
 * BUILDING ANOTHER TRACER ON THIS HEADER (packages/hook, the hook DLL)
 *   Include the implementation with IOCPSCOPE_EXTENSION defined as well: the
 *   recorder, rings, tables, collector and transport (the iocpscope__ statics)
 *   are then yours to call from the same translation unit, with two more table
 *   helpers (iocpscope__post_begin_ex / _take_ex keep three words more per
 *   post). iocpscope_config.tracer and .derived_iocount name such a tracer in
 *   the file header (`tracer`, `ioCount`); iocpscope__thread.ext[] holds its
 *   own per-thread words and .ext_site_key/_loc its call sites; a tracer that
 *   counts IOCount itself sets iocpscope__g.count_of for snapshots. A change
 *   to those internals must keep the hook building (pnpm test:native
 *   --hook-only).
 */
#ifndef IOCPSCOPE_H
#define IOCPSCOPE_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601 /* GetQueuedCompletionStatusEx, CancelIoEx, FlsAlloc */
#endif
#include <winsock2.h>
#include <windows.h>
#include <mswsock.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

/* ---- enums (the protocol's values) ---------------------------------------- */
/* ThreadRole */
#define IOCPSCOPE_ROLE_MAIN 0
#define IOCPSCOPE_ROLE_WORKER 1
#define IOCPSCOPE_ROLE_ACCEPT 2
#define IOCPSCOPE_ROLE_OTHER 4
#define IOCPSCOPE_ROLE_UNKNOWN 5
/* IoCountCause */
#define IOCPSCOPE_CAUSE_OTHER 0
#define IOCPSCOPE_CAUSE_ACCEPT_HOLD 1
#define IOCPSCOPE_CAUSE_ACCEPT_RELEASE 2
#define IOCPSCOPE_CAUSE_RECV_POST 3
#define IOCPSCOPE_CAUSE_SEND_POST 4
#define IOCPSCOPE_CAUSE_POST_FAILED 5
#define IOCPSCOPE_CAUSE_COMPLETION 6
#define IOCPSCOPE_CAUSE_HOLD_ACQUIRE 7
#define IOCPSCOPE_CAUSE_HOLD_RELEASE 8
/* DisconnectReason */
#define IOCPSCOPE_REASON_UNKNOWN 0
#define IOCPSCOPE_REASON_PEER_CLOSED 1
#define IOCPSCOPE_REASON_IO_ERROR 2
#define IOCPSCOPE_REASON_BAD_LENGTH 3
#define IOCPSCOPE_REASON_BAD_TYPE 4
#define IOCPSCOPE_REASON_SEND_OVERFLOW 5
#define IOCPSCOPE_REASON_SHUTDOWN 6
#define IOCPSCOPE_REASON_KICKED 7
#define IOCPSCOPE_REASON_IDLE_TIMEOUT 8
#define IOCPSCOPE_REASON_PARTIAL_TIMEOUT 9
/* BlockReason */
#define IOCPSCOPE_BLOCK_LOCK 1
#define IOCPSCOPE_BLOCK_SLEEP 2
#define IOCPSCOPE_BLOCK_SYNC_IO 3
#define IOCPSCOPE_BLOCK_JOIN 4
#define IOCPSCOPE_BLOCK_ACCEPT 5
#define IOCPSCOPE_BLOCK_OTHER 6
/* LockMode */
#define IOCPSCOPE_LOCK_EXCLUSIVE 0
#define IOCPSCOPE_LOCK_SHARED 1
/* TraceEndReason (IOCPSCOPE_SHUTDOWN writes ServerExit) */
#define IOCPSCOPE_END_STOPPED 0
#define IOCPSCOPE_END_SERVER_EXIT 2
#define IOCPSCOPE_END_DETACHED 3
/* clock (iocpscope_config.clock, iocpscope_stats.clock) */
#define IOCPSCOPE_CLOCK_AUTO 0
#define IOCPSCOPE_CLOCK_TSC 1
#define IOCPSCOPE_CLOCK_QPC 2

/* All zero = every default. Strings are UTF-8 and copied by IOCPSCOPE_INIT. */
typedef struct iocpscope_config {
  const char *output;      /* .iocptrace path, or NULL / "" for none */
  const char *connect;     /* "host:port" of `iocpscope serve --ingest`, or NULL / "" */
  const char *token;       /* the viewer's token (visible ASCII, <= 256 bytes) */
  const char *app;         /* the server's name (<= 32 bytes) */
  const char *name;        /* the recording's name */
  unsigned workers;        /* portConfig.workers in the file header */
  unsigned concurrency;    /* portConfig.concurrency (0 = number of CPUs) */
  unsigned budget_mb;      /* default 64 */
  unsigned ring_kb;        /* default 1024 */
  unsigned flush_ms;       /* default 50 */
  unsigned retry_max_ms;   /* default 2000 */
  unsigned max_threads;    /* default 256 */
  unsigned max_sessions;   /* default 16384 */
  unsigned max_outstanding; /* default 32768 */
  int clock;               /* IOCPSCOPE_CLOCK_* */
  int log;                 /* 0 default (on), 1 on, -1 off */
  /* Added for tracers built on this header (packages/hook); zero = this header's own: */
  const char *tracer;      /* the file header's `tracer` (<= 32 bytes; default "header") */
  int derived_iocount;     /* 1: IoCount records count outstanding I/O per socket, not the
                              application's own count (file header `ioCount` "derived") */
} iocpscope_config;

typedef struct iocpscope_stats {
  unsigned long long records;  /* records written into the rings */
  unsigned long long lost;     /* records lost to full rings (each counted in a Gap record) */
  unsigned long long written;  /* records in the outputs (file and stream, each counted once) */
  unsigned long long dropped;  /* records an output could not take (counted in Gap records) */
  unsigned long long connects; /* viewer connections made */
  unsigned long long reordered; /* IoCount records moved to follow the order the count changed */
  unsigned long long unordered; /* IoCount records that could not be (written where they came) */
  unsigned threads;            /* threads known */
  int active;                  /* an output is attached: records are being written */
  int connected;               /* a viewer is attached */
  int clock;                   /* IOCPSCOPE_CLOCK_TSC or _QPC */
  double ticks_per_second;
} iocpscope_stats;

/* A call site. C++: one static per call site; C: a temporary keyed by (file, line). */
typedef struct iocpscope_loc {
  const char *file;
  unsigned line;
  long id;
} iocpscope_loc;

#define IOCPSCOPE__IGN(x) ((void)sizeof(x))

#ifdef IOCPSCOPE_ENABLE

#ifdef __cplusplus
extern "C" {
#endif

int iocpscope_init(const iocpscope_config *cfg);
void iocpscope_shutdown(int reason);
void iocpscope_flush(unsigned timeout_ms);
void iocpscope_get_stats(iocpscope_stats *out);

void iocpscope_thread(iocpscope_loc *loc, const char *func, int role, const char *name);
void iocpscope_thread_state(iocpscope_loc *loc, const char *func, int blocked, int reason,
                            uint32_t detail);
void iocpscope_session_created(iocpscope_loc *loc, const char *func, uint64_t session,
                               const char *peer, uint64_t socket, uint32_t slot, int has_slot);
void iocpscope_session_rings(iocpscope_loc *loc, const char *func, uint64_t session,
                             uint32_t recv_cap, uint32_t send_cap);
void iocpscope_session_accepted(iocpscope_loc *loc, const char *func, uint64_t session);
void iocpscope_session_released(iocpscope_loc *loc, const char *func, uint64_t session,
                                int32_t io_count);
void iocpscope_iocount(iocpscope_loc *loc, const char *func, uint64_t session, int32_t delta,
                       int32_t value, int cause, const void *overlapped);
LONG iocpscope_iocount_add(iocpscope_loc *loc, const char *func, LONG volatile *counter,
                           LONG delta, uint64_t session, int cause, const void *overlapped);
void iocpscope_disconnect(iocpscope_loc *loc, const char *func, uint64_t session, int reason,
                          uint32_t error);
void iocpscope_lock(iocpscope_loc *loc, const char *func, int what, uint64_t lock,
                    const char *name, int mode, uint64_t session);
void iocpscope_marker(iocpscope_loc *loc, const char *func, const char *label, uint64_t session);
void iocpscope_ring_post(iocpscope_loc *loc, const char *func, const void *overlapped,
                         uint32_t off0, uint32_t len0, uint32_t off1, uint32_t avail);

BOOL iocpscope_GetQueuedCompletionStatus(iocpscope_loc *loc, const char *func, HANDLE port,
                                         LPDWORD bytes, PULONG_PTR key, LPOVERLAPPED *ov,
                                         DWORD timeout_ms);
BOOL iocpscope_GetQueuedCompletionStatusEx(iocpscope_loc *loc, const char *func, HANDLE port,
                                           LPOVERLAPPED_ENTRY entries, ULONG count,
                                           PULONG removed, DWORD timeout_ms, BOOL alertable);
BOOL iocpscope_PostQueuedCompletionStatus(iocpscope_loc *loc, const char *func, HANDLE port,
                                          DWORD bytes, ULONG_PTR key, LPOVERLAPPED ov);
int iocpscope_WSARecv(iocpscope_loc *loc, const char *func, SOCKET s, LPWSABUF bufs, DWORD n,
                      LPDWORD received, LPDWORD flags, LPWSAOVERLAPPED ov,
                      LPWSAOVERLAPPED_COMPLETION_ROUTINE cr);
int iocpscope_WSASend(iocpscope_loc *loc, const char *func, SOCKET s, LPWSABUF bufs, DWORD n,
                      LPDWORD sent, DWORD flags, LPWSAOVERLAPPED ov,
                      LPWSAOVERLAPPED_COMPLETION_ROUTINE cr);
int iocpscope_closesocket(iocpscope_loc *loc, const char *func, SOCKET s);
BOOL iocpscope_CancelIoEx(iocpscope_loc *loc, const char *func, HANDLE h, LPOVERLAPPED ov);
BOOL iocpscope_AcceptEx(iocpscope_loc *loc, const char *func, SOCKET listen_socket,
                        SOCKET accept_socket, PVOID buf, DWORD recv_len, DWORD local_len,
                        DWORD remote_len, LPDWORD received, LPOVERLAPPED ov);
HANDLE iocpscope_CreateIoCompletionPort(iocpscope_loc *loc, const char *func, HANDLE h,
                                        HANDLE port, ULONG_PTR key, DWORD concurrency);
BOOL iocpscope_SetFileCompletionNotificationModes(iocpscope_loc *loc, const char *func,
                                                  HANDLE h, UCHAR flags);

#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
/* One static per call site, constant-initialised (no guard, no constructor). */
#define IOCPSCOPE__LOC                                                                   \
  ([]() -> iocpscope_loc * {                                                             \
    static iocpscope_loc iocpscope_loc_ = {__FILE__, static_cast<unsigned>(__LINE__), 0}; \
    return &iocpscope_loc_;                                                              \
  }())
#else
#define IOCPSCOPE__LOC (&(iocpscope_loc){__FILE__, (unsigned)(__LINE__), 0})
#endif
#define IOCPSCOPE__AT IOCPSCOPE__LOC, __func__
#define IOCPSCOPE__U64(x) ((uint64_t)(uintptr_t)(x))

#define IOCPSCOPE_INIT(cfg) iocpscope_init(cfg)
#define IOCPSCOPE_SHUTDOWN() iocpscope_shutdown(IOCPSCOPE_END_SERVER_EXIT)
#define IOCPSCOPE_FLUSH(ms) iocpscope_flush(ms)
#define IOCPSCOPE_STATS(out) iocpscope_get_stats(out)
#define IOCPSCOPE_THREAD(role, name) iocpscope_thread(IOCPSCOPE__AT, (role), (name))
#define IOCPSCOPE_BLOCKED(reason, detail) \
  iocpscope_thread_state(IOCPSCOPE__AT, 1, (reason), (uint32_t)(detail))
#define IOCPSCOPE_RUNNING() iocpscope_thread_state(IOCPSCOPE__AT, 0, 0, 0)
#define IOCPSCOPE_SESSION_CREATED(session, peer, socket) \
  iocpscope_session_created(IOCPSCOPE__AT, (uint64_t)(session), (peer), (uint64_t)(socket), 0, 0)
#define IOCPSCOPE_SESSION_CREATED_SLOT(session, peer, socket, slot)                          \
  iocpscope_session_created(IOCPSCOPE__AT, (uint64_t)(session), (peer), (uint64_t)(socket), \
                            (uint32_t)(slot), 1)
#define IOCPSCOPE_SESSION_RINGS(session, recv_cap, send_cap)                      \
  iocpscope_session_rings(IOCPSCOPE__AT, (uint64_t)(session), (uint32_t)(recv_cap), \
                          (uint32_t)(send_cap))
#define IOCPSCOPE_SESSION_ACCEPTED(session) \
  iocpscope_session_accepted(IOCPSCOPE__AT, (uint64_t)(session))
#define IOCPSCOPE_SESSION_RELEASED(session, io_count) \
  iocpscope_session_released(IOCPSCOPE__AT, (uint64_t)(session), (int32_t)(io_count))
#define IOCPSCOPE_IOCOUNT(session, delta, value, cause, ov)                                    \
  iocpscope_iocount(IOCPSCOPE__AT, (uint64_t)(session), (int32_t)(delta), (int32_t)(value), \
                    (cause), (ov))
#define IOCPSCOPE_IOCOUNT_ADD(counter, delta, session, cause, ov) \
  iocpscope_iocount_add(IOCPSCOPE__AT, (counter), (delta), (uint64_t)(session), (cause), (ov))
#define IOCPSCOPE_DISCONNECT(session, reason, error) \
  iocpscope_disconnect(IOCPSCOPE__AT, (uint64_t)(session), (reason), (uint32_t)(error))
#define IOCPSCOPE_LOCK_EX(what, lock, name, mode, session)                            \
  iocpscope_lock(IOCPSCOPE__AT, (what), IOCPSCOPE__U64(lock), (name), (mode), \
                 (uint64_t)(session))
#define IOCPSCOPE_LOCK_WAIT(lock, name) IOCPSCOPE_LOCK_EX(0, lock, name, 0, 0)
#define IOCPSCOPE_LOCK_ACQUIRE(lock, name) IOCPSCOPE_LOCK_EX(1, lock, name, 0, 0)
#define IOCPSCOPE_LOCK_RELEASE(lock, name) IOCPSCOPE_LOCK_EX(2, lock, name, 0, 0)
#define IOCPSCOPE_MARKER(label, session) \
  iocpscope_marker(IOCPSCOPE__AT, (label), (uint64_t)(session))
#define IOCPSCOPE_RING_POST(ov, off0, len0, off1, avail)                                 \
  iocpscope_ring_post(IOCPSCOPE__AT, (ov), (uint32_t)(off0), (uint32_t)(len0), \
                      (uint32_t)(off1), (uint32_t)(avail))

#define IOCPSCOPE_GetQueuedCompletionStatus(port, bytes, key, ov, timeout) \
  iocpscope_GetQueuedCompletionStatus(IOCPSCOPE__AT, port, bytes, key, ov, timeout)
#define IOCPSCOPE_GetQueuedCompletionStatusEx(port, entries, count, removed, timeout, alertable) \
  iocpscope_GetQueuedCompletionStatusEx(IOCPSCOPE__AT, port, entries, count, removed, timeout,  \
                                        alertable)
#define IOCPSCOPE_PostQueuedCompletionStatus(port, bytes, key, ov) \
  iocpscope_PostQueuedCompletionStatus(IOCPSCOPE__AT, port, bytes, key, ov)
#define IOCPSCOPE_WSARecv(s, bufs, n, received, flags, ov, cr) \
  iocpscope_WSARecv(IOCPSCOPE__AT, s, bufs, n, received, flags, ov, cr)
#define IOCPSCOPE_WSASend(s, bufs, n, sent, flags, ov, cr) \
  iocpscope_WSASend(IOCPSCOPE__AT, s, bufs, n, sent, flags, ov, cr)
#define IOCPSCOPE_closesocket(s) iocpscope_closesocket(IOCPSCOPE__AT, s)
#define IOCPSCOPE_CancelIoEx(h, ov) iocpscope_CancelIoEx(IOCPSCOPE__AT, h, ov)
#define IOCPSCOPE_AcceptEx(ls, as, buf, rlen, llen, rmlen, received, ov) \
  iocpscope_AcceptEx(IOCPSCOPE__AT, ls, as, buf, rlen, llen, rmlen, received, ov)
#define IOCPSCOPE_CreateIoCompletionPort(h, port, key, n) \
  iocpscope_CreateIoCompletionPort(IOCPSCOPE__AT, h, port, key, n)
#define IOCPSCOPE_SetFileCompletionNotificationModes(h, flags) \
  iocpscope_SetFileCompletionNotificationModes(IOCPSCOPE__AT, h, flags)

#else /* !IOCPSCOPE_ENABLE: nothing but the plain calls */

#define IOCPSCOPE_INIT(cfg) (IOCPSCOPE__IGN(cfg), 0)
#define IOCPSCOPE_SHUTDOWN() ((void)0)
#define IOCPSCOPE_FLUSH(ms) IOCPSCOPE__IGN(ms)
#define IOCPSCOPE_STATS(out) ((void)memset((out), 0, sizeof(iocpscope_stats)))
#define IOCPSCOPE_THREAD(role, name) (IOCPSCOPE__IGN(role), IOCPSCOPE__IGN(name))
#define IOCPSCOPE_BLOCKED(reason, detail) (IOCPSCOPE__IGN(reason), IOCPSCOPE__IGN(detail))
#define IOCPSCOPE_RUNNING() ((void)0)
#define IOCPSCOPE_SESSION_CREATED(session, peer, socket) \
  (IOCPSCOPE__IGN(session), IOCPSCOPE__IGN(peer), IOCPSCOPE__IGN(socket))
#define IOCPSCOPE_SESSION_CREATED_SLOT(session, peer, socket, slot) \
  (IOCPSCOPE__IGN(session), IOCPSCOPE__IGN(peer), IOCPSCOPE__IGN(socket), IOCPSCOPE__IGN(slot))
#define IOCPSCOPE_SESSION_RINGS(session, recv_cap, send_cap) \
  (IOCPSCOPE__IGN(session), IOCPSCOPE__IGN(recv_cap), IOCPSCOPE__IGN(send_cap))
#define IOCPSCOPE_SESSION_ACCEPTED(session) IOCPSCOPE__IGN(session)
#define IOCPSCOPE_SESSION_RELEASED(session, io_count) \
  (IOCPSCOPE__IGN(session), IOCPSCOPE__IGN(io_count))
#define IOCPSCOPE_IOCOUNT(session, delta, value, cause, ov)                         \
  (IOCPSCOPE__IGN(session), IOCPSCOPE__IGN(delta), IOCPSCOPE__IGN(value), \
   IOCPSCOPE__IGN(cause), IOCPSCOPE__IGN(ov))
#define IOCPSCOPE_IOCOUNT_ADD(counter, delta, session, cause, ov)                  \
  (IOCPSCOPE__IGN(session), IOCPSCOPE__IGN(cause), IOCPSCOPE__IGN(ov), \
   InterlockedExchangeAdd((counter), (delta)) + (delta))
#define IOCPSCOPE_DISCONNECT(session, reason, error) \
  (IOCPSCOPE__IGN(session), IOCPSCOPE__IGN(reason), IOCPSCOPE__IGN(error))
#define IOCPSCOPE_LOCK_EX(what, lock, name, mode, session)                       \
  (IOCPSCOPE__IGN(what), IOCPSCOPE__IGN(lock), IOCPSCOPE__IGN(name), \
   IOCPSCOPE__IGN(mode), IOCPSCOPE__IGN(session))
#define IOCPSCOPE_LOCK_WAIT(lock, name) (IOCPSCOPE__IGN(lock), IOCPSCOPE__IGN(name))
#define IOCPSCOPE_LOCK_ACQUIRE(lock, name) (IOCPSCOPE__IGN(lock), IOCPSCOPE__IGN(name))
#define IOCPSCOPE_LOCK_RELEASE(lock, name) (IOCPSCOPE__IGN(lock), IOCPSCOPE__IGN(name))
#define IOCPSCOPE_MARKER(label, session) (IOCPSCOPE__IGN(label), IOCPSCOPE__IGN(session))
#define IOCPSCOPE_RING_POST(ov, off0, len0, off1, avail)                         \
  (IOCPSCOPE__IGN(ov), IOCPSCOPE__IGN(off0), IOCPSCOPE__IGN(len0), \
   IOCPSCOPE__IGN(off1), IOCPSCOPE__IGN(avail))

#define IOCPSCOPE_GetQueuedCompletionStatus(port, bytes, key, ov, timeout) \
  (GetQueuedCompletionStatus)(port, bytes, key, ov, timeout)
#define IOCPSCOPE_GetQueuedCompletionStatusEx(port, entries, count, removed, timeout, alertable) \
  (GetQueuedCompletionStatusEx)(port, entries, count, removed, timeout, alertable)
#define IOCPSCOPE_PostQueuedCompletionStatus(port, bytes, key, ov) \
  (PostQueuedCompletionStatus)(port, bytes, key, ov)
#define IOCPSCOPE_WSARecv(s, bufs, n, received, flags, ov, cr) \
  (WSARecv)(s, bufs, n, received, flags, ov, cr)
#define IOCPSCOPE_WSASend(s, bufs, n, sent, flags, ov, cr) (WSASend)(s, bufs, n, sent, flags, ov, cr)
#define IOCPSCOPE_closesocket(s) (closesocket)(s)
#define IOCPSCOPE_CancelIoEx(h, ov) (CancelIoEx)(h, ov)
#define IOCPSCOPE_AcceptEx(ls, as, buf, rlen, llen, rmlen, received, ov) \
  (AcceptEx)(ls, as, buf, rlen, llen, rmlen, received, ov)
#define IOCPSCOPE_CreateIoCompletionPort(h, port, key, n) (CreateIoCompletionPort)(h, port, key, n)
#define IOCPSCOPE_SetFileCompletionNotificationModes(h, flags) \
  (SetFileCompletionNotificationModes)(h, flags)

#endif /* IOCPSCOPE_ENABLE */

#ifdef IOCPSCOPE_WRAP_ALL
#define GetQueuedCompletionStatus(...) IOCPSCOPE_GetQueuedCompletionStatus(__VA_ARGS__)
#define GetQueuedCompletionStatusEx(...) IOCPSCOPE_GetQueuedCompletionStatusEx(__VA_ARGS__)
#define PostQueuedCompletionStatus(...) IOCPSCOPE_PostQueuedCompletionStatus(__VA_ARGS__)
#define WSARecv(...) IOCPSCOPE_WSARecv(__VA_ARGS__)
#define WSASend(...) IOCPSCOPE_WSASend(__VA_ARGS__)
#define closesocket(...) IOCPSCOPE_closesocket(__VA_ARGS__)
#define CancelIoEx(...) IOCPSCOPE_CancelIoEx(__VA_ARGS__)
#define CreateIoCompletionPort(...) IOCPSCOPE_CreateIoCompletionPort(__VA_ARGS__)
#define SetFileCompletionNotificationModes(...) \
  IOCPSCOPE_SetFileCompletionNotificationModes(__VA_ARGS__)
#endif

#endif /* IOCPSCOPE_H */

/* ============================================================================
 * IMPLEMENTATION
 * ========================================================================== */
#if defined(IOCPSCOPE_IMPLEMENTATION) && defined(IOCPSCOPE_ENABLE) && \
    !defined(IOCPSCOPE_IMPLEMENTATION_DONE)
#define IOCPSCOPE_IMPLEMENTATION_DONE

#include <ws2tcpip.h>
#include <intrin.h>
#if defined(_M_X64) || defined(__x86_64__) || defined(_M_IX86) || defined(__i386__)
#include <emmintrin.h> /* _mm_lfence */
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- portability shim: atomics, inline, TLS, clock ------------------------
 * RMW operations are Interlocked* (both compilers). Loads with acquire and
 * stores with release are plain moves on x64 (x86-TSO) behind a compiler
 * barrier; elsewhere they go through Interlocked* as well. */
#if defined(_MSC_VER) && !defined(__clang__)
#define IOCPSCOPE__INLINE static __forceinline
#define IOCPSCOPE__NOINLINE static __declspec(noinline)
#define IOCPSCOPE__LIKELY(x) (x)
#define IOCPSCOPE__UNLIKELY(x) (x)
#define IOCPSCOPE__BARRIER() _ReadWriteBarrier()
#else
#define IOCPSCOPE__INLINE static __inline__ __attribute__((always_inline))
#define IOCPSCOPE__NOINLINE static __attribute__((noinline))
#define IOCPSCOPE__LIKELY(x) __builtin_expect(!!(x), 1)
#define IOCPSCOPE__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define IOCPSCOPE__BARRIER() __asm__ __volatile__("" ::: "memory")
#endif

#if defined(_M_X64) || defined(__x86_64__)
#define IOCPSCOPE__X64 1
#endif
#if defined(_M_IX86) || defined(__i386__)
#define IOCPSCOPE__X86 1
#endif

IOCPSCOPE__INLINE LONG64 iocpscope__ld64(LONG64 volatile *p) {
#ifdef IOCPSCOPE__X64
  LONG64 v = *p;
  IOCPSCOPE__BARRIER();
  return v;
#else
  return InterlockedCompareExchange64(p, 0, 0);
#endif
}
IOCPSCOPE__INLINE void iocpscope__st64(LONG64 volatile *p, LONG64 v) {
#ifdef IOCPSCOPE__X64
  IOCPSCOPE__BARRIER();
  *p = v;
#else
  InterlockedExchange64(p, v);
#endif
}
IOCPSCOPE__INLINE LONG iocpscope__ld32(LONG volatile *p) {
#if defined(IOCPSCOPE__X64) || defined(IOCPSCOPE__X86)
  LONG v = *p;
  IOCPSCOPE__BARRIER();
  return v;
#else
  return InterlockedCompareExchange(p, 0, 0);
#endif
}
IOCPSCOPE__INLINE void iocpscope__st32(LONG volatile *p, LONG v) {
#if defined(IOCPSCOPE__X64) || defined(IOCPSCOPE__X86)
  IOCPSCOPE__BARRIER();
  *p = v;
#else
  InterlockedExchange(p, v);
#endif
}
#define iocpscope__add64(p, v) InterlockedExchangeAdd64((p), (v))
#define iocpscope__cas64(p, desired, expected) InterlockedCompareExchange64((p), (desired), (expected))
#define iocpscope__cas32(p, desired, expected) InterlockedCompareExchange((p), (desired), (expected))

/* Thread-local pointer: a TlsAlloc slot read straight from the TEB on x86/x64
 * (one load; TlsGetValue would also reset the thread's last error). */
IOCPSCOPE__INLINE void *iocpscope__tls_read(DWORD idx) {
#if defined(IOCPSCOPE__X64)
  if (idx < 64) return (void *)__readgsqword((DWORD)(0x1480 + idx * 8));
#elif defined(IOCPSCOPE__X86)
  if (idx < 64) return (void *)__readfsdword((DWORD)(0xE10 + idx * 4));
#endif
  {
    DWORD e = GetLastError();
    void *p = TlsGetValue(idx);
    SetLastError(e);
    return p;
  }
}

/* Test builds only (IOCPSCOPE_TEST_HOOKS): a function the tracer calls at five
 * points of the record path, so a test can pause a thread there: 1 between a
 * record's clock read and its publication, 2 between an IOCount change's clock
 * read and its CAS, 3 in WSARecv/WSASend between the call's return and its
 * record, 4 in WSARecv/WSASend between the decision to record and the table, 5
 * in the collector as recording switches on, before it reads the tables. */
#ifdef IOCPSCOPE_TEST_HOOKS
void (*iocpscope_test_hook)(int where);
#define IOCPSCOPE__HOOK(where) (iocpscope_test_hook ? iocpscope_test_hook(where) : (void)0)
#else
#define IOCPSCOPE__HOOK(where) ((void)0)
#endif

/* ---- constants --------------------------------------------------------------- */
#define IOCPSCOPE__TS_MASK ((((uint64_t)1) << 53) - 1)
#define IOCPSCOPE__SITE_MAX 2047
#define IOCPSCOPE__NO_THREAD 0xFFFFu
#define IOCPSCOPE__PROBES 64
#define IOCPSCOPE__STR_MAX 1024
#define IOCPSCOPE__RECENT 32
#define IOCPSCOPE__NOTRACE ((iocpscope__thread *)(uintptr_t)1)

enum {
  IOCPSCOPE__K_THREAD_START = 1,
  IOCPSCOPE__K_THREAD_EXIT = 2,
  IOCPSCOPE__K_THREAD_STATE = 3,
  IOCPSCOPE__K_PORT_CREATED = 4,
  IOCPSCOPE__K_GQCS_ENTER = 5,
  IOCPSCOPE__K_GQCS_RETURN = 6,
  IOCPSCOPE__K_PACKET_QUEUED = 7,
  IOCPSCOPE__K_PQCS = 8,
  IOCPSCOPE__K_IO_POSTED = 9,
  IOCPSCOPE__K_IO_COUNT = 10,
  IOCPSCOPE__K_SESSION_CREATED = 11,
  IOCPSCOPE__K_SESSION_RELEASED = 12,
  IOCPSCOPE__K_ACCEPT = 13,
  IOCPSCOPE__K_DISCONNECT = 14,
  IOCPSCOPE__K_SOCKET_CLOSED = 15,
  IOCPSCOPE__K_LOCK_WAIT = 16,
  IOCPSCOPE__K_LOCK_ACQUIRE = 17,
  IOCPSCOPE__K_LOCK_RELEASE = 18,
  IOCPSCOPE__K_MARKER = 19,
  IOCPSCOPE__K_GAP = 20,
  IOCPSCOPE__K_IO_DETAIL = 21,
  IOCPSCOPE__K_IO_RING = 22,
  IOCPSCOPE__K_SESSION_RINGS = 23,
  IOCPSCOPE__K_SNAPSHOT = 24,
  IOCPSCOPE__K_TRACE_END = 25,
  IOCPSCOPE__K_CALL_SITE = 26,
  IOCPSCOPE__K_HANDLE_ASSOCIATED = 32,
  IOCPSCOPE__K_COMPLETION_MODES = 33
};
enum { IOCPSCOPE__OP_NONE = 0, IOCPSCOPE__OP_RECV = 1, IOCPSCOPE__OP_SEND = 2, IOCPSCOPE__OP_POST = 3, IOCPSCOPE__OP_ACCEPT = 4 };
enum { IOCPSCOPE__ST_WAITING = 0, IOCPSCOPE__ST_RUNNING = 1, IOCPSCOPE__ST_BLOCKED = 2, IOCPSCOPE__ST_EXITED = 3 };

/* One record, as in FORMAT.md §3. In a ring, `tid` is 0 (the collector fills it
 * in) and `ts` holds raw ticks since init (low 53 bits) and the site (top 11). */
typedef struct iocpscope__rec {
  uint32_t w0; /* kind | a << 8 | tid << 16 */
  uint32_t x;
  uint64_t ts;
  uint64_t session;
  uint32_t y;
  uint32_t z;
} iocpscope__rec;
typedef char iocpscope__rec_is_32_bytes[sizeof(iocpscope__rec) == 32 ? 1 : -1];

/* ---- lock-free open-addressing map ------------------------------------------
 * Slots of 64 bytes: a control word (generation << 2 | state), a key and six
 * payload words. claim() takes an empty or deleted slot by CAS on the control
 * word (state CLAIMING), the owner writes key and payload, publish() makes it
 * LIVE with a release store; remove() moves LIVE -> DELETED by CAS against the
 * control word that find() saw, so of two removers exactly one wins and a slot
 * reused meanwhile (another generation) is never removed by mistake. Probing
 * is linear and bounded; lookups stop at an EMPTY slot. */
enum { IOCPSCOPE__M_EMPTY = 0, IOCPSCOPE__M_CLAIMING = 1, IOCPSCOPE__M_LIVE = 2, IOCPSCOPE__M_DELETED = 3 };
typedef struct iocpscope__slot {
  LONG64 volatile ctl;
  LONG64 volatile key;
  LONG64 volatile v[6];
} iocpscope__slot;
typedef struct iocpscope__map {
  iocpscope__slot *slots;
  uint64_t mask;
  LONG volatile full; /* inserts that found no slot */
} iocpscope__map;

IOCPSCOPE__INLINE uint64_t iocpscope__mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return k;
}

static iocpscope__slot *iocpscope__map_find(iocpscope__map *m, uint64_t key, LONG64 *ctl_seen) {
  uint64_t i = iocpscope__mix(key), n;
  if (!m->slots) return NULL;
  for (n = 0; n < IOCPSCOPE__PROBES; n++, i++) {
    iocpscope__slot *s = &m->slots[i & m->mask];
    LONG64 c = iocpscope__ld64(&s->ctl);
    int st = (int)(c & 3);
    if (st == IOCPSCOPE__M_EMPTY) return NULL;
    if (st == IOCPSCOPE__M_LIVE && (uint64_t)s->key == key) {
      if (ctl_seen) *ctl_seen = c;
      return s;
    }
  }
  return NULL;
}

static iocpscope__slot *iocpscope__map_claim(iocpscope__map *m, uint64_t key) {
  uint64_t i = iocpscope__mix(key), n;
  if (!m->slots) return NULL;
  for (n = 0; n < IOCPSCOPE__PROBES; n++, i++) {
    iocpscope__slot *s = &m->slots[i & m->mask];
    LONG64 c = iocpscope__ld64(&s->ctl);
    int st = (int)(c & 3);
    if (st == IOCPSCOPE__M_EMPTY || st == IOCPSCOPE__M_DELETED) {
      LONG64 want = (LONG64)((((uint64_t)c >> 2) + 1) << 2) | IOCPSCOPE__M_CLAIMING;
      if (iocpscope__cas64(&s->ctl, want, c) == c) {
        s->key = (LONG64)key;
        return s;
      }
    }
  }
  InterlockedIncrement(&m->full);
  return NULL;
}

IOCPSCOPE__INLINE void iocpscope__map_publish(iocpscope__slot *s) {
  LONG64 c = s->ctl;
  iocpscope__st64(&s->ctl, (c & ~(LONG64)3) | IOCPSCOPE__M_LIVE);
}

/* A claimed slot given up before it was published: a plain store, as no other thread
 * writes a slot while it is being claimed. */
IOCPSCOPE__INLINE void iocpscope__map_drop(iocpscope__slot *s) {
  LONG64 c = s->ctl;
  iocpscope__st64(&s->ctl, (c & ~(LONG64)3) | IOCPSCOPE__M_DELETED);
}

IOCPSCOPE__INLINE int iocpscope__map_remove(iocpscope__slot *s, LONG64 ctl_seen) {
  return iocpscope__cas64(&s->ctl, (ctl_seen & ~(LONG64)3) | IOCPSCOPE__M_DELETED, ctl_seen) ==
         ctl_seen;
}

/* ---- threads ------------------------------------------------------------------ */
typedef struct iocpscope__recent { /* completions dequeued / posts failed, for -1 matching */
  uint64_t ov;
  uint32_t io_id;
  uint32_t kind; /* 1 dequeued, 2 failed post */
} iocpscope__recent;

typedef struct iocpscope__thread {
  /* producer-owned */
  iocpscope__rec *ring;
  uint64_t mask;
  uint64_t cap;
  uint64_t head;
  uint64_t cached_tail;
  uint64_t pending_lost;
  int no_ring; /* the budget had no room: records are counted as lost */
  /* owned by a tracer built on this header (the hook DLL), reset with the thread: next to
   * the ring's fields, which every record reads, as that tracer reads these on every call */
  uint32_t ext[6];
  uint64_t ext_site_key[8]; /* its call sites, cached on the thread's own lines */
  iocpscope_loc ext_site_loc[8];
  /* reservation of an ioId by a +1 before the post (IOCPSCOPE_IOCOUNT with an OVERLAPPED) */
  uint64_t reserve_ov[4];
  uint32_t reserve_id[4];
  unsigned reserve_pos;
  iocpscope__recent recent[IOCPSCOPE__RECENT];
  unsigned recent_pos;
  /* ring geometry for the next post with this OVERLAPPED (IOCPSCOPE_RING_POST) */
  uint64_t geo_ov;
  uint32_t geo[4];
  /* name cache (by address) for lock names */
  const char *name_ptr[8];
  uint32_t name_id[8];
  /* call sites seen by this thread (C call sites have no static to cache their id) */
  const char *site_file[32];
  uint32_t site_line[32];
  uint32_t site_id[32];
  /* session slot cache for IoCount updates */
  uint64_t sess_key;
  iocpscope__slot *sess_slot;
  LONG64 sess_ctl;
  char pad0[64];
  LONG64 volatile head_pub; /* producer: published head (release) */
  LONG64 volatile busy;     /* producer: a record stamped at or after this (ticks) is not
                               published yet; 0 = none (the merge does not pass it) */
  LONG volatile posting;    /* producer: odd inside a post wrapper, from its decision to
                               record to its records (the switch-on waits for it) */
  char pad1[44];
  LONG64 volatile tail;       /* collector: consumed up to (release) */
  LONG64 volatile lost_total; /* producer: records lost so far */
  LONG64 volatile lost_reported; /* producer: of which already in a Gap record */
  char pad2[40];
  /* shared state for snapshots (plain stores, read by the collector) */
  LONG volatile in_use;
  LONG volatile exited;
  LONG volatile tid;
  LONG volatile role;
  LONG volatile name_str;
  LONG volatile os_tid;
  LONG volatile state;
  LONG volatile block_reason;
  LONG volatile block_detail;
  LONG64 volatile gqcs_seq; /* when it started waiting in GQCS, by the clock (LIFO in snapshots) */
  /* the collector's view of this thread, from the records it merged (the shadow) */
  int sh_state, sh_reason;
  uint32_t sh_detail;
  uint64_t sh_wait;
  uint32_t sh_last_op_io; /* the post an IoRing record follows */
  uint64_t sh_last_op_session;
} iocpscope__thread;

/* A single-threaded open-addressing map of fixed-size entries keyed by (a, b);
 * linear probing, deletion by backward shift. */
typedef struct iocpscope__sent {
  uint64_t a;
  uint32_t b;
  uint32_t used;
} iocpscope__sent;
typedef struct iocpscope__smap {
  uint8_t *e;
  size_t esize;
  uint64_t mask;
  uint64_t max_mask; /* it grows (doubling, while half full) up to this */
  uint64_t count;
  unsigned long long dropped; /* inserts refused: the map was full */
} iocpscope__smap;

/* Starts small (few live entries stay in cache) and grows to hold `entries`. */
static iocpscope__smap *iocpscope__smap_new(uint64_t entries, size_t esize) {
  iocpscope__smap *m = (iocpscope__smap *)calloc(1, sizeof *m);
  uint64_t n = 16, start = 512;
  while (n < entries * 2) n <<= 1;
  if (!m) return NULL;
  if (start > n) start = n;
  m->e = (uint8_t *)calloc((size_t)start, esize);
  if (!m->e) {
    free(m);
    return NULL;
  }
  m->esize = esize;
  m->mask = start - 1;
  m->max_mask = n - 1;
  return m;
}

#define IOCPSCOPE__SE(m, i) ((iocpscope__sent *)((m)->e + (size_t)((i) & (m)->mask) * (m)->esize))

static void *iocpscope__smap_find(iocpscope__smap *m, uint64_t a, uint32_t b) {
  uint64_t i = iocpscope__mix(a ^ ((uint64_t)b << 32) ^ b);
  for (;; i++) {
    iocpscope__sent *e = IOCPSCOPE__SE(m, i);
    if (!e->used) return NULL;
    if (e->a == a && e->b == b) return e;
  }
}

/* Twice the slots, every entry rehashed; 0 when memory is short (it stays as it is). */
static int iocpscope__smap_grow(iocpscope__smap *m) {
  uint64_t n = (m->mask + 1) * 2, k;
  uint8_t *old = m->e, *e = (uint8_t *)calloc((size_t)n, m->esize);
  uint64_t old_n = m->mask + 1;
  if (!e) return 0;
  m->e = e;
  m->mask = n - 1;
  for (k = 0; k < old_n; k++) {
    iocpscope__sent *x = (iocpscope__sent *)(old + (size_t)k * m->esize);
    uint64_t i;
    if (!x->used) continue;
    for (i = iocpscope__mix(x->a ^ ((uint64_t)x->b << 32) ^ x->b);; i++) {
      iocpscope__sent *y = (iocpscope__sent *)(e + (size_t)(i & m->mask) * m->esize);
      if (!y->used) {
        memcpy(y, x, m->esize);
        break;
      }
    }
  }
  free(old);
  return 1;
}

/* The entry for (a, b), created zeroed if new; NULL when the map is full. */
static void *iocpscope__smap_put(iocpscope__smap *m, uint64_t a, uint32_t b) {
  uint64_t i;
  if (m->count * 2 >= m->mask + 1 && m->mask < m->max_mask) iocpscope__smap_grow(m);
  i = iocpscope__mix(a ^ ((uint64_t)b << 32) ^ b);
  if (m->count * 10 >= (m->mask + 1) * 9) {
    void *found = iocpscope__smap_find(m, a, b);
    if (!found) m->dropped++;
    return found;
  }
  for (;; i++) {
    iocpscope__sent *e = IOCPSCOPE__SE(m, i);
    if (!e->used) {
      memset(e, 0, m->esize);
      e->a = a;
      e->b = b;
      e->used = 1;
      m->count++;
      return e;
    }
    if (e->a == a && e->b == b) return e;
  }
}

static void iocpscope__smap_del(iocpscope__smap *m, void *entry) {
  uint64_t i = (uint64_t)((uint8_t *)entry - m->e) / m->esize, j = i;
  for (;;) {
    iocpscope__sent *e;
    uint64_t home;
    j = (j + 1) & m->mask;
    e = IOCPSCOPE__SE(m, j);
    if (!e->used) break;
    home = iocpscope__mix(e->a ^ ((uint64_t)e->b << 32) ^ e->b) & m->mask;
    /* move e back into the hole at i unless its home lies cyclically in (i, j] */
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      memcpy(IOCPSCOPE__SE(m, i), e, m->esize);
      i = j;
    }
  }
  IOCPSCOPE__SE(m, i)->used = 0;
  m->count--;
}

static void iocpscope__smap_clear(iocpscope__smap *m) {
  memset(m->e, 0, (size_t)(m->mask + 1) * m->esize);
  m->count = 0;
}

#define IOCPSCOPE__HELD_MAX 256
#define IOCPSCOPE__HELD_PER_SESSION 16
typedef struct iocpscope__held { /* an IoCount record waiting for its predecessor */
  iocpscope__rec r;
  uint16_t tid;
} iocpscope__held;

/* ---- outputs -------------------------------------------------------------------- */
typedef struct iocpscope__out {
  int kind; /* 1 file, 2 stream */
  int open;
  HANDLE file;
  SOCKET sock;
  uint64_t base; /* ticks of tsNs 0 */
  unsigned long long written;
  unsigned long long gap_pending; /* records dropped, to report in a Gap */
  int gap_source;
  uint8_t *str_sent; /* bitsets of what this output has defined */
  uint8_t site_sent[(IOCPSCOPE__SITE_MAX + 8) / 8];
  uint8_t tid_sent[8192];
  /* the chunk being built */
  iocpscope__rec *pend;
  size_t npend, cap_pend;
  uint32_t *pend_str;
  size_t npend_str, cap_pend_str;
  uint16_t pend_site[IOCPSCOPE__SITE_MAX + 1];
  size_t npend_site;
  uint16_t *pend_tid;
  size_t npend_tid;
  uint8_t *chunk; /* the chunk's bytes, reused */
  size_t cap_chunk;
  uint64_t last_flush;
  /* what this output's snapshot described: the same posts' and sessions' records
   * that follow it (stamped after its start by calls that straddled it) are not repeated */
  iocpscope__smap *snap_ios, *snap_sessions;
  /* stream: bytes not yet sent, the viewer's reply line */
  uint8_t *q;
  size_t qlen, qoff, qcap;
  char reply[1100];
  size_t nreply;
  int replied;
} iocpscope__out;

/* ---- global state ------------------------------------------------------------------ */
typedef struct iocpscope__global {
  LONG volatile state; /* 0 new, 1 starting, 2 running, 3 stopping, 4 stopped */
  LONG volatile active;
  LONG volatile rec_epoch; /* 1..65535, bumped before each switch-on: tags posts recorded then */
  int use_tsc;
  uint64_t t0;
  uint64_t tps;
  uint64_t ns_mult; /* 1e9 * 2^32 / tps when that is below 2^32, else 0 */
  LARGE_INTEGER qpf;
  DWORD tls;
  DWORD fls;
  /* config */
  char *output, *connect, *token, *app, *name;
  char tracer[40];
  int derived;
  unsigned workers, concurrency, flush_ms, retry_max_ms, max_threads;
  uint64_t ring_bytes, budget, mem_used_fixed, queue_cap;
  LONG64 volatile ring_mem;
  int log;
  /* threads */
  iocpscope__thread *threads;
  LONG volatile next_tid;
  LONG volatile thread_hw; /* slots ever used */
  LONG64 volatile untraced_lost;
  LONG64 volatile untraced_reported;
  LONG volatile threads_refused;
  LONG threads_refused_said;
  /* ids */
  /* the counter every thread increments, on a line of its own (the record path
   * reads the fields above on every call) */
  char pad_io0[64];
  LONG volatile next_io;
  char pad_io1[64];
  LONG64 volatile merged; /* the merge's limit so far (ticks): records stamped later are still to come */
  uint64_t drained_to;    /* the limit the last drain used (collector) */
  /* tables */
  iocpscope__map ovs;      /* OVERLAPPED -> post */
  iocpscope__map sessions; /* session -> socket, peer, count, rings */
  iocpscope__map sockets;  /* socket -> session */
  /* strings: content hash -> id; id -> offset in the arena */
  LONG64 volatile *str_keys;
  LONG volatile *str_ids;
  uint64_t str_mask;
  uint32_t *str_off;
  uint32_t str_max;
  LONG volatile str_next;
  uint8_t *arena;
  LONG volatile arena_used;
  uint32_t arena_cap;
  LONG volatile str_dropped;
  /* call sites */
  LONG64 volatile site_keys[4096];
  LONG volatile site_vals[4096];
  LONG volatile site_next;
  uint32_t site_file[IOCPSCOPE__SITE_MAX + 1], site_func[IOCPSCOPE__SITE_MAX + 1],
      site_line[IOCPSCOPE__SITE_MAX + 1];
  /* the shadow: state at the merge point, for snapshots (collector only) */
  iocpscope__smap *sh_ops, *sh_sessions, *sh_locks;
  iocpscope__held held[IOCPSCOPE__HELD_MAX];
  unsigned nheld;
  unsigned long long reordered, unordered;
  uint64_t sh_wait_next, sh_seq, sh_swept;
  /* port */
  LONG volatile ports;
  LONG volatile port_concurrency;
  /* Win32 extras */
  ULONG(WINAPI *nt_to_dos)(LONG);
  LPFN_ACCEPTEX accept_ex;
  /* a tracer built on this header that keeps sessions' IOCount itself (and not in the
   * sessions table's v[2]) answers it for snapshots */
  LONG (*count_of)(uint64_t session);
  /* collector */
  HANDLE collector;
  HANDLE wake;
  HANDLE flushed;
  LONG volatile flush_req;
  LONG volatile flush_done;
  LONG volatile stop;
  int end_reason;
  uint32_t crc[4][256];
  iocpscope__out outs[2];
  iocpscope__rec *batch;
  uint16_t *batch_tid;
  size_t batch_cap;
  unsigned long long written, dropped, connects;
  LONG volatile connected;
  /* stream connection state */
  SOCKET connecting;
  uint64_t connect_started, next_attempt;
  unsigned backoff_ms;
  int wsa;
  uint32_t pid;
  char host[260], process_name[260];
  uint64_t start_wall_ms_at_t0;
} iocpscope__global;

static iocpscope__global iocpscope__g;

/* ---- logging --------------------------------------------------------------------- */
static void iocpscope__log(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  int n;
  DWORD w;
  if (iocpscope__g.log <= 0) return;
  memcpy(buf, "[iocpscope] ", 12);
  va_start(ap, fmt);
  n = vsnprintf(buf + 12, sizeof(buf) - 14, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n > (int)sizeof(buf) - 14) n = (int)sizeof(buf) - 14;
  buf[12 + n] = '\n';
  WriteFile(GetStdHandle(STD_ERROR_HANDLE), buf, (DWORD)(13 + n), &w, NULL);
}

/* ---- clock -------------------------------------------------------------------------- */
IOCPSCOPE__INLINE uint64_t iocpscope__ticks(void) {
#if defined(IOCPSCOPE__X64) || defined(IOCPSCOPE__X86)
  if (IOCPSCOPE__LIKELY(iocpscope__g.use_tsc)) return (uint64_t)__rdtsc();
#endif
  {
    LARGE_INTEGER q;
    QueryPerformanceCounter(&q);
    return (uint64_t)q.QuadPart;
  }
}

/* The clock, read only after every earlier instruction has completed (lfence:
 * rdtsc alone may run ahead of the load or CAS before it). For IOCount changes,
 * whose records must follow the order in which the count changed. */
IOCPSCOPE__INLINE uint64_t iocpscope__ticks_after(void) {
#if defined(IOCPSCOPE__X64) || defined(IOCPSCOPE__X86)
  if (IOCPSCOPE__LIKELY(iocpscope__g.use_tsc)) {
    _mm_lfence();
    return (uint64_t)__rdtsc();
  }
#endif
  return iocpscope__ticks();
}

/* Relative ticks (since init) in the low 53 bits, the site in the top 11. */
IOCPSCOPE__INLINE uint64_t iocpscope__tsw(uint64_t ticks, uint32_t site) {
  uint64_t rel = ticks - iocpscope__g.t0;
  if ((int64_t)rel < 0) rel = 0;
  return (rel & IOCPSCOPE__TS_MASK) | ((uint64_t)site << 53);
}

/* Ticks to ns. Above 1 GHz (the TSC) by a 32.32 fixed-point multiply: monotonic,
 * and off by at most 1 ns per 2^32 ns of trace from the rounding of the factor
 * (the calibration itself is good to a few ppm); otherwise exactly, by division. */
static uint64_t iocpscope__ns(uint64_t d) {
  uint64_t tps = iocpscope__g.tps, m = iocpscope__g.ns_mult;
  if (m) return (d >> 32) * m + (((d & 0xFFFFFFFFu) * m) >> 32);
  return (d / tps) * 1000000000ULL + ((d % tps) * 1000000000ULL) / tps;
}

static int iocpscope__tsc_invariant(void) {
#if defined(IOCPSCOPE__X64) || defined(IOCPSCOPE__X86)
  int r[4];
  __cpuid(r, (int)0x80000000);
  if ((unsigned)r[0] < 0x80000007u) return 0;
  __cpuid(r, (int)0x80000007);
  return ((unsigned)r[3] >> 8) & 1;
#else
  return 0;
#endif
}

/* ---- strings ------------------------------------------------------------------------- */
/* Copies s (n bytes) as valid UTF-8 of at most 1024 bytes into out: every byte
 * that does not start a valid sequence becomes '?'. Returns the length. */
static size_t iocpscope__utf8(const char *s, size_t n, char *out) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, o = 0;
  while (i < n) {
    unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    size_t k;
    int ok = len > 0 && i + len <= n;
    if (ok && len > 1) {
      uint32_t cp = c & (0x7Fu >> len);
      for (k = 1; k < len; k++) {
        if ((p[i + k] & 0xC0) != 0x80) ok = 0;
        cp = (cp << 6) | (p[i + k] & 0x3Fu);
      }
      if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                 (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)))
        ok = 0;
    }
    if (!ok) len = 1;
    if (o + len > IOCPSCOPE__STR_MAX) break;
    if (ok) {
      for (k = 0; k < len; k++) out[o++] = (char)p[i + k];
    } else {
      out[o++] = '?';
    }
    i += len;
  }
  return o;
}

/* The string's id in the string table (0 = the empty string, or no room left). */
static uint32_t iocpscope__intern_n(const char *s, size_t n) {
  iocpscope__global *g = &iocpscope__g;
  char buf[IOCPSCOPE__STR_MAX];
  size_t len, i;
  uint64_t h = 1469598103934665603ULL, k;
  if (!s || n == 0 || !g->str_keys) return 0;
  len = iocpscope__utf8(s, n, buf);
  for (i = 0; i < len; i++) h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
  h |= 1;
  for (k = 0; k <= g->str_mask; k++) {
    uint64_t at = (h + k) & g->str_mask;
    LONG64 cur = iocpscope__ld64(&g->str_keys[at]);
    if (cur == 0) cur = iocpscope__cas64(&g->str_keys[at], (LONG64)h, 0);
    if (cur == 0) { /* claimed: store the bytes, then publish the id */
      LONG id = InterlockedIncrement(&g->str_next);
      LONG off;
      if ((uint32_t)id > g->str_max) {
        InterlockedIncrement(&g->str_dropped);
        iocpscope__st32(&g->str_ids[at], -1);
        return 0;
      }
      off = InterlockedExchangeAdd(&g->arena_used, (LONG)((len + 4 + 3) & ~(size_t)3));
      if ((uint64_t)off + len + 4 > g->arena_cap) {
        InterlockedIncrement(&g->str_dropped);
        iocpscope__st32(&g->str_ids[at], -1);
        return 0;
      }
      {
        uint32_t len32 = (uint32_t)len; /* the arena's length prefix is a u32 */
        memcpy(g->arena + off, &len32, 4);
      }
      memcpy(g->arena + off + 4, buf, len);
      g->str_off[id] = (uint32_t)off;
      iocpscope__st32(&g->str_ids[at], id);
      return (uint32_t)id;
    }
    if ((uint64_t)cur == h) {
      LONG id;
      unsigned spin = 0;
      while ((id = iocpscope__ld32(&g->str_ids[at])) == 0) {
        if (++spin > 100000) return 0;
        YieldProcessor();
      }
      return id < 0 ? 0 : (uint32_t)id;
    }
  }
  InterlockedIncrement(&g->str_dropped);
  return 0;
}

static uint32_t iocpscope__intern(const char *s) {
  return s ? iocpscope__intern_n(s, strlen(s)) : 0;
}

/* ---- call sites ------------------------------------------------------------------------ */
static uint32_t iocpscope__site_slow(iocpscope_loc *loc, const char *func) {
  iocpscope__global *g = &iocpscope__g;
  uint64_t file = (uint64_t)(uintptr_t)loc->file;
  uint32_t line = loc->line & 0xFFFFF;
  uint64_t i = iocpscope__mix(file ^ ((uint64_t)line << 40)), n;
  for (n = 0; n < 4096; n++, i++) {
    uint64_t at = i & 4095;
    LONG64 cur = iocpscope__ld64(&g->site_keys[at]);
    if (cur == 0) cur = iocpscope__cas64(&g->site_keys[at], (LONG64)file, 0);
    if (cur == 0) {
      LONG id = InterlockedIncrement(&g->site_next);
      if (id > IOCPSCOPE__SITE_MAX) {
        id = 0;
      } else {
        const char *f = loc->file ? loc->file : "";
        g->site_file[id] = iocpscope__intern(f);
        g->site_func[id] = iocpscope__intern(func);
        g->site_line[id] = loc->line;
      }
      iocpscope__st32(&g->site_vals[at], (LONG)(0x80000000u | (line << 11) | (uint32_t)id));
      return (uint32_t)id;
    }
    if ((uint64_t)cur == file) {
      LONG v;
      unsigned spin = 0;
      while ((v = iocpscope__ld32(&g->site_vals[at])) == 0) {
        if (++spin > 100000) return 0;
        YieldProcessor();
      }
      if ((((uint32_t)v >> 11) & 0xFFFFF) == line) return (uint32_t)v & 0x7FF;
    }
  }
  return 0;
}

/* The call site's id: C++ caches it in the site's static; C call sites pass a
 * temporary, so a small per-thread cache keyed by (file, line) stands in. */
IOCPSCOPE__INLINE uint32_t iocpscope__site(iocpscope__thread *t, iocpscope_loc *loc,
                                           const char *func) {
  LONG id = iocpscope__ld32((LONG volatile *)&loc->id);
  unsigned k;
  if (IOCPSCOPE__LIKELY(id > 0)) return (uint32_t)id;
  k = (loc->line ^ (unsigned)((uintptr_t)loc->file >> 4)) & 31;
  if (IOCPSCOPE__LIKELY(t->site_file[k] == loc->file && t->site_line[k] == loc->line))
    return t->site_id[k];
  id = (LONG)iocpscope__site_slow(loc, func);
  t->site_file[k] = loc->file;
  t->site_line[k] = loc->line;
  t->site_id[k] = (uint32_t)id;
  iocpscope__st32((LONG volatile *)&loc->id, id == 0 ? -1 : id);
  return (uint32_t)id;
}

/* ---- threads and rings ------------------------------------------------------------------- */
static int iocpscope__start(const iocpscope_config *cfg);

static void NTAPI iocpscope__fls_exit(void *p);

static iocpscope__thread *iocpscope__register(void) {
  iocpscope__global *g = &iocpscope__g;
  DWORD err = GetLastError();
  int wsa = WSAGetLastError();
  iocpscope__thread *t = NULL;
  unsigned i;
  if (iocpscope__ld32(&g->state) != 2) goto done;
  for (i = 0; i < g->max_threads; i++) {
    iocpscope__thread *c = &g->threads[i];
    if (iocpscope__ld32(&c->in_use) == 0 && iocpscope__cas32(&c->in_use, 1, 0) == 0) {
      t = c;
      for (;;) {
        LONG hw = iocpscope__ld32(&g->thread_hw);
        if ((LONG)(i + 1) <= hw || iocpscope__cas32(&g->thread_hw, (LONG)(i + 1), hw) == hw) break;
      }
      break;
    }
  }
  if (!t) {
    /* More threads than IOCPSCOPE_MAX_THREADS: this one is not traced, and the
     * collector says so in the trace (a Marker) and on stderr. */
    TlsSetValue(g->tls, IOCPSCOPE__NOTRACE);
    InterlockedIncrement(&g->threads_refused);
    goto done;
  }
  {
    /* Everything but the shared fields is reset for the new owner. */
    LONG tid = InterlockedIncrement(&g->next_tid);
    memset(t, 0, offsetof(iocpscope__thread, pad0));
    t->tail = 0;
    t->head_pub = 0;
    t->lost_total = 0;
    t->lost_reported = 0;
    t->exited = 0;
    t->role = IOCPSCOPE_ROLE_UNKNOWN;
    t->name_str = 0;
    t->os_tid = (LONG)GetCurrentThreadId();
    t->state = IOCPSCOPE__ST_RUNNING;
    t->gqcs_seq = 0;
    t->sh_state = IOCPSCOPE__ST_RUNNING;
    t->sh_wait = 0;
    if (tid >= (LONG)IOCPSCOPE__NO_THREAD) {
      t->no_ring = 1; /* tids are 16-bit: this thread is counted as lost */
      tid = (LONG)IOCPSCOPE__NO_THREAD;
    }
    iocpscope__st32(&t->tid, tid);
    TlsSetValue(g->tls, t);
    if (g->fls != FLS_OUT_OF_INDEXES) FlsSetValue(g->fls, t);
  }
done:
  WSASetLastError(wsa);
  SetLastError(err);
  return t;
}

static iocpscope__thread *iocpscope__self_slow(void) {
  iocpscope__thread *t;
  if (iocpscope__ld32(&iocpscope__g.state) == 0) iocpscope__start(NULL);
  while (iocpscope__ld32(&iocpscope__g.state) == 1) Sleep(0);
  if (iocpscope__ld32(&iocpscope__g.state) != 2) return NULL;
  t = (iocpscope__thread *)iocpscope__tls_read(iocpscope__g.tls);
  if (t) return t == IOCPSCOPE__NOTRACE ? NULL : t;
  return iocpscope__register();
}

/* This thread's recorder (registered on first use); NULL for the tracer's own thread. */
IOCPSCOPE__INLINE iocpscope__thread *iocpscope__self(void) {
  iocpscope__thread *t;
  if (IOCPSCOPE__UNLIKELY(iocpscope__g.state != 2)) return iocpscope__self_slow();
  t = (iocpscope__thread *)iocpscope__tls_read(iocpscope__g.tls);
  if (IOCPSCOPE__LIKELY(t != NULL)) return t == IOCPSCOPE__NOTRACE ? NULL : t;
  return iocpscope__register();
}

/* The ring, allocated on the first record (within the budget: halved down to 64 KiB). */
IOCPSCOPE__NOINLINE int iocpscope__alloc_ring(iocpscope__thread *t) {
  iocpscope__global *g = &iocpscope__g;
  DWORD err = GetLastError();
  uint64_t bytes = g->ring_bytes, least = g->ring_bytes < 65536 ? g->ring_bytes : 65536;
  int ok = 0;
  if (!t->no_ring) {
    while (bytes >= least) {
      LONG64 used = iocpscope__add64(&g->ring_mem, (LONG64)bytes);
      if ((uint64_t)used + bytes <= g->budget) {
        void *p = VirtualAlloc(NULL, (SIZE_T)bytes, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        if (p) {
          t->ring = (iocpscope__rec *)p;
          t->cap = bytes / sizeof(iocpscope__rec);
          t->mask = t->cap - 1;
          ok = 1;
          break;
        }
      }
      iocpscope__add64(&g->ring_mem, -(LONG64)bytes);
      bytes /= 2;
    }
    if (!ok) {
      t->no_ring = 1;
      iocpscope__log("no memory left in the budget for thread %lu's ring: its records are lost "
                     "(raise IOCPSCOPE_BUDGET_MB)",
                     (unsigned long)t->os_tid);
    }
  }
  SetLastError(err);
  return ok;
}

IOCPSCOPE__NOINLINE void iocpscope__push_slow(iocpscope__thread *t, uint64_t tsw, uint32_t w0,
                                              uint32_t x, uint64_t session, uint32_t y,
                                              uint32_t z, int last) {
  uint64_t h = t->head, need;
  iocpscope__rec *r;
  if (!t->ring && !iocpscope__alloc_ring(t)) {
    iocpscope__add64(&iocpscope__g.untraced_lost, 1);
    if (last) iocpscope__st64(&t->busy, 0);
    return;
  }
  need = t->pending_lost ? 2 : 1;
  if (h + need - t->cached_tail > t->cap) {
    t->cached_tail = (uint64_t)iocpscope__ld64(&t->tail);
    if (h + need - t->cached_tail > t->cap) {
      t->pending_lost++;
      iocpscope__st64(&t->lost_total, t->lost_total + 1);
      if (last) iocpscope__st64(&t->busy, 0);
      return;
    }
  }
  if (t->pending_lost) {
    r = &t->ring[h & t->mask];
    r->w0 = IOCPSCOPE__K_GAP; /* source 0: RingOverflow */
    r->x = (uint32_t)t->pending_lost;
    r->ts = tsw & IOCPSCOPE__TS_MASK;
    r->session = 0;
    r->y = (uint32_t)(t->pending_lost >> 32);
    r->z = 0;
    h++;
    iocpscope__st64(&t->lost_reported, t->lost_reported + (LONG64)t->pending_lost);
    t->pending_lost = 0;
  }
  r = &t->ring[h & t->mask];
  r->w0 = w0;
  r->x = x;
  r->ts = tsw;
  r->session = session;
  r->y = y;
  r->z = z;
  t->head = h + 1;
  iocpscope__st64(&t->head_pub, (LONG64)(h + 1));
  if (last) iocpscope__st64(&t->busy, 0);
}

/* The record path: one slot of this thread's ring, published with a release store.
 * `last`: the record ends what this call records (the thread is no longer busy). */
IOCPSCOPE__INLINE void iocpscope__push2(iocpscope__thread *t, uint64_t tsw, uint32_t w0,
                                        uint32_t x, uint64_t session, uint32_t y, uint32_t z,
                                        int last) {
  uint64_t h = t->head;
  iocpscope__rec *r;
  if (IOCPSCOPE__UNLIKELY(h - t->cached_tail >= t->cap || t->pending_lost != 0)) {
    iocpscope__push_slow(t, tsw, w0, x, session, y, z, last);
    return;
  }
  r = &t->ring[h & t->mask];
  r->w0 = w0;
  r->x = x;
  r->ts = tsw;
  r->session = session;
  r->y = y;
  r->z = z;
  t->head = h + 1;
  iocpscope__st64(&t->head_pub, (LONG64)(h + 1));
  if (last) iocpscope__st64(&t->busy, 0);
}
#define iocpscope__push(t, tsw, w0, x, session, y, z) \
  iocpscope__push2((t), (tsw), (w0), (x), (session), (y), (z), 1)
/* one of several records stamped together: the thread stays busy until the last */
#define iocpscope__push_more(t, tsw, w0, x, session, y, z) \
  iocpscope__push2((t), (tsw), (w0), (x), (session), (y), (z), 0)

/* The clock for a record about to be pushed. The thread says it is busy before it
 * reads the clock (with a bound that no later reading can be below) and then with
 * the reading itself; the merge does not pass a busy thread's stamp, so a record
 * published late (the thread preempted between the two) still lands in order. */
IOCPSCOPE__INLINE uint64_t iocpscope__stamp(iocpscope__thread *t) {
  uint64_t ticks;
  iocpscope__st64(&t->busy, iocpscope__ld64(&iocpscope__g.merged) + 1);
  ticks = iocpscope__ticks();
  iocpscope__st64(&t->busy, (LONG64)ticks);
  IOCPSCOPE__HOOK(1);
  return ticks;
}

#define IOCPSCOPE__W0(kind, a) ((uint32_t)(kind) | ((uint32_t)((a)&0xFF) << 8))
/* In a ring the tid bits are 0 (the collector fills in the ring's thread); these
 * ask for "no thread" instead: a packet the kernel queued, out of any thread's sight. */
#define IOCPSCOPE__W0_NO_THREAD 0xFFFF0000u

IOCPSCOPE__INLINE int iocpscope__on(void) {
  if (IOCPSCOPE__LIKELY(iocpscope__g.active)) return 1;
  return 0;
}

/* A post wrapper's span: from its one decision whether to record the post, taken
 * before the post goes into the ovs table, to its records pushed. The switch-on
 * waits for the spans under way (iocpscope__await_posts), so that every post is
 * either recorded or in the tables the model starts from, never both and never
 * neither. The tag (0: not recorded, else the recording's epoch) goes into the
 * post's table slot (IOCPSCOPE__OV_TAG). */
#define IOCPSCOPE__OV_TAG_SHIFT 48
IOCPSCOPE__INLINE uint32_t iocpscope__post_enter(iocpscope__thread *t) {
  iocpscope__st32(&t->posting, t->posting + 1);
  if (IOCPSCOPE__LIKELY(iocpscope__ld32(&iocpscope__g.active)))
    return (uint32_t)iocpscope__ld32(&iocpscope__g.rec_epoch);
  return 0;
}
IOCPSCOPE__INLINE void iocpscope__post_leave(iocpscope__thread *t) {
  iocpscope__st32(&t->posting, t->posting + 1);
}

/* The recording thread, when records are being written (else NULL). */
IOCPSCOPE__INLINE iocpscope__thread *iocpscope__rec_thread(void) {
  iocpscope__thread *t;
  if (IOCPSCOPE__UNLIKELY(iocpscope__g.state != 2)) {
    if (iocpscope__g.state == 0) iocpscope__self();
    if (iocpscope__g.state != 2) return NULL;
  }
  if (!iocpscope__g.active) return NULL;
  t = iocpscope__self();
  return t;
}

/* ---- per-thread matching of IOCount to I/O ------------------------------------------------ */
IOCPSCOPE__INLINE uint32_t iocpscope__new_io(void) {
  LONG id = InterlockedIncrement(&iocpscope__g.next_io);
  if (id == 0) id = InterlockedIncrement(&iocpscope__g.next_io);
  return (uint32_t)id;
}

static void iocpscope__remember(iocpscope__thread *t, uint64_t ov, uint32_t io_id, uint32_t kind) {
  iocpscope__recent *r = &t->recent[t->recent_pos++ % IOCPSCOPE__RECENT];
  r->ov = ov;
  r->io_id = io_id;
  r->kind = kind;
}

static uint32_t iocpscope__recall(iocpscope__thread *t, uint64_t ov, uint32_t kind) {
  unsigned k;
  for (k = 1; k <= IOCPSCOPE__RECENT; k++) {
    iocpscope__recent *r = &t->recent[(t->recent_pos - k) % IOCPSCOPE__RECENT];
    if (r->ov == ov && r->kind == kind) return r->io_id;
  }
  return 0;
}

static uint32_t iocpscope__take_reserved(iocpscope__thread *t, uint64_t ov) {
  unsigned k;
  for (k = 0; k < 4; k++) {
    if (t->reserve_ov[k] == ov && t->reserve_id[k] != 0) {
      uint32_t id = t->reserve_id[k];
      t->reserve_id[k] = 0;
      t->reserve_ov[k] = 0;
      return id;
    }
  }
  return 0;
}

/* ---- session and socket tables ------------------------------------------------------------ */
/* sessions: v[0] socket, v[1] peerStr | slot << 32, v[2] IOCount, v[3] recvCap << 32 | sendCap,
 *           v[4] creation ticks, v[5] flags (1: rings known)
 * sockets:  v[0] session, v[1] 1 = from SESSION_CREATED, 2 = from CreateIoCompletionPort,
 *           v[2] completion modes
 * ovs:      v[0] session, v[1] ioId | op << 32 | bufCount << 40, v[2] requested bytes,
 *           v[3] completion key (PQCS) */
static iocpscope__slot *iocpscope__session_slot(iocpscope__thread *t, uint64_t session) {
  LONG64 c = 0;
  iocpscope__slot *s;
  if (t && t->sess_slot && t->sess_key == session && iocpscope__ld64(&t->sess_slot->ctl) == t->sess_ctl)
    return t->sess_slot;
  s = iocpscope__map_find(&iocpscope__g.sessions, session, &c);
  if (t && s) {
    t->sess_key = session;
    t->sess_slot = s;
    t->sess_ctl = c;
  }
  return s;
}

static uint64_t iocpscope__session_of_socket(uint64_t socket) {
  iocpscope__slot *s = iocpscope__map_find(&iocpscope__g.sockets, socket, NULL);
  return s ? (uint64_t)s->v[0] : socket;
}

/* ---- explicit calls ----------------------------------------------------------------------- */
void iocpscope_thread(iocpscope_loc *loc, const char *func, int role, const char *name) {
  iocpscope__thread *t = iocpscope__self();
  uint32_t name_str;
  if (!t) return;
  name_str = iocpscope__intern(name);
  iocpscope__st32(&t->role, role);
  iocpscope__st32(&t->name_str, (LONG)name_str);
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_THREAD_START, role), name_str, 0,
                    (uint32_t)t->os_tid, 0);
}

void iocpscope_thread_state(iocpscope_loc *loc, const char *func, int blocked, int reason,
                            uint32_t detail) {
  iocpscope__thread *t = iocpscope__self();
  if (!t) return;
  t->block_reason = blocked ? reason : 0;
  t->block_detail = blocked ? (LONG)detail : 0;
  iocpscope__st32(&t->state, blocked ? IOCPSCOPE__ST_BLOCKED : IOCPSCOPE__ST_RUNNING);
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_THREAD_STATE,
                                  blocked ? IOCPSCOPE__ST_BLOCKED : IOCPSCOPE__ST_RUNNING),
                    blocked ? (uint32_t)reason : 0, 0, blocked ? detail : 0, 0);
}

void iocpscope_session_created(iocpscope_loc *loc, const char *func, uint64_t session,
                               const char *peer, uint64_t socket, uint32_t slot, int has_slot) {
  iocpscope__thread *t = iocpscope__self();
  uint64_t ticks = iocpscope__ticks();
  uint32_t peer_str;
  iocpscope__slot *s;
  if (!t) return;
  peer_str = iocpscope__intern(peer);
  if (!has_slot) slot = (uint32_t)session;
  s = iocpscope__map_claim(&iocpscope__g.sessions, session);
  if (s) {
    s->v[0] = (LONG64)socket;
    s->v[1] = (LONG64)(peer_str | ((uint64_t)slot << 32));
    s->v[2] = 0;
    s->v[3] = 0;
    s->v[4] = (LONG64)ticks;
    s->v[5] = 0;
    iocpscope__map_publish(s);
  }
  if (socket != 0 && socket != (uint64_t)INVALID_SOCKET) {
    /* A handle value that a new connection reuses gets a new entry, never the old one
     * re-pointed: the old session's release removes the entry it found naming it by a CAS
     * on the control word it saw, which a re-pointed entry still matches. It could then
     * remove the new session's entry, and the new session's posts would name no session. */
    LONG64 c = 0;
    iocpscope__slot *k = iocpscope__map_find(&iocpscope__g.sockets, socket, &c);
    if (k) iocpscope__map_remove(k, c);
    k = iocpscope__map_claim(&iocpscope__g.sockets, socket);
    if (k) {
      k->v[0] = (LONG64)session;
      k->v[1] = 1;
      k->v[2] = 0;
      iocpscope__map_publish(k);
    }
  }
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_SESSION_CREATED, 0), peer_str, session,
                    (uint32_t)socket, slot);
}

void iocpscope_session_rings(iocpscope_loc *loc, const char *func, uint64_t session,
                             uint32_t recv_cap, uint32_t send_cap) {
  iocpscope__thread *t = iocpscope__self();
  iocpscope__slot *s;
  if (!t) return;
  s = iocpscope__session_slot(t, session);
  if (s) {
    iocpscope__st64(&s->v[3], (LONG64)(((uint64_t)recv_cap << 32) | send_cap));
    iocpscope__st64(&s->v[5], 1);
  }
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_SESSION_RINGS, 0), recv_cap, session, send_cap, 0);
}

void iocpscope_session_accepted(iocpscope_loc *loc, const char *func, uint64_t session) {
  iocpscope__thread *t = iocpscope__self();
  iocpscope__slot *s;
  uint32_t peer = 0, sock = 0;
  if (!t || !iocpscope__on()) return;
  s = iocpscope__session_slot(t, session);
  if (s) {
    peer = (uint32_t)(uint64_t)s->v[1];
    sock = (uint32_t)(uint64_t)s->v[0];
  }
  iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                  IOCPSCOPE__W0(IOCPSCOPE__K_ACCEPT, 0), peer, session, sock, 0);
}

void iocpscope_session_released(iocpscope_loc *loc, const char *func, uint64_t session,
                                int32_t io_count) {
  iocpscope__thread *t = iocpscope__self();
  LONG64 c = 0;
  iocpscope__slot *s;
  if (!t) return;
  s = iocpscope__map_find(&iocpscope__g.sessions, session, &c);
  if (s) {
    uint64_t sock = (uint64_t)s->v[0];
    LONG64 kc = 0;
    iocpscope__slot *k = iocpscope__map_find(&iocpscope__g.sockets, sock, &kc);
    if (k && (uint64_t)k->v[0] == session) {
      IOCPSCOPE__HOOK(6);
      iocpscope__map_remove(k, kc);
    }
    iocpscope__map_remove(s, c);
  }
  t->sess_slot = NULL;
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_SESSION_RELEASED, 0), (uint32_t)io_count, session,
                    0, 0);
}

/* The ioId an IOCount change refers to (see MATCHING I/O above). */
static uint32_t iocpscope__io_for(iocpscope__thread *t, int32_t delta, int cause, const void *ov) {
  uint64_t o = (uint64_t)(uintptr_t)ov;
  if (!ov) return 0;
  if (delta > 0 && (cause == IOCPSCOPE_CAUSE_RECV_POST || cause == IOCPSCOPE_CAUSE_SEND_POST)) {
    uint32_t id = iocpscope__new_io();
    unsigned k = t->reserve_pos++ & 3;
    t->reserve_ov[k] = o;
    t->reserve_id[k] = id;
    return id;
  }
  if (delta < 0 && cause == IOCPSCOPE_CAUSE_COMPLETION) return iocpscope__recall(t, o, 1);
  if (delta < 0 && cause == IOCPSCOPE_CAUSE_POST_FAILED) return iocpscope__recall(t, o, 2);
  return 0;
}

void iocpscope_iocount(iocpscope_loc *loc, const char *func, uint64_t session, int32_t delta,
                       int32_t value, int cause, const void *overlapped) {
  iocpscope__thread *t = iocpscope__self();
  uint32_t io;
  iocpscope__slot *s;
  if (!t) return;
  io = iocpscope__io_for(t, delta, cause, overlapped);
  s = iocpscope__session_slot(t, session);
  if (s) iocpscope__st64(&s->v[2], value);
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_IO_COUNT, cause), (uint32_t)value, session,
                    (uint32_t)delta, io);
}

LONG iocpscope_iocount_add(iocpscope_loc *loc, const char *func, LONG volatile *counter,
                           LONG delta, uint64_t session, int cause, const void *overlapped) {
  iocpscope__thread *t = iocpscope__self();
  uint64_t ticks;
  LONG old, seen;
  uint32_t io;
  iocpscope__slot *s;
  if (!t) return InterlockedExchangeAdd(counter, delta) + delta;
  iocpscope__st64(&t->busy, iocpscope__ld64(&iocpscope__g.merged) + 1); /* as in stamp() */
  old = iocpscope__ld32(counter);
  for (;;) {
    /* stamped after `old` was seen: a change that follows another in the count follows it in time */
    ticks = iocpscope__ticks_after();
    IOCPSCOPE__HOOK(2);
    seen = iocpscope__cas32(counter, old + delta, old);
    if (seen == old) break;
    old = seen;
  }
  iocpscope__st64(&t->busy, (LONG64)ticks);
  io = iocpscope__io_for(t, delta, cause, overlapped);
  s = iocpscope__session_slot(t, session);
  if (s) iocpscope__st64(&s->v[2], old + delta);
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(ticks, iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_IO_COUNT, cause), (uint32_t)(old + delta), session,
                    (uint32_t)delta, io);
  else
    iocpscope__st64(&t->busy, 0);
  return old + delta;
}

void iocpscope_disconnect(iocpscope_loc *loc, const char *func, uint64_t session, int reason,
                          uint32_t error) {
  iocpscope__thread *t = iocpscope__rec_thread();
  if (!t) return;
  iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                  IOCPSCOPE__W0(IOCPSCOPE__K_DISCONNECT, reason), 0, session, error, 0);
}

static uint32_t iocpscope__name(iocpscope__thread *t, const char *name) {
  unsigned k = (unsigned)(((uintptr_t)name >> 3) & 7);
  if (!name) return 0;
  if (t->name_ptr[k] != name) {
    t->name_id[k] = iocpscope__intern(name);
    t->name_ptr[k] = name;
  }
  return t->name_id[k];
}

void iocpscope_lock(iocpscope_loc *loc, const char *func, int what, uint64_t lock,
                    const char *name, int mode, uint64_t session) {
  iocpscope__thread *t = iocpscope__self();
  uint32_t id = (uint32_t)(lock ^ (lock >> 32));
  int kind = what == 0 ? IOCPSCOPE__K_LOCK_WAIT
                       : what == 1 ? IOCPSCOPE__K_LOCK_ACQUIRE : IOCPSCOPE__K_LOCK_RELEASE;
  if (!t) return;
  if (what == 0) {
    t->block_reason = IOCPSCOPE_BLOCK_LOCK;
    t->block_detail = (LONG)id;
    iocpscope__st32(&t->state, IOCPSCOPE__ST_BLOCKED);
  } else if (what == 1) {
    iocpscope__st32(&t->state, IOCPSCOPE__ST_RUNNING);
  }
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(kind, mode), id, session, iocpscope__name(t, name), 0);
}

void iocpscope_marker(iocpscope_loc *loc, const char *func, const char *label, uint64_t session) {
  iocpscope__thread *t = iocpscope__rec_thread();
  uint32_t label_str;
  if (!t) return;
  label_str = iocpscope__intern(label);
  iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                  IOCPSCOPE__W0(IOCPSCOPE__K_MARKER, 0), label_str, session, 0, 0);
}

void iocpscope_ring_post(iocpscope_loc *loc, const char *func, const void *overlapped,
                         uint32_t off0, uint32_t len0, uint32_t off1, uint32_t avail) {
  iocpscope__thread *t = iocpscope__self();
  (void)loc;
  (void)func;
  if (!t) return;
  t->geo_ov = (uint64_t)(uintptr_t)overlapped;
  t->geo[0] = off0;
  t->geo[1] = len0;
  t->geo[2] = off1;
  t->geo[3] = avail;
}

/* ---- wrappers ------------------------------------------------------------------------------ */
typedef struct iocpscope__errs {
  DWORD e;
  int w;
} iocpscope__errs;
#define IOCPSCOPE__SAVE(s) ((s).e = GetLastError(), (s).w = WSAGetLastError())
#define IOCPSCOPE__RESTORE(s) (WSASetLastError((s).w), SetLastError((s).e))

/* A post's second table word (v[1]): its ioId, op, WSABUF count (at most 15) and tag. */
IOCPSCOPE__INLINE uint64_t iocpscope__post_word(uint32_t io, unsigned op, unsigned bufs,
                                                uint32_t tag) {
  return io | ((uint64_t)op << 32) | ((uint64_t)(bufs > 15 ? 15 : bufs) << 40) |
         ((uint64_t)tag << IOCPSCOPE__OV_TAG_SHIFT);
}

/* Enter a post into the OVERLAPPED table before the real call. */
static iocpscope__slot *iocpscope__post_begin(uint64_t ov, uint64_t session, uint32_t io,
                                              unsigned op, unsigned bufs, uint32_t bytes,
                                              uint64_t key, uint32_t tag) {
  iocpscope__slot *s = iocpscope__map_claim(&iocpscope__g.ovs, ov);
  if (s) {
    s->v[0] = (LONG64)session;
    s->v[1] = (LONG64)iocpscope__post_word(io, op, bufs, tag);
    s->v[2] = (LONG64)bytes;
    s->v[3] = (LONG64)key;
    iocpscope__map_publish(s);
  }
  return s;
}

#ifdef IOCPSCOPE_EXTENSION
/* As post_begin, with v[3..5] given (a tracer built on this header keeps more per post),
 * and the slot left claimed (CLAIMING), not published: the caller publishes it
 * (iocpscope__map_publish) or drops it (iocpscope__map_drop). Until then it is the caller's
 * alone: claimers take only empty or deleted slots, and takers only live ones. */
static iocpscope__slot *iocpscope__post_claim_ex(uint64_t ov, uint64_t session, uint32_t io,
                                                 unsigned op, unsigned bufs, uint32_t bytes,
                                                 const uint64_t extra[3], uint32_t tag) {
  iocpscope__slot *s = iocpscope__map_claim(&iocpscope__g.ovs, ov);
  if (s) {
    s->v[0] = (LONG64)session;
    s->v[1] = (LONG64)iocpscope__post_word(io, op, bufs, tag);
    s->v[2] = (LONG64)bytes;
    s->v[3] = (LONG64)extra[0];
    s->v[4] = (LONG64)extra[1];
    s->v[5] = (LONG64)extra[2];
  }
  return s;
}

#endif /* IOCPSCOPE_EXTENSION */

/* Take a dequeued packet's post out of the table: returns its slot's values. */
static int iocpscope__post_take(uint64_t ov, uint64_t *session, uint32_t *io, unsigned *op) {
  uint64_t i = iocpscope__mix(ov), n;
  iocpscope__map *m = &iocpscope__g.ovs;
  if (!ov || !m->slots) return 0;
  for (n = 0; n < IOCPSCOPE__PROBES; n++, i++) {
    iocpscope__slot *s = &m->slots[i & m->mask];
    LONG64 c = iocpscope__ld64(&s->ctl);
    int st = (int)(c & 3);
    if (st == IOCPSCOPE__M_EMPTY) return 0;
    if (st == IOCPSCOPE__M_LIVE && (uint64_t)s->key == ov) {
      uint64_t sess = (uint64_t)s->v[0], v1 = (uint64_t)s->v[1];
      if (iocpscope__map_remove(s, c)) {
        *session = sess;
        *io = (uint32_t)v1;
        *op = (unsigned)(v1 >> 32) & 0xFF;
        return 1;
      }
    }
  }
  return 0;
}

#ifdef IOCPSCOPE_EXTENSION
/* A taken post's values, out of its session, second word (iocpscope__post_word) and extra. */
IOCPSCOPE__INLINE void iocpscope__post_out(uint64_t sess, uint64_t v1, const uint64_t e[3],
                                           uint64_t *session, uint32_t *io, unsigned *op,
                                           uint64_t extra[3]) {
  *session = sess;
  *io = (uint32_t)v1;
  *op = (unsigned)(v1 >> 32) & 0xFF;
  extra[0] = e[0];
  extra[1] = e[1];
  extra[2] = e[2];
}

/* One live slot of the OVERLAPPED table taken (its ctl seen as `c`), with v[3..5]: its
 * values, unless another thread took it first. */
static int iocpscope__slot_take_ex(iocpscope__slot *s, LONG64 c, uint64_t *session, uint32_t *io,
                                   unsigned *op, uint64_t extra[3]) {
  uint64_t sess = (uint64_t)s->v[0], v1 = (uint64_t)s->v[1];
  uint64_t e[3];
  e[0] = (uint64_t)s->v[3];
  e[1] = (uint64_t)s->v[4];
  e[2] = (uint64_t)s->v[5];
  if (!iocpscope__map_remove(s, c)) return 0;
  iocpscope__post_out(sess, v1, e, session, io, op, extra);
  return 1;
}

/* As post_take, for a tracer that stored more in the slot (v[3..5]): those too. */
static int iocpscope__post_take_ex(uint64_t ov, uint64_t *session, uint32_t *io, unsigned *op,
                                   uint64_t extra[3]) {
  uint64_t i = iocpscope__mix(ov), n;
  iocpscope__map *m = &iocpscope__g.ovs;
  if (!ov || !m->slots) return 0;
  for (n = 0; n < IOCPSCOPE__PROBES; n++, i++) {
    iocpscope__slot *s = &m->slots[i & m->mask];
    LONG64 c = iocpscope__ld64(&s->ctl);
    int st = (int)(c & 3);
    if (st == IOCPSCOPE__M_EMPTY) return 0;
    if (st == IOCPSCOPE__M_LIVE && (uint64_t)s->key == ov &&
        iocpscope__slot_take_ex(s, c, session, io, op, extra))
      return 1;
  }
  return 0;
}

#endif /* IOCPSCOPE_EXTENSION */

static void iocpscope__post_cancel(iocpscope__slot *s, uint64_t ov) {
  LONG64 c = iocpscope__ld64(&s->ctl);
  if ((c & 3) == IOCPSCOPE__M_LIVE && (uint64_t)s->key == ov) iocpscope__map_remove(s, c);
}

static int iocpscope__skips_port(uint64_t socket) {
  iocpscope__slot *k = iocpscope__map_find(&iocpscope__g.sockets, socket, NULL);
  return k && ((uint64_t)k->v[2] & FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) != 0;
}

static int iocpscope__socket_post(iocpscope_loc *loc, const char *func, unsigned op, SOCKET s,
                                  LPWSABUF bufs, DWORD n, LPDWORD count, LPDWORD rflags,
                                  DWORD sflags, LPWSAOVERLAPPED ov,
                                  LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  iocpscope__thread *t = ov && !cr ? iocpscope__self() : NULL;
  iocpscope__errs errs;
  iocpscope__slot *slot;
  uint64_t session, o = (uint64_t)(uintptr_t)ov;
  uint32_t io, bytes = 0, result, tag;
  unsigned nb = n > 15 ? 15 : (unsigned)n;
  int skip;
  DWORD i;
  int ret;
  if (!t) {
    return op == IOCPSCOPE__OP_RECV ? (WSARecv)(s, bufs, n, count, rflags, ov, cr)
                                    : (WSASend)(s, bufs, n, count, sflags, ov, cr);
  }
  session = iocpscope__session_of_socket((uint64_t)s);
  io = iocpscope__take_reserved(t, o);
  if (!io) io = iocpscope__new_io();
  for (i = 0; i < n; i++) bytes += bufs[i].len;
  tag = iocpscope__post_enter(t);
  IOCPSCOPE__HOOK(4);
  slot = iocpscope__post_begin(o, session, io, op, nb, bytes, 0, tag);
  ret = op == IOCPSCOPE__OP_RECV ? (WSARecv)(s, bufs, n, count, rflags, ov, cr)
                                 : (WSASend)(s, bufs, n, count, sflags, ov, cr);
  IOCPSCOPE__SAVE(errs);
  IOCPSCOPE__HOOK(3);
  result = ret == 0 ? 0 : (uint32_t)errs.w;
  skip = iocpscope__skips_port((uint64_t)s);
  if (slot && ((result != 0 && result != WSA_IO_PENDING) || (result == 0 && skip)))
    iocpscope__post_cancel(slot, o);
  if (result != 0 && result != WSA_IO_PENDING) iocpscope__remember(t, o, io, 2);
  if (tag) {
    int ring = t->geo_ov == o;
    uint64_t tsw = iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func));
    iocpscope__push_more(t, tsw, IOCPSCOPE__W0(IOCPSCOPE__K_IO_POSTED, op | (nb << 4)), bytes,
                         session, result, io);
    iocpscope__push2(t, tsw, IOCPSCOPE__W0(IOCPSCOPE__K_IO_DETAIL, op | (skip ? 0x10 : 0)),
                     (uint32_t)o, session, (uint32_t)(o >> 32), io, !ring);
    if (ring)
      iocpscope__push(t, tsw, IOCPSCOPE__W0(IOCPSCOPE__K_IO_RING, op), t->geo[0],
                      (uint64_t)t->geo[2] | ((uint64_t)t->geo[3] << 32), t->geo[1], io);
  }
  iocpscope__post_leave(t);
  if (t->geo_ov == o) t->geo_ov = 0;
  IOCPSCOPE__RESTORE(errs);
  return ret;
}

int iocpscope_WSARecv(iocpscope_loc *loc, const char *func, SOCKET s, LPWSABUF bufs, DWORD n,
                      LPDWORD received, LPDWORD flags, LPWSAOVERLAPPED ov,
                      LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  return iocpscope__socket_post(loc, func, IOCPSCOPE__OP_RECV, s, bufs, n, received, flags, 0, ov,
                                cr);
}

int iocpscope_WSASend(iocpscope_loc *loc, const char *func, SOCKET s, LPWSABUF bufs, DWORD n,
                      LPDWORD sent, DWORD flags, LPWSAOVERLAPPED ov,
                      LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  return iocpscope__socket_post(loc, func, IOCPSCOPE__OP_SEND, s, bufs, n, sent, NULL, flags, ov,
                                cr);
}

/* A dequeued entry, matched to its post. */
typedef struct iocpscope__deq {
  uint64_t session;
  uint32_t io, bytes, error;
  unsigned op, ok, has_ov;
} iocpscope__deq;

/* Take a dequeued entry's post out of the table (before deciding whether to record). */
static void iocpscope__take(iocpscope__thread *t, iocpscope__deq *d, int ok, DWORD bytes,
                            ULONG_PTR key, LPOVERLAPPED ov, uint32_t error) {
  uint64_t o = (uint64_t)(uintptr_t)ov;
  d->session = (uint64_t)key;
  d->io = 0;
  d->op = IOCPSCOPE__OP_NONE;
  d->bytes = (uint32_t)bytes;
  d->error = ok ? 0 : error;
  d->ok = ok != 0;
  d->has_ov = ov != NULL;
  if (!ov) {
    d->op = IOCPSCOPE__OP_POST;
  } else if (iocpscope__post_take(o, &d->session, &d->io, &d->op)) {
    iocpscope__remember(t, o, d->io, 1);
    if (d->op == IOCPSCOPE__OP_POST) d->session = (uint64_t)key;
  }
}

/* Record it: PacketQueued first for I/O (the kernel queued it out of sight), then GqcsReturn. */
static void iocpscope__record_deq(iocpscope__thread *t, uint64_t tsw, const iocpscope__deq *d,
                                  int last) {
  if (d->has_ov && d->op != IOCPSCOPE__OP_POST)
    iocpscope__push_more(t, tsw,
                         IOCPSCOPE__W0(IOCPSCOPE__K_PACKET_QUEUED, d->op) | IOCPSCOPE__W0_NO_THREAD,
                         d->bytes, d->session, d->error, d->io);
  iocpscope__push2(t, tsw,
                   IOCPSCOPE__W0(IOCPSCOPE__K_GQCS_RETURN,
                                 d->op | (d->ok ? 0x10u : 0u) | (d->has_ov ? 0x20u : 0u)),
                   d->bytes, d->session, d->error, d->io, last);
}

/* The thread starts waiting in GQCS. Its place among the waiting threads (the
 * snapshots' order, from which the port's LIFO is rebuilt) is its record's clock
 * reading, where a shared counter cost a locked add on one line that every
 * worker's every GQCS passed between the cores. One clock for all threads: the
 * TSC only where the CPU says it is invariant, else QPC. As before, the state is
 * set before the thread asks whether recording is on. */
static void iocpscope__gqcs_enter(iocpscope__thread *t, iocpscope_loc *loc, const char *func,
                                  DWORD timeout, ULONG max) {
  uint64_t ticks = iocpscope__stamp(t);
  iocpscope__st64(&t->gqcs_seq, (LONG64)ticks);
  iocpscope__st32(&t->state, IOCPSCOPE__ST_WAITING);
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(ticks, iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_GQCS_ENTER, 0), timeout, 0, max, 0);
  else
    iocpscope__st64(&t->busy, 0);
}

BOOL iocpscope_GetQueuedCompletionStatus(iocpscope_loc *loc, const char *func, HANDLE port,
                                         LPDWORD bytes, PULONG_PTR key, LPOVERLAPPED *ov,
                                         DWORD timeout_ms) {
  iocpscope__thread *t = iocpscope__self();
  iocpscope__errs errs;
  iocpscope__deq d;
  BOOL ok;
  if (!t) return (GetQueuedCompletionStatus)(port, bytes, key, ov, timeout_ms);
  iocpscope__gqcs_enter(t, loc, func, timeout_ms, 1);
  ok = (GetQueuedCompletionStatus)(port, bytes, key, ov, timeout_ms);
  IOCPSCOPE__SAVE(errs);
  iocpscope__st32(&t->state, IOCPSCOPE__ST_RUNNING);
  if (!ok && (!ov || !*ov)) { /* nothing dequeued: 258 timeout, 735 port closed */
    if (iocpscope__on())
      iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                      IOCPSCOPE__W0(IOCPSCOPE__K_GQCS_RETURN, 0), 0, 0, errs.e, 0);
  } else {
    iocpscope__take(t, &d, ok != 0, bytes ? *bytes : 0, key ? *key : 0, ov ? *ov : NULL,
                    ok ? 0 : errs.e);
    if (iocpscope__on())
      iocpscope__record_deq(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                            &d, 1);
  }
  IOCPSCOPE__RESTORE(errs);
  return ok;
}

BOOL iocpscope_GetQueuedCompletionStatusEx(iocpscope_loc *loc, const char *func, HANDLE port,
                                           LPOVERLAPPED_ENTRY entries, ULONG count,
                                           PULONG removed, DWORD timeout_ms, BOOL alertable) {
  iocpscope__thread *t = iocpscope__self();
  iocpscope__errs errs;
  BOOL ok;
  if (!t)
    return (GetQueuedCompletionStatusEx)(port, entries, count, removed, timeout_ms, alertable);
  iocpscope__gqcs_enter(t, loc, func, timeout_ms, count);
  ok = (GetQueuedCompletionStatusEx)(port, entries, count, removed, timeout_ms, alertable);
  IOCPSCOPE__SAVE(errs);
  iocpscope__st32(&t->state, IOCPSCOPE__ST_RUNNING);
  if (!ok) {
    if (iocpscope__on())
      iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                      IOCPSCOPE__W0(IOCPSCOPE__K_GQCS_RETURN, 0), 0, 0, errs.e, 0);
  } else {
    ULONG i = 0, n = removed ? *removed : 0;
    if (n > count) n = count;
    while (i < n) { /* in blocks: every entry of a block is taken before recording is checked */
      iocpscope__deq d[32];
      ULONG k, m = n - i < 32 ? n - i : 32;
      for (k = 0; k < m; k++) {
        OVERLAPPED_ENTRY *e = &entries[i + k];
        LONG status = (LONG)e->Internal;
        uint32_t error = 0;
        if (status != 0 && e->lpOverlapped)
          error = iocpscope__g.nt_to_dos ? (uint32_t)iocpscope__g.nt_to_dos(status)
                                          : (uint32_t)status;
        iocpscope__take(t, &d[k], error == 0, e->dwNumberOfBytesTransferred, e->lpCompletionKey,
                        e->lpOverlapped, error);
      }
      if (iocpscope__on()) {
        uint64_t tsw = iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func));
        for (k = 0; k < m; k++) iocpscope__record_deq(t, tsw, &d[k], k + 1 == m);
      }
      i += m;
    }
  }
  IOCPSCOPE__RESTORE(errs);
  return ok;
}

BOOL iocpscope_PostQueuedCompletionStatus(iocpscope_loc *loc, const char *func, HANDLE port,
                                          DWORD bytes, ULONG_PTR key, LPOVERLAPPED ov) {
  iocpscope__thread *t = iocpscope__self();
  iocpscope__errs errs;
  iocpscope__slot *slot = NULL;
  uint64_t o = (uint64_t)(uintptr_t)ov;
  uint32_t io = 0;
  BOOL ok;
  if (!t) return (PostQueuedCompletionStatus)(port, bytes, key, ov);
  if (ov) {
    io = iocpscope__new_io();
    slot = iocpscope__post_begin(o, (uint64_t)key, io, IOCPSCOPE__OP_POST, 0, bytes, (uint64_t)key,
                                 0);
  }
  /* Recorded before the call: the packet may be dequeued before PQCS returns. */
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_PQCS, IOCPSCOPE__OP_POST | (ov ? 0x20 : 0)), bytes,
                    (uint64_t)key, 0, io);
  ok = (PostQueuedCompletionStatus)(port, bytes, key, ov);
  IOCPSCOPE__SAVE(errs);
  if (!ok && slot) iocpscope__post_cancel(slot, o);
  IOCPSCOPE__RESTORE(errs);
  return ok;
}

int iocpscope_closesocket(iocpscope_loc *loc, const char *func, SOCKET s) {
  iocpscope__thread *t = iocpscope__self();
  iocpscope__errs errs;
  uint64_t session;
  int ret;
  if (!t) return (closesocket)(s);
  session = iocpscope__session_of_socket((uint64_t)s);
  ret = (closesocket)(s);
  IOCPSCOPE__SAVE(errs);
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_SOCKET_CLOSED, 0), 0, session, (uint32_t)s, 0);
  IOCPSCOPE__RESTORE(errs);
  return ret;
}

BOOL iocpscope_CancelIoEx(iocpscope_loc *loc, const char *func, HANDLE h, LPOVERLAPPED ov) {
  iocpscope__thread *t = iocpscope__self();
  iocpscope__errs errs;
  BOOL ok;
  if (!t) return (CancelIoEx)(h, ov);
  ok = (CancelIoEx)(h, ov);
  IOCPSCOPE__SAVE(errs);
  if (iocpscope__on()) {
    uint64_t session = iocpscope__session_of_socket((uint64_t)(uintptr_t)h);
    char label[96];
    snprintf(label, sizeof label, "CancelIoEx(%s) = %s", ov ? "overlapped" : "all",
             ok ? "TRUE" : "FALSE");
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_MARKER, 0), iocpscope__intern(label), session, 0, 0);
  }
  IOCPSCOPE__RESTORE(errs);
  return ok;
}

BOOL iocpscope_AcceptEx(iocpscope_loc *loc, const char *func, SOCKET listen_socket,
                        SOCKET accept_socket, PVOID buf, DWORD recv_len, DWORD local_len,
                        DWORD remote_len, LPDWORD received, LPOVERLAPPED ov) {
  iocpscope__thread *t;
  iocpscope__errs errs;
  iocpscope__slot *slot = NULL;
  uint64_t o = (uint64_t)(uintptr_t)ov, session;
  uint32_t io = 0, result, tag;
  BOOL ok;
  LPFN_ACCEPTEX fn = iocpscope__g.accept_ex;
  if (!fn) {
    GUID id = WSAID_ACCEPTEX;
    DWORD got = 0;
    IOCPSCOPE__SAVE(errs);
    if (WSAIoctl(listen_socket, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, (DWORD)sizeof id, &fn,
                 (DWORD)sizeof fn, &got, NULL, NULL) != 0)
      fn = NULL;
    IOCPSCOPE__RESTORE(errs);
    if (!fn) {
      WSASetLastError(WSAEOPNOTSUPP);
      SetLastError(WSAEOPNOTSUPP);
      return FALSE;
    }
    iocpscope__g.accept_ex = fn;
  }
  t = ov ? iocpscope__self() : NULL;
  if (!t)
    return fn(listen_socket, accept_socket, buf, recv_len, local_len, remote_len, received, ov);
  session = iocpscope__session_of_socket((uint64_t)listen_socket);
  io = iocpscope__new_io();
  tag = iocpscope__post_enter(t);
  slot = iocpscope__post_begin(o, session, io, IOCPSCOPE__OP_ACCEPT, 1, recv_len, 0, tag);
  ok = fn(listen_socket, accept_socket, buf, recv_len, local_len, remote_len, received, ov);
  IOCPSCOPE__SAVE(errs);
  result = ok ? 0 : (uint32_t)errs.w;
  if (slot && result != 0 && result != ERROR_IO_PENDING) iocpscope__post_cancel(slot, o);
  if (tag) {
    uint64_t tsw = iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func));
    iocpscope__push_more(t, tsw,
                         IOCPSCOPE__W0(IOCPSCOPE__K_IO_POSTED, IOCPSCOPE__OP_ACCEPT | (1 << 4)),
                         recv_len, session, result, io);
    iocpscope__push(t, tsw, IOCPSCOPE__W0(IOCPSCOPE__K_IO_DETAIL, IOCPSCOPE__OP_ACCEPT),
                    (uint32_t)o, session, (uint32_t)(o >> 32), io);
  }
  iocpscope__post_leave(t);
  IOCPSCOPE__RESTORE(errs);
  return ok;
}

HANDLE iocpscope_CreateIoCompletionPort(iocpscope_loc *loc, const char *func, HANDLE h,
                                        HANDLE port, ULONG_PTR key, DWORD concurrency) {
  iocpscope__thread *t = iocpscope__self();
  iocpscope__errs errs;
  HANDLE ret;
  if (!t) return (CreateIoCompletionPort)(h, port, key, concurrency);
  ret = (CreateIoCompletionPort)(h, port, key, concurrency);
  IOCPSCOPE__SAVE(errs);
  if (ret && h == INVALID_HANDLE_VALUE) {
    InterlockedIncrement(&iocpscope__g.ports);
    iocpscope__st32(&iocpscope__g.port_concurrency, (LONG)concurrency);
    if (iocpscope__on())
      iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                      IOCPSCOPE__W0(IOCPSCOPE__K_PORT_CREATED, 2), concurrency, 0,
                      iocpscope__g.workers, 0);
  } else if (ret && h != INVALID_HANDLE_VALUE) {
    uint64_t handle = (uint64_t)(uintptr_t)h;
    if (!iocpscope__map_find(&iocpscope__g.sockets, handle, NULL)) {
      iocpscope__slot *k = iocpscope__map_claim(&iocpscope__g.sockets, handle);
      if (k) {
        k->v[0] = (LONG64)key;
        k->v[1] = 2;
        k->v[2] = 0;
        iocpscope__map_publish(k);
      }
    }
    if (iocpscope__on())
      iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                      IOCPSCOPE__W0(IOCPSCOPE__K_HANDLE_ASSOCIATED, 0), (uint32_t)handle,
                      (uint64_t)key, (uint32_t)(handle >> 32), 1);
  }
  IOCPSCOPE__RESTORE(errs);
  return ret;
}

BOOL iocpscope_SetFileCompletionNotificationModes(iocpscope_loc *loc, const char *func, HANDLE h,
                                                  UCHAR flags) {
  iocpscope__thread *t = iocpscope__self();
  iocpscope__errs errs;
  BOOL ok;
  uint64_t handle = (uint64_t)(uintptr_t)h;
  if (!t) return (SetFileCompletionNotificationModes)(h, flags);
  ok = (SetFileCompletionNotificationModes)(h, flags);
  IOCPSCOPE__SAVE(errs);
  if (ok) {
    iocpscope__slot *k = iocpscope__map_find(&iocpscope__g.sockets, handle, NULL);
    if (!k) {
      k = iocpscope__map_claim(&iocpscope__g.sockets, handle);
      if (k) {
        k->v[0] = (LONG64)handle;
        k->v[1] = 2;
        k->v[2] = flags;
        iocpscope__map_publish(k);
      }
    } else {
      iocpscope__st64(&k->v[2], flags);
    }
  }
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, loc, func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_COMPLETION_MODES, ok ? 1 : 0), (uint32_t)handle,
                    iocpscope__session_of_socket(handle), flags, 0);
  IOCPSCOPE__RESTORE(errs);
  return ok;
}

/* Thread exit (an FLS callback): ThreadExit, and the collector may free the ring. */
static void NTAPI iocpscope__fls_exit(void *p) {
  iocpscope__thread *t = (iocpscope__thread *)p;
  if (!t || t == IOCPSCOPE__NOTRACE || iocpscope__g.state != 2) return;
  iocpscope__st32(&t->state, IOCPSCOPE__ST_EXITED);
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), 0),
                    IOCPSCOPE__W0(IOCPSCOPE__K_THREAD_EXIT, 0), 0, 0, 0, 0);
  iocpscope__st32(&t->exited, 1);
}

/* ============================================================================================
 * The collector: merge, convert, write.
 * ========================================================================================== */
/* CRC-32 (FORMAT.md §7: reflected 0xEDB88320, init and final XOR 0xFFFFFFFF),
 * four bytes a step ("slicing by 4"). */
static void iocpscope__crc_init(void) {
  uint32_t (*t)[256] = iocpscope__g.crc;
  uint32_t i, k, c;
  for (i = 0; i < 256; i++) {
    c = i;
    for (k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (i = 0; i < 256; i++)
    for (k = 1; k < 4; k++) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
}
static uint32_t iocpscope__crc32(const uint8_t *p, size_t n) {
  uint32_t (*t)[256] = iocpscope__g.crc;
  uint32_t c = 0xFFFFFFFFu;
  while (n >= 4) {
    c ^= (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    c = t[3][c & 0xFF] ^ t[2][(c >> 8) & 0xFF] ^ t[1][(c >> 16) & 0xFF] ^ t[0][c >> 24];
    p += 4;
    n -= 4;
  }
  while (n--) c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

/* Grows *p to hold `need` elements; 0 (and *p untouched) when memory is short. */
static int iocpscope__grow(void **p, size_t *cap, size_t need, size_t elem) {
  size_t c = *cap ? *cap : 256;
  void *q;
  if (need <= *cap) return 1;
  while (c < need) c *= 2;
  q = realloc(*p, c * elem);
  if (!q) return 0;
  *p = q;
  *cap = c;
  return 1;
}

/* Strings a record refers to, by kind (FORMAT.md §3.2). */
static int iocpscope__rec_strings(const iocpscope__rec *r, uint32_t ids[2]) {
  switch (r->w0 & 0xFF) {
  case IOCPSCOPE__K_THREAD_START:
  case IOCPSCOPE__K_SESSION_CREATED:
  case IOCPSCOPE__K_ACCEPT:
  case IOCPSCOPE__K_MARKER:
    ids[0] = r->x;
    return 1;
  case IOCPSCOPE__K_LOCK_WAIT:
  case IOCPSCOPE__K_LOCK_ACQUIRE:
  case IOCPSCOPE__K_LOCK_RELEASE:
    ids[0] = r->y;
    return 1;
  case IOCPSCOPE__K_CALL_SITE:
    ids[0] = r->x;
    ids[1] = r->z;
    return 2;
  default:
    return 0;
  }
}

static void iocpscope__out_need_str(iocpscope__out *o, uint32_t id) {
  void *q;
  if (id == 0 || id > iocpscope__g.str_max || (uint32_t)iocpscope__g.str_next < id) return;
  if (o->str_sent[id >> 3] & (1u << (id & 7))) return;
  q = o->pend_str;
  if (!iocpscope__grow(&q, &o->cap_pend_str, o->npend_str + 1, 4)) return;
  o->pend_str = (uint32_t *)q;
  o->str_sent[id >> 3] |= (uint8_t)(1u << (id & 7));
  o->pend_str[o->npend_str++] = id;
}

static void iocpscope__out_put(iocpscope__out *o, const iocpscope__rec *r) {
  uint32_t ids[2];
  int n = iocpscope__rec_strings(r, ids), k;
  iocpscope__rec *d;
  void *q = o->pend;
  for (k = 0; k < n; k++) iocpscope__out_need_str(o, ids[k]);
  if (!iocpscope__grow(&q, &o->cap_pend, o->npend + 1, sizeof *r)) {
    o->gap_pending++; /* out of memory: this record is lost, and said so in a Gap */
    o->gap_source = 2;
    iocpscope__g.dropped++;
    return;
  }
  o->pend = (iocpscope__rec *)q;
  d = &o->pend[o->npend++];
  *d = *r;
}

/* A record from a ring (ticks) into an output (ns since its base), with the
 * ThreadStart and CallSite definitions it needs first. */
static void iocpscope__out_add(iocpscope__out *o, const iocpscope__rec *r, uint16_t tid) {
  iocpscope__global *g = &iocpscope__g;
  uint64_t rel = r->ts & IOCPSCOPE__TS_MASK, at = g->t0 + rel, ns;
  uint32_t site = (uint32_t)(r->ts >> 53), kind = r->w0 & 0xFF;
  iocpscope__rec c;
  if (at < o->base) return;
  ns = iocpscope__ns(at - o->base);
  if (o->gap_pending) {
    c.w0 = IOCPSCOPE__K_GAP | ((uint32_t)o->gap_source << 8) | (IOCPSCOPE__NO_THREAD << 16);
    c.x = (uint32_t)o->gap_pending;
    c.ts = ns;
    c.session = 0;
    c.y = (uint32_t)(o->gap_pending >> 32);
    c.z = 0;
    iocpscope__out_put(o, &c);
    o->gap_pending = 0;
  }
  if (tid != IOCPSCOPE__NO_THREAD && !(o->tid_sent[tid >> 3] & (1u << (tid & 7)))) {
    o->tid_sent[tid >> 3] |= (uint8_t)(1u << (tid & 7));
    o->pend_tid[o->npend_tid++] = tid;
    if (kind != IOCPSCOPE__K_THREAD_START) {
      unsigned i;
      for (i = 0; i < (unsigned)g->thread_hw; i++) {
        iocpscope__thread *t = &g->threads[i];
        if (t->in_use && (uint16_t)t->tid == tid) {
          uint32_t name = (uint32_t)t->name_str;
          if (!name) {
            char b[48];
            snprintf(b, sizeof b, "thread %lu", (unsigned long)t->os_tid);
            name = iocpscope__intern(b);
            iocpscope__cas32(&t->name_str, (LONG)name, 0);
          }
          c.w0 = IOCPSCOPE__K_THREAD_START | ((uint32_t)t->role << 8) | ((uint32_t)tid << 16);
          c.x = name;
          c.ts = ns;
          c.session = 0;
          c.y = (uint32_t)t->os_tid;
          c.z = 0;
          iocpscope__out_put(o, &c);
          break;
        }
      }
    }
  }
  if (site && !(o->site_sent[site >> 3] & (1u << (site & 7)))) {
    o->site_sent[site >> 3] |= (uint8_t)(1u << (site & 7));
    o->pend_site[o->npend_site++] = (uint16_t)site;
    c.w0 = IOCPSCOPE__K_CALL_SITE | (IOCPSCOPE__NO_THREAD << 16);
    c.x = g->site_file[site];
    c.ts = ns;
    c.session = site;
    c.y = g->site_line[site];
    c.z = g->site_func[site];
    iocpscope__out_put(o, &c);
  }
  if ((o->snap_ios && o->snap_ios->count) || (o->snap_sessions && o->snap_sessions->count)) {
    void *e;
    switch (kind) {
    case IOCPSCOPE__K_IO_POSTED:
    case IOCPSCOPE__K_IO_DETAIL:
    case IOCPSCOPE__K_IO_RING:
    case IOCPSCOPE__K_PQCS:
      if (r->z && iocpscope__smap_find(o->snap_ios, 0, r->z)) return; /* described already */
      break;
    case IOCPSCOPE__K_GQCS_RETURN:
      if (r->z && (e = iocpscope__smap_find(o->snap_ios, 0, r->z)) != NULL)
        iocpscope__smap_del(o->snap_ios, e);
      break;
    case IOCPSCOPE__K_SESSION_CREATED:
    case IOCPSCOPE__K_SESSION_RINGS:
      if (iocpscope__smap_find(o->snap_sessions, r->session, 0)) return;
      break;
    case IOCPSCOPE__K_SESSION_RELEASED:
      if ((e = iocpscope__smap_find(o->snap_sessions, r->session, 0)) != NULL)
        iocpscope__smap_del(o->snap_sessions, e);
      break;
    default:
      break;
    }
  }
  c = *r;
  c.w0 = (r->w0 & 0xFFFF) | ((uint32_t)tid << 16);
  c.ts = ns | ((uint64_t)site << 53);
  iocpscope__out_put(o, &c);
}

/* ---- output I/O ---------------------------------------------------------------------------- */
static void iocpscope__out_close(iocpscope__out *o, const char *why) {
  if (!o->open) return;
  if (o->kind == 1) {
    CloseHandle(o->file);
    o->file = INVALID_HANDLE_VALUE;
  } else {
    iocpscope__global *g = &iocpscope__g;
    closesocket(o->sock);
    o->sock = INVALID_SOCKET;
    InterlockedExchange(&g->connected, 0);
    if (why) iocpscope__log("viewer detached: %s", why);
    /* the next attempt after the backoff, which grows while viewers refuse or vanish */
    g->next_attempt = iocpscope__ticks() + g->tps * g->backoff_ms / 1000;
    g->backoff_ms = g->backoff_ms * 2 > g->retry_max_ms ? g->retry_max_ms : g->backoff_ms * 2;
  }
  o->open = 0;
  o->npend = o->npend_str = o->npend_site = o->npend_tid = 0;
  o->qlen = o->qoff = 0;
}

/* Append bytes to the output (file: written now; stream: queued). 0 = could not take them. */
static int iocpscope__out_write(iocpscope__out *o, const uint8_t *p, size_t n) {
  if (o->kind == 1) {
    while (n > 0) {
      DWORD w = 0, chunk = n > 0x40000000u ? 0x40000000u : (DWORD)n;
      if (!WriteFile(o->file, p, chunk, &w, NULL) || w == 0) {
        iocpscope__log("writing the trace file failed (error %lu): recording stopped",
                       (unsigned long)GetLastError());
        iocpscope__out_close(o, NULL);
        return 0;
      }
      p += w;
      n -= w;
    }
    return 1;
  }
  if (o->qlen - o->qoff + n > iocpscope__g.queue_cap) return 0; /* the viewer is too slow: drop */
  if (o->qoff > 0 && o->qoff == o->qlen) o->qoff = o->qlen = 0;
  if (o->qlen + n > o->qcap) {
    size_t c = o->qcap ? o->qcap : 65536;
    uint8_t *q;
    if (o->qoff > 0) {
      memmove(o->q, o->q + o->qoff, o->qlen - o->qoff);
      o->qlen -= o->qoff;
      o->qoff = 0;
    }
    while (c < o->qlen + n) c *= 2;
    if (c != o->qcap) {
      q = (uint8_t *)realloc(o->q, c);
      if (!q) return 0;
      o->q = q;
      o->qcap = c;
    }
  }
  memcpy(o->q + o->qlen, p, n);
  o->qlen += n;
  return 1;
}

/* Send what the stream queue holds, without blocking. */
static void iocpscope__out_pump(iocpscope__out *o) {
  while (o->open && o->kind == 2 && o->qoff < o->qlen) {
    size_t n = o->qlen - o->qoff;
    int sent = send(o->sock, (const char *)o->q + o->qoff, n > 1048576 ? 1048576 : (int)n, 0);
    if (sent > 0) {
      o->qoff += (size_t)sent;
    } else {
      int e = WSAGetLastError();
      if (e != WSAEWOULDBLOCK) {
        char why[64];
        snprintf(why, sizeof why, "send failed (error %d)", e);
        iocpscope__out_close(o, why);
      }
      return;
    }
  }
  if (o->qoff == o->qlen) o->qoff = o->qlen = 0;
}

static size_t iocpscope__put32(uint8_t *buf, size_t at, uint32_t v) {
  memcpy(buf + at, &v, 4);
  return at + 4;
}

/* Write the pending records and strings as one chunk (FORMAT.md §6.2). */
static void iocpscope__out_flush(iocpscope__out *o) {
  iocpscope__global *g = &iocpscope__g;
  size_t i, body = 0, sbytes = 0, total, at;
  uint8_t *buf;
  uint32_t crc;
  if (!o->open || (o->npend == 0 && o->npend_str == 0)) return;
  if (o->npend_str) {
    sbytes = 4;
    for (i = 0; i < o->npend_str; i++) {
      uint32_t len;
      memcpy(&len, g->arena + g->str_off[o->pend_str[i]], 4);
      sbytes += 8 + len;
    }
    body += 8 + ((sbytes + 3) & ~(size_t)3);
  }
  if (o->npend) body += 8 + o->npend * 32;
  total = 8 + body + 4;
  buf = o->chunk;
  {
    void *q = buf;
    if (!iocpscope__grow(&q, &o->cap_chunk, total, 1)) return; /* retried at the next flush */
    o->chunk = buf = (uint8_t *)q;
  }
  memset(buf, 0, total);
  at = 0;
  at = iocpscope__put32(buf, at, (uint32_t)(0x4B434F49u));
  at = iocpscope__put32(buf, at, (uint32_t)(body));
  if (o->npend_str) {
    at = iocpscope__put32(buf, at, (uint32_t)(1));
    at = iocpscope__put32(buf, at, (uint32_t)(sbytes));
    at = iocpscope__put32(buf, at, (uint32_t)(o->npend_str));
    for (i = 0; i < o->npend_str; i++) {
      uint32_t id = o->pend_str[i], len;
      const uint8_t *s = g->arena + g->str_off[id];
      memcpy(&len, s, 4);
      at = iocpscope__put32(buf, at, (uint32_t)(id));
      at = iocpscope__put32(buf, at, (uint32_t)(len));
      memcpy(buf + at, s + 4, len);
      at += len;
    }
    at = (at + 3) & ~(size_t)3;
  }
  if (o->npend) {
    at = iocpscope__put32(buf, at, (uint32_t)(2));
    at = iocpscope__put32(buf, at, (uint32_t)(o->npend * 32));
    memcpy(buf + at, o->pend, o->npend * 32);
    at += o->npend * 32;
  }
  crc = iocpscope__crc32(buf, at);
  at = iocpscope__put32(buf, at, (uint32_t)(crc));
  if (iocpscope__out_write(o, buf, total)) {
    o->written += o->npend;
    g->written += o->npend;
  } else if (o->open) {
    /* Dropped: forget what this chunk defined, and say how much was lost. */
    for (i = 0; i < o->npend_str; i++)
      o->str_sent[o->pend_str[i] >> 3] &= (uint8_t) ~(1u << (o->pend_str[i] & 7));
    for (i = 0; i < o->npend_site; i++)
      o->site_sent[o->pend_site[i] >> 3] &= (uint8_t) ~(1u << (o->pend_site[i] & 7));
    for (i = 0; i < o->npend_tid; i++)
      o->tid_sent[o->pend_tid[i] >> 3] &= (uint8_t) ~(1u << (o->pend_tid[i] & 7));
    o->gap_pending += o->npend;
    o->gap_source = 1; /* ClientQueue: the viewer fell behind */
    g->dropped += o->npend;
  }
  o->npend = o->npend_str = o->npend_site = o->npend_tid = 0;
  if (o->kind == 2) iocpscope__out_pump(o);
}

static size_t iocpscope__json_str(char *out, size_t cap, const char *s) {
  size_t o = 0;
  char tmp[IOCPSCOPE__STR_MAX];
  size_t n = iocpscope__utf8(s, strlen(s), tmp), i;
  if (cap < 3) return 0;
  out[o++] = '"';
  for (i = 0; i < n && o + 8 < cap; i++) {
    unsigned char c = (unsigned char)tmp[i];
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20) {
      o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  out[o++] = '"';
  out[o] = 0;
  return o;
}

/* The file header (FORMAT.md §6.1), whose metadata names this process. */
static size_t iocpscope__header(uint8_t *out, size_t cap, uint64_t wall_ms) {
  iocpscope__global *g = &iocpscope__g;
  char meta[4096], a[600], b[600], c[100], d[600];
  int n;
  size_t m, at;
  uint32_t crc, v;
  iocpscope__json_str(a, sizeof a, g->host);
  iocpscope__json_str(b, sizeof b, g->process_name);
  iocpscope__json_str(c, sizeof c, g->app);
  n = snprintf(meta, sizeof meta,
               "{\"clock\":\"monotonic-ns\",\"host\":%s,\"backend\":\"external\","
               "\"portConfig\":{\"workers\":%u,\"concurrency\":%u},\"startWallMs\":%llu,"
               "\"process\":{\"pid\":%lu,\"name\":%s},\"clockSource\":\"%s\","
               "\"ticksPerSecond\":%llu,\"tracer\":\"%s\",\"ioCount\":\"%s\","
               "\"app\":%s",
               a, g->workers > 65535 ? 65535 : g->workers,
               g->concurrency > 65535 ? 65535 : g->concurrency, (unsigned long long)wall_ms,
               (unsigned long)g->pid, b, g->use_tsc ? "tsc" : "qpc", (unsigned long long)g->tps,
               g->tracer, g->derived ? "derived" : "application", c);
  if (n < 0 || (size_t)n >= sizeof meta - 700) return 0;
  if (g->name && g->name[0]) {
    iocpscope__json_str(d, sizeof d, g->name);
    n += snprintf(meta + n, sizeof meta - (size_t)n, ",\"name\":%s", d);
  }
  meta[n++] = '}';
  m = (size_t)n;
  if (16 + ((m + 3) & ~(size_t)3) + 4 > cap) return 0;
  memset(out, 0, 16 + ((m + 3) & ~(size_t)3) + 4);
  memcpy(out, "\x89IOCPTR\n", 8);
  out[8] = 2;
  v = (uint32_t)m;
  memcpy(out + 12, &v, 4);
  memcpy(out + 16, meta, m);
  at = 16 + ((m + 3) & ~(size_t)3);
  crc = iocpscope__crc32(out, at);
  memcpy(out + at, &crc, 4);
  return at + 4;
}

static uint64_t iocpscope__wall_ms(void) {
  FILETIME ft;
  ULARGE_INTEGER u;
  GetSystemTimeAsFileTime(&ft);
  u.LowPart = ft.dwLowDateTime;
  u.HighPart = ft.dwHighDateTime;
  return (u.QuadPart - 116444736000000000ULL) / 10000ULL;
}

/* ---- the shadow and snapshots ------------------------------------------------------------
 * While records are written, the collector applies every record it merges to a
 * small model (threads' states, live sessions, outstanding posts and queued PQCS
 * packets, held locks): a snapshot is that model at the merge point where an
 * output starts, so it agrees exactly with the records that follow. When
 * recording switches on, the model starts from the wrappers' tables and is
 * corrected by the first milliseconds of records, by identity (a post by its
 * session and ioId, a session by its id): every wrapper updates its table
 * before it checks whether to record, so a change the tables missed always
 * comes as a record. */

typedef struct iocpscope__sop { /* an outstanding post, keyed by (session, ioId) */
  iocpscope__sent k;
  uint64_t ov;
  uint32_t bytes, result, geo[4];
  uint8_t op, bufs, has_detail, skip, has_geo, early;
  uint64_t seen, seen_ts; /* merge order and stamp (early completions are dropped once old) */
} iocpscope__sop;
typedef struct iocpscope__ssess { /* a live session, keyed by (id, 0) */
  iocpscope__sent k;
  uint64_t socket;
  uint32_t peer, slot, recv_cap, send_cap;
  int32_t count;
  int has_rings;
  int count_known; /* `count` is the value the last IoCount record left */
  int chain_off;   /* its IoCount records do not form a chain: no more holding them */
  int held;        /* its records waiting in the held list */
  int resyncs;     /* times its chain had to be taken up again from a record */
} iocpscope__ssess;
typedef struct iocpscope__slock { /* a held lock, keyed by (lockId, tid) */
  iocpscope__sent k;
  uint64_t session;
  uint32_t name, mode;
} iocpscope__slock;

/* Start the model from the wrappers' tables (recording is switching on). */
static void iocpscope__shadow_seed(void) {
  iocpscope__global *g = &iocpscope__g;
  unsigned i;
  uint64_t k;
  iocpscope__smap_clear(g->sh_ops);
  iocpscope__smap_clear(g->sh_sessions);
  iocpscope__smap_clear(g->sh_locks);
  for (i = 0; i < (unsigned)g->thread_hw; i++) {
    iocpscope__thread *t = &g->threads[i];
    if (!t->in_use) continue;
    t->sh_state = (int)t->state;
    t->sh_reason = (int)t->block_reason;
    t->sh_detail = (uint32_t)t->block_detail;
    t->sh_wait = (uint64_t)t->gqcs_seq;
  }
  /* after every waiting thread's place (its GQCS's clock reading) */
  g->sh_wait_next = iocpscope__ticks() + 1;
  for (k = 0; g->sessions.slots && k <= g->sessions.mask; k++) {
    iocpscope__slot *s = &g->sessions.slots[k];
    iocpscope__ssess *e;
    uint64_t v1, v3;
    if ((iocpscope__ld64(&s->ctl) & 3) != IOCPSCOPE__M_LIVE) continue;
    e = (iocpscope__ssess *)iocpscope__smap_put(g->sh_sessions, (uint64_t)s->key, 0);
    if (!e) continue;
    v1 = (uint64_t)s->v[1];
    v3 = (uint64_t)s->v[3];
    e->socket = (uint64_t)s->v[0];
    e->peer = (uint32_t)v1;
    e->slot = (uint32_t)(v1 >> 32);
    e->count = g->count_of ? (int32_t)g->count_of((uint64_t)s->key) : (int32_t)s->v[2];
    e->count_known = 0; /* the table's value may be ahead of the records: learn it from them */
    e->has_rings = s->v[5] != 0;
    e->recv_cap = (uint32_t)(v3 >> 32);
    e->send_cap = (uint32_t)v3;
  }
  for (k = 0; g->ovs.slots && k <= g->ovs.mask; k++) {
    iocpscope__slot *s = &g->ovs.slots[k];
    iocpscope__sop *e;
    uint64_t v1;
    unsigned op;
    if ((iocpscope__ld64(&s->ctl) & 3) != IOCPSCOPE__M_LIVE) continue;
    v1 = (uint64_t)s->v[1];
    /* posted while this recording was on: its IoPosted record comes (or came) */
    if ((uint32_t)(v1 >> IOCPSCOPE__OV_TAG_SHIFT) == (uint32_t)g->rec_epoch) continue;
    op = (unsigned)(v1 >> 32) & 0xFF;
    e = (iocpscope__sop *)iocpscope__smap_put(
        g->sh_ops, op == IOCPSCOPE__OP_POST ? (uint64_t)s->v[3] : (uint64_t)s->v[0], (uint32_t)v1);
    if (!e) continue;
    e->op = (uint8_t)op;
    e->bufs = (uint8_t)((v1 >> 40) & 15);
    e->bytes = (uint32_t)s->v[2];
    e->result = ERROR_IO_PENDING;
    e->ov = (uint64_t)s->key;
    e->has_detail = 1;
  }
}

/* Apply one merged record (from thread t) to the model. */
static void iocpscope__shadow_apply(iocpscope__thread *t, const iocpscope__rec *r, uint64_t seq) {
  iocpscope__global *g = &iocpscope__g;
  unsigned kind = r->w0 & 0xFF, a = (r->w0 >> 8) & 0xFF;
  if (!t && kind != IOCPSCOPE__K_IO_COUNT) return; /* only IoCount records are ever held */
  /* Without a viewer to attach no snapshot is ever taken: only the sessions' counts
   * are kept (the IoCount chain needs them). */
  if (!g->connect[0] && kind != IOCPSCOPE__K_IO_COUNT && kind != IOCPSCOPE__K_SESSION_CREATED &&
      kind != IOCPSCOPE__K_SESSION_RELEASED)
    return;
  switch (kind) {
  case IOCPSCOPE__K_THREAD_START:
    t->sh_state = IOCPSCOPE__ST_RUNNING;
    break;
  case IOCPSCOPE__K_THREAD_EXIT:
    t->sh_state = IOCPSCOPE__ST_EXITED;
    break;
  case IOCPSCOPE__K_THREAD_STATE:
    t->sh_state = (int)a;
    t->sh_reason = a == IOCPSCOPE__ST_BLOCKED ? (int)r->x : 0;
    t->sh_detail = a == IOCPSCOPE__ST_BLOCKED ? r->y : 0;
    break;
  case IOCPSCOPE__K_GQCS_ENTER:
    t->sh_state = IOCPSCOPE__ST_WAITING;
    t->sh_wait = g->sh_wait_next++;
    break;
  case IOCPSCOPE__K_LOCK_WAIT:
    t->sh_state = IOCPSCOPE__ST_BLOCKED;
    t->sh_reason = IOCPSCOPE_BLOCK_LOCK;
    t->sh_detail = r->x;
    break;
  case IOCPSCOPE__K_LOCK_ACQUIRE: {
    iocpscope__slock *l = (iocpscope__slock *)iocpscope__smap_put(g->sh_locks, r->x, (uint32_t)t->tid);
    t->sh_state = IOCPSCOPE__ST_RUNNING;
    if (l) {
      l->session = r->session;
      l->name = r->y;
      l->mode = a;
    }
    break;
  }
  case IOCPSCOPE__K_LOCK_RELEASE: {
    void *l = iocpscope__smap_find(g->sh_locks, r->x, (uint32_t)t->tid);
    if (l) iocpscope__smap_del(g->sh_locks, l);
    break;
  }
  case IOCPSCOPE__K_GQCS_RETURN: {
    t->sh_state = IOCPSCOPE__ST_RUNNING;
    if (a & 0x20) {
      iocpscope__sop *o = (iocpscope__sop *)iocpscope__smap_find(g->sh_ops, r->session, r->z);
      if (o && !o->early) {
        iocpscope__smap_del(g->sh_ops, o);
      } else if (!o && (a & 0x0F) != IOCPSCOPE__OP_POST) {
        /* dequeued before its IoPosted record (the call had not returned): remember it */
        o = (iocpscope__sop *)iocpscope__smap_put(g->sh_ops, r->session, r->z);
        if (o) {
          o->early = 1;
          o->seen = seq;
          o->seen_ts = r->ts & IOCPSCOPE__TS_MASK;
        }
      }
    }
    break;
  }
  case IOCPSCOPE__K_PQCS:
    if (a & 0x20) {
      iocpscope__sop *o = (iocpscope__sop *)iocpscope__smap_put(g->sh_ops, r->session, r->z);
      if (o) {
        o->op = IOCPSCOPE__OP_POST;
        o->bytes = r->x;
      }
    }
    break;
  case IOCPSCOPE__K_IO_POSTED: {
    iocpscope__sop *o;
    if (r->y != 0 && r->y != ERROR_IO_PENDING) break; /* failed: no packet will come */
    o = (iocpscope__sop *)iocpscope__smap_find(g->sh_ops, r->session, r->z);
    if (o && o->early) {
      iocpscope__smap_del(g->sh_ops, o);
      break;
    }
    o = (iocpscope__sop *)iocpscope__smap_put(g->sh_ops, r->session, r->z);
    if (o) {
      o->op = (uint8_t)(a & 0x0F);
      o->bufs = (uint8_t)(a >> 4);
      o->bytes = r->x;
      o->result = r->y;
    }
    break;
  }
  case IOCPSCOPE__K_IO_DETAIL: {
    iocpscope__sop *o = (iocpscope__sop *)iocpscope__smap_find(g->sh_ops, r->session, r->z);
    if (o && !o->early) {
      o->ov = (uint64_t)r->x | ((uint64_t)r->y << 32);
      o->skip = (a & 0x10) != 0;
      o->has_detail = 1;
    }
    break;
  }
  case IOCPSCOPE__K_IO_RING: {
    /* the session field holds off1 | avail << 32: found by ioId among this thread's posts */
    iocpscope__sop *o = NULL;
    if (t->sh_last_op_io == r->z)
      o = (iocpscope__sop *)iocpscope__smap_find(g->sh_ops, t->sh_last_op_session, r->z);
    if (o && !o->early) {
      o->geo[0] = r->x;
      o->geo[1] = r->y;
      o->geo[2] = (uint32_t)r->session;
      o->geo[3] = (uint32_t)(r->session >> 32);
      o->has_geo = 1;
    }
    break;
  }
  case IOCPSCOPE__K_IO_COUNT: {
    iocpscope__ssess *e = (iocpscope__ssess *)iocpscope__smap_find(g->sh_sessions, r->session, 0);
    if (e) {
      e->count = (int32_t)r->x;
      e->count_known = 1;
    }
    break;
  }
  case IOCPSCOPE__K_SESSION_CREATED: {
    iocpscope__ssess *e = (iocpscope__ssess *)iocpscope__smap_put(g->sh_sessions, r->session, 0);
    if (e) {
      e->peer = r->x;
      e->socket = r->y;
      e->slot = r->z;
    }
    break;
  }
  case IOCPSCOPE__K_SESSION_RINGS: {
    iocpscope__ssess *e = (iocpscope__ssess *)iocpscope__smap_find(g->sh_sessions, r->session, 0);
    if (e) {
      e->recv_cap = r->x;
      e->send_cap = r->y;
      e->has_rings = 1;
    }
    break;
  }
  case IOCPSCOPE__K_SESSION_RELEASED: {
    void *e = iocpscope__smap_find(g->sh_sessions, r->session, 0);
    if (e) iocpscope__smap_del(g->sh_sessions, e);
    break;
  }
  default:
    break;
  }
  if (kind == IOCPSCOPE__K_IO_POSTED && t) {
    t->sh_last_op_io = r->z;
    t->sh_last_op_session = r->session;
  }
}

static void iocpscope__snap_put(iocpscope__out *o, uint32_t kind, uint32_t a, uint16_t tid,
                                uint32_t x, uint64_t session, uint32_t y, uint32_t z,
                                unsigned *count) {
  iocpscope__rec r;
  r.w0 = kind | (a << 8) | ((uint32_t)tid << 16);
  r.x = x;
  r.ts = 0;
  r.session = session;
  r.y = y;
  r.z = z;
  iocpscope__out_put(o, &r);
  (*count)++;
}

/* The model as a Snapshot bracket (FORMAT.md §3.2), at the output's start: port,
 * threads (the waiters in the order they started waiting), live sessions,
 * outstanding posts, queued PQCS packets, held locks. */
static void iocpscope__snapshot(iocpscope__out *o, uint32_t reason) {
  iocpscope__global *g = &iocpscope__g;
  unsigned n = 0, i, hw = (unsigned)g->thread_hw, w, nw = 0;
  uint64_t k;
  unsigned short order[1024];
  iocpscope__snap_put(o, IOCPSCOPE__K_SNAPSHOT, 0, IOCPSCOPE__NO_THREAD, reason, 0, 0, 0, &n);
  n = 0;
  if (g->ports > 0)
    iocpscope__snap_put(o, IOCPSCOPE__K_PORT_CREATED, 2, IOCPSCOPE__NO_THREAD,
                        (uint32_t)g->port_concurrency, 0, g->workers, 0, &n);
  for (i = 0; i < hw; i++) {
    iocpscope__thread *t = &g->threads[i];
    uint16_t tid;
    uint32_t name;
    if (!t->in_use || t->sh_state == IOCPSCOPE__ST_EXITED || (uint32_t)t->tid >= IOCPSCOPE__NO_THREAD)
      continue;
    tid = (uint16_t)t->tid;
    name = (uint32_t)t->name_str;
    if (!name) {
      char b[48];
      snprintf(b, sizeof b, "thread %lu", (unsigned long)t->os_tid);
      name = iocpscope__intern(b);
      iocpscope__cas32(&t->name_str, (LONG)name, 0);
    }
    iocpscope__snap_put(o, IOCPSCOPE__K_THREAD_START, (uint32_t)t->role, tid, name, 0,
                        (uint32_t)t->os_tid, 0, &n);
    o->tid_sent[tid >> 3] |= (uint8_t)(1u << (tid & 7));
    o->pend_tid[o->npend_tid++] = tid;
    if (t->sh_state == IOCPSCOPE__ST_BLOCKED)
      iocpscope__snap_put(o, IOCPSCOPE__K_THREAD_STATE, IOCPSCOPE__ST_BLOCKED, tid,
                          (uint32_t)t->sh_reason, 0, t->sh_detail, 0, &n);
    else if (t->sh_state == IOCPSCOPE__ST_WAITING && nw < 1024)
      order[nw++] = (unsigned short)i;
  }
  for (w = 1; w < nw; w++) { /* insertion sort by the order they started waiting */
    unsigned short v = order[w];
    unsigned j = w;
    while (j > 0 && g->threads[order[j - 1]].sh_wait > g->threads[v].sh_wait) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = v;
  }
  for (w = 0; w < nw; w++)
    iocpscope__snap_put(o, IOCPSCOPE__K_GQCS_ENTER, 0, (uint16_t)g->threads[order[w]].tid,
                        0xFFFFFFFFu, 0, 1, 0, &n);
  for (k = 0; k <= g->sh_sessions->mask; k++) {
    iocpscope__ssess *e = (iocpscope__ssess *)IOCPSCOPE__SE(g->sh_sessions, k);
    if (!e->k.used) continue;
    iocpscope__smap_put(o->snap_sessions, e->k.a, 0);
    iocpscope__snap_put(o, IOCPSCOPE__K_SESSION_CREATED, 0, IOCPSCOPE__NO_THREAD, e->peer, e->k.a,
                        (uint32_t)e->socket, e->slot, &n);
    if (e->has_rings)
      iocpscope__snap_put(o, IOCPSCOPE__K_SESSION_RINGS, 0, IOCPSCOPE__NO_THREAD, e->recv_cap,
                          e->k.a, e->send_cap, 0, &n);
    iocpscope__snap_put(o, IOCPSCOPE__K_IO_COUNT, 9, IOCPSCOPE__NO_THREAD, (uint32_t)e->count,
                        e->k.a, 0, 0, &n);
  }
  for (k = 0; k <= g->sh_ops->mask; k++) {
    iocpscope__sop *e = (iocpscope__sop *)IOCPSCOPE__SE(g->sh_ops, k);
    if (!e->k.used || e->early) continue;
    iocpscope__smap_put(o->snap_ios, 0, e->k.b);
    if (e->op == IOCPSCOPE__OP_POST) {
      iocpscope__snap_put(o, IOCPSCOPE__K_PQCS, IOCPSCOPE__OP_POST | 0x20, IOCPSCOPE__NO_THREAD,
                          e->bytes, e->k.a, 0, e->k.b, &n);
      continue;
    }
    iocpscope__snap_put(o, IOCPSCOPE__K_IO_POSTED, (uint32_t)e->op | ((uint32_t)e->bufs << 4),
                        IOCPSCOPE__NO_THREAD, e->bytes, e->k.a, e->result, e->k.b, &n);
    if (e->has_detail)
      iocpscope__snap_put(o, IOCPSCOPE__K_IO_DETAIL, (uint32_t)e->op | (e->skip ? 0x10u : 0u),
                          IOCPSCOPE__NO_THREAD, (uint32_t)e->ov, e->k.a, (uint32_t)(e->ov >> 32),
                          e->k.b, &n);
    if (e->has_geo)
      iocpscope__snap_put(o, IOCPSCOPE__K_IO_RING, e->op, IOCPSCOPE__NO_THREAD, e->geo[0],
                          (uint64_t)e->geo[2] | ((uint64_t)e->geo[3] << 32), e->geo[1], e->k.b,
                          &n);
  }
  for (k = 0; k <= g->sh_locks->mask; k++) {
    iocpscope__slock *e = (iocpscope__slock *)IOCPSCOPE__SE(g->sh_locks, k);
    if (!e->k.used) continue;
    iocpscope__snap_put(o, IOCPSCOPE__K_LOCK_ACQUIRE, e->mode, (uint16_t)e->k.b, (uint32_t)e->k.a,
                        e->session, e->name, 0, &n);
  }
  iocpscope__snap_put(o, IOCPSCOPE__K_SNAPSHOT, 1, IOCPSCOPE__NO_THREAD, reason, 0, n, 0, &n);
}

/* Early completions whose IoPosted never came are forgotten: posts from before
 * recording began (their completion came as a record, their post is in no
 * table the model read), and posts whose IoPosted record a full ring lost.
 * Only once old by both counts, 100,000 records and 10 s: a poster preempted
 * between its call's return and its record is late by milliseconds, and an
 * IoPosted record that came after its entry was forgotten would stand for a
 * post that never completes. */
static void iocpscope__shadow_sweep(uint64_t seq) {
  iocpscope__global *g = &iocpscope__g;
  uint64_t k, now = g->drained_to > g->t0 ? g->drained_to - g->t0 : 0;
  for (k = 0; k <= g->sh_ops->mask; k++) {
    iocpscope__sop *e = (iocpscope__sop *)IOCPSCOPE__SE(g->sh_ops, k);
    if (e->k.used && e->early && seq - e->seen > 100000 && now > e->seen_ts &&
        now - e->seen_ts > 10 * g->tps) {
      iocpscope__smap_del(g->sh_ops, e);
      k--; /* backward shift may have moved another entry into this slot */
    }
  }
}

/* Recording has just switched on (and every thread sees it): wait for the post
 * wrappers under way to finish (at most 1 s in all). A post decided before the
 * switch is then in the ovs table, untagged, or out of it; one decided after is
 * tagged and its records come. */
static void iocpscope__await_posts(void) {
  iocpscope__global *g = &iocpscope__g;
  unsigned i, hw = (unsigned)g->thread_hw;
  uint64_t until = iocpscope__ticks() + g->tps;
  for (i = 0; i < hw; i++) {
    iocpscope__thread *t = &g->threads[i];
    LONG v;
    if (!iocpscope__ld32(&t->in_use)) continue;
    v = iocpscope__ld32(&t->posting);
    if (!(v & 1)) continue;
    while (iocpscope__ld32(&t->posting) == v && !iocpscope__ld32(&t->exited)) {
      if (iocpscope__ticks() >= until) {
        iocpscope__log("thread %lu stayed inside a post for 1 s as recording switched on: "
                       "the viewer's first snapshot may be wrong about that post",
                       (unsigned long)t->os_tid);
        break;
      }
      Sleep(0);
    }
  }
}

/* ---- attaching outputs ------------------------------------------------------------------------ */
static int iocpscope__out_reset(iocpscope__out *o) {
  size_t bits = ((size_t)iocpscope__g.str_max + 8) / 8;
  if (!o->str_sent) o->str_sent = (uint8_t *)calloc(1, bits);
  if (!o->pend_tid) o->pend_tid = (uint16_t *)calloc(65536, sizeof(uint16_t));
  if (!o->snap_ios)
    o->snap_ios = iocpscope__smap_new(iocpscope__g.sh_ops->max_mask / 2, sizeof(iocpscope__sent));
  if (!o->snap_sessions)
    o->snap_sessions =
        iocpscope__smap_new(iocpscope__g.sh_sessions->max_mask / 2, sizeof(iocpscope__sent));
  if (!o->str_sent || !o->pend_tid || !o->snap_ios || !o->snap_sessions) return 0;
  iocpscope__smap_clear(o->snap_ios);
  iocpscope__smap_clear(o->snap_sessions);
  memset(o->str_sent, 0, bits);
  memset(o->site_sent, 0, sizeof o->site_sent);
  memset(o->tid_sent, 0, sizeof o->tid_sent);
  o->npend = o->npend_str = o->npend_site = o->npend_tid = 0;
  o->written = 0;
  o->gap_pending = 0;
  o->qlen = o->qoff = 0;
  o->nreply = 0;
  o->replied = 0;
  return 1;
}

/* Start an output at `base` ticks: header (stream: after the handshake), then a snapshot. */
static int iocpscope__out_start(iocpscope__out *o, uint64_t base, int snapshot, uint32_t reason) {
  iocpscope__global *g = &iocpscope__g;
  uint8_t hdr[8192];
  size_t n;
  uint64_t wall = g->start_wall_ms_at_t0 + iocpscope__ns(base - g->t0) / 1000000ULL;
  if (!iocpscope__out_reset(o)) return 0;
  o->base = base;
  o->open = 1;
  if (o->kind == 2) {
    uint8_t hs[16 + 260];
    size_t tl = g->token ? strlen(g->token) : 0;
    uint32_t v = (uint32_t)tl;
    if (tl > 256) tl = 256;
    memset(hs, 0, sizeof hs);
    memcpy(hs, "\x89IOCSTR\n", 8);
    hs[8] = 2;
    memcpy(hs + 12, &v, 4);
    if (tl) memcpy(hs + 16, g->token, tl);
    if (!iocpscope__out_write(o, hs, 16 + ((tl + 3) & ~(size_t)3))) return 0;
  }
  n = iocpscope__header(hdr, sizeof hdr, wall);
  if (!n || !iocpscope__out_write(o, hdr, n)) {
    iocpscope__out_close(o, "could not write the header");
    return 0;
  }
  if (snapshot) iocpscope__snapshot(o, reason);
  o->last_flush = iocpscope__ticks();
  return 1;
}

static int iocpscope__parse_hostport(const char *s, char *host, size_t hcap, char *port,
                                     size_t pcap) {
  const char *colon = strrchr(s, ':');
  size_t hl;
  if (!colon || colon == s || !colon[1] || strlen(colon + 1) >= pcap) return 0;
  hl = (size_t)(colon - s);
  if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
    s++;
    hl -= 2;
  }
  if (hl == 0 || hl >= hcap) return 0;
  memcpy(host, s, hl);
  host[hl] = 0;
  memcpy(port, colon + 1, strlen(colon + 1) + 1);
  return 1;
}

/* One step of the connection to the viewer: start a non-blocking connect, or see it finish. */
static int iocpscope__connect_step(uint64_t now) {
  iocpscope__global *g = &iocpscope__g;
  if (g->connecting == INVALID_SOCKET) {
    char host[256], port[16];
    struct addrinfo hints, *ai = NULL;
    u_long nb = 1;
    SOCKET s;
    if (now < g->next_attempt) return 0;
    if (!iocpscope__parse_hostport(g->connect, host, sizeof host, port, sizeof port)) {
      iocpscope__log("IOCPSCOPE_CONNECT=\"%s\" is not host:port: no live stream", g->connect);
      g->connect[0] = 0;
      return 0;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
      g->next_attempt = now + g->tps * g->backoff_ms / 1000;
      return 0;
    }
    s = socket(ai->ai_family, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) {
      freeaddrinfo(ai);
      g->next_attempt = now + g->tps * g->backoff_ms / 1000;
      return 0;
    }
    ioctlsocket(s, FIONBIO, &nb);
    if (connect(s, ai->ai_addr, (int)ai->ai_addrlen) != 0 && WSAGetLastError() != WSAEWOULDBLOCK) {
      closesocket(s);
      freeaddrinfo(ai);
      g->next_attempt = now + g->tps * g->backoff_ms / 1000;
      g->backoff_ms = g->backoff_ms * 2 > g->retry_max_ms ? g->retry_max_ms : g->backoff_ms * 2;
      return 0;
    }
    freeaddrinfo(ai);
    g->connecting = s;
    g->connect_started = now;
  }
  {
    fd_set wr, ex;
    struct timeval tv = {0, 0};
    int r;
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    FD_SET(g->connecting, &wr);
    FD_SET(g->connecting, &ex);
    r = select(0, NULL, &wr, &ex, &tv);
    if (r > 0 && FD_ISSET(g->connecting, &wr)) {
      int e = 0, el = (int)sizeof e, one = 1, sb = 1 << 20;
      getsockopt(g->connecting, SOL_SOCKET, SO_ERROR, (char *)&e, &el);
      if (e == 0) {
        setsockopt(g->connecting, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, (int)sizeof one);
        setsockopt(g->connecting, SOL_SOCKET, SO_SNDBUF, (const char *)&sb, (int)sizeof sb);
        return 1;
      }
    }
    if (r != 0 || now - g->connect_started > g->tps) { /* failed, or 1 s without an answer */
      closesocket(g->connecting);
      g->connecting = INVALID_SOCKET;
      g->next_attempt = now + g->tps * g->backoff_ms / 1000;
      g->backoff_ms = g->backoff_ms * 2 > g->retry_max_ms ? g->retry_max_ms : g->backoff_ms * 2;
    }
  }
  return 0;
}

/* The viewer's one-line JSON answer (FORMAT.md §11): logged; a refusal detaches. */
static void iocpscope__read_reply(iocpscope__out *o) {
  char buf[512];
  int n;
  if (!o->open || o->kind != 2) return;
  for (;;) {
    n = recv(o->sock, buf, (int)sizeof buf, 0);
    if (n == 0) {
      iocpscope__out_close(o, "the viewer closed the connection");
      return;
    }
    if (n < 0) {
      int e = WSAGetLastError();
      if (e != WSAEWOULDBLOCK) {
        char why[64];
        snprintf(why, sizeof why, "receive failed (error %d)", e);
        iocpscope__out_close(o, why);
      }
      return;
    }
    if (o->replied) continue; /* nothing more is expected: ignore */
    if (o->nreply + (size_t)n > 1024) {
      iocpscope__out_close(o, "the viewer's answer is longer than 1 KiB");
      return;
    }
    memcpy(o->reply + o->nreply, buf, (size_t)n);
    o->nreply += (size_t)n;
    o->reply[o->nreply] = 0;
    if (memchr(o->reply, '\n', o->nreply)) {
      char *nl = (char *)memchr(o->reply, '\n', o->nreply);
      *nl = 0;
      o->replied = 1;
      if (strstr(o->reply, "\"ok\":true")) {
        iocpscope__g.backoff_ms = 100; /* a viewer that accepts us: retry quickly next time */
        iocpscope__log("viewer attached at %s", iocpscope__g.connect);
      } else {
        char why[1100];
        snprintf(why, sizeof why, "the viewer refused the stream: %.1000s", o->reply);
        iocpscope__out_close(o, why);
        return;
      }
    }
  }
}

/* ---- the merge ----------------------------------------------------------------------------------- */
/* One merged record to the model and the outputs. */
static void iocpscope__emit(iocpscope__thread *t, const iocpscope__rec *r, uint16_t tid) {
  iocpscope__global *g = &iocpscope__g;
  int k;
  if ((r->w0 >> 16) == IOCPSCOPE__NO_THREAD) tid = IOCPSCOPE__NO_THREAD;
  iocpscope__shadow_apply(t, r, ++g->sh_seq);
  for (k = 0; k < 2; k++) {
    iocpscope__out *o = &g->outs[k];
    if (!o->open) continue;
    iocpscope__out_add(o, r, tid);
    if (o->npend >= 16384) iocpscope__out_flush(o);
  }
}

static void iocpscope__flush_held(uint64_t session);

static int iocpscope__fits(const iocpscope__ssess *e, const iocpscope__rec *r) {
  return !e || !e->count_known || e->chain_off || (int32_t)(r->x - r->y) == e->count;
}

/* Depth-first search for held records (indices in `idx`, of one session) that lead
 * from count `from` to count `to`, each used once; returns 1 + their number (the
 * path goes to `path`), or 0 when there is none within 4 records. */
static int iocpscope__path(const unsigned *idx, unsigned n, int32_t from, int32_t to,
                           unsigned *path, unsigned depth, unsigned used) {
  const iocpscope__held *held = iocpscope__g.held;
  unsigned k;
  if (from == to) return (int)depth + 1;
  if (depth == 4) return 0;
  for (k = 0; k < n; k++) {
    const iocpscope__rec *r = &held[idx[k]].r;
    int found;
    if ((used & (1u << k)) || (int32_t)(r->x - r->y) != from) continue;
    path[depth] = k;
    found = iocpscope__path(idx, n, (int32_t)r->x, to, path, depth + 1, used | (1u << k));
    if (found) return found;
  }
  return 0;
}

/* Emit held records of `session` that take its count to `to` (none if it is there
 * already). 1 if the count is at `to` afterwards. */
static int iocpscope__bridge(uint64_t session, int32_t to) {
  iocpscope__global *g = &iocpscope__g;
  iocpscope__ssess *e = (iocpscope__ssess *)iocpscope__smap_find(g->sh_sessions, session, 0);
  unsigned idx[16], n = 0, i, path[4], steps, k;
  unsigned char taken[4];
  iocpscope__held copies[4];
  int found;
  if (!e || !e->count_known || e->chain_off || e->count == to) return 1;
  for (i = 0; i < g->nheld && n < 16; i++)
    if (g->held[i].r.session == session) idx[n++] = i;
  found = iocpscope__path(idx, n, e->count, to, path, 0, 0);
  if (!found) return 0;
  steps = (unsigned)found - 1;
  for (k = 0; k < steps; k++) copies[k] = g->held[idx[path[k]]];
  /* take them out of the held list, the highest index first (swap-with-last removal
   * then moves only entries above every index still to remove) */
  for (k = 0; k < steps; k++) taken[k] = 0;
  for (k = 0; k < steps; k++) {
    unsigned hi = steps, m;
    for (m = 0; m < steps; m++)
      if (!taken[m] && (hi == steps || idx[path[m]] > idx[path[hi]])) hi = m;
    taken[hi] = 1;
    g->held[idx[path[hi]]] = g->held[--g->nheld];
  }
  e->held -= (int)steps;
  for (k = 0; k < steps; k++) iocpscope__emit(NULL, &copies[k].r, copies[k].tid);
  return 1;
}

/* IoCount records follow the order the count changed. They come in time order,
 * which is that order unless a thread read the clock, was preempted, and its CAS
 * then still found the value it expected (the count went away and came back). A
 * record that does not continue its session's chain (new - delta != the count the
 * last record left) waits; a later record that does not fit either first takes the
 * waiting ones that lead to it. Time order is kept wherever it is consistent. */
static void iocpscope__merge_one(iocpscope__thread *t, const iocpscope__rec *r, uint16_t tid) {
  iocpscope__global *g = &iocpscope__g;
  unsigned kind = r->w0 & 0xFF;
  if (kind == IOCPSCOPE__K_IO_COUNT && ((r->w0 >> 8) & 0xFF) != 9) {
    iocpscope__ssess *e = (iocpscope__ssess *)iocpscope__smap_find(g->sh_sessions, r->session, 0);
    if (!iocpscope__fits(e, r) &&
        !(g->nheld && iocpscope__bridge(r->session, (int32_t)(r->x - r->y)))) {
      if (g->nheld < IOCPSCOPE__HELD_MAX && e->held < IOCPSCOPE__HELD_PER_SESSION) {
        iocpscope__held *h = &g->held[g->nheld++];
        h->r = *r;
        h->tid = tid;
        e->held++;
        g->reordered++;
        return;
      }
      /* too many waiting: out they go, and the chain is taken up again from here */
      iocpscope__flush_held(r->session);
      e->count_known = 0;
      g->unordered++;
    }
    iocpscope__emit(NULL, r, tid);
    return;
  }
  if (g->nheld && (kind == IOCPSCOPE__K_SESSION_RELEASED || kind == IOCPSCOPE__K_SESSION_CREATED))
    iocpscope__flush_held(r->session); /* nothing of the session waits past its end */
  iocpscope__emit(t, r, tid);
}

/* Every held record of `session`, in the best order the chain allows: the oldest
 * first, with the held records that lead to it before it; one that nothing leads
 * to goes out as it is, and the session's records are no longer ordered. */
static void iocpscope__flush_held(uint64_t session) {
  iocpscope__global *g = &iocpscope__g;
  for (;;) {
    unsigned i, best = g->nheld;
    iocpscope__held copy;
    iocpscope__ssess *e;
    for (i = 0; i < g->nheld; i++)
      if (g->held[i].r.session == session &&
          (best == g->nheld ||
           (g->held[i].r.ts & IOCPSCOPE__TS_MASK) < (g->held[best].r.ts & IOCPSCOPE__TS_MASK)))
        best = i;
    if (best == g->nheld) return;
    copy = g->held[best];
    g->held[best] = g->held[--g->nheld];
    e = (iocpscope__ssess *)iocpscope__smap_find(g->sh_sessions, session, 0);
    if (e) e->held--;
    if (!iocpscope__fits(e, &copy.r) &&
        !iocpscope__bridge(session, (int32_t)(copy.r.x - copy.r.y))) {
      /* nothing leads to it: written as it is, and the chain taken up from it */
      if (++e->resyncs > 100) e->chain_off = 1; /* these counts do not chain */
      e->count_known = 0;
      g->unordered++;
      g->reordered--;
    }
    iocpscope__emit(NULL, &copy.r, copy.tid);
  }
}

/* Held records older than 50 ms of merge time (their predecessor is not coming:
 * a gap lost it, or the server's counts do not form a chain) go out. */
static void iocpscope__expire_held(uint64_t lim_rel, int all) {
  iocpscope__global *g = &iocpscope__g;
  uint64_t wait = g->tps / 20;
  unsigned i = 0;
  while (i < g->nheld) {
    if (all || lim_rel - (g->held[i].r.ts & IOCPSCOPE__TS_MASK) > wait) {
      iocpscope__flush_held(g->held[i].r.session);
      i = 0;
      continue;
    }
    i++;
  }
}

/* Merge every ring's records stamped at or before `limit` (raw ticks) into the
 * attached outputs, in time order; returns how many were taken. */
static size_t iocpscope__drain(uint64_t limit, int discard) {
  iocpscope__global *g = &iocpscope__g;
  unsigned hw = (unsigned)g->thread_hw, i, nr = 0;
  size_t taken = 0;
  if (!discard && limit != UINT64_MAX) {
    /* Not past a thread that stamped a record it has not published yet (preempted
     * in between): its record would land behind later ones. A hold older than a
     * second is ignored (a thread ended inside the tracer). */
    uint64_t now = iocpscope__ticks();
    for (i = 0; i < hw; i++) {
      uint64_t b = (uint64_t)iocpscope__ld64(&g->threads[i].busy);
      if (b != 0 && now - b < g->tps && b - 1 < limit) limit = b - 1;
    }
    if (limit > (uint64_t)g->merged) iocpscope__st64(&g->merged, (LONG64)limit);
  }
  struct {
    iocpscope__thread *t;
    uint64_t at, end, ts; /* ts: the relative time of the record at `at` */
  } cur[1024];
  uint64_t lim_rel = limit == UINT64_MAX ? UINT64_MAX : limit - g->t0;
  if (limit != UINT64_MAX && (int64_t)lim_rel < 0) lim_rel = 0;
  g->drained_to = limit;
  for (i = 0; i < hw && nr < 1024; i++) {
    iocpscope__thread *t = &g->threads[i];
    uint64_t head, tail;
    if (!iocpscope__ld32(&t->in_use) || !t->ring) continue;
    head = (uint64_t)iocpscope__ld64(&t->head_pub);
    tail = (uint64_t)t->tail;
    if (head == tail) continue;
    if (discard) {
      iocpscope__st64(&t->tail, (LONG64)head);
      continue;
    }
    cur[nr].t = t;
    cur[nr].at = tail;
    cur[nr].end = head;
    cur[nr].ts = t->ring[tail & t->mask].ts & IOCPSCOPE__TS_MASK;
    nr++;
  }
  /* k-way merge by a linear minimum: thread counts are small, and each pick is
   * a handful of compares against one cached timestamp per ring. */
  for (;;) {
    unsigned best = nr;
    uint64_t best_ts = 0;
    for (i = 0; i < nr; i++) {
      if (cur[i].at == cur[i].end) continue;
      if (cur[i].ts > lim_rel) {
        cur[i].end = cur[i].at; /* nothing more from this ring this round */
        continue;
      }
      if (best == nr || cur[i].ts < best_ts) {
        best = i;
        best_ts = cur[i].ts;
      }
    }
    if (best == nr) break;
    {
      iocpscope__thread *t = cur[best].t;
      iocpscope__rec *r = &t->ring[cur[best].at & t->mask];
      iocpscope__merge_one(t, r, (uint16_t)t->tid);
      cur[best].at++;
      if (cur[best].at != cur[best].end)
        cur[best].ts = t->ring[cur[best].at & t->mask].ts & IOCPSCOPE__TS_MASK;
      taken++;
      if ((taken & 255) == 0) iocpscope__st64(&t->tail, (LONG64)cur[best].at);
    }
  }
  for (i = 0; i < nr; i++) iocpscope__st64(&cur[i].t->tail, (LONG64)cur[i].at);
  if (g->nheld) iocpscope__expire_held(lim_rel, limit == UINT64_MAX);
  return taken;
}

/* Losses no ring could carry (threads without a ring; at the end, losses still pending). */
static void iocpscope__report_losses(uint64_t now, int final) {
  iocpscope__global *g = &iocpscope__g;
  LONG64 lost = iocpscope__ld64(&g->untraced_lost) - g->untraced_reported;
  LONG refused = iocpscope__ld32(&g->threads_refused);
  unsigned i, k;
  iocpscope__rec r;
  memset(&r, 0, sizeof r);
  if (refused != g->threads_refused_said) {
    char label[160];
    g->threads_refused_said = refused;
    snprintf(label, sizeof label,
             "%ld thread(s) not traced: more than IOCPSCOPE_MAX_THREADS=%u threads", (long)refused,
             g->max_threads);
    iocpscope__log("%s", label);
    r.w0 = IOCPSCOPE__K_MARKER;
    r.x = iocpscope__intern(label);
    r.ts = iocpscope__tsw(now, 0);
    for (k = 0; k < 2; k++)
      if (g->outs[k].open) iocpscope__out_add(&g->outs[k], &r, IOCPSCOPE__NO_THREAD);
    r.x = 0;
  }
  r.w0 = IOCPSCOPE__K_GAP;
  r.ts = iocpscope__tsw(now, 0);
  if (lost > 0) {
    g->untraced_reported += lost;
    r.x = (uint32_t)lost;
    r.y = (uint32_t)((uint64_t)lost >> 32);
    for (k = 0; k < 2; k++)
      if (g->outs[k].open) iocpscope__out_add(&g->outs[k], &r, IOCPSCOPE__NO_THREAD);
  }
  if (!final) return;
  for (i = 0; i < (unsigned)g->thread_hw; i++) {
    iocpscope__thread *t = &g->threads[i];
    LONG64 left = iocpscope__ld64(&t->lost_total) - iocpscope__ld64(&t->lost_reported);
    if (!t->in_use || left <= 0 || (uint32_t)t->tid >= IOCPSCOPE__NO_THREAD) continue;
    iocpscope__st64(&t->lost_reported, t->lost_reported + left);
    r.x = (uint32_t)left;
    r.y = (uint32_t)((uint64_t)left >> 32);
    for (k = 0; k < 2; k++)
      if (g->outs[k].open) iocpscope__out_add(&g->outs[k], &r, (uint16_t)t->tid);
  }
}

/* Free the rings of threads that exited once everything they wrote is out,
 * after saying how many of their records were lost since their last Gap. */
static void iocpscope__reap(uint64_t now) {
  iocpscope__global *g = &iocpscope__g;
  unsigned i, k;
  for (i = 0; i < (unsigned)g->thread_hw; i++) {
    iocpscope__thread *t = &g->threads[i];
    LONG64 left;
    if (!t->in_use || !iocpscope__ld32(&t->exited)) continue;
    if (iocpscope__ld64(&t->head_pub) != t->tail) continue;
    left = iocpscope__ld64(&t->lost_total) - iocpscope__ld64(&t->lost_reported);
    if (left > 0 && (uint32_t)t->tid < IOCPSCOPE__NO_THREAD) {
      iocpscope__rec r;
      memset(&r, 0, sizeof r);
      r.w0 = IOCPSCOPE__K_GAP;
      r.ts = iocpscope__tsw(now, 0);
      r.x = (uint32_t)left;
      r.y = (uint32_t)((uint64_t)left >> 32);
      iocpscope__st64(&t->lost_reported, t->lost_reported + left);
      for (k = 0; k < 2; k++)
        if (g->outs[k].open) iocpscope__out_add(&g->outs[k], &r, (uint16_t)t->tid);
    }
    if (t->ring) {
      VirtualFree(t->ring, 0, MEM_RELEASE);
      iocpscope__add64(&g->ring_mem, -(LONG64)(t->cap * sizeof(iocpscope__rec)));
      t->ring = NULL;
    }
    iocpscope__st32(&t->in_use, 0);
  }
}

static void iocpscope__trace_end(iocpscope__out *o, uint64_t now, int reason) {
  iocpscope__rec r;
  if (!o->open) return;
  memset(&r, 0, sizeof r);
  r.w0 = IOCPSCOPE__K_TRACE_END | ((uint32_t)reason << 8) | (IOCPSCOPE__NO_THREAD << 16);
  r.x = (uint32_t)(o->written + o->npend);
  r.y = (uint32_t)((o->written + o->npend) >> 32);
  r.ts = now > o->base ? iocpscope__ns(now - o->base) : 0;
  iocpscope__out_put(o, &r);
  iocpscope__out_flush(o);
}

static DWORD WINAPI iocpscope__collector(LPVOID arg) {
  iocpscope__global *g = &iocpscope__g;
  iocpscope__out *file = &g->outs[0], *stream = &g->outs[1];
  uint64_t lag = g->tps / 500; /* 2 ms */
  uint64_t flush_ticks = g->tps * g->flush_ms / 1000;
  (void)arg;
  TlsSetValue(g->tls, IOCPSCOPE__NOTRACE);
  SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_ABOVE_NORMAL);
  for (;;) {
    /* A flush request is read before the clock: records pushed before it are older. */
    LONG flush_seen = iocpscope__ld32(&g->flush_req);
    int want_flush = flush_seen != iocpscope__ld32(&g->flush_done);
    int stopping = iocpscope__ld32(&g->stop) != 0;
    uint64_t now = iocpscope__ticks();
    int k;
    /* the viewer */
    if (!stopping && g->connect && g->connect[0] && !stream->open &&
        iocpscope__connect_step(now)) {
      uint64_t base;
      if (!g->active) {
        /* Switch recording on: every thread sees it before the tables are read, so
         * a change the tables miss comes as a record; the first milliseconds of
         * records then correct the model before the stream starts (the records
         * since the switch too: each is newer than or agrees with the tables).
         * Posts are the exception: a post's record would be a second post of one
         * the tables hold, so the model takes the posts tagged with this
         * recording's epoch from records only, and the rest from the tables,
         * once the wrappers that were deciding have finished. */
        LONG ep = g->rec_epoch + 1;
        if (ep > 0xFFFF || ep <= 0) ep = 1;
        iocpscope__st32(&g->rec_epoch, ep);
        InterlockedExchange(&g->active, 1);
        FlushProcessWriteBuffers();
        iocpscope__await_posts();
        IOCPSCOPE__HOOK(5);
        iocpscope__shadow_seed();
        Sleep(20); /* calls that straddle the switch publish their records meanwhile */
      }
      iocpscope__drain(iocpscope__ticks() - lag, 0); /* to the file (if any) and the model */
      if (g->nheld) iocpscope__expire_held(0, 1);   /* the model complete at the stream's start */
      base = g->drained_to; /* the stream starts where the merge stopped */
      stream->kind = 2;
      stream->sock = g->connecting;
      g->connecting = INVALID_SOCKET;
      if (iocpscope__out_start(stream, base, 1, 1)) {
        g->connects++;
        InterlockedExchange(&g->connected, 1);
        iocpscope__out_flush(stream);
      }
    }
    iocpscope__read_reply(stream);
    /* on demand: record only while something is attached */
    if (!file->open && !stream->open && g->active) {
      InterlockedExchange(&g->active, 0);
      iocpscope__drain(0, 1);
    }
    if (g->active) {
      iocpscope__drain(stopping || want_flush ? now : now - lag, 0);
      iocpscope__report_losses(now, 0);
    } else {
      iocpscope__drain(0, 1);
    }
    iocpscope__reap(now);
    if (g->sh_seq - g->sh_swept > 1000000) {
      iocpscope__shadow_sweep(g->sh_seq);
      g->sh_swept = g->sh_seq;
    }
    for (k = 0; k < 2; k++) {
      iocpscope__out *o = &g->outs[k];
      if (!o->open) continue;
      if (want_flush || now - o->last_flush >= flush_ticks) {
        iocpscope__out_flush(o);
        o->last_flush = now;
      }
      if (o->kind == 2) iocpscope__out_pump(o);
    }
    if (stopping) break;
    if (want_flush) {
      InterlockedExchange(&g->flush_done, flush_seen);
      SetEvent(g->flushed);
    }
    WaitForSingleObject(g->wake, g->active ? 10 : 20);
  }
  /* the end: everything out, the losses said, TraceEnd, then close */
  {
    uint64_t now = iocpscope__ticks();
    int k;
    InterlockedExchange(&g->active, 0);
    Sleep(1);
    iocpscope__drain(UINT64_MAX, 0); /* everything, whatever its stamp */
    iocpscope__report_losses(now, 1);
    for (k = 0; k < 2; k++) {
      iocpscope__out *o = &g->outs[k];
      iocpscope__trace_end(o, now, g->end_reason);
      if (o->open && o->kind == 2) {
        uint64_t until = iocpscope__ticks() + 2 * g->tps;
        while (o->open && o->qoff < o->qlen && iocpscope__ticks() < until) {
          iocpscope__out_pump(o);
          if (o->qoff < o->qlen) Sleep(5);
        }
        shutdown(o->sock, SD_SEND);
      }
      if (o->open && o->kind == 1) FlushFileBuffers(o->file);
      iocpscope__out_close(o, NULL);
    }
    if (g->connecting != INVALID_SOCKET) closesocket(g->connecting);
    SetEvent(g->flushed);
  }
  return 0;
}

/* ---- init / shutdown ------------------------------------------------------------------------------- */
static char *iocpscope__env(const char *name, const char *fallback) {
  wchar_t wname[64], wv[4096];
  DWORD n;
  int i, len;
  char *out;
  for (i = 0; name[i] && i < 63; i++) wname[i] = (wchar_t)name[i];
  wname[i] = 0;
  n = GetEnvironmentVariableW(wname, wv, 4096);
  if (n == 0 && GetLastError() == ERROR_ENVVAR_NOT_FOUND) {
    if (!fallback) return NULL;
    len = (int)strlen(fallback);
    out = (char *)malloc((size_t)len + 1);
    if (out) memcpy(out, fallback, (size_t)len + 1);
    return out;
  }
  if (n >= 4096) n = 0;
  wv[n] = 0;
  len = WideCharToMultiByte(CP_UTF8, 0, wv, -1, NULL, 0, NULL, NULL);
  if (len <= 0) return NULL;
  out = (char *)malloc((size_t)len);
  if (out) WideCharToMultiByte(CP_UTF8, 0, wv, -1, out, len, NULL, NULL);
  return out;
}

static unsigned iocpscope__env_uint(const char *name, unsigned value, unsigned dflt, unsigned lo,
                                    unsigned hi) {
  char *s = iocpscope__env(name, NULL);
  unsigned v = value ? value : dflt;
  if (s) {
    char *end;
    unsigned long x = strtoul(s, &end, 10);
    if (*s && !*end && x >= lo && x <= hi)
      v = (unsigned)x;
    else
      iocpscope__log("%s=\"%s\" is not a number in %u..%u: using %u", name, s, lo, hi, v);
    free(s);
  }
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  return v;
}

static uint64_t iocpscope__pow2(uint64_t v) {
  uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

static int iocpscope__map_alloc(iocpscope__map *m, uint64_t entries) {
  uint64_t n = iocpscope__pow2(entries * 2);
  m->slots = (iocpscope__slot *)VirtualAlloc(NULL, (SIZE_T)(n * sizeof(iocpscope__slot)),
                                            MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  m->mask = n - 1;
  return m->slots != NULL;
}

static void iocpscope__name_self(void) {
  iocpscope__global *g = &iocpscope__g;
  wchar_t w[MAX_PATH];
  DWORD n = GetModuleFileNameW(NULL, w, MAX_PATH), i, start = 0;
  DWORD hn = MAX_COMPUTERNAME_LENGTH + 1;
  wchar_t hw[MAX_COMPUTERNAME_LENGTH + 1];
  if (n >= MAX_PATH) n = 0;
  for (i = 0; i < n; i++)
    if (w[i] == L'\\' || w[i] == L'/') start = i + 1;
  w[n] = 0;
  if (!WideCharToMultiByte(CP_UTF8, 0, w + start, -1, g->process_name, 200, NULL, NULL))
    memcpy(g->process_name, "unknown", 8);
  if (GetComputerNameW(hw, &hn)) {
    hw[hn] = 0;
    if (!WideCharToMultiByte(CP_UTF8, 0, hw, -1, g->host, 200, NULL, NULL))
      memcpy(g->host, "unknown", 8);
  } else {
    memcpy(g->host, "unknown", 8);
  }
}

static void iocpscope__atexit(void) { iocpscope_shutdown(IOCPSCOPE_END_SERVER_EXIT); }

static int iocpscope__start(const iocpscope_config *cfg) {
  iocpscope__global *g = &iocpscope__g;
  iocpscope_config zero;
  WSADATA wd;
  char *s;
  unsigned budget_mb, ring_kb, max_sessions, max_out;
  DWORD err = GetLastError();
  if (iocpscope__cas32(&g->state, 1, 0) != 0) {
    while (iocpscope__ld32(&g->state) == 1) Sleep(0);
    return iocpscope__ld32(&g->state) == 2 ? 0 : -1;
  }
  if (!cfg) {
    memset(&zero, 0, sizeof zero);
    cfg = &zero;
  }
  g->log = cfg->log < 0 ? 0 : 1;
  {
    /* the tracer's name goes into the header's JSON as it is: letters, digits, '-' and '_' only */
    const char *tn = cfg->tracer && cfg->tracer[0] ? cfg->tracer : "header";
    size_t k = 0;
    for (; tn[k] && k < 32; k++) {
      char ch = tn[k];
      g->tracer[k] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                             (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'
                         ? ch
                         : '_';
    }
    g->tracer[k] = 0;
    g->derived = cfg->derived_iocount != 0;
  }
  s = iocpscope__env("IOCPSCOPE_LOG", NULL);
  if (s) {
    g->log = strcmp(s, "0") != 0;
    free(s);
  }
  g->tls = TlsAlloc();
  if (g->tls == TLS_OUT_OF_INDEXES) goto fail;
  g->fls = FlsAlloc(iocpscope__fls_exit);
  g->pid = GetCurrentProcessId();
  iocpscope__name_self();
  g->output = iocpscope__env("IOCPSCOPE_OUTPUT", cfg->output ? cfg->output : "");
  g->connect = iocpscope__env("IOCPSCOPE_CONNECT", cfg->connect ? cfg->connect : "");
  g->token = iocpscope__env("IOCPSCOPE_TOKEN", cfg->token ? cfg->token : "");
  g->name = iocpscope__env("IOCPSCOPE_NAME", cfg->name ? cfg->name : "");
  g->app = iocpscope__env("IOCPSCOPE_APP", cfg->app ? cfg->app : "");
  if (!g->output || !g->connect || !g->token || !g->name || !g->app) goto fail;
  if (!g->app[0]) {
    size_t n = strlen(g->process_name);
    free(g->app);
    g->app = (char *)malloc(n + 1);
    if (!g->app) goto fail;
    memcpy(g->app, g->process_name, n + 1);
    if (n > 4 && _stricmp(g->app + n - 4, ".exe") == 0) g->app[n - 4] = 0;
  }
  if (strlen(g->app) > 32) g->app[32] = 0;
  if (strlen(g->token) > 256) {
    iocpscope__log("IOCPSCOPE_TOKEN is longer than 256 bytes: ignored");
    g->token[0] = 0;
  }
  g->workers = iocpscope__env_uint("IOCPSCOPE_WORKERS", cfg->workers, 0, 0, 65535);
  g->concurrency = iocpscope__env_uint("IOCPSCOPE_CONCURRENCY", cfg->concurrency, 0, 0, 65535);
  budget_mb = iocpscope__env_uint("IOCPSCOPE_BUDGET_MB", cfg->budget_mb, 64, 4, 65536);
  ring_kb = iocpscope__env_uint("IOCPSCOPE_RING_KB", cfg->ring_kb, 1024, 1, 1048576);
  g->flush_ms = iocpscope__env_uint("IOCPSCOPE_FLUSH_MS", cfg->flush_ms, 50, 5, 100);
  g->retry_max_ms = iocpscope__env_uint("IOCPSCOPE_RETRY_MS", cfg->retry_max_ms, 2000, 100, 60000);
  g->max_threads = iocpscope__env_uint("IOCPSCOPE_MAX_THREADS", cfg->max_threads, 256, 4, 1024);
  max_sessions = iocpscope__env_uint("IOCPSCOPE_MAX_SESSIONS", cfg->max_sessions, 16384, 16, 1u << 22);
  max_out = iocpscope__env_uint("IOCPSCOPE_MAX_OUTSTANDING", cfg->max_outstanding, 32768, 16, 1u << 22);
  g->ring_bytes = iocpscope__pow2((uint64_t)ring_kb * 1024);
  if (g->ring_bytes < 1024) g->ring_bytes = 1024;
  g->budget = (uint64_t)budget_mb << 20;
  s = iocpscope__env("IOCPSCOPE_CLOCK", NULL);
  {
    int want = cfg->clock;
    if (s) {
      want = strcmp(s, "tsc") == 0 ? IOCPSCOPE_CLOCK_TSC
             : strcmp(s, "qpc") == 0 ? IOCPSCOPE_CLOCK_QPC : IOCPSCOPE_CLOCK_AUTO;
      free(s);
    }
    QueryPerformanceFrequency(&g->qpf);
    g->use_tsc = want != IOCPSCOPE_CLOCK_QPC && iocpscope__tsc_invariant();
  }
#if defined(IOCPSCOPE__X64) || defined(IOCPSCOPE__X86)
  if (g->use_tsc) {
    LARGE_INTEGER q0, q1;
    uint64_t c0, c1;
    double rate;
    QueryPerformanceCounter(&q0);
    c0 = (uint64_t)__rdtsc();
    Sleep(20);
    QueryPerformanceCounter(&q1);
    c1 = (uint64_t)__rdtsc();
    rate = (double)(c1 - c0) * (double)g->qpf.QuadPart / (double)(q1.QuadPart - q0.QuadPart);
    if (rate > 1e6 && rate < 1e11)
      g->tps = (uint64_t)rate;
    else
      g->use_tsc = 0;
  }
#endif
  if (!g->use_tsc) g->tps = (uint64_t)g->qpf.QuadPart;
  g->ns_mult = g->tps > 1000000000ULL ? (1000000000ULL << 32) / g->tps : 0;
  g->t0 = iocpscope__ticks();
  g->merged = (LONG64)g->t0;
  g->start_wall_ms_at_t0 = iocpscope__wall_ms();
  {
    HMODULE nt = GetModuleHandleW(L"ntdll.dll");
    FARPROC p = nt ? GetProcAddress(nt, "RtlNtStatusToDosError") : NULL;
    g->nt_to_dos = (ULONG(WINAPI *)(LONG))(void (*)(void))p;
  }
  /* tables and strings: fixed at init, part of the budget */
  g->threads = (iocpscope__thread *)VirtualAlloc(
      NULL, (SIZE_T)g->max_threads * sizeof(iocpscope__thread), MEM_COMMIT | MEM_RESERVE,
      PAGE_READWRITE);
  if (!g->threads) goto fail;
  if (!iocpscope__map_alloc(&g->ovs, max_out) || !iocpscope__map_alloc(&g->sessions, max_sessions) ||
      !iocpscope__map_alloc(&g->sockets, max_sessions))
    goto fail;
  g->str_max = 65536;
  g->str_mask = iocpscope__pow2((uint64_t)g->str_max * 2) - 1;
  g->str_keys = (LONG64 volatile *)calloc((size_t)g->str_mask + 1, sizeof(LONG64));
  g->str_ids = (LONG volatile *)calloc((size_t)g->str_mask + 1, sizeof(LONG));
  g->str_off = (uint32_t *)calloc((size_t)g->str_max + 1, sizeof(uint32_t));
  g->arena_cap = 4u << 20;
  g->arena = (uint8_t *)malloc(g->arena_cap);
  if (!g->str_keys || !g->str_ids || !g->str_off || !g->arena) goto fail;
  g->sh_ops = iocpscope__smap_new(max_out, sizeof(iocpscope__sop));
  g->sh_sessions = iocpscope__smap_new(max_sessions, sizeof(iocpscope__ssess));
  g->sh_locks = iocpscope__smap_new(1024, sizeof(iocpscope__slock));
  if (!g->sh_ops || !g->sh_sessions || !g->sh_locks) goto fail;
  /* The stream's send queue may hold an eighth of the budget (4..16 MiB); chunk
   * buffers take about 2 MiB. */
  g->queue_cap = g->budget / 8;
  if (g->queue_cap < ((uint64_t)4 << 20)) g->queue_cap = (uint64_t)4 << 20;
  if (g->queue_cap > ((uint64_t)16 << 20)) g->queue_cap = (uint64_t)16 << 20;
  g->mem_used_fixed = (uint64_t)g->max_threads * sizeof(iocpscope__thread) +
                      (g->ovs.mask + g->sessions.mask + g->sockets.mask + 3) * sizeof(iocpscope__slot) +
                      (g->str_mask + 1) * 12 + (uint64_t)g->str_max * 4 + g->arena_cap +
                      g->queue_cap + ((uint64_t)2 << 20) +
                      (g->sh_ops->max_mask + 1) * sizeof(iocpscope__sop) +
                      (g->sh_sessions->max_mask + 1) * sizeof(iocpscope__ssess) +
                      /* each output's record of what its snapshot described */
                      (g->sh_ops->max_mask + g->sh_sessions->max_mask + 2) * sizeof(iocpscope__sent);
  if (g->mem_used_fixed + g->ring_bytes > g->budget) {
    iocpscope__log("IOCPSCOPE_BUDGET_MB=%u leaves no room for a ring after the tables (%llu MiB): "
                   "rings get what is left, down to 64 KiB each",
                   budget_mb, (unsigned long long)(g->mem_used_fixed >> 20));
  }
  g->budget = g->budget > g->mem_used_fixed ? g->budget - g->mem_used_fixed : 0;
  iocpscope__crc_init();
  g->next_io = 0;
  g->rec_epoch = 1; /* a recording that starts with the process (a file) is epoch 1 */
  g->connecting = INVALID_SOCKET;
  g->backoff_ms = 100;
  g->outs[0].file = INVALID_HANDLE_VALUE;
  g->outs[1].sock = INVALID_SOCKET;
  g->end_reason = IOCPSCOPE_END_SERVER_EXIT;
  if (WSAStartup(MAKEWORD(2, 2), &wd) != 0) goto fail;
  g->wsa = 1;
  g->wake = CreateEventW(NULL, FALSE, FALSE, NULL);
  g->flushed = CreateEventW(NULL, FALSE, FALSE, NULL);
  if (!g->wake || !g->flushed) goto fail;
  if (g->output[0]) {
    int wl = MultiByteToWideChar(CP_UTF8, 0, g->output, -1, NULL, 0);
    wchar_t *wp = wl > 0 ? (wchar_t *)malloc((size_t)wl * sizeof(wchar_t)) : NULL;
    HANDLE h = INVALID_HANDLE_VALUE;
    if (wp && MultiByteToWideChar(CP_UTF8, 0, g->output, -1, wp, wl) > 0)
      h = CreateFileW(wp, GENERIC_WRITE, FILE_SHARE_READ, NULL, CREATE_ALWAYS,
                      FILE_ATTRIBUTE_NORMAL, NULL);
    free(wp);
    if (h == INVALID_HANDLE_VALUE) {
      iocpscope__log("cannot create %s (error %lu): no file output", g->output,
                     (unsigned long)GetLastError());
    } else {
      g->outs[0].kind = 1;
      g->outs[0].file = h;
      if (iocpscope__out_start(&g->outs[0], g->t0, 0, 0)) InterlockedExchange(&g->active, 1);
    }
  }
  if (!g->output[0] && !g->connect[0])
    iocpscope__log("neither IOCPSCOPE_OUTPUT nor IOCPSCOPE_CONNECT is set: nothing is recorded");
  iocpscope__st32(&g->state, 2);
  g->collector = CreateThread(NULL, 0, iocpscope__collector, NULL, 0, NULL);
  if (!g->collector) {
    iocpscope__st32(&g->state, 4);
    InterlockedExchange(&g->active, 0);
    SetLastError(err);
    return -1;
  }
  atexit(iocpscope__atexit);
  SetLastError(err);
  return 0;
fail:
  iocpscope__log("initialisation failed (error %lu): tracing is off", (unsigned long)GetLastError());
  iocpscope__st32(&g->state, 4);
  SetLastError(err);
  return -1;
}

int iocpscope_init(const iocpscope_config *cfg) {
  int r = iocpscope__start(cfg);
  if (r == 0) {
    iocpscope__thread *t = iocpscope__self();
    (void)t;
  }
  return r;
}

void iocpscope_flush(unsigned timeout_ms) {
  iocpscope__global *g = &iocpscope__g;
  DWORD err = GetLastError();
  LONG want;
  DWORD t0 = GetTickCount();
  if (iocpscope__ld32(&g->state) != 2) return;
  want = InterlockedIncrement(&g->flush_req);
  SetEvent(g->wake);
  while (iocpscope__ld32(&g->flush_done) - want < 0 && iocpscope__ld32(&g->state) == 2) {
    DWORD spent = GetTickCount() - t0;
    if (spent >= timeout_ms) break;
    WaitForSingleObject(g->flushed, timeout_ms - spent > 50 ? 50 : timeout_ms - spent);
  }
  SetLastError(err);
}

void iocpscope_shutdown(int reason) {
  iocpscope__global *g = &iocpscope__g;
  DWORD err = GetLastError();
  if (iocpscope__cas32(&g->state, 3, 2) != 2) return;
  g->end_reason = reason;
  InterlockedExchange(&g->stop, 1);
  SetEvent(g->wake);
  if (WaitForSingleObject(g->collector, 10000) != WAIT_OBJECT_0)
    iocpscope__log("the collector did not finish within 10 s");
  CloseHandle(g->collector);
  iocpscope__st32(&g->state, 4);
  SetLastError(err);
}

void iocpscope_get_stats(iocpscope_stats *out) {
  iocpscope__global *g = &iocpscope__g;
  unsigned i;
  memset(out, 0, sizeof *out);
  if (iocpscope__ld32(&g->state) < 2) return;
  for (i = 0; i < (unsigned)g->thread_hw; i++) {
    iocpscope__thread *t = &g->threads[i];
    out->records += (unsigned long long)iocpscope__ld64(&t->head_pub);
    out->lost += (unsigned long long)iocpscope__ld64(&t->lost_total);
    if (t->in_use) out->threads++;
  }
  out->lost += (unsigned long long)iocpscope__ld64(&g->untraced_lost);
  out->written = g->written;
  out->dropped = g->dropped;
  out->connects = g->connects;
  out->reordered = g->reordered;
  out->unordered = g->unordered;
  out->active = g->active != 0;
  out->connected = g->connected != 0;
  out->clock = g->use_tsc ? IOCPSCOPE_CLOCK_TSC : IOCPSCOPE_CLOCK_QPC;
  out->ticks_per_second = (double)g->tps;
}

#ifdef __cplusplus
}
#endif

#endif /* IOCPSCOPE_IMPLEMENTATION */
