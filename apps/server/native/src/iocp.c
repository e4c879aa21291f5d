// iocpscope's native completion port: an N-API addon over the real Win32 API.
//
// The JS side (apps/server/src/port/native/) implements the port contract
// (src/port/types.ts) on top of these calls; this file only owns the Win32
// objects. Model and invariants:
//
// Ports. A process-wide table maps a port id (u32, never reused) to a Port.
// Every thread of the process (main thread and worker_threads alike) loads
// this DLL once, so the table is shared and a port created on the main
// thread is reachable from any worker through its id. GQCS/GQCS-Ex block the
// calling OS thread inside the kernel: LIFO release and the concurrency
// value are the kernel's.
//
// Handle reuse. A port handle is closed by closePort (that is what wakes its
// waiters with ERROR_ABANDONED_WAIT_0), but a thread may have read the old
// handle value just before. Every call that uses the handle first increments
// `entering` and then tests `closed` (both full barriers), so a thread that
// can still use a closed handle value is counted. createPort never hands out
// a new port whose handle value equals such a closed-but-entered one: it parks
// that handle, posts a stale marker packet into it (a stale thread that ends
// up waiting there wakes with ERROR_INVALID_HANDLE) and tries again. Parked
// handles are closed once nobody can still be entering the old port.
//
// Sockets. Socket ids are (generation << 16 | slot) into a per-port table, so
// a stale id fails with WSAENOTSOCK instead of reaching a reused SOCKET value.
// I/O calls (which never block) hold the slot's SRW lock shared across the
// Win32 call; closesocket takes it exclusive, so a SOCKET is never closed
// while a call on it is in progress. A listening slot whose accept threads
// are still inside accept becomes a ZOMBIE and is freed by the last of them.
//
// Overlapped operations. Each WSARecv/WSASend/PQCS takes an Op (an OVERLAPPED
// plus the contract's overlapped id, op kind and ioId) from a fixed, lock-free
// (SLIST) pool; the Op returns to the pool when its packet is dequeued, or at
// once when the call failed (no packet will ever come). A PQCS packet carries
// its Op pointer as lpOverlapped, so every packet says what it is; the Op of a
// PQCS is never touched by the kernel.
//
// Shutdown. closePort closes the handle (waiters: ABANDONED), stops accept
// threads, cancels and closes every socket. The pool and the pin on the
// arena (a napi_reference to the JS SharedArrayBuffer view, whose data pointer
// every WSABUF points into) are released by drainPort only when no Op is
// still pending in the kernel and no thread is inside a call on the port;
// until then the kernel may still write into both.

#define WIN32_LEAN_AND_MEAN
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0602
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <winternl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NAPI_VERSION 8
#include <node_api.h>

#ifndef STATUS_PENDING
#define STATUS_PENDING ((DWORD)0x00000103L)
#endif

// Contract values (packages/protocol Op, src/port/types.ts error codes).
#define OP_RECV 1
#define OP_SEND 2
#define OP_POST 3
#define E_INVALID_HANDLE 6
#define E_INVALID_PARAMETER 87
#define E_NO_SYSTEM_RESOURCES 1450

#define MAX_PORTS 65536
#define MAX_SOCKETS 65535
#define MAX_EX_ENTRIES 256
#define MAX_PARKED 64
#define ACCEPT_SLICE_MS 50
#define OP_MAGIC 0x49504f50u /* 'IPOP' */

// Words of the scratch Uint32Array a thread passes in: [0] lastError, then
// entries of ENTRY_WORDS from ENTRY_BASE.
#define S_LAST_ERROR 0
#define ENTRY_BASE 8
#define ENTRY_WORDS 8

enum { SOCK_FREE = 0, SOCK_OPEN = 1, SOCK_LISTENING = 2, SOCK_ZOMBIE = 3 };

typedef struct Op {
  OVERLAPPED ov; // first: the kernel sees &op->ov
  SLIST_ENTRY link;
  uint32_t magic;
  uint32_t userOv;
  uint32_t ioId;
  uint32_t type;
  volatile LONG busy;
  uint32_t pad[3];
} Op;

typedef struct Sock {
  SRWLOCK lock;
  SOCKET s;
  uint32_t gen;
  uint32_t state;
  volatile LONG assoc;
  volatile LONG accepters;
  uint32_t keyLo, keyHi; // the completion key, once assoc == 1
  HANDLE acceptEv; // listening slots: auto-reset, FD_ACCEPT
  HANDLE stopEv;   // listening slots: manual-reset, set by closesocket/closePort
  int32_t nextFree;
} Sock;

typedef struct Port {
  HANDLE h;
  volatile LONG closed;
  volatile LONG entering; // threads between "closed?" and leaving a call using h or the tables
  DWORD concurrency;
  uint8_t *arena;
  size_t arenaLen;
  napi_ref arenaRef;
  Op *ops;
  uint32_t opCount;
  SLIST_HEADER *freeOps; // 16-byte aligned, inside opsMem
  void *opsMem;
  Sock *socks; // [0] unused
  uint32_t maxSockets;
  SRWLOCK sockLock; // guards the free-slot list and nextSlot
  int32_t freeSlot;
  uint32_t nextSlot;
  volatile LONG drained;
  uint32_t flags; // PORT_TCP_NODELAY: accepted sockets get TCP_NODELAY
} Port;

#define PORT_TCP_NODELAY 1u

static SRWLOCK g_portsLock = SRWLOCK_INIT;
static Port *volatile g_ports[MAX_PORTS];
static volatile LONG g_nextPort = 0;
static struct {
  HANDLE h;
  Port *old;
} g_parked[MAX_PARKED];
static int g_parkedCount = 0;
// The stale marker: never an Op, so a thread that finds it knows its port is gone.
static OVERLAPPED g_staleOv;
static INIT_ONCE g_wsaOnce = INIT_ONCE_STATIC_INIT;
static int g_wsaError = 0;

// ---- small N-API helpers -------------------------------------------------------

#define NAPI_OK(call)                                                                  \
  do {                                                                                 \
    if ((call) != napi_ok) {                                                           \
      napi_throw_error(env, "ERR_NATIVE_ADDON", "N-API call failed: " #call);          \
      return NULL;                                                                     \
    }                                                                                  \
  } while (0)

static napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static napi_value throwType(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_NATIVE_ARGS", msg);
  return NULL;
}

/** Reads argv[i] as a u32 (numbers only); 0 on failure with a pending exception. */
static int argU32(napi_env env, napi_value *argv, size_t argc, size_t i, uint32_t *out) {
  if (i >= argc || napi_get_value_uint32(env, argv[i], out) != napi_ok) {
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", "expected a number argument");
    return 0;
  }
  return 1;
}

static Port *argPort(napi_env env, napi_value *argv, size_t argc) {
  uint32_t id;
  if (!argU32(env, argv, argc, 0, &id)) return NULL;
  Port *p = id > 0 && id < MAX_PORTS ? g_ports[id] : NULL;
  if (!p) napi_throw_range_error(env, "ERR_NATIVE_PORT", "unknown port id");
  return p;
}

/** The scratch Uint32Array of the calling thread. */
static uint32_t *argScratch(napi_env env, napi_value v, size_t minWords) {
  napi_typedarray_type t;
  size_t len;
  void *data;
  if (napi_get_typedarray_info(env, v, &t, &len, &data, NULL, NULL) != napi_ok ||
      t != napi_uint32_array || len < minWords) {
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", "expected a large enough Uint32Array");
    return NULL;
  }
  return (uint32_t *)data;
}

// ---- entering / leaving ----------------------------------------------------------

/** 1 if the port is open (the caller must leave()), 0 if closed (nothing to undo). */
static int enter(Port *p) {
  InterlockedIncrement(&p->entering);
  if (InterlockedCompareExchange(&p->closed, 0, 0) != 0) {
    InterlockedDecrement(&p->entering);
    return 0;
  }
  return 1;
}

static void leave(Port *p) { InterlockedDecrement(&p->entering); }

// ---- the Op pool ------------------------------------------------------------------

static Op *opAlloc(Port *p, uint32_t type, uint32_t userOv, uint32_t ioId) {
  SLIST_ENTRY *e = InterlockedPopEntrySList(p->freeOps);
  if (!e) return NULL;
  Op *op = CONTAINING_RECORD(e, Op, link);
  memset(&op->ov, 0, sizeof op->ov);
  op->ov.Internal = STATUS_PENDING;
  op->userOv = userOv;
  op->ioId = ioId;
  op->type = type;
  InterlockedExchange(&op->busy, 1);
  return op;
}

static void opFree(Port *p, Op *op) {
  InterlockedExchange(&op->busy, 0);
  InterlockedPushEntrySList(p->freeOps, &op->link);
}

/** The Op of a dequeued overlapped pointer, or NULL if it is not one of this port's. */
static Op *opOf(Port *p, OVERLAPPED *ov) {
  if (!ov || !p->ops) return NULL;
  uintptr_t a = (uintptr_t)ov, base = (uintptr_t)p->ops;
  if (a < base || a >= base + (uintptr_t)p->opCount * sizeof(Op)) return NULL;
  if ((a - base) % sizeof(Op) != 0) return NULL;
  Op *op = (Op *)ov;
  return op->magic == OP_MAGIC ? op : NULL;
}

// ---- the socket table ----------------------------------------------------------------

static uint32_t sockId(Port *p, uint32_t slot) { return (p->socks[slot].gen << 16) | slot; }

/** The slot of a socket id (any state), or NULL. Does not lock. */
static Sock *sockSlot(Port *p, uint32_t id) {
  uint32_t slot = id & 0xffff;
  if (!p->socks || slot == 0 || slot > p->maxSockets) return NULL;
  return &p->socks[slot];
}

/** Takes a free slot (state still FREE, caller initialises it under its lock); 0 if full. */
static uint32_t slotAlloc(Port *p) {
  uint32_t slot = 0;
  AcquireSRWLockExclusive(&p->sockLock);
  if (p->freeSlot > 0) {
    slot = (uint32_t)p->freeSlot;
    p->freeSlot = p->socks[slot].nextFree;
  } else if (p->nextSlot <= p->maxSockets) {
    slot = p->nextSlot++;
  }
  ReleaseSRWLockExclusive(&p->sockLock);
  return slot;
}

static void slotFree(Port *p, uint32_t slot) {
  AcquireSRWLockExclusive(&p->sockLock);
  p->socks[slot].nextFree = p->freeSlot;
  p->freeSlot = (int32_t)slot;
  ReleaseSRWLockExclusive(&p->sockLock);
}

/** Fills a fresh slot (exclusive lock taken here) and returns its id. */
static uint32_t slotInit(Port *p, uint32_t slot, SOCKET s, uint32_t state) {
  Sock *k = &p->socks[slot];
  AcquireSRWLockExclusive(&k->lock);
  k->gen = (k->gen + 1) & 0xffff;
  if (k->gen == 0) k->gen = 1;
  k->s = s;
  k->state = state;
  k->assoc = 0;
  k->accepters = 0;
  ReleaseSRWLockExclusive(&k->lock);
  return sockId(p, slot);
}

/** Under the slot's exclusive lock: close the SOCKET and free or zombify the slot. */
static void sockCloseLocked(Port *p, Sock *k, uint32_t slot) {
  if (k->state == SOCK_LISTENING && k->stopEv) SetEvent(k->stopEv);
  if (k->s != INVALID_SOCKET) {
    // closesocket alone aborts pending overlapped I/O; CancelIoEx first makes the
    // aborts explicit (each still queues its FALSE/995 packet).
    CancelIoEx((HANDLE)k->s, NULL);
    closesocket(k->s);
    k->s = INVALID_SOCKET;
  }
  if (k->state == SOCK_LISTENING && k->accepters > 0) {
    k->state = SOCK_ZOMBIE;
  } else {
    k->state = SOCK_FREE;
    slotFree(p, slot);
  }
}

// ---- createPort / closePort / drainPort ---------------------------------------------------

static BOOL CALLBACK wsaInit(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  (void)once;
  (void)param;
  (void)ctx;
  WSADATA d;
  g_wsaError = WSAStartup(MAKEWORD(2, 2), &d);
  return TRUE;
}

static void freeTables(Port *p) {
  if (p->socks) {
    for (uint32_t i = 1; i <= p->maxSockets; i++) {
      if (p->socks[i].acceptEv) CloseHandle(p->socks[i].acceptEv);
      if (p->socks[i].stopEv) CloseHandle(p->socks[i].stopEv);
    }
    VirtualFree(p->socks, 0, MEM_RELEASE);
    p->socks = NULL;
  }
  if (p->opsMem) {
    VirtualFree(p->opsMem, 0, MEM_RELEASE);
    p->opsMem = NULL;
    p->ops = NULL;
    p->freeOps = NULL;
  }
}

/** Closes parked handles nobody can still be entering. Under g_portsLock. */
static void sweepParked(void) {
  int j = 0;
  for (int i = 0; i < g_parkedCount; i++) {
    if (InterlockedCompareExchange(&g_parked[i].old->entering, 0, 0) == 0) {
      CloseHandle(g_parked[i].h);
    } else {
      g_parked[j++] = g_parked[i];
    }
  }
  g_parkedCount = j;
}

/** A handle value some thread of a closed port may still use, else NULL. Under g_portsLock. */
static Port *staleOwner(HANDLE h, LONG lastId) {
  for (LONG id = 1; id <= lastId; id++) {
    Port *q = g_ports[id];
    if (q && q->h == h && q->closed && InterlockedCompareExchange(&q->entering, 0, 0) > 0) return q;
  }
  return NULL;
}

// createPort(concurrency, arena: Uint8Array over a SharedArrayBuffer, maxSockets, opCount[, flags])
//   -> [portId, effectiveConcurrency]
// flags: PORT_TCP_NODELAY (1) sets TCP_NODELAY on every accepted socket (a chat server's
// small writes must not wait for the peer's delayed ACK). Absent: 0.
static napi_value CreatePort(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t concurrency, maxSockets, opCount, flags = 0;
  if (!argU32(env, argv, argc, 0, &concurrency) || !argU32(env, argv, argc, 2, &maxSockets) ||
      !argU32(env, argv, argc, 3, &opCount))
    return NULL;
  if (argc >= 5 && !argU32(env, argv, argc, 4, &flags)) return NULL;
  if (maxSockets < 1 || maxSockets > MAX_SOCKETS) return throwType(env, "maxSockets out of range");
  if (opCount < 1 || opCount > (1u << 22)) return throwType(env, "opCount out of range");
  napi_typedarray_type t;
  size_t arenaLen;
  void *arena;
  napi_value ab;
  if (argc < 2 || napi_get_typedarray_info(env, argv[1], &t, &arenaLen, &arena, &ab, NULL) != napi_ok ||
      t != napi_uint8_array)
    return throwType(env, "arena must be a Uint8Array");

  InitOnceExecuteOnce(&g_wsaOnce, wsaInit, NULL, NULL);
  if (g_wsaError != 0) {
    napi_throw_error(env, "ERR_NATIVE_WSA", "WSAStartup failed");
    return NULL;
  }

  Port *p = (Port *)calloc(1, sizeof(Port));
  if (!p) return throwType(env, "out of memory");
  p->concurrency = concurrency;
  if (concurrency == 0) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    p->concurrency = si.dwNumberOfProcessors;
  }
  p->arena = (uint8_t *)arena;
  p->arenaLen = arenaLen;
  p->maxSockets = maxSockets;
  p->flags = flags;
  p->nextSlot = 1;
  InitializeSRWLock(&p->sockLock);

  size_t opsBytes = (size_t)opCount * sizeof(Op) + 64;
  p->opsMem = VirtualAlloc(NULL, opsBytes, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  p->socks = (Sock *)VirtualAlloc(NULL, ((size_t)maxSockets + 1) * sizeof(Sock),
                                  MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  if (!p->opsMem || !p->socks) {
    freeTables(p);
    free(p);
    napi_throw_error(env, "ERR_NATIVE_MEMORY", "cannot allocate the port's tables");
    return NULL;
  }
  // [SLIST_HEADER (16)][pad to 64][ops...] — both 16-byte aligned (page-aligned block).
  p->freeOps = (SLIST_HEADER *)p->opsMem;
  InitializeSListHead(p->freeOps);
  p->ops = (Op *)((uint8_t *)p->opsMem + 64);
  p->opCount = opCount;
  for (uint32_t i = opCount; i-- > 0;) {
    p->ops[i].magic = OP_MAGIC;
    InterlockedPushEntrySList(p->freeOps, &p->ops[i].link);
  }
  for (uint32_t i = 0; i <= maxSockets; i++) {
    InitializeSRWLock(&p->socks[i].lock);
    p->socks[i].s = INVALID_SOCKET;
  }

  AcquireSRWLockExclusive(&g_portsLock);
  sweepParked();
  LONG lastId = g_nextPort;
  HANDLE h = NULL;
  for (int attempt = 0; attempt < 16; attempt++) {
    h = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, concurrency);
    if (!h) break;
    Port *old = staleOwner(h, lastId);
    if (!old) break;
    if (g_parkedCount < MAX_PARKED) {
      PostQueuedCompletionStatus(h, 0, 0, &g_staleOv);
      g_parked[g_parkedCount].h = h;
      g_parked[g_parkedCount].old = old;
      g_parkedCount++;
    } else {
      CloseHandle(h);
    }
    h = NULL;
  }
  LONG id = h ? g_nextPort + 1 : 0;
  if (h && id < MAX_PORTS) {
    p->h = h;
    g_ports[id] = p;
    g_nextPort = id;
  }
  ReleaseSRWLockExclusive(&g_portsLock);
  if (!h || id >= MAX_PORTS) {
    DWORD err = h ? E_NO_SYSTEM_RESOURCES : GetLastError();
    if (h) CloseHandle(h);
    freeTables(p);
    free(p);
    char msg[96];
    snprintf(msg, sizeof msg, "CreateIoCompletionPort failed (error %lu)", (unsigned long)err);
    napi_throw_error(env, "ERR_NATIVE_PORT", msg);
    return NULL;
  }
  // Pin the arena: the kernel writes into it until every Op has drained.
  napi_create_reference(env, argv[1], 1, &p->arenaRef);

  napi_value result;
  NAPI_OK(napi_create_array_with_length(env, 2, &result));
  napi_set_element(env, result, 0, num(env, (double)id));
  napi_set_element(env, result, 1, num(env, (double)p->concurrency));
  return result;
}

// closePort(portId): CloseHandle (waiters: FALSE/NULL/ERROR_ABANDONED_WAIT_0),
// stop accept threads, cancel and close every socket. Idempotent.
static napi_value ClosePort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Port *p = argPort(env, argv, argc);
  if (!p) return NULL;
  if (InterlockedExchange(&p->closed, 1) != 0) return NULL;
  CloseHandle(p->h);
  for (uint32_t i = 1; i <= p->maxSockets && i < p->nextSlot; i++) {
    Sock *k = &p->socks[i];
    AcquireSRWLockExclusive(&k->lock);
    if (k->state == SOCK_OPEN || k->state == SOCK_LISTENING) sockCloseLocked(p, k, i);
    ReleaseSRWLockExclusive(&k->lock);
  }
  return NULL;
}

// drainPort(portId) -> true once the kernel is done with the port's memory (then
// the tables and the arena pin are released; call on the creating thread).
static napi_value DrainPort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Port *p = argPort(env, argv, argc);
  if (!p) return NULL;
  napi_value r;
  if (p->drained) {
    napi_get_boolean(env, true, &r);
    return r;
  }
  int done = p->closed && InterlockedCompareExchange(&p->entering, 0, 0) == 0;
  for (uint32_t i = 0; done && i < p->opCount; i++) {
    Op *op = &p->ops[i];
    if (op->busy && op->type != OP_POST && op->ov.Internal == STATUS_PENDING) done = 0;
  }
  if (done) {
    AcquireSRWLockExclusive(&g_portsLock);
    // A thread could enter between the test and here only to find `closed`.
    freeTables(p);
    ReleaseSRWLockExclusive(&g_portsLock);
    if (p->arenaRef) napi_delete_reference(env, p->arenaRef);
    p->arenaRef = NULL;
    p->drained = 1;
  }
  napi_get_boolean(env, done, &r);
  return r;
}

// ---- GQCS ------------------------------------------------------------------------------------

static void fillEntry(uint32_t *e, Op *op, DWORD bytes, ULONG_PTR key, DWORD error) {
  e[0] = bytes;
  e[1] = (uint32_t)((uint64_t)key & 0xffffffffu);
  e[2] = (uint32_t)((uint64_t)key >> 32);
  e[3] = op ? op->userOv : 0;
  e[4] = error;
  e[5] = op ? op->type : OP_POST;
  e[6] = op ? op->ioId : 0;
  e[7] = 0;
}

/** The stale marker was dequeued: pass it on to the next stale waiter. */
static void repostStale(HANDLE h) { PostQueuedCompletionStatus(h, 0, 0, &g_staleOv); }

// gqcs(portId, scratch, timeoutMs) -> 1 if an entry was dequeued (TRUE or a failed
// I/O: scratch entry 0 says which), 0 if nothing was (scratch[0] = GetLastError()).
static napi_value Gqcs(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Port *p = argPort(env, argv, argc);
  uint32_t timeout;
  if (!p || argc < 3 || !argU32(env, argv, argc, 2, &timeout)) return NULL;
  uint32_t *s = argScratch(env, argv[1], ENTRY_BASE + ENTRY_WORDS);
  if (!s) return NULL;
  if (!enter(p)) {
    s[S_LAST_ERROR] = E_INVALID_HANDLE;
    return num(env, 0);
  }
  DWORD bytes = 0;
  ULONG_PTR key = 0;
  OVERLAPPED *ov = NULL;
  BOOL ok = GetQueuedCompletionStatus(p->h, &bytes, &key, &ov, timeout);
  DWORD err = ok ? 0 : GetLastError();
  int n = 0;
  if (ov == &g_staleOv) {
    repostStale(p->h);
    err = E_INVALID_HANDLE;
  } else if (ov != NULL) {
    Op *op = opOf(p, ov);
    fillEntry(s + ENTRY_BASE, op, bytes, key, err);
    if (op) opFree(p, op);
    n = 1;
  } else if (ok) {
    // A NULL-overlapped packet not posted through this addon (never happens here).
    fillEntry(s + ENTRY_BASE, NULL, bytes, key, 0);
    n = 1;
  }
  leave(p);
  s[S_LAST_ERROR] = err;
  return num(env, n);
}

static DWORD statusToError(NTSTATUS st) { return st == 0 ? 0 : RtlNtStatusToDosError(st); }

// gqcsEx(portId, scratch, max, timeoutMs) -> n entries (0: scratch[0] = GetLastError()).
static napi_value GqcsEx(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Port *p = argPort(env, argv, argc);
  uint32_t max, timeout;
  if (!p || !argU32(env, argv, argc, 2, &max) || !argU32(env, argv, argc, 3, &timeout)) return NULL;
  if (max < 1) return throwType(env, "max must be at least 1");
  if (max > MAX_EX_ENTRIES) max = MAX_EX_ENTRIES;
  uint32_t *s = argScratch(env, argv[1], ENTRY_BASE + (size_t)ENTRY_WORDS * max);
  if (!s) return NULL;
  if (!enter(p)) {
    s[S_LAST_ERROR] = E_INVALID_HANDLE;
    return num(env, 0);
  }
  OVERLAPPED_ENTRY entries[MAX_EX_ENTRIES];
  ULONG got = 0;
  BOOL ok = GetQueuedCompletionStatusEx(p->h, entries, max, &got, timeout, FALSE);
  DWORD err = ok ? 0 : GetLastError();
  uint32_t n = 0;
  int stale = 0;
  for (ULONG i = 0; ok && i < got; i++) {
    OVERLAPPED *ov = entries[i].lpOverlapped;
    if (ov == &g_staleOv) {
      stale = 1;
      continue;
    }
    Op *op = opOf(p, ov);
    DWORD e = 0;
    if (op && op->type != OP_POST) e = statusToError((NTSTATUS)op->ov.Internal);
    fillEntry(s + ENTRY_BASE + (size_t)ENTRY_WORDS * n, op, entries[i].dwNumberOfBytesTransferred,
              entries[i].lpCompletionKey, e);
    if (op) opFree(p, op);
    n++;
  }
  if (stale) {
    repostStale(p->h);
    if (n == 0) err = E_INVALID_HANDLE;
  }
  leave(p);
  s[S_LAST_ERROR] = n > 0 ? 0 : err;
  return num(env, n);
}

// pqcs(portId, bytes, keyLo, keyHi, overlapped, ioId) -> 0 or a Win32 error.
static napi_value Pqcs(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Port *p = argPort(env, argv, argc);
  uint32_t bytes, lo, hi, userOv, ioId;
  if (!p || !argU32(env, argv, argc, 1, &bytes) || !argU32(env, argv, argc, 2, &lo) ||
      !argU32(env, argv, argc, 3, &hi) || !argU32(env, argv, argc, 4, &userOv) ||
      !argU32(env, argv, argc, 5, &ioId))
    return NULL;
  if (!enter(p)) return num(env, E_INVALID_HANDLE);
  DWORD err = 0;
  Op *op = opAlloc(p, OP_POST, userOv, ioId);
  if (!op) {
    err = E_NO_SYSTEM_RESOURCES;
  } else {
    op->ov.Internal = 0;
    ULONG_PTR key = (ULONG_PTR)(((uint64_t)hi << 32) | lo);
    if (!PostQueuedCompletionStatus(p->h, bytes, key, &op->ov)) {
      err = GetLastError();
      opFree(p, op);
    }
  }
  leave(p);
  return num(env, err);
}

// ---- sockets -------------------------------------------------------------------------------------

/** Locks the slot of `id` shared if it is in state `want`; else returns the contract error. */
static DWORD sockUse(Port *p, uint32_t id, Sock **out) {
  Sock *k = sockSlot(p, id);
  if (!k) return WSAENOTSOCK;
  AcquireSRWLockShared(&k->lock);
  if (k->gen != (id >> 16) || k->state == SOCK_FREE || k->state == SOCK_ZOMBIE) {
    ReleaseSRWLockShared(&k->lock);
    return WSAENOTSOCK;
  }
  *out = k;
  return 0;
}

static int inArena(Port *p, uint32_t off, uint32_t len) {
  return (uint64_t)off + (uint64_t)len <= (uint64_t)p->arenaLen;
}

// wsaRecv/wsaSend(portId, socket, overlapped, off0, len0, off1, len1, ioId, scratch)
//   -> 0 (finished at once, a packet comes), 997 (pending, a packet comes) or an error (none).
// scratch[1..2] = the socket's completion key (0 when not associated), for the IoPosted record.
static napi_value issue(napi_env env, napi_callback_info info, uint32_t type) {
  size_t argc = 9;
  napi_value argv[9];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Port *p = argPort(env, argv, argc);
  uint32_t id, userOv, off0, len0, off1, len1, ioId;
  if (!p || !argU32(env, argv, argc, 1, &id) || !argU32(env, argv, argc, 2, &userOv) ||
      !argU32(env, argv, argc, 3, &off0) || !argU32(env, argv, argc, 4, &len0) ||
      !argU32(env, argv, argc, 5, &off1) || !argU32(env, argv, argc, 6, &len1) ||
      !argU32(env, argv, argc, 7, &ioId))
    return NULL;
  uint32_t *s = argc >= 9 ? argScratch(env, argv[8], ENTRY_BASE) : NULL;
  if (!s) return NULL;
  s[1] = 0;
  s[2] = 0;
  if (!enter(p)) return num(env, WSAENOTSOCK);
  Sock *k = NULL;
  DWORD r = sockUse(p, id, &k);
  if (r == 0) {
    if (k->assoc == 1) {
      s[1] = k->keyLo;
      s[2] = k->keyHi;
    }
    if (k->state == SOCK_LISTENING) {
      r = WSAENOTCONN;
    } else if (!inArena(p, off0, len0) || (len1 > 0 && !inArena(p, off1, len1))) {
      r = WSAEFAULT;
    } else if (k->assoc != 1) {
      // Win32 would complete it without a packet; the contract refuses instead.
      r = WSAEINVAL;
    } else {
      Op *op = opAlloc(p, type, userOv, ioId);
      if (!op) {
        r = WSAENOBUFS;
      } else {
        WSABUF bufs[2];
        bufs[0].buf = (CHAR *)(p->arena + off0);
        bufs[0].len = len0;
        bufs[1].buf = (CHAR *)(p->arena + off1);
        bufs[1].len = len1;
        DWORD n = len1 > 0 ? 2 : 1;
        int rc;
        if (type == OP_RECV) {
          DWORD flags = 0;
          rc = WSARecv(k->s, bufs, n, NULL, &flags, &op->ov, NULL);
        } else {
          rc = WSASend(k->s, bufs, n, NULL, 0, &op->ov, NULL);
        }
        if (rc == 0) {
          r = 0;
        } else {
          r = (DWORD)WSAGetLastError();
          // Anything but pending: no packet will ever come, the Op is ours again.
          // (Pending or 0: the packet may already be dequeued; do not touch op.)
          if (r != WSA_IO_PENDING) opFree(p, op);
        }
      }
    }
    ReleaseSRWLockShared(&k->lock);
  }
  leave(p);
  return num(env, r);
}

static napi_value WsaRecv(napi_env env, napi_callback_info info) { return issue(env, info, OP_RECV); }
static napi_value WsaSend(napi_env env, napi_callback_info info) { return issue(env, info, OP_SEND); }

// closesocket(portId, socket) -> 0 or WSAENOTSOCK. Does not wait for pending I/O.
static napi_value CloseSocket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Port *p = argPort(env, argv, argc);
  uint32_t id;
  if (!p || !argU32(env, argv, argc, 1, &id)) return NULL;
  if (!enter(p)) return num(env, WSAENOTSOCK);
  DWORD r = WSAENOTSOCK;
  Sock *k = sockSlot(p, id);
  if (k) {
    AcquireSRWLockExclusive(&k->lock);
    if (k->gen == (id >> 16) && (k->state == SOCK_OPEN || k->state == SOCK_LISTENING)) {
      sockCloseLocked(p, k, id & 0xffff);
      r = 0;
    }
    ReleaseSRWLockExclusive(&k->lock);
  }
  leave(p);
  return num(env, r);
}

// associate(portId, socket, keyLo, keyHi) -> 0 or a Win32 error (6: not a live socket,
// 87: already associated).
static napi_value Associate(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Port *p = argPort(env, argv, argc);
  uint32_t id, lo, hi;
  if (!p || !argU32(env, argv, argc, 1, &id) || !argU32(env, argv, argc, 2, &lo) ||
      !argU32(env, argv, argc, 3, &hi))
    return NULL;
  if (!enter(p)) return num(env, E_INVALID_HANDLE);
  Sock *k = NULL;
  DWORD r = sockUse(p, id, &k);
  if (r != 0) {
    r = E_INVALID_HANDLE;
  } else {
    if (k->state != SOCK_OPEN) {
      r = E_INVALID_HANDLE;
    } else if (InterlockedCompareExchange(&k->assoc, 2, 0) != 0) {
      r = E_INVALID_PARAMETER;
    } else {
      ULONG_PTR key = (ULONG_PTR)(((uint64_t)hi << 32) | lo);
      if (CreateIoCompletionPort((HANDLE)k->s, p->h, key, 0) == NULL) {
        r = GetLastError();
        InterlockedExchange(&k->assoc, 0);
      } else {
        k->keyLo = lo;
        k->keyHi = hi;
        InterlockedExchange(&k->assoc, 1);
      }
    }
    ReleaseSRWLockShared(&k->lock);
  }
  leave(p);
  return num(env, r);
}

// listen(portId, address, port, backlog) -> [socketId, boundPort] or a negative error.
static napi_value Listen(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Port *p = argPort(env, argv, argc);
  uint32_t port, backlog;
  char address[64];
  size_t alen;
  if (!p || argc < 4) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], address, sizeof address, &alen) != napi_ok)
    return throwType(env, "address must be a string");
  if (!argU32(env, argv, argc, 2, &port) || !argU32(env, argv, argc, 3, &backlog)) return NULL;
  if (port > 65535) return throwType(env, "port out of range");
  if (!enter(p)) return num(env, -(double)E_INVALID_HANDLE);

  DWORD err = 0;
  uint32_t id = 0, bound = 0;
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  char service[8];
  snprintf(service, sizeof service, "%u", port);
  SOCKET ls = INVALID_SOCKET;
  if (getaddrinfo(address, service, &hints, &ai) != 0 || !ai) {
    err = WSAEINVAL;
  } else {
    ls = WSASocketW(ai->ai_family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (ls == INVALID_SOCKET || bind(ls, ai->ai_addr, (int)ai->ai_addrlen) != 0 ||
        listen(ls, backlog > SOMAXCONN ? SOMAXCONN : (int)backlog) != 0) {
      err = (DWORD)WSAGetLastError();
    } else {
      struct sockaddr_storage sa;
      int salen = sizeof sa;
      getsockname(ls, (struct sockaddr *)&sa, &salen);
      bound = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                             : ((struct sockaddr_in *)&sa)->sin_port);
    }
    freeaddrinfo(ai);
  }
  if (err == 0) {
    uint32_t slot = slotAlloc(p);
    if (slot == 0) {
      err = WSAENOBUFS;
    } else {
      Sock *k = &p->socks[slot];
      if (!k->acceptEv) k->acceptEv = CreateEventW(NULL, FALSE, FALSE, NULL);
      if (!k->stopEv) k->stopEv = CreateEventW(NULL, TRUE, FALSE, NULL);
      if (!k->acceptEv || !k->stopEv || WSAEventSelect(ls, k->acceptEv, FD_ACCEPT) != 0) {
        err = k->acceptEv && k->stopEv ? (DWORD)WSAGetLastError() : GetLastError();
        slotFree(p, slot);
      } else {
        ResetEvent(k->stopEv);
        id = slotInit(p, slot, ls, SOCK_LISTENING);
      }
    }
  }
  if (err != 0 && ls != INVALID_SOCKET) closesocket(ls);
  leave(p);
  if (err != 0) return num(env, -(double)err);
  napi_value result;
  NAPI_OK(napi_create_array_with_length(env, 2, &result));
  napi_set_element(env, result, 0, num(env, id));
  napi_set_element(env, result, 1, num(env, bound));
  return result;
}

/** The accepted socket as a plain overlapped socket in a fresh slot; its id or 0 + *err. */
static uint32_t adopt(Port *p, SOCKET s, DWORD *err) {
  // accept() copies the listener's WSAEventSelect (and so non-blocking mode).
  WSAEventSelect(s, NULL, 0);
  u_long blocking = 0;
  ioctlsocket(s, FIONBIO, &blocking);
  if (p->flags & PORT_TCP_NODELAY) {
    BOOL one = TRUE;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, (int)sizeof one);
  }
  uint32_t slot = slotAlloc(p);
  if (slot == 0) {
    closesocket(s);
    *err = WSAENOBUFS;
    return 0;
  }
  return slotInit(p, slot, s, SOCK_OPEN);
}

// accept(portId, listenSocket, timeoutMs, scratch) -> {socket, address, port} or null
// (scratch[0] = WSAEINTR when the listener or the port closed, WSAETIMEDOUT, WSAENOTSOCK...).
// Blocks this thread in the kernel (WaitForMultipleObjects on FD_ACCEPT and the
// listener's stop event, in slices of ACCEPT_SLICE_MS) between non-blocking accept() calls.
static napi_value Accept(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Port *p = argPort(env, argv, argc);
  uint32_t id, timeout;
  if (!p || !argU32(env, argv, argc, 1, &id) || !argU32(env, argv, argc, 2, &timeout)) return NULL;
  uint32_t *s = argc >= 4 ? argScratch(env, argv[3], ENTRY_BASE) : NULL;
  if (!s) return NULL;
  napi_value nul;
  napi_get_null(env, &nul);
  if (!enter(p)) {
    s[S_LAST_ERROR] = WSAEINTR;
    return nul;
  }
  Sock *k = NULL;
  DWORD err = sockUse(p, id, &k);
  if (err == 0 && k->state != SOCK_LISTENING) {
    ReleaseSRWLockShared(&k->lock);
    err = WSAENOTSOCK;
  }
  if (err != 0) {
    leave(p);
    s[S_LAST_ERROR] = err;
    return nul;
  }
  InterlockedIncrement(&k->accepters);
  HANDLE events[2] = {k->stopEv, k->acceptEv};
  uint32_t gen = id >> 16;
  ReleaseSRWLockShared(&k->lock);
  // This thread stays counted in `entering` while it waits, so drainPort cannot
  // free the socket table under it; closePort sets the stop event, so the wait
  // ends promptly once the port closes.

  ULONGLONG deadline = timeout == INFINITE ? 0 : GetTickCount64() + timeout;
  uint32_t newId = 0;
  struct sockaddr_storage peer;
  int peerLen = sizeof peer;
  for (;;) {
    AcquireSRWLockShared(&k->lock);
    if (k->gen != gen || k->state != SOCK_LISTENING) {
      ReleaseSRWLockShared(&k->lock);
      err = WSAEINTR;
      break;
    }
    peerLen = sizeof peer;
    SOCKET a = accept(k->s, (struct sockaddr *)&peer, &peerLen);
    DWORD e = a == INVALID_SOCKET ? (DWORD)WSAGetLastError() : 0;
    ReleaseSRWLockShared(&k->lock);
    if (a != INVALID_SOCKET) {
      if (InterlockedCompareExchange(&p->closed, 0, 0) == 0) {
        newId = adopt(p, a, &err);
        // closePort may have swept the table between the test and adopt().
        if (newId && InterlockedCompareExchange(&p->closed, 0, 0) != 0) {
          Sock *n = &p->socks[newId & 0xffff];
          AcquireSRWLockExclusive(&n->lock);
          if (n->gen == (newId >> 16) && n->state == SOCK_OPEN) sockCloseLocked(p, n, newId & 0xffff);
          ReleaseSRWLockExclusive(&n->lock);
          newId = 0;
          err = WSAEINTR;
        }
      } else {
        closesocket(a);
        err = WSAEINTR;
      }
      break;
    }
    // A queued connection that died before accept() ran is skipped: Windows says
    // WSAECONNRESET, Wine 8 says WSAENOTCONN (or WSAECONNABORTED).
    if (e != WSAEWOULDBLOCK && e != WSAECONNRESET && e != WSAECONNABORTED && e != WSAENOTCONN) {
      err = e;
      break;
    }
    // FD_ACCEPT is an edge: Wine 8 does not re-arm it when the connection that
    // raised it was reset before accept() ran, which would park this thread for
    // good. So the wait is sliced and every slice ends with another accept().
    DWORD wait = ACCEPT_SLICE_MS;
    if (timeout != INFINITE) {
      ULONGLONG now = GetTickCount64();
      if (now >= deadline) {
        err = WSAETIMEDOUT;
        break;
      }
      if (deadline - now < wait) wait = (DWORD)(deadline - now);
    }
    DWORD w = WaitForMultipleObjects(2, events, FALSE, wait);
    if (w == WAIT_OBJECT_0) {
      err = WSAEINTR;
      break;
    }
    if (w == WAIT_TIMEOUT) continue;
    if (w != WAIT_OBJECT_0 + 1) {
      err = GetLastError();
      break;
    }
  }
  // The last accept thread out of a closed listener frees its slot.
  AcquireSRWLockExclusive(&k->lock);
  if (InterlockedDecrement(&k->accepters) == 0 && k->gen == gen && k->state == SOCK_ZOMBIE) {
    k->state = SOCK_FREE;
    slotFree(p, id & 0xffff);
  }
  ReleaseSRWLockExclusive(&k->lock);
  leave(p);

  s[S_LAST_ERROR] = newId ? 0 : err;
  if (!newId) return nul;
  char host[INET6_ADDRSTRLEN] = "";
  uint32_t peerPort = 0;
  if (peer.ss_family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&peer;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    peerPort = ntohs(in->sin_port);
  } else if (peer.ss_family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&peer;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    peerPort = ntohs(in6->sin6_port);
  }
  napi_value result, v;
  NAPI_OK(napi_create_object(env, &result));
  napi_set_named_property(env, result, "socket", num(env, newId));
  napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, result, "peerAddress", v);
  napi_set_named_property(env, result, "peerPort", num(env, peerPort));
  return result;
}

// stats(portId) -> {opsInUse, entering, closed}: for tests and diagnostics.
static napi_value Stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Port *p = argPort(env, argv, argc);
  if (!p) return NULL;
  uint32_t inUse = 0;
  for (uint32_t i = 0; p->ops && i < p->opCount; i++) inUse += p->ops[i].busy ? 1 : 0;
  napi_value r;
  NAPI_OK(napi_create_object(env, &r));
  napi_set_named_property(env, r, "opsInUse", num(env, inUse));
  napi_set_named_property(env, r, "entering", num(env, p->entering));
  napi_set_named_property(env, r, "closed", num(env, p->closed));
  return r;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"createPort", NULL, CreatePort, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closePort", NULL, ClosePort, NULL, NULL, NULL, napi_enumerable, NULL},
      {"drainPort", NULL, DrainPort, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gqcs", NULL, Gqcs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gqcsEx", NULL, GqcsEx, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pqcs", NULL, Pqcs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"wsaRecv", NULL, WsaRecv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"wsaSend", NULL, WsaSend, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closesocket", NULL, CloseSocket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"associate", NULL, Associate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listen", NULL, Listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"accept", NULL, Accept, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, Stats, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value v;
  napi_create_uint32(env, 1, &v);
  napi_set_named_property(env, exports, "abiVersion", v);
  return exports;
}
