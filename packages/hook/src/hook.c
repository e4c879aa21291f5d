/* hook.c — iocpscope-hook.dll: trace an unmodified IOCP server.
 *
 * Loaded into a process (`iocpscope run -- server.exe` injects it before the
 * server's main; `iocpscope attach` into a running one), it interposes the
 * Win32 calls an IOCP server makes, by patching the import tables of the
 * process's modules (iat.c), and records what they do with iocpscope.h's
 * recorder, rings, collector and transport (this file includes the header's
 * implementation with IOCPSCOPE_EXTENSION and uses its internals).
 *
 * WHAT CAN BE KNOWN WITHOUT THE APPLICATION'S HELP
 *   Sessions. A session is a connected socket's lifetime: the handle plus a
 *   generation (id = serial << 32 | handle, the serial counting every session
 *   of the process), so a handle value reused after closesocket is a new
 *   session. It begins when accept/WSAAccept returns the socket, when an
 *   AcceptEx for it is dequeued successfully, or at the first overlapped call
 *   on a socket the hook has not seen begin (a listening socket with AcceptEx
 *   posted on it, a socket connected before the hook came, a UDP socket). It
 *   ends at closesocket (or at a dequeued DisconnectEx: the connection is over
 *   even if the handle is reused) and is released when its last outstanding
 *   operation has been dequeued after that. A connection that never became a
 *   socket of the server's is no session: a failed AcceptEx is a failed
 *   completion, a failed accept/WSAAccept a Marker "accept failed (N)".
 *   IOCount, derived. The number of the socket's overlapped operations whose
 *   completion has not been dequeued yet, matched by OVERLAPPED: +1 just
 *   before the call, -1 when its packet is dequeued, or at once when the call
 *   failed (no packet will come) or succeeded with
 *   FILE_SKIP_COMPLETION_PORT_ON_SUCCESS set (none will come either). The file
 *   header says so (`ioCount` "derived", `tracer` "hook"); the detectors that
 *   need the application's own count do not run on it.
 *   Thread roles. A thread that calls GQCS is a worker; a thread blocked in
 *   accept/WSAAccept, or posting AcceptEx outside any role, is the acceptor;
 *   the process's first thread is main.
 *   Call sites. Each call is attributed to the instruction after the call
 *   (module+offset), so `check` and the dashboard point at the caller's code.
 *
 * INTERPOSED (import tables of every module outside the Windows directory, the
 * exe always, and every module loaded later)
 *   CreateIoCompletionPort, SetFileCompletionNotificationModes,
 *   GetQueuedCompletionStatus(Ex), PostQueuedCompletionStatus, CancelIo(Ex),
 *   WSARecv, WSASend, WSARecvFrom, WSASendTo, closesocket, accept, WSAAccept,
 *   socket, WSASocketA/W (a new socket ends whatever the handle named),
 *   AcceptEx (the mswsock export), WSAIoctl (the AcceptEx, ConnectEx and
 *   DisconnectEx pointers it hands out become the hook's), GetProcAddress
 *   (hands out the hooks for interposed functions); and in every module,
 *   system ones too: LoadLibrary(Ex)A/W (patch what was loaded) and
 *   ExitProcess/TerminateProcess (end the trace with TraceEnd ServerExit first).
 *
 * RULES
 *   Return values, GetLastError/WSAGetLastError and the OVERLAPPED are what the
 *   real call left (the hook never writes an OVERLAPPED; it restores the last
 *   error after its own work, and before the real call too). Nothing is
 *   allocated on the server's threads after warm-up (tables are sized at load;
 *   a thread's ring comes with its first record). The collector's thread is
 *   never traced (it calls through this DLL's own, unpatched imports, and its
 *   thread-local recorder is marked untraced).
 *
 * UNLOAD
 *   iocpscope_hook_detach (run on a thread of the process: `iocpscope attach
 *   --detach`) restores every patched import, ends the trace (TraceEnd
 *   Detached) and frees the DLL when no thread is inside a hook and no pointer
 *   to a hook was handed out; otherwise the DLL stays mapped, inert: every hook
 *   forwards to the real function. The process keeps running either way.
 *
 * Builds with mingw-w64 (packages/hook/build.sh) and MSVC (CMakeLists.txt).
 */
#define IOCPSCOPE_ENABLE
#define IOCPSCOPE_EXTENSION
#define IOCPSCOPE_IMPLEMENTATION
#include "iocpscope.h"

#include "iat.h"

#include <tlhelp32.h>

#if defined(_MSC_VER) && !defined(__clang__)
#define HK_RETADDR() _ReturnAddress()
#define HK_EXPORT __declspec(dllexport)
#else
#define HK_RETADDR() __builtin_return_address(0)
#define HK_EXPORT __declspec(dllexport)
#endif

/* The thread's last error, read and written in its TEB (LastErrorValue: x64 gs:0x68, x86
 * fs:0x34), the one field GetLastError, SetLastError, WSAGetLastError and WSASetLastError all
 * use, on Windows and in Wine alike. A call into kernel32 or ws2_32 right after the real call
 * (a kernel transition) costs a TLB miss on each of their code pages; this costs none. */
#if defined(_MSC_VER) && !defined(__clang__) && defined(_M_X64)
#define HK_LAST_ERROR() ((DWORD)__readgsdword(0x68))
#define HK_SET_LAST_ERROR(v) __writegsdword(0x68, (DWORD)(v))
#elif defined(_MSC_VER) && !defined(__clang__) && defined(_M_IX86)
#define HK_LAST_ERROR() ((DWORD)__readfsdword(0x34))
#define HK_SET_LAST_ERROR(v) __writefsdword(0x34, (DWORD)(v))
#elif defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
/* (mingw's __readgsdword with a constant offset trips GCC's -Warray-bounds) */
#ifdef __x86_64__
#define HK_TEB_LAST_ERROR "%%gs:0x68"
#else
#define HK_TEB_LAST_ERROR "%%fs:0x34"
#endif
static __inline__ DWORD hk_last_error(void) {
  DWORD v;
  __asm__ __volatile__("movl " HK_TEB_LAST_ERROR ", %0" : "=r"(v));
  return v;
}
static __inline__ void hk_set_last_error(DWORD v) {
  __asm__ __volatile__("movl %0, " HK_TEB_LAST_ERROR : : "r"(v) : "memory");
}
#define HK_LAST_ERROR() hk_last_error()
#define HK_SET_LAST_ERROR(v) hk_set_last_error((DWORD)(v))
#else
#define HK_LAST_ERROR() GetLastError()
#define HK_SET_LAST_ERROR(v) SetLastError((DWORD)(v))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the configuration the launcher hands over --------------------------------------------- */
/* A named mapping "Local\iocpscope-hook-<pid>" holding this block, written by the launcher
 * (iocpscope-inject.exe) before it injects; without one, the environment (IOCPSCOPE_*). */
#define HK_CONFIG_MAGIC 0x4B4F4F48u /* "HOOK" */
typedef struct hk_shared_config {
  uint32_t magic, version, flags, reserved;
  char output[1024]; /* UTF-8 */
  char connect[256];
  char token[260];
  char app[64];
  char name[260];
} hk_shared_config;

/* ---- sessions -------------------------------------------------------------------------------- */
#define HK_CLOSED 1   /* cell state: the connection is over (closesocket, DisconnectEx) */
#define HK_RELEASED 2 /* cell state: released (closed, and nothing outstanding) */
#define HK_SOCK_CLOSED 1 /* socket entry flags */
#define HK_SOCK_MODES_SHIFT 8

/* One session's derived IOCount and state, found by its serial (id >> 32). Cells are
 * reused only after the table has gone round once, so a stale pointer never lands in
 * a session that is still being counted. */
/* `word`: the derived IOCount in its low HK_COUNT_BITS bits (signed), and above them the
 * low 44 bits of the clock reading that stamped the last change (hk_count_cas: why). */
typedef struct hk_cell {
  LONG64 volatile word;
  LONG volatile state;
  uint64_t session;
  uint64_t socket;
} hk_cell;

/* A call site: the caller's return address, as "module+0xoffset", and the API name. */
typedef struct hk_site {
  LONG64 volatile key;
  LONG volatile ready;
  iocpscope_loc loc;
  const char *func;
  char file[96];
} hk_site;
#define HK_SITES 4096

/* ---- the APIs ---------------------------------------------------------------------------------- */
enum {
  HK_CreateIoCompletionPort,
  HK_SetFileCompletionNotificationModes,
  HK_GetQueuedCompletionStatus,
  HK_GetQueuedCompletionStatusEx,
  HK_PostQueuedCompletionStatus,
  HK_CancelIo,
  HK_CancelIoEx,
  HK_WSARecv,
  HK_WSASend,
  HK_WSARecvFrom,
  HK_WSASendTo,
  HK_closesocket,
  HK_accept,
  HK_WSAAccept,
  HK_socket,
  HK_WSASocketA,
  HK_WSASocketW,
  HK_WSAIoctl,
  HK_AcceptEx,
  HK_GetProcAddress,
  HK_SET_A_END, /* above: patched in the server's modules; below: in every module */
  HK_LoadLibraryA = HK_SET_A_END,
  HK_LoadLibraryW,
  HK_LoadLibraryExA,
  HK_LoadLibraryExW,
  HK_ExitProcess,
  HK_TerminateProcess,
  HK_COUNT
};

typedef struct hk_api {
  const wchar_t *dll;
  const char *name;
  void *hook;
  void *volatile real; /* the implementation (stubs followed) */
  void *volatile stub; /* what GetProcAddress gave, when that was a stub jumping to `real` */
} hk_api;

/* Extension functions handed out by WSAIoctl: a few distinct providers, a thunk each. */
#define HK_EXT_SLOTS 4
enum { HK_EXT_ACCEPT, HK_EXT_CONNECT, HK_EXT_DISCONNECT, HK_EXT_KINDS };

/* The words every hooked call reads come first, on as few pages as possible: after a
 * call into Wine's server each page a hook touches costs a TLB walk (bench:hook). */
static struct hk_state {
  HMODULE self;
  LONG volatile detached;
  LONG volatile handed_out; /* hook pointers given to the process (WSAIoctl, GetProcAddress) */
  LONG volatile untracked_inside; /* threads without a recorder inside a hook */
  DWORD main_tid;
  int log;
  int patch_system; /* IOCPSCOPE_HOOK_MODULES=all: system modules too */
  /* socket handle -> v[0] session (0 none), v[1] flags, v[2] completion key, v[3] port */
  iocpscope__map socks;
  SRWLOCK socks_insert;
  hk_cell *cells;
  uint64_t cell_mask;
  struct hk_incall *incall; /* one per recorder thread (hk_incall_of) */
  LONG volatile serial;
  LONG volatile workers, acceptors;
  /* attached to a running process: threads that may still be inside a GQCS call begun
   * before the hooks (its dequeue is unseen) until they call a hooked one */
  int attached;
  unsigned n_pre;
  LONG volatile unsure;
  hk_api api[HK_COUNT];
  void *volatile ext_real[HK_EXT_KINDS][HK_EXT_SLOTS];
  LPFN_GETACCEPTEXSOCKADDRS volatile sockaddrs;
  uint32_t cancel_labels[4];
  LONG volatile modules_patched;
  LONG volatile slots_patched;
  LONG volatile sites_used;
  /* cold */
  DWORD pre_tids[256];
  iocpscope_config cfg;
  char output[1024], connect[256], token[260], app[64], name[260];
  hk_site sites[HK_SITES]; /* a thread finds its call sites in its own cache first */
} hk;

static iocpscope_loc hk_no_site = {"iocpscope-hook", 0, -1};

/* Test builds only (-DIOCPSCOPE_HOOK_TEST_FAULT=n): break the hook on purpose, so the
 * tests show they catch it. 1: one dequeued completion in 50 is not recorded; 2: the
 * GQCS hooks do not give back the real call's last error. */
#ifndef IOCPSCOPE_HOOK_TEST_FAULT
#define IOCPSCOPE_HOOK_TEST_FAULT 0
#endif

/* Bench builds only (-DIOCPSCOPE_HOOK_SELFTIME): the TSC ticks each hook spends on the
 * caller's thread outside the real call, per API, the last HK_SELF_KEEP calls each, for
 * bench/hook_bench.c (which calls the hooks from one thread, so these are plain stores). */
#ifdef IOCPSCOPE_HOOK_SELFTIME
#define HK_SELF_KEEP 65536
static uint64_t hk_self_calls[HK_COUNT];
static uint32_t hk_self_ticks[HK_COUNT][HK_SELF_KEEP];
#define HK_ST_VARS unsigned long long hk_st0 = __rdtsc(), hk_st_real = 0;
#define HK_ST_REAL(stmt)                                                          \
  do {                                                                            \
    unsigned long long hk_r0 = __rdtsc();                                         \
    stmt;                                                                         \
    hk_st_real += __rdtsc() - hk_r0;                                              \
  } while (0)
#define HK_ST_END(which)                                                          \
  do {                                                                            \
    unsigned long long hk_d = __rdtsc() - hk_st0 - hk_st_real;                    \
    hk_self_ticks[which][hk_self_calls[which]++ & (HK_SELF_KEEP - 1)] =           \
        hk_d > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)hk_d;                        \
  } while (0)
#else
#define HK_ST_VARS
#define HK_ST_REAL(stmt) stmt
#define HK_ST_END(which) ((void)0)
#endif

/* ---- logging ------------------------------------------------------------------------------------ */
static void hk_log(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  int n;
  DWORD w;
  if (!hk.log) return;
  memcpy(buf, "[iocpscope-hook] ", 17);
  va_start(ap, fmt);
  n = vsnprintf(buf + 17, sizeof(buf) - 19, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n > (int)sizeof(buf) - 19) n = (int)sizeof(buf) - 19;
  buf[17 + n] = '\n';
  WriteFile(GetStdHandle(STD_ERROR_HANDLE), buf, (DWORD)(18 + n), &w, NULL);
}

/* ---- per-thread words (iocpscope__thread.ext) -----------------------------------------------------
 * ext[0]: the role announced, + 1 (0 = none yet); ext[1]: hook depth (inside a hook). */
#define HK_ROLE(t) ((t)->ext[0])
#define HK_DEPTH(t) ((t)->ext[1])
#define HK_SEEN_GQCS(t) ((t)->ext[2])
#define HK_IO_NEXT(t) ((t)->ext[4]) /* the thread's next ioId */
#define HK_IO_LEFT(t) ((t)->ext[5]) /* ioIds left in its block */

typedef struct hk_call {
  iocpscope__thread *t; /* NULL: not traced (detached, tracer off, its own thread) */
  iocpscope_loc *loc;
  const char *func;
  DWORD err0; /* the last error at entry, given back to the real call */
} hk_call;

static void hk_thread_name(int role, char *out, size_t cap) {
  typedef HRESULT(WINAPI * describe_fn)(HANDLE, PWSTR *);
  static describe_fn describe;
  static LONG looked;
  PWSTR w = NULL;
  if (!InterlockedExchange(&looked, 1)) {
    HMODULE k = GetModuleHandleW(L"kernelbase.dll");
    FARPROC p = k ? GetProcAddress(k, "GetThreadDescription") : NULL;
    describe = (describe_fn)(void (*)(void))p;
  }
  if (describe && SUCCEEDED(describe(GetCurrentThread(), &w)) && w) {
    int n = w[0] ? WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)cap, NULL, NULL) : 0;
    LocalFree(w);
    if (n > 1) return;
  }
  if (role == IOCPSCOPE_ROLE_MAIN) {
    snprintf(out, cap, "main");
  } else if (role == IOCPSCOPE_ROLE_WORKER) {
    snprintf(out, cap, "worker %ld", InterlockedIncrement(&hk.workers));
  } else {
    LONG n = InterlockedIncrement(&hk.acceptors);
    if (n == 1)
      snprintf(out, cap, "accept");
    else
      snprintf(out, cap, "accept %ld", n);
  }
}

/* Announce a role (ThreadStart again, with the role and a name): worker beats main beats
 * accept; a role once given is kept. */
static void hk_role(hk_call *c, int role) {
  iocpscope__thread *t = c->t;
  uint32_t cur = HK_ROLE(t);
  char name[64];
  if (cur == (uint32_t)role + 1) return;
  if (cur != 0) {
    int was = (int)cur - 1;
    if (was == IOCPSCOPE_ROLE_WORKER) return;
    if (was == IOCPSCOPE_ROLE_MAIN && role != IOCPSCOPE_ROLE_WORKER) return;
  }
  HK_ROLE(t) = (uint32_t)role + 1;
  hk_thread_name(role, name, sizeof name);
  iocpscope_thread(c->loc, c->func, role, name);
}

/* ---- call sites ------------------------------------------------------------------------------- */
static void hk_site_fill(hk_site *s, const void *ret, const char *func) {
  HMODULE m = hk_iat_module_of(ret);
  wchar_t w[MAX_PATH];
  char mod[64];
  DWORD n = m ? GetModuleFileNameW(m, w, MAX_PATH) : 0, i, start = 0;
  mod[0] = 0;
  if (n > 0 && n < MAX_PATH) {
    for (i = 0; i < n; i++)
      if (w[i] == L'\\' || w[i] == L'/') start = i + 1;
    w[n] = 0;
    if (!WideCharToMultiByte(CP_UTF8, 0, w + start, -1, mod, (int)sizeof mod, NULL, NULL))
      mod[0] = 0;
  }
  if (mod[0])
    snprintf(s->file, sizeof s->file, "%s+0x%llx", mod,
             (unsigned long long)((const BYTE *)ret - (const BYTE *)m));
  else
    snprintf(s->file, sizeof s->file, "0x%llx", (unsigned long long)(uintptr_t)ret);
  s->func = func;
  s->loc.file = s->file;
  s->loc.line = 0;
  s->loc.id = 0;
}

/* The call site of the instruction after the call (lock-free, filled once). */
static iocpscope_loc *hk_site_of(const void *ret, const char *func) {
  uint64_t key = (uint64_t)(uintptr_t)ret, i = iocpscope__mix(key), n;
  if (!key) return &hk_no_site;
  for (n = 0; n < 64; n++, i++) {
    hk_site *s = &hk.sites[i & (HK_SITES - 1)];
    LONG64 k = iocpscope__ld64(&s->key);
    if ((uint64_t)k == key) return iocpscope__ld32(&s->ready) ? &s->loc : &hk_no_site;
    if (k == 0) {
      if (InterlockedIncrement(&hk.sites_used) > IOCPSCOPE__SITE_MAX) return &hk_no_site;
      if (iocpscope__cas64(&s->key, (LONG64)key, 0) == 0) {
        hk_site_fill(s, ret, func);
        iocpscope__st32(&s->ready, 1);
        return &s->loc;
      }
      InterlockedDecrement(&hk.sites_used);
      if ((uint64_t)iocpscope__ld64(&s->key) == key) return &hk_no_site;
    }
  }
  return &hk_no_site;
}

/* The call site from the thread's own cache (8 entries, direct-mapped on the return
 * address), which holds a copy of the site with its id: the record path then reads
 * nothing but the thread's lines. A miss (or a site without an id) takes the table. */
static iocpscope_loc *hk_site_cached(iocpscope__thread *t, const void *ret, const char *func) {
  uint64_t key = (uint64_t)(uintptr_t)ret;
  unsigned k = (unsigned)((key ^ (key >> 5) ^ (key >> 11)) & 7);
  iocpscope_loc *loc;
  if (IOCPSCOPE__LIKELY(t->ext_site_key[k] == key && key != 0)) return &t->ext_site_loc[k];
  loc = hk_site_of(ret, func);
  if (loc == &hk_no_site || iocpscope__site(t, loc, func) == 0) return loc;
  t->ext_site_loc[k] = *loc;
  t->ext_site_key[k] = key;
  return &t->ext_site_loc[k];
}

/* ---- entering and leaving a hook -------------------------------------------------------------- */
/* Starts the tracer on the first traced call (never in DllMain: it creates a thread and
 * calls WSAStartup). */
static void hk_labels(void);

static void hk_ensure_started(void) {
  if (IOCPSCOPE__LIKELY(iocpscope__g.state == 2)) return;
  if (iocpscope__ld32(&iocpscope__g.state) == 0) {
    DWORD e = HK_LAST_ERROR();
    if (iocpscope_init(&hk.cfg) == 0) hk_labels();
    HK_SET_LAST_ERROR(e);
  }
}

static int hk_enter(hk_call *c, const char *func, const void *ret) {
  c->err0 = HK_LAST_ERROR();
  c->t = NULL;
  if (IOCPSCOPE__UNLIKELY(hk.detached)) return 0;
  hk_ensure_started();
  c->t = iocpscope__self();
  if (!c->t) {
    InterlockedIncrement(&hk.untracked_inside);
    return 0;
  }
  HK_DEPTH(c->t)++;
  c->func = func;
  c->loc = hk_site_cached(c->t, ret, func);
  if (IOCPSCOPE__UNLIKELY(HK_ROLE(c->t) == 0) && GetCurrentThreadId() == hk.main_tid)
    hk_role(c, IOCPSCOPE_ROLE_MAIN);
  return 1;
}

static void hk_leave(hk_call *c) {
  if (c->t)
    HK_DEPTH(c->t)--;
  else if (!hk.detached)
    InterlockedDecrement(&hk.untracked_inside);
}

/* A new ioId: unique in the trace and never 0, as FORMAT.md asks. A thread takes them
 * from the shared counter in blocks of HK_IO_BLOCK, so a post makes no locked add on the
 * one line every worker shares (one post in HK_IO_BLOCK does): uncontended that add cost
 * ~10 ns of a skip-on-success WSASend's hook (bench:hook 1c), and every worker's posts
 * passed its line between the cores. A thread's ioIds rise; across threads they are not in
 * post order (the hook records no IoRing, whose chain check reads that order). */
#define HK_IO_BLOCK 64u
static uint32_t hk_new_io(iocpscope__thread *t) {
  uint32_t id;
  do {
    if (IOCPSCOPE__UNLIKELY(HK_IO_LEFT(t) == 0)) {
      LONG base = InterlockedExchangeAdd(&iocpscope__g.next_io, (LONG)HK_IO_BLOCK);
      HK_IO_NEXT(t) = (uint32_t)base + 1u;
      HK_IO_LEFT(t) = HK_IO_BLOCK;
    }
    id = HK_IO_NEXT(t)++;
    HK_IO_LEFT(t)--;
  } while (IOCPSCOPE__UNLIKELY(id == 0)); /* the counter wrapped */
  return id;
}

/* The last error as it was when the hook was entered, for the real call. */
#define HK_BEFORE_REAL(c) HK_SET_LAST_ERROR((c)->err0)

#define HK_REAL(which, type) ((type)hk.api[which].real)

/* ---- sockets and sessions ---------------------------------------------------------------------- */
static iocpscope__slot *hk_sock(uint64_t sock) {
  return iocpscope__map_find(&hk.socks, sock, NULL);
}

/* The socket's entry, created (empty) if it has none. */
static iocpscope__slot *hk_sock_entry(uint64_t sock) {
  iocpscope__slot *k = hk_sock(sock);
  static LONG full_said;
  if (k) return k;
  AcquireSRWLockExclusive(&hk.socks_insert); /* insertions only: one slot per handle */
  k = hk_sock(sock);
  if (!k) {
    k = iocpscope__map_claim(&hk.socks, sock);
    if (k) {
      k->v[0] = 0;
      k->v[1] = 0;
      k->v[2] = 0;
      k->v[3] = 0;
      iocpscope__map_publish(k);
    }
  }
  ReleaseSRWLockExclusive(&hk.socks_insert);
  if (!k && !InterlockedExchange(&full_said, 1))
    hk_log("more sockets than IOCPSCOPE_MAX_SESSIONS allows: some are not tracked");
  return k;
}

static hk_cell *hk_cell_of(uint64_t session) {
  hk_cell *c;
  if (!hk.cells || !session) return NULL;
  c = &hk.cells[(session >> 32) & hk.cell_mask];
  return c->session == session ? c : NULL;
}

/* The count in a cell's word: its low HK_COUNT_BITS bits, signed (a socket with half a
 * million operations outstanding is far past what Windows lets one socket hold). */
#define HK_COUNT_BITS 20
#define HK_COUNT_OF_WORD(w) ((LONG)((int64_t)((uint64_t)(w) << (64 - HK_COUNT_BITS)) >> (64 - HK_COUNT_BITS)))
/* The last change's stamp in it: the low 44 bits of its clock reading. */
#define HK_STAMP_OF_WORD(w) ((uint64_t)(w) >> HK_COUNT_BITS)
#define HK_STAMP_MASK ((1ull << (64 - HK_COUNT_BITS)) - 1)
/* How far the last change's stamp may lie ahead of this thread's clock reading and still
 * be taken as the bound it must pass (about 0.35 ms of TSC): a reading runs behind only by
 * what out-of-order execution and cross-core skew allow, a few hundred ticks. A stamp
 * further ahead is one from a lap of the 44 bits ago, and bounds nothing. */
#define HK_AHEAD_MAX (1ull << 20)

/* The derived IOCount of `session` changes by `delta`: iocpscope_iocount_add for the hook's
 * own cells, with the post's ioId known (no per-thread matching), and nothing else touched
 * (snapshots read the cells through hk_count_of). Each change's stamp must follow the
 * last change's, as the records form a chain in time order.
 * - The word carries the last change's stamp, and the CAS is on the count and that stamp:
 *   it succeeds only if nothing changed the count since it was read, so no other change
 *   falls between a change's stamp and its CAS. (On the count alone, a thread preempted
 *   between its stamp and its CAS could still succeed after others took the count away
 *   and back, with the oldest stamp: its record then led the chain, and theirs fitted
 *   nowhere. Seen once in CI, under load with resets.)
 * - A stamp is above the stamp in the word it replaces: a clock read without a fence may
 *   run ahead of the load of the word, and read a time before the change that load saw.
 *   Raising it past the last stamp costs an add where a fence (lfence; rdtsc) cost ~5 ns a
 *   change, and the order then rests on the data, not on when the clock was read. A CAS
 *   that fails reads the clock again, so a raised stamp is never a stale reading raised. */
IOCPSCOPE__INLINE LONG hk_count_cas(iocpscope__thread *t, hk_cell *cell, LONG delta,
                                    uint64_t *ticks_out) {
  uint64_t ticks, ahead;
  LONG64 old, seen, want;
  iocpscope__st64(&t->busy, iocpscope__ld64(&iocpscope__g.merged) + 1); /* as in stamp() */
  old = iocpscope__ld64(&cell->word);
  for (;;) {
    ticks = iocpscope__ticks();
    ahead = (HK_STAMP_OF_WORD(old) - ticks) & HK_STAMP_MASK;
    if (ahead < HK_AHEAD_MAX) ticks += ahead + 1;
    IOCPSCOPE__HOOK(2);
    want = (LONG64)((ticks << HK_COUNT_BITS) |
                    ((uint64_t)(uint32_t)(HK_COUNT_OF_WORD(old) + delta) &
                     ((1u << HK_COUNT_BITS) - 1)));
    seen = iocpscope__cas64(&cell->word, want, old);
    if (seen == old) break;
    old = seen;
  }
  iocpscope__st64(&t->busy, (LONG64)ticks);
  *ticks_out = ticks;
  return HK_COUNT_OF_WORD(old) + delta;
}

IOCPSCOPE__INLINE LONG hk_count(hk_call *c, hk_cell *cell, LONG delta, uint64_t session,
                                int cause, uint32_t io) {
  iocpscope__thread *t = c->t;
  uint64_t ticks;
  LONG now = hk_count_cas(t, cell, delta, &ticks);
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(ticks, iocpscope__site(t, c->loc, c->func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_IO_COUNT, cause), (uint32_t)now, session,
                    (uint32_t)delta, io);
  else
    iocpscope__st64(&t->busy, 0);
  return now;
}

/* A session's derived IOCount, for the collector's snapshots (iocpscope__g.count_of). */
static LONG hk_count_of(uint64_t session) {
  hk_cell *cell = hk_cell_of(session);
  return cell ? HK_COUNT_OF_WORD(iocpscope__ld64(&cell->word)) : 0;
}

static void hk_format_addr(const struct sockaddr *sa, int len, char *out, size_t cap) {
  out[0] = 0;
  if (!sa || len < (int)sizeof(struct sockaddr_in)) return;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    const unsigned char *ip = (const unsigned char *)&a->sin_addr;
    snprintf(out, cap, "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2], ip[3], ntohs(a->sin_port));
  } else if (sa->sa_family == AF_INET6 && len >= (int)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    const unsigned char *b = a->sin6_addr.s6_addr;
    size_t o = 0;
    int k;
    out[o++] = '[';
    for (k = 0; k < 16 && o + 6 < cap; k += 2)
      o += (size_t)snprintf(out + o, cap - o, "%s%x", k ? ":" : "", (b[k] << 8) | b[k + 1]);
    snprintf(out + o, cap - o, "]:%u", ntohs(a->sin6_port));
  }
}

/* "ip:port" of the socket's peer, or of its own address when it has none; *not_socket
 * (when given) is set when the handle is no socket at all. */
static uint32_t hk_peer_of(SOCKET s, const char *prefix_if_local, int *not_socket) {
  struct sockaddr_storage ss;
  int len = (int)sizeof ss;
  char text[96], full[128];
  DWORD e = HK_LAST_ERROR();
  uint32_t id = 0;
  if (getpeername(s, (struct sockaddr *)&ss, &len) == 0) {
    hk_format_addr((struct sockaddr *)&ss, len, text, sizeof text);
    id = iocpscope__intern(text);
  } else {
    len = (int)sizeof ss;
    if (getsockname(s, (struct sockaddr *)&ss, &len) == 0) {
      hk_format_addr((struct sockaddr *)&ss, len, text, sizeof text);
      snprintf(full, sizeof full, "%s %s", prefix_if_local, text);
      id = iocpscope__intern(full);
    } else if (not_socket && HK_LAST_ERROR() == WSAENOTSOCK) {
      *not_socket = 1;
    }
  }
  HK_SET_LAST_ERROR(e);
  return id;
}

/* A new session for `sock` (SessionCreated): the socket's entry names it from now on. */
static uint64_t hk_session_begin(hk_call *c, iocpscope__slot *k, uint64_t sock, uint32_t peer) {
  iocpscope__thread *t = c->t;
  LONG serial = InterlockedIncrement(&hk.serial);
  uint64_t id = ((uint64_t)(uint32_t)serial << 32) | (uint32_t)sock;
  hk_cell *cell = &hk.cells[(uint64_t)(uint32_t)serial & hk.cell_mask];
  iocpscope__slot *s;
  /* the count starts at 0, and the stamp goes one on, so the word changes (a cell serves
   * session after session: a CAS read in the last one fails) */
  iocpscope__st64(&cell->word,
                  (LONG64)(((HK_STAMP_OF_WORD(iocpscope__ld64(&cell->word)) + 1) & HK_STAMP_MASK)
                           << HK_COUNT_BITS));
  cell->state = 0;
  cell->socket = sock;
  iocpscope__st64((LONG64 volatile *)&cell->session, (LONG64)id);
  /* the header's session table: the collector's snapshots read it */
  s = iocpscope__map_claim(&iocpscope__g.sessions, id);
  if (s) {
    s->v[0] = (LONG64)sock;
    s->v[1] = (LONG64)(peer | ((uint64_t)(uint32_t)serial << 32));
    s->v[2] = 0;
    s->v[3] = 0;
    s->v[4] = (LONG64)iocpscope__ticks();
    s->v[5] = 0;
    iocpscope__map_publish(s);
  }
  if (k) {
    iocpscope__st64(&k->v[0], (LONG64)id);
    iocpscope__st64(&k->v[1], k->v[1] & ~(LONG64)HK_SOCK_CLOSED);
  }
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, c->loc, c->func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_SESSION_CREATED, 0), peer, id, (uint32_t)sock,
                    (uint32_t)serial);
  return id;
}

/* Released once: closed, and nothing outstanding (whoever sees both last). */
static void hk_maybe_release(hk_call *c, hk_cell *cell, uint64_t session) {
  LONG st = iocpscope__ld32(&cell->state);
  if (!(st & HK_CLOSED) || (st & HK_RELEASED) ||
      HK_COUNT_OF_WORD(iocpscope__ld64(&cell->word)) != 0)
    return;
  if (iocpscope__cas32(&cell->state, st | HK_RELEASED, st) != st) return;
  iocpscope_session_released(c->loc, c->func, session, 0);
}

/* The connection is over: closesocket, a dequeued DisconnectEx, or a handle that now
 * names another socket. `closed_socket`: also say the socket was closed. */
static void hk_session_end(hk_call *c, uint64_t session, int closed_socket) {
  hk_cell *cell = hk_cell_of(session);
  iocpscope__thread *t = c->t;
  if (!cell) return;
  if (InterlockedOr(&cell->state, HK_CLOSED) & HK_CLOSED) return;
  if (closed_socket && iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, c->loc, c->func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_SOCKET_CLOSED, 0), 0, session,
                    (uint32_t)cell->socket, 0);
  hk_maybe_release(c, cell, session);
}

/* The socket's current session; one is begun for a socket first seen here (`what` names
 * it when it has no peer: "listening", "local"). A handle that is no socket gets a
 * session that is over from the start: the failed call is all it ever has. */
static uint64_t hk_session_for_post(hk_call *c, uint64_t sock, iocpscope__slot **kout,
                                    const char *what) {
  iocpscope__slot *k = hk_sock(sock);
  uint64_t id = k ? (uint64_t)iocpscope__ld64(&k->v[0]) : 0;
  *kout = k;
  if (IOCPSCOPE__LIKELY(id != 0)) return id;
  k = hk_sock_entry(sock);
  *kout = k;
  if (!k) return 0;
  AcquireSRWLockExclusive(&hk.socks_insert); /* one session, if two threads meet here */
  id = (uint64_t)iocpscope__ld64(&k->v[0]);
  if (id == 0) {
    int not_socket = 0;
    uint32_t peer = hk_peer_of((SOCKET)sock, what, &not_socket);
    id = hk_session_begin(c, k, sock, peer);
    if (not_socket) {
      hk_cell *cell = hk_cell_of(id);
      if (cell) InterlockedOr(&cell->state, HK_CLOSED);
      iocpscope__st64(&k->v[1], k->v[1] | HK_SOCK_CLOSED);
    }
  }
  ReleaseSRWLockExclusive(&hk.socks_insert);
  return id;
}

/* A handle that now names a new socket (socket(), accept): forget what it named. */
static iocpscope__slot *hk_sock_reset(hk_call *c, uint64_t sock) {
  iocpscope__slot *k = hk_sock_entry(sock);
  uint64_t old;
  if (!k) return NULL;
  old = (uint64_t)iocpscope__ld64(&k->v[0]);
  if (old && !((uint64_t)k->v[1] & HK_SOCK_CLOSED) && c->t)
    hk_session_end(c, old, 1); /* closed unseen (CloseHandle?): the handle is new */
  iocpscope__st64(&k->v[0], 0);
  iocpscope__st64(&k->v[1], 0);
  iocpscope__st64(&k->v[2], 0);
  iocpscope__st64(&k->v[3], 0);
  return k;
}

/* ---- posts -------------------------------------------------------------------------------------- */
/* A send in its call on a skip-on-success socket, kept by its thread, not in the shared
 * table: such a send usually completes in the call and no packet comes, and then nothing
 * but its own thread's line was touched (no claim of a table slot, a CAS on a shared line).
 * Should it pend, its packet may be dequeued on another thread before the call returns:
 * that thread looks here when the table has no entry (hk_take_post), and takes the post
 * with a CAS on `state`. One line per recorder thread, indexed as iocpscope__g.threads. */
enum { HK_IC_IDLE = 0, HK_IC_IN_CALL = 1, HK_IC_TAKEN = 2 };
#define HK_IC_MAX 1024 /* IOCPSCOPE_MAX_THREADS's bound */
typedef struct hk_incall {
  LONG64 volatile state; /* (sequence << 2) | HK_IC_*: a new call, a new sequence */
  uint64_t ov;
  uint64_t session;
  uint64_t v1; /* as the table's v[1] (iocpscope__post_word) */
  uint64_t extra[3];
  uint64_t pad; /* to a line of its own: each thread writes its own */
} hk_incall;
typedef char hk_incall_is_one_line[sizeof(hk_incall) == 64 ? 1 : -1];

IOCPSCOPE__INLINE hk_incall *hk_incall_of(iocpscope__thread *t) {
  size_t i = (size_t)(t - iocpscope__g.threads);
  return hk.incall && i < HK_IC_MAX ? &hk.incall[i] : NULL;
}

typedef struct hk_post {
  unsigned op;      /* IOCPSCOPE__OP_* (the protocol's Op) */
  unsigned bufs;    /* WSABUF count */
  uint32_t bytes;   /* requested */
  uint64_t extra[3]; /* kept with the post: AcceptEx's socket, buffer and address lengths */
  /* out */
  uint64_t session;
  hk_cell *cell;
  iocpscope__slot *k;
  iocpscope__slot *slot;
  uint32_t io;
  uint32_t tag; /* recorded (the recording's epoch) or not (0): decided once, before the table */
  int deferred; /* the entry is published after the real call (hk_post_begin) */
  hk_incall *ic; /* or kept in the thread's in-call record until then */
  LONG64 ic_state; /* the record's state while in the call */
} hk_post;

/* Attached to a running server, a GQCS call begun before the hooks came may dequeue a
 * post made after: its completion is never seen. A correct server posts an OVERLAPPED
 * again only once its completion was dequeued, so an OVERLAPPED still in the table when
 * it is posted again (while such calls may be out there) completed out of sight: a Gap
 * (source Unseen) says so, and its session's count goes down. */
static void hk_unseen(hk_call *c, LPOVERLAPPED ov) {
  iocpscope__thread *t = c->t;
  uint64_t o = (uint64_t)(uintptr_t)ov, session = 0, extra[3];
  uint32_t io = 0;
  unsigned op = 0;
  hk_cell *cell;
  if (!ov || !iocpscope__post_take_ex(o, &session, &io, &op, extra)) return;
  if (op == IOCPSCOPE__OP_POST) return;
  if (iocpscope__on())
    iocpscope__push(t, iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, c->loc, c->func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_GAP, 3) | IOCPSCOPE__W0_NO_THREAD, 1, 0, 0, 0);
  cell = hk_cell_of(session);
  if (cell && hk_count(c, cell, -1, session, IOCPSCOPE_CAUSE_COMPLETION, io) == 0)
    hk_maybe_release(c, cell, session);
}

/* Before the real call: the post's ioId, the derived +1 and the table entry.
 * A send on a skip-on-success socket usually completes in the call, and then no packet
 * comes: it goes into its thread's in-call record (hk_incall), and into the table only if
 * it pends (hk_post_end). Should that record be in use (a hooked send inside a hooked
 * call), its table entry is claimed and filled but published only when the call has
 * returned, and a send done in the call drops it with a store, where a published entry
 * takes a CAS to remove (a dequeuing thread may be taking it). A packet dequeued before
 * its post's call returned finds it in the record, or waits for the publish
 * (hk_take_post). Other posts usually pend, and publish at once: after the real call the
 * entry's line is often out of the caches, and a publish then costs a miss (bench:hook
 * 1b, WSARecv + GQCS: ~10 ns). */
IOCPSCOPE__INLINE void hk_post_begin(hk_call *c, hk_post *p, uint64_t sock,
                                     LPOVERLAPPED ov) {
  uint64_t o = (uint64_t)(uintptr_t)ov;
  int cause = p->op == IOCPSCOPE__OP_SEND || p->op == 5 || p->op == 6 ? IOCPSCOPE_CAUSE_SEND_POST
                                                                    : IOCPSCOPE_CAUSE_RECV_POST;
  if (IOCPSCOPE__UNLIKELY(hk.unsure > 0)) hk_unseen(c, ov);
  p->session = hk_session_for_post(c, sock, &p->k,
                                   p->op == IOCPSCOPE__OP_ACCEPT ? "listening" : "local");
  p->cell = hk_cell_of(p->session);
  p->io = hk_new_io(c->t);
  if (p->cell) hk_count(c, p->cell, 1, p->session, cause, p->io);
  p->tag = iocpscope__post_enter(c->t);
  p->deferred = p->op == IOCPSCOPE__OP_SEND && p->k &&
                (((uint64_t)p->k->v[1] >> HK_SOCK_MODES_SHIFT) &
                 FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) != 0;
  if (p->deferred && (p->ic = hk_incall_of(c->t)) != NULL) {
    LONG64 st = p->ic->state;
    if ((st & 3) == HK_IC_IDLE) {
      p->ic->ov = o;
      p->ic->session = p->session;
      p->ic->v1 = iocpscope__post_word(p->io, p->op, p->bufs, p->tag);
      p->ic->extra[0] = p->extra[0];
      p->ic->extra[1] = p->extra[1];
      p->ic->extra[2] = p->extra[2];
      p->ic_state = (LONG64)((((uint64_t)st >> 2) + 1) << 2) | HK_IC_IN_CALL;
      iocpscope__st64(&p->ic->state, p->ic_state); /* after the fields (x64: stores in order) */
      return;
    }
    p->ic = NULL;
  }
  p->slot =
      iocpscope__post_claim_ex(o, p->session, p->io, p->op, p->bufs, p->bytes, p->extra, p->tag);
  if (p->slot && !p->deferred) iocpscope__map_publish(p->slot);
}

/* A send kept in its thread's in-call record has returned pending: into the table, and
 * only then out of the record (a dequeuing thread looks in the table, then in the records,
 * then in the table again, so it finds the post in one or the other). If a dequeuing
 * thread took it from the record first, the table entry goes again. */
static void hk_incall_pends(hk_post *p, uint64_t o) {
  hk_incall *ic = p->ic;
  iocpscope__slot *slot =
      iocpscope__post_claim_ex(o, p->session, p->io, p->op, p->bufs, p->bytes, p->extra, p->tag);
  if (slot) iocpscope__map_publish(slot);
  if (iocpscope__cas64(&ic->state, p->ic_state & ~(LONG64)3, p->ic_state) != p->ic_state) {
    if (slot) iocpscope__post_cancel(slot, o); /* its packet was taken from the record */
    iocpscope__st64(&ic->state, p->ic_state & ~(LONG64)3);
  }
}

static void hk_accept_done(hk_call *c, uint64_t accept_socket, const uint64_t extra[3]);

/* After it: IoPosted and IoDetail, and the derived -1 when no packet will come. */
IOCPSCOPE__INLINE void hk_post_end(hk_call *c, hk_post *p, LPOVERLAPPED ov,
                                   uint32_t result) {
  iocpscope__thread *t = c->t;
  uint64_t o = (uint64_t)(uintptr_t)ov;
  int failed = result != 0 && result != WSA_IO_PENDING;
  int skip = p->k && (((uint64_t)p->k->v[1] >> HK_SOCK_MODES_SHIFT) &
                      FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) != 0;
  int done_now = result == 0 && skip; /* no packet: it completed in the call */
  unsigned nb = p->bufs > 15 ? 15 : p->bufs;
  int counted = p->cell != NULL && (failed || done_now);
  uint64_t ticks = 0;
  LONG now = 0;
  if (p->ic) {
    IOCPSCOPE__HOOK(7);
    if (!failed && !done_now) {
      hk_incall_pends(p, o);
    } else {
      /* No packet will come, so no dequeuing thread has one for this OVERLAPPED: out of
       * the record with a store. (Only a server that posted the same OVERLAPPED again
       * while it was still in flight, before the hooks came, could have one; had it been
       * taken, its -1 is the dequeuing thread's.) */
      if ((iocpscope__ld64(&p->ic->state) & 3) == HK_IC_TAKEN) counted = 0;
      iocpscope__st64(&p->ic->state, p->ic_state & ~(LONG64)3);
    }
  } else if (p->slot && p->deferred) {
    IOCPSCOPE__HOOK(7);
    /* at once: a dequeuing thread may be waiting for it */
    if (!failed && !done_now) iocpscope__map_publish(p->slot);
  } else if (p->slot && (failed || done_now)) {
    iocpscope__post_cancel(p->slot, o);
  }
  /* no packet will come: the -1 at once, its stamp (taken after the count was read) shared
   * by the post's records, which precede it in the ring */
  if (counted) now = hk_count_cas(t, p->cell, -1, &ticks);
  /* after the -1's CAS, which would wait for this store's line */
  if (p->slot && p->deferred && (failed || done_now)) iocpscope__map_drop(p->slot);
  if (p->tag) {
    uint64_t tsw = iocpscope__tsw(counted ? ticks : iocpscope__stamp(t),
                                  iocpscope__site(t, c->loc, c->func));
    iocpscope__push_more(t, tsw, IOCPSCOPE__W0(IOCPSCOPE__K_IO_POSTED, p->op | (nb << 4)),
                         p->bytes, p->session, result, p->io);
    iocpscope__push2(t, tsw, IOCPSCOPE__W0(IOCPSCOPE__K_IO_DETAIL, p->op | (skip ? 0x10 : 0)),
                     (uint32_t)o, p->session, (uint32_t)(o >> 32), p->io, !counted);
    if (counted)
      iocpscope__push(t, tsw,
                      IOCPSCOPE__W0(IOCPSCOPE__K_IO_COUNT, failed ? IOCPSCOPE_CAUSE_POST_FAILED
                                                                  : IOCPSCOPE_CAUSE_COMPLETION),
                      (uint32_t)now, p->session, (uint32_t)-1, p->io);
  } else if (counted) {
    iocpscope__st64(&t->busy, 0);
  }
  iocpscope__post_leave(t);
  if (!counted) return;
  if (now == 0) hk_maybe_release(c, p->cell, p->session);
  if (done_now && p->op == IOCPSCOPE__OP_ACCEPT) hk_accept_done(c, p->extra[0], p->extra);
}

typedef int(WSAAPI *wsarecv_fn)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD, LPWSAOVERLAPPED,
                                LPWSAOVERLAPPED_COMPLETION_ROUTINE);
typedef int(WSAAPI *wsasend_fn)(SOCKET, LPWSABUF, DWORD, LPDWORD, DWORD, LPWSAOVERLAPPED,
                                LPWSAOVERLAPPED_COMPLETION_ROUTINE);
typedef int(WSAAPI *wsarecvfrom_fn)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD, struct sockaddr *,
                                    LPINT, LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
typedef int(WSAAPI *wsasendto_fn)(SOCKET, LPWSABUF, DWORD, LPDWORD, DWORD, const struct sockaddr *,
                                  int, LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);

static uint32_t hk_total(const WSABUF *bufs, DWORD n) {
  uint32_t b = 0;
  DWORD i;
  if (!bufs) return 0;
  for (i = 0; i < n; i++) b += bufs[i].len;
  return b;
}

/* What a socket post is about to touch, asked for at once: the socket's and the
 * OVERLAPPED's table slots and the ring's next slot. After a real call into Wine these
 * lines are often out of the near caches, and the path would otherwise miss on them one
 * after another (the socket's slot names the session, whose cell comes next). */
IOCPSCOPE__INLINE void hk_prefetch_post(iocpscope__thread *t, uint64_t sock, uint64_t ov) {
  iocpscope__map *ovs = &iocpscope__g.ovs;
  if (hk.socks.slots)
    _mm_prefetch((const char *)&hk.socks.slots[iocpscope__mix(sock) & hk.socks.mask],
                 _MM_HINT_T0);
  if (ovs->slots)
    _mm_prefetch((const char *)&ovs->slots[iocpscope__mix(ov) & ovs->mask], _MM_HINT_T0);
  if (t->ring) _mm_prefetch((const char *)&t->ring[t->head & t->mask], _MM_HINT_T0);
}

/* The four socket posts share one shape: only an overlapped call without a completion
 * routine goes through a completion port. */
#define HK_SOCKET_POST(WHICH, API, OP, CALL)                                     \
  HK_ST_VARS                                                                     \
  hk_call c;                                                                     \
  hk_post p;                                                                     \
  int ret;                                                                       \
  DWORD e;                                                                       \
  if (!hk_enter(&c, API, HK_RETADDR()) || !ov || cr) {                           \
    hk_leave(&c);                                                                \
    HK_BEFORE_REAL(&c);                                                          \
    return CALL;                                                                 \
  }                                                                              \
  hk_prefetch_post(c.t, (uint64_t)s, (uint64_t)(uintptr_t)ov);                  \
  memset(&p, 0, sizeof p);                                                       \
  p.op = OP;                                                                     \
  p.bufs = (unsigned)n;                                                          \
  p.bytes = hk_total(bufs, n);                                                   \
  hk_post_begin(&c, &p, (uint64_t)s, ov);                                        \
  HK_BEFORE_REAL(&c);                                                            \
  HK_ST_REAL(ret = CALL);                                                        \
  e = HK_LAST_ERROR();                                                           \
  hk_post_end(&c, &p, ov, ret == 0 ? 0 : (uint32_t)e);                          \
  hk_leave(&c);                                                                  \
  HK_SET_LAST_ERROR(e);                                                          \
  HK_ST_END(WHICH);                                                              \
  return ret

static int WSAAPI hk_WSARecv(SOCKET s, LPWSABUF bufs, DWORD n, LPDWORD got, LPDWORD flags,
                             LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  HK_SOCKET_POST(HK_WSARecv, "WSARecv", IOCPSCOPE__OP_RECV,
                 HK_REAL(HK_WSARecv, wsarecv_fn)(s, bufs, n, got, flags, ov, cr));
}

static int WSAAPI hk_WSASend(SOCKET s, LPWSABUF bufs, DWORD n, LPDWORD sent, DWORD flags,
                             LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  HK_SOCKET_POST(HK_WSASend, "WSASend", IOCPSCOPE__OP_SEND,
                 HK_REAL(HK_WSASend, wsasend_fn)(s, bufs, n, sent, flags, ov, cr));
}

static int WSAAPI hk_WSARecvFrom(SOCKET s, LPWSABUF bufs, DWORD n, LPDWORD got, LPDWORD flags,
                                 struct sockaddr *from, LPINT fromlen, LPWSAOVERLAPPED ov,
                                 LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  HK_SOCKET_POST(HK_WSARecvFrom, "WSARecvFrom", IOCPSCOPE__OP_RECV,
                 HK_REAL(HK_WSARecvFrom, wsarecvfrom_fn)(s, bufs, n, got, flags, from, fromlen,
                                                         ov, cr));
}

static int WSAAPI hk_WSASendTo(SOCKET s, LPWSABUF bufs, DWORD n, LPDWORD sent, DWORD flags,
                               const struct sockaddr *to, int tolen, LPWSAOVERLAPPED ov,
                               LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  HK_SOCKET_POST(HK_WSASendTo, "WSASendTo", IOCPSCOPE__OP_SEND,
                 HK_REAL(HK_WSASendTo, wsasendto_fn)(s, bufs, n, sent, flags, to, tolen, ov, cr));
}

/* ---- AcceptEx, ConnectEx, DisconnectEx ----------------------------------------------------------- */
/* A dequeued (or at once completed) AcceptEx: the accepted socket's session begins. */
static void hk_accept_done(hk_call *c, uint64_t accept_socket, const uint64_t extra[3]) {
  LPFN_GETACCEPTEXSOCKADDRS addrs = hk.sockaddrs;
  uint32_t peer = 0;
  iocpscope__slot *k;
  if (addrs && extra[1]) {
    struct sockaddr *local = NULL, *remote = NULL;
    INT llen = 0, rlen = 0;
    char text[96];
    addrs((PVOID)(uintptr_t)extra[1], (DWORD)(extra[2] >> 32), (DWORD)(extra[2] & 0xFFFF),
          (DWORD)((extra[2] >> 16) & 0xFFFF), &local, &llen, &remote, &rlen);
    if (remote) {
      hk_format_addr(remote, rlen, text, sizeof text);
      peer = iocpscope__intern(text);
    }
  }
  k = hk_sock_entry(accept_socket);
  if (k) {
    uint64_t old = (uint64_t)iocpscope__ld64(&k->v[0]);
    if (old && !((uint64_t)k->v[1] & HK_SOCK_CLOSED)) hk_session_end(c, old, 0);
  }
  hk_session_begin(c, k, accept_socket, peer);
}

/* extra: the accept socket, the buffer, and the local and remote address lengths (16 bits
 * each) with the receive length in the high 32 bits: what GetAcceptExSockaddrs needs. */
static BOOL hk_acceptex(LPFN_ACCEPTEX real, const void *ret, SOCKET ls, SOCKET as, PVOID buf,
                        DWORD rlen, DWORD llen, DWORD rmlen, LPDWORD got, LPOVERLAPPED ov) {
  hk_call c;
  hk_post p;
  BOOL ok;
  DWORD e;
  if (!hk_enter(&c, "AcceptEx", ret) || !ov || !real) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return real ? real(ls, as, buf, rlen, llen, rmlen, got, ov) : FALSE;
  }
  if (!hk.sockaddrs) {
    GUID id = WSAID_GETACCEPTEXSOCKADDRS;
    LPFN_GETACCEPTEXSOCKADDRS fn = NULL;
    DWORD n = 0;
    typedef int(WSAAPI * ioctl_fn)(SOCKET, DWORD, LPVOID, DWORD, LPVOID, DWORD, LPDWORD,
                                   LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);
    ioctl_fn ioctl = HK_REAL(HK_WSAIoctl, ioctl_fn);
    if (ioctl && ioctl(ls, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, (DWORD)sizeof id, &fn,
                       (DWORD)sizeof fn, &n, NULL, NULL) == 0)
      hk.sockaddrs = fn;
  }
  if (HK_ROLE(c.t) == 0) hk_role(&c, IOCPSCOPE_ROLE_ACCEPT);
  memset(&p, 0, sizeof p);
  p.op = IOCPSCOPE__OP_ACCEPT;
  p.bufs = 1;
  p.bytes = rlen;
  p.extra[0] = (uint64_t)as;
  p.extra[1] = (uint64_t)(uintptr_t)buf;
  p.extra[2] = (uint64_t)(llen & 0xFFFF) | ((uint64_t)(rmlen & 0xFFFF) << 16) | ((uint64_t)rlen << 32);
  hk_post_begin(&c, &p, (uint64_t)ls, ov);
  HK_BEFORE_REAL(&c);
  ok = real(ls, as, buf, rlen, llen, rmlen, got, ov);
  e = HK_LAST_ERROR();
  hk_post_end(&c, &p, ov, ok ? 0 : (uint32_t)e);
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  return ok;
}

static BOOL hk_connectex(LPFN_CONNECTEX real, const void *ret, SOCKET s,
                         const struct sockaddr *name, int namelen, PVOID send_buf,
                         DWORD send_len, LPDWORD sent, LPOVERLAPPED ov) {
  hk_call c;
  hk_post p;
  BOOL ok;
  DWORD e;
  if (!hk_enter(&c, "ConnectEx", ret) || !ov || !real) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return real ? real(s, name, namelen, send_buf, send_len, sent, ov) : FALSE;
  }
  memset(&p, 0, sizeof p);
  p.op = 5; /* Op.Connect */
  p.bufs = send_buf ? 1 : 0;
  p.bytes = send_len;
  {
    /* the session begins with the attempt, named by the address it connects to */
    iocpscope__slot *k = hk_sock((uint64_t)s);
    if (!k || iocpscope__ld64(&k->v[0]) == 0) {
      char text[96];
      k = hk_sock_reset(&c, (uint64_t)s);
      hk_format_addr(name, namelen, text, sizeof text);
      hk_session_begin(&c, k, (uint64_t)s, iocpscope__intern(text));
    }
  }
  hk_post_begin(&c, &p, (uint64_t)s, ov);
  HK_BEFORE_REAL(&c);
  ok = real(s, name, namelen, send_buf, send_len, sent, ov);
  e = HK_LAST_ERROR();
  hk_post_end(&c, &p, ov, ok ? 0 : (uint32_t)e);
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  return ok;
}

static BOOL hk_disconnectex(LPFN_DISCONNECTEX real, const void *ret, SOCKET s, LPOVERLAPPED ov,
                            DWORD flags, DWORD reserved) {
  hk_call c;
  hk_post p;
  BOOL ok;
  DWORD e;
  if (!hk_enter(&c, "DisconnectEx", ret) || !ov || !real) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return real ? real(s, ov, flags, reserved) : FALSE;
  }
  memset(&p, 0, sizeof p);
  p.op = 6; /* Op.Disconnect */
  p.extra[0] = (uint64_t)s;
  hk_post_begin(&c, &p, (uint64_t)s, ov);
  if (p.tag && p.session)
    iocpscope__push(c.t, iocpscope__tsw(iocpscope__stamp(c.t), iocpscope__site(c.t, c.loc, c.func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_DISCONNECT, IOCPSCOPE_REASON_UNKNOWN), 0, p.session,
                    0, 0);
  HK_BEFORE_REAL(&c);
  ok = real(s, ov, flags, reserved);
  e = HK_LAST_ERROR();
  hk_post_end(&c, &p, ov, ok ? 0 : (uint32_t)e);
  if (ok && p.k && (((uint64_t)p.k->v[1] >> HK_SOCK_MODES_SHIFT) &
                    FILE_SKIP_COMPLETION_PORT_ON_SUCCESS))
    hk_session_end(&c, p.session, 0); /* done in the call: the connection is over now */
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  return ok;
}

/* The thunks handed out: the mswsock export, and one per provider pointer from WSAIoctl. */
static BOOL PASCAL hk_AcceptEx(SOCKET ls, SOCKET as, PVOID buf, DWORD rlen, DWORD llen,
                               DWORD rmlen, LPDWORD got, LPOVERLAPPED ov) {
  return hk_acceptex(HK_REAL(HK_AcceptEx, LPFN_ACCEPTEX), HK_RETADDR(), ls, as, buf, rlen, llen,
                     rmlen, got, ov);
}
#define HK_EXT_THUNKS(k)                                                                         \
  static BOOL PASCAL hk_AcceptEx_##k(SOCKET ls, SOCKET as, PVOID buf, DWORD rlen, DWORD llen,    \
                                     DWORD rmlen, LPDWORD got, LPOVERLAPPED ov) {                \
    return hk_acceptex((LPFN_ACCEPTEX)hk.ext_real[HK_EXT_ACCEPT][k], HK_RETADDR(), ls, as, buf,  \
                       rlen, llen, rmlen, got, ov);                                              \
  }                                                                                              \
  static BOOL PASCAL hk_ConnectEx_##k(SOCKET s, const struct sockaddr *name, int namelen,        \
                                      PVOID send_buf, DWORD send_len, LPDWORD sent,              \
                                      LPOVERLAPPED ov) {                                         \
    return hk_connectex((LPFN_CONNECTEX)hk.ext_real[HK_EXT_CONNECT][k], HK_RETADDR(), s, name,   \
                        namelen, send_buf, send_len, sent, ov);                                  \
  }                                                                                              \
  static BOOL PASCAL hk_DisconnectEx_##k(SOCKET s, LPOVERLAPPED ov, DWORD flags,                 \
                                         DWORD reserved) {                                       \
    return hk_disconnectex((LPFN_DISCONNECTEX)hk.ext_real[HK_EXT_DISCONNECT][k], HK_RETADDR(),   \
                           s, ov, flags, reserved);                                              \
  }
HK_EXT_THUNKS(0)
HK_EXT_THUNKS(1)
HK_EXT_THUNKS(2)
HK_EXT_THUNKS(3)

static void *const hk_ext_thunk[HK_EXT_KINDS][HK_EXT_SLOTS] = {
    {(void *)hk_AcceptEx_0, (void *)hk_AcceptEx_1, (void *)hk_AcceptEx_2, (void *)hk_AcceptEx_3},
    {(void *)hk_ConnectEx_0, (void *)hk_ConnectEx_1, (void *)hk_ConnectEx_2,
     (void *)hk_ConnectEx_3},
    {(void *)hk_DisconnectEx_0, (void *)hk_DisconnectEx_1, (void *)hk_DisconnectEx_2,
     (void *)hk_DisconnectEx_3},
};

/* The thunk for a provider's function pointer (a slot per distinct pointer), or NULL. */
static void *hk_ext_substitute(int kind, void *real) {
  unsigned k;
  for (k = 0; k < HK_EXT_SLOTS; k++) {
    void *cur = hk.ext_real[kind][k];
    if (cur == real) return hk_ext_thunk[kind][k];
    if (cur == NULL &&
        InterlockedCompareExchangePointer((PVOID volatile *)&hk.ext_real[kind][k], real, NULL) ==
            NULL)
      return hk_ext_thunk[kind][k];
    if (hk.ext_real[kind][k] == real) return hk_ext_thunk[kind][k];
  }
  return NULL;
}

typedef int(WSAAPI *wsaioctl_fn)(SOCKET, DWORD, LPVOID, DWORD, LPVOID, DWORD, LPDWORD,
                                 LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE);

static int WSAAPI hk_WSAIoctl(SOCKET s, DWORD code, LPVOID in, DWORD inlen, LPVOID out,
                              DWORD outlen, LPDWORD got, LPWSAOVERLAPPED ov,
                              LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  int r = HK_REAL(HK_WSAIoctl, wsaioctl_fn)(s, code, in, inlen, out, outlen, got, ov, cr);
  if (r == 0 && !hk.detached && code == SIO_GET_EXTENSION_FUNCTION_POINTER && !ov && in &&
      inlen >= sizeof(GUID) && out && outlen >= sizeof(void *)) {
    static const GUID accept_id = WSAID_ACCEPTEX, connect_id = WSAID_CONNECTEX,
                      disconnect_id = WSAID_DISCONNECTEX;
    int kind = memcmp(in, &accept_id, sizeof(GUID)) == 0       ? HK_EXT_ACCEPT
               : memcmp(in, &connect_id, sizeof(GUID)) == 0    ? HK_EXT_CONNECT
               : memcmp(in, &disconnect_id, sizeof(GUID)) == 0 ? HK_EXT_DISCONNECT
                                                               : -1;
    void *real;
    memcpy(&real, out, sizeof real);
    if (kind >= 0 && real) {
      void *thunk = hk_ext_substitute(kind, real);
      if (thunk) {
        memcpy(out, &thunk, sizeof thunk);
        InterlockedIncrement(&hk.handed_out);
      } else {
        hk_log("more than %d providers of one extension function: calls through the others "
               "are not traced",
               HK_EXT_SLOTS);
      }
    }
  }
  return r;
}

/* ---- the port ----------------------------------------------------------------------------------- */
typedef struct hk_deq {
  iocpscope__deq d;
  uint64_t extra[3];
  int matched; /* its post is known: the socket's count goes down */
  LPOVERLAPPED ov;
} hk_deq;

/* A dequeued packet's post, taken out of the table or out of an in-call record. A send on
 * a skip-on-success socket reaches the table only when its call returns (hk_post_end), and
 * its packet can be dequeued on another thread before that. So: the table; else the
 * in-call records (hk_take_incall); else the table again (the send left its record after
 * the first look, and was in the table before it did). A slot still claimed for this
 * OVERLAPPED (CLAIMING: a send whose record was in use) is waited for, spinning, then
 * yielding. The wait ends when the poster's call returns, which no dequeuing thread holds
 * up; at most HK_CLAIM_WAIT_S seconds all the same (a thread ended inside its call): then
 * the packet goes unmatched, and the log says so. */
#define HK_CLAIM_WAIT_S 2

/* A send still in its call, taken from its thread's in-call record (hk_incall): the
 * fields are read before the CAS on the record's state, and the CAS succeeds only if the
 * record is still that call's (its sequence), so they are that call's. */
static int hk_take_incall(uint64_t o, uint64_t *session, uint32_t *io, unsigned *op,
                          uint64_t extra[3]) {
  LONG hw = iocpscope__ld32(&iocpscope__g.thread_hw), i;
  if (!hk.incall) return 0;
  if (hw > HK_IC_MAX) hw = HK_IC_MAX;
  for (i = 0; i < hw; i++) {
    hk_incall *ic = &hk.incall[i];
    LONG64 st = iocpscope__ld64(&ic->state);
    uint64_t sess, v1, e[3];
    if ((st & 3) != HK_IC_IN_CALL || ic->ov != o) continue;
    sess = ic->session;
    v1 = ic->v1;
    e[0] = ic->extra[0];
    e[1] = ic->extra[1];
    e[2] = ic->extra[2];
    if (iocpscope__cas64(&ic->state, (st & ~(LONG64)3) | HK_IC_TAKEN, st) != st) continue;
    iocpscope__post_out(sess, v1, e, session, io, op, extra);
    return 1;
  }
  return 0;
}

static int hk_take_post(uint64_t o, uint64_t *session, uint32_t *io, unsigned *op,
                        uint64_t extra[3]) {
  iocpscope__map *m = &iocpscope__g.ovs;
  uint64_t deadline = 0;
  unsigned spins = 0, hk_incall_pass = 0;
  static LONG said;
  if (!m->slots) return 0;
  for (;;) {
    uint64_t i = iocpscope__mix(o), n;
    int claiming = 0;
    for (n = 0; n < IOCPSCOPE__PROBES; n++, i++) {
      iocpscope__slot *s = &m->slots[i & m->mask];
      LONG64 c = iocpscope__ld64(&s->ctl);
      int st = (int)(c & 3);
      if (st == IOCPSCOPE__M_EMPTY) break;
      if ((uint64_t)s->key != o) continue;
      if (st == IOCPSCOPE__M_LIVE) {
        if (iocpscope__slot_take_ex(s, c, session, io, op, extra)) return 1;
      } else if (st == IOCPSCOPE__M_CLAIMING) {
        claiming = 1;
      }
    }
    if (!claiming) {
      /* not in the table: a send still in its call, in its thread's record (taken there),
       * or one that left its record since the table was read (in the table now) */
      IOCPSCOPE__HOOK(8);
      if (hk_take_incall(o, session, io, op, extra)) return 1;
      if (!hk_incall_pass++) continue;
      return 0;
    }
    if (!deadline) {
      deadline = iocpscope__ticks() + iocpscope__g.tps * HK_CLAIM_WAIT_S;
    } else if ((int64_t)(iocpscope__ticks() - deadline) > 0) {
      if (!InterlockedExchange(&said, 1))
        hk_log("a packet's post stayed unpublished for %d s (its thread ended in its call?): "
               "the packet is recorded unmatched",
               HK_CLAIM_WAIT_S);
      return 0;
    }
    if (++spins < 64)
      _mm_pause();
    else if (spins < 1024)
      SwitchToThread();
    else
      Sleep(1);
  }
}

/* A dequeued entry, matched to its post (before deciding whether to record). */
static void hk_take(hk_deq *h, int ok, DWORD bytes, ULONG_PTR key,
                    LPOVERLAPPED ov, uint32_t error) {
  iocpscope__deq *d = &h->d;
  uint64_t o = (uint64_t)(uintptr_t)ov;
  d->session = (uint64_t)key;
  d->io = 0;
  d->op = IOCPSCOPE__OP_NONE;
  d->bytes = (uint32_t)bytes;
  d->error = ok ? 0 : error;
  d->ok = ok != 0;
  d->has_ov = ov != NULL;
  h->matched = 0;
  h->ov = ov;
  if (!ov) {
    d->op = IOCPSCOPE__OP_POST;
  } else if (hk_take_post(o, &d->session, &d->io, &d->op, h->extra)) {
    if (d->op == IOCPSCOPE__OP_POST)
      d->session = (uint64_t)key;
    else
      h->matched = 1;
  }
}

/* PacketQueued (the kernel's, no thread) for a known I/O, then GqcsReturn. An OVERLAPPED
 * the hook never saw posted (another handle's I/O, or posted before it came) is recorded
 * with op None and the completion key, and no PacketQueued: it is no session's. */
static void hk_record_deq(iocpscope__thread *t, uint64_t tsw, const iocpscope__deq *d, int last) {
#if IOCPSCOPE_HOOK_TEST_FAULT == 1
  static LONG volatile every;
  if (d->has_ov && d->op != IOCPSCOPE__OP_POST && InterlockedIncrement(&every) % 50 == 0) {
    if (last) iocpscope__st64(&t->busy, 0);
    return;
  }
#endif
  if (d->has_ov && d->op != IOCPSCOPE__OP_POST && d->op != IOCPSCOPE__OP_NONE)
    iocpscope__push_more(t, tsw,
                         IOCPSCOPE__W0(IOCPSCOPE__K_PACKET_QUEUED, d->op) | IOCPSCOPE__W0_NO_THREAD,
                         d->bytes, d->session, d->error, d->io);
  iocpscope__push2(t, tsw,
                   IOCPSCOPE__W0(IOCPSCOPE__K_GQCS_RETURN,
                                 d->op | (d->ok ? 0x10u : 0u) | (d->has_ov ? 0x20u : 0u)),
                   d->bytes, d->session, d->error, d->io, last);
}

/* After recording: the derived -1, and what a completion means for its session. */
static void hk_after_deq(hk_call *c, const hk_deq *h) {
  const iocpscope__deq *d = &h->d;
  hk_cell *cell;
  if (!h->matched) return;
  cell = hk_cell_of(d->session);
  if (d->ok && d->op == 6) hk_session_end(c, d->session, 0); /* DisconnectEx: it is over */
  if (cell && hk_count(c, cell, -1, d->session, IOCPSCOPE_CAUSE_COMPLETION, d->io) == 0)
    hk_maybe_release(c, cell, d->session);
  if (d->ok && d->op == IOCPSCOPE__OP_ACCEPT) hk_accept_done(c, h->extra[0], h->extra);
}

/* This thread dequeues through the hooks from now on: if it was there before they came,
 * one fewer thread may be dequeuing out of sight. */
static void hk_caught_up(iocpscope__thread *t) {
  DWORD me;
  unsigned k;
  if (IOCPSCOPE__LIKELY(HK_SEEN_GQCS(t) || !hk.unsure)) return;
  HK_SEEN_GQCS(t) = 1;
  me = GetCurrentThreadId();
  for (k = 0; k < hk.n_pre; k++) {
    if (hk.pre_tids[k] == me) {
      hk.pre_tids[k] = 0;
      InterlockedDecrement(&hk.unsure);
      return;
    }
  }
}

typedef BOOL(WINAPI *gqcs_fn)(HANDLE, LPDWORD, PULONG_PTR, LPOVERLAPPED *, DWORD);
typedef BOOL(WINAPI *gqcsex_fn)(HANDLE, LPOVERLAPPED_ENTRY, ULONG, PULONG, DWORD, BOOL);
typedef BOOL(WINAPI *pqcs_fn)(HANDLE, DWORD, ULONG_PTR, LPOVERLAPPED);

static BOOL WINAPI hk_GetQueuedCompletionStatus(HANDLE port, LPDWORD bytes, PULONG_PTR key,
                                                LPOVERLAPPED *ov, DWORD timeout) {
  HK_ST_VARS
  hk_call c;
  BOOL ok;
  DWORD e;
  if (!hk_enter(&c, "GetQueuedCompletionStatus", HK_RETADDR())) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return HK_REAL(HK_GetQueuedCompletionStatus, gqcs_fn)(port, bytes, key, ov, timeout);
  }
  hk_role(&c, IOCPSCOPE_ROLE_WORKER);
  hk_caught_up(c.t);
  iocpscope__gqcs_enter(c.t, c.loc, c.func, timeout, 1);
  HK_BEFORE_REAL(&c);
  HK_ST_REAL(ok = HK_REAL(HK_GetQueuedCompletionStatus, gqcs_fn)(port, bytes, key, ov, timeout));
  e = HK_LAST_ERROR();
  iocpscope__st32(&c.t->state, IOCPSCOPE__ST_RUNNING);
  if (!ok && (!ov || !*ov)) { /* nothing dequeued: 258 timeout, 735 port closed */
    if (iocpscope__on())
      iocpscope__push(c.t,
                      iocpscope__tsw(iocpscope__stamp(c.t), iocpscope__site(c.t, c.loc, c.func)),
                      IOCPSCOPE__W0(IOCPSCOPE__K_GQCS_RETURN, 0), 0, 0, e, 0);
  } else {
    hk_deq h;
    hk_cell *cell;
    hk_take(&h, ok != 0, bytes ? *bytes : 0, key ? *key : 0, ov ? *ov : NULL, ok ? 0 : e);
    if (h.matched && (h.d.op == IOCPSCOPE__OP_RECV || h.d.op == IOCPSCOPE__OP_SEND) &&
        (cell = hk_cell_of(h.d.session)) != NULL) {
      /* a send or receive dequeued: the -1 and the dequeue share one stamp, taken after the
       * count was read (the -1 follows the dequeue in the ring) */
      uint64_t ticks;
      LONG now = hk_count_cas(c.t, cell, -1, &ticks);
      if (iocpscope__on()) {
        uint64_t tsw = iocpscope__tsw(ticks, iocpscope__site(c.t, c.loc, c.func));
        hk_record_deq(c.t, tsw, &h.d, 0);
        iocpscope__push(c.t, tsw, IOCPSCOPE__W0(IOCPSCOPE__K_IO_COUNT, IOCPSCOPE_CAUSE_COMPLETION),
                        (uint32_t)now, h.d.session, (uint32_t)-1, h.d.io);
      } else {
        iocpscope__st64(&c.t->busy, 0);
      }
      if (now == 0) hk_maybe_release(&c, cell, h.d.session);
    } else {
      if (iocpscope__on())
        hk_record_deq(c.t,
                      iocpscope__tsw(iocpscope__stamp(c.t), iocpscope__site(c.t, c.loc, c.func)),
                      &h.d, 1);
      hk_after_deq(&c, &h);
    }
  }
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
#if IOCPSCOPE_HOOK_TEST_FAULT == 2
  HK_SET_LAST_ERROR(0);
#endif
  HK_ST_END(HK_GetQueuedCompletionStatus);
  return ok;
}

#define HK_BLOCK 16 /* entries taken before their records */

static BOOL WINAPI hk_GetQueuedCompletionStatusEx(HANDLE port, LPOVERLAPPED_ENTRY entries,
                                                  ULONG count, PULONG removed, DWORD timeout,
                                                  BOOL alertable) {
  HK_ST_VARS
  hk_call c;
  BOOL ok;
  DWORD e;
  if (!hk_enter(&c, "GetQueuedCompletionStatusEx", HK_RETADDR())) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return HK_REAL(HK_GetQueuedCompletionStatusEx, gqcsex_fn)(port, entries, count, removed,
                                                             timeout, alertable);
  }
  hk_role(&c, IOCPSCOPE_ROLE_WORKER);
  hk_caught_up(c.t);
  iocpscope__gqcs_enter(c.t, c.loc, c.func, timeout, count);
  HK_BEFORE_REAL(&c);
  HK_ST_REAL(ok = HK_REAL(HK_GetQueuedCompletionStatusEx, gqcsex_fn)(port, entries, count, removed,
                                                                    timeout, alertable));
  e = HK_LAST_ERROR();
  iocpscope__st32(&c.t->state, IOCPSCOPE__ST_RUNNING);
  if (!ok) {
    if (iocpscope__on())
      iocpscope__push(c.t,
                      iocpscope__tsw(iocpscope__stamp(c.t), iocpscope__site(c.t, c.loc, c.func)),
                      IOCPSCOPE__W0(IOCPSCOPE__K_GQCS_RETURN, 0), 0, 0, e, 0);
  } else {
    ULONG i = 0, n = removed ? *removed : 0;
    if (n > count) n = count;
    while (i < n) {
      hk_deq h[HK_BLOCK];
      ULONG k, m = n - i < HK_BLOCK ? n - i : HK_BLOCK;
      for (k = 0; k < m; k++) {
        OVERLAPPED_ENTRY *x = &entries[i + k];
        LONG status = (LONG)x->Internal;
        uint32_t error = 0;
        if (status != 0 && x->lpOverlapped)
          error = iocpscope__g.nt_to_dos ? (uint32_t)iocpscope__g.nt_to_dos(status)
                                          : (uint32_t)status;
        hk_take(&h[k], error == 0, x->dwNumberOfBytesTransferred, x->lpCompletionKey,
                x->lpOverlapped, error);
      }
      if (iocpscope__on()) {
        uint64_t tsw = iocpscope__tsw(iocpscope__stamp(c.t), iocpscope__site(c.t, c.loc, c.func));
        for (k = 0; k < m; k++) hk_record_deq(c.t, tsw, &h[k].d, k + 1 == m);
      }
      for (k = 0; k < m; k++) hk_after_deq(&c, &h[k]);
      i += m;
    }
  }
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  HK_ST_END(HK_GetQueuedCompletionStatusEx);
  return ok;
}

static BOOL WINAPI hk_PostQueuedCompletionStatus(HANDLE port, DWORD bytes, ULONG_PTR key,
                                                 LPOVERLAPPED ov) {
  HK_ST_VARS
  hk_call c;
  iocpscope__slot *slot = NULL;
  uint64_t o = (uint64_t)(uintptr_t)ov;
  uint32_t io = 0;
  BOOL ok;
  DWORD e;
  if (!hk_enter(&c, "PostQueuedCompletionStatus", HK_RETADDR())) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return HK_REAL(HK_PostQueuedCompletionStatus, pqcs_fn)(port, bytes, key, ov);
  }
  if (ov) {
    io = hk_new_io(c.t);
    slot = iocpscope__post_begin(o, (uint64_t)key, io, IOCPSCOPE__OP_POST, 0, bytes, (uint64_t)key,
                                 0);
  }
  /* recorded before the call: the packet may be dequeued before PQCS returns */
  if (iocpscope__on())
    iocpscope__push(c.t, iocpscope__tsw(iocpscope__stamp(c.t), iocpscope__site(c.t, c.loc, c.func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_PQCS, IOCPSCOPE__OP_POST | (ov ? 0x20 : 0)), bytes,
                    (uint64_t)key, 0, io);
  HK_BEFORE_REAL(&c);
  HK_ST_REAL(ok = HK_REAL(HK_PostQueuedCompletionStatus, pqcs_fn)(port, bytes, key, ov));
  e = HK_LAST_ERROR();
  if (!ok && slot) iocpscope__post_cancel(slot, o);
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  HK_ST_END(HK_PostQueuedCompletionStatus);
  return ok;
}

typedef HANDLE(WINAPI *cicp_fn)(HANDLE, HANDLE, ULONG_PTR, DWORD);

static HANDLE WINAPI hk_CreateIoCompletionPort(HANDLE h, HANDLE port, ULONG_PTR key,
                                               DWORD concurrency) {
  hk_call c;
  HANDLE ret;
  DWORD e;
  if (!hk_enter(&c, "CreateIoCompletionPort", HK_RETADDR())) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return HK_REAL(HK_CreateIoCompletionPort, cicp_fn)(h, port, key, concurrency);
  }
  HK_BEFORE_REAL(&c);
  ret = HK_REAL(HK_CreateIoCompletionPort, cicp_fn)(h, port, key, concurrency);
  e = HK_LAST_ERROR();
  if (ret) {
    iocpscope__thread *t = c.t;
    uint64_t tsw = iocpscope__tsw(iocpscope__stamp(t), iocpscope__site(t, c.loc, c.func));
    if (!port) {
      InterlockedIncrement(&iocpscope__g.ports);
      iocpscope__st32(&iocpscope__g.port_concurrency, (LONG)concurrency);
      if (iocpscope__on())
        iocpscope__push_more(t, tsw, IOCPSCOPE__W0(IOCPSCOPE__K_PORT_CREATED, 2), concurrency, 0,
                             iocpscope__g.workers, 0);
    }
    if (h != INVALID_HANDLE_VALUE) {
      uint64_t handle = (uint64_t)(uintptr_t)h;
      iocpscope__slot *k = hk_sock(handle);
      if (k) {
        iocpscope__st64(&k->v[2], (LONG64)key);
        iocpscope__st64(&k->v[3], (LONG64)(uintptr_t)ret);
      }
      if (iocpscope__on())
        iocpscope__push_more(t, tsw, IOCPSCOPE__W0(IOCPSCOPE__K_HANDLE_ASSOCIATED, 0),
                             (uint32_t)handle, (uint64_t)key, (uint32_t)(handle >> 32),
                             (uint32_t)(uintptr_t)ret);
    }
    iocpscope__st64(&t->busy, 0);
  }
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  return ret;
}

typedef BOOL(WINAPI *modes_fn)(HANDLE, UCHAR);

static BOOL WINAPI hk_SetFileCompletionNotificationModes(HANDLE h, UCHAR flags) {
  hk_call c;
  BOOL ok;
  DWORD e;
  uint64_t handle = (uint64_t)(uintptr_t)h, session = 0;
  if (!hk_enter(&c, "SetFileCompletionNotificationModes", HK_RETADDR())) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return HK_REAL(HK_SetFileCompletionNotificationModes, modes_fn)(h, flags);
  }
  HK_BEFORE_REAL(&c);
  ok = HK_REAL(HK_SetFileCompletionNotificationModes, modes_fn)(h, flags);
  e = HK_LAST_ERROR();
  {
    iocpscope__slot *k = ok ? hk_sock_entry(handle) : hk_sock(handle);
    if (k) {
      if (ok)
        iocpscope__st64(&k->v[1], (LONG64)(((uint64_t)k->v[1] & ~((uint64_t)0xFF << HK_SOCK_MODES_SHIFT)) |
                                           ((uint64_t)flags << HK_SOCK_MODES_SHIFT)));
      if (!((uint64_t)k->v[1] & HK_SOCK_CLOSED)) session = (uint64_t)k->v[0];
    }
  }
  if (iocpscope__on())
    iocpscope__push(c.t, iocpscope__tsw(iocpscope__stamp(c.t), iocpscope__site(c.t, c.loc, c.func)),
                    IOCPSCOPE__W0(IOCPSCOPE__K_COMPLETION_MODES, ok ? 1 : 0), (uint32_t)handle,
                    session, flags, 0);
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  return ok;
}

typedef BOOL(WINAPI *cancelioex_fn)(HANDLE, LPOVERLAPPED);
typedef BOOL(WINAPI *cancelio_fn)(HANDLE);

static void hk_cancel_marker(hk_call *c, HANDLE h, int all, BOOL ok) {
  iocpscope__slot *k = hk_sock((uint64_t)(uintptr_t)h);
  uint64_t session = k ? (uint64_t)k->v[0] : 0;
  if (!iocpscope__on()) return;
  iocpscope__push(c->t, iocpscope__tsw(iocpscope__stamp(c->t), iocpscope__site(c->t, c->loc, c->func)),
                  IOCPSCOPE__W0(IOCPSCOPE__K_MARKER, 0), hk.cancel_labels[(all ? 2 : 0) + (ok ? 1 : 0)],
                  session, 0, 0);
}

static BOOL WINAPI hk_CancelIoEx(HANDLE h, LPOVERLAPPED ov) {
  hk_call c;
  BOOL ok;
  DWORD e;
  if (!hk_enter(&c, "CancelIoEx", HK_RETADDR())) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return HK_REAL(HK_CancelIoEx, cancelioex_fn)(h, ov);
  }
  HK_BEFORE_REAL(&c);
  ok = HK_REAL(HK_CancelIoEx, cancelioex_fn)(h, ov);
  e = HK_LAST_ERROR();
  hk_cancel_marker(&c, h, ov == NULL, ok);
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  return ok;
}

static BOOL WINAPI hk_CancelIo(HANDLE h) {
  hk_call c;
  BOOL ok;
  DWORD e;
  if (!hk_enter(&c, "CancelIo", HK_RETADDR())) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return HK_REAL(HK_CancelIo, cancelio_fn)(h);
  }
  HK_BEFORE_REAL(&c);
  ok = HK_REAL(HK_CancelIo, cancelio_fn)(h);
  e = HK_LAST_ERROR();
  hk_cancel_marker(&c, h, 1, ok);
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  return ok;
}

/* ---- sockets: close, accept, create -------------------------------------------------------------- */
typedef int(WSAAPI *closesocket_fn)(SOCKET);
typedef SOCKET(WSAAPI *accept_fn)(SOCKET, struct sockaddr *, int *);
typedef SOCKET(WSAAPI *wsaaccept_fn)(SOCKET, struct sockaddr *, LPINT, LPCONDITIONPROC, DWORD_PTR);
typedef SOCKET(WSAAPI *socket_fn)(int, int, int);
typedef SOCKET(WSAAPI *wsasocketa_fn)(int, int, int, LPWSAPROTOCOL_INFOA, GROUP, DWORD);
typedef SOCKET(WSAAPI *wsasocketw_fn)(int, int, int, LPWSAPROTOCOL_INFOW, GROUP, DWORD);

static int WSAAPI hk_closesocket(SOCKET s) {
  hk_call c;
  int ret;
  DWORD e;
  uint64_t session = 0;
  iocpscope__slot *k;
  if (!hk_enter(&c, "closesocket", HK_RETADDR())) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return HK_REAL(HK_closesocket, closesocket_fn)(s);
  }
  k = hk_sock((uint64_t)s);
  if (k && !((uint64_t)k->v[1] & HK_SOCK_CLOSED)) session = (uint64_t)k->v[0];
  HK_BEFORE_REAL(&c);
  ret = HK_REAL(HK_closesocket, closesocket_fn)(s);
  e = HK_LAST_ERROR();
  if (ret == 0 && k) {
    iocpscope__st64(&k->v[1], k->v[1] | HK_SOCK_CLOSED);
    if (session) hk_session_end(&c, session, 1);
  }
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  return ret;
}

/* An accept/WSAAccept that returned no socket: a Marker "accept failed (N)" (N the WSA error)
 * on the acceptor, with the listening socket's session if it has one. A connection that
 * reached the server's accept and never became its socket (a client that reset while it
 * waited in the backlog) is in the trace only this way. WSAEWOULDBLOCK (a non-blocking
 * listening socket with nothing queued) is no failure: it is not recorded. */
static void hk_accept_failed(hk_call *c, SOCKET ls, int we) {
  iocpscope__slot *k;
  uint64_t session = 0;
  char text[48];
  if (we == WSAEWOULDBLOCK || !iocpscope__on()) return;
  k = hk_sock((uint64_t)ls);
  if (k && !((uint64_t)k->v[1] & HK_SOCK_CLOSED)) session = (uint64_t)k->v[0];
  snprintf(text, sizeof text, "%s failed (%d)", c->func, we);
  iocpscope__push(c->t, iocpscope__tsw(iocpscope__stamp(c->t), iocpscope__site(c->t, c->loc, c->func)),
                  IOCPSCOPE__W0(IOCPSCOPE__K_MARKER, 0), iocpscope__intern(text), session, 0, 0);
}

/* A socket accept() returned: a new session, named by its peer. */
static void hk_accepted(hk_call *c, SOCKET s, const struct sockaddr *addr, const int *len) {
  iocpscope__slot *k = hk_sock_reset(c, (uint64_t)s);
  uint32_t peer;
  if (addr && len && *len > 0) {
    char text[96];
    hk_format_addr(addr, *len, text, sizeof text);
    peer = text[0] ? iocpscope__intern(text) : hk_peer_of(s, "local", NULL);
  } else {
    peer = hk_peer_of(s, "local", NULL);
  }
  hk_session_begin(c, k, (uint64_t)s, peer);
}

static SOCKET WSAAPI hk_accept(SOCKET ls, struct sockaddr *addr, int *len) {
  hk_call c;
  SOCKET s;
  DWORD e;
  if (!hk_enter(&c, "accept", HK_RETADDR())) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return HK_REAL(HK_accept, accept_fn)(ls, addr, len);
  }
  hk_role(&c, IOCPSCOPE_ROLE_ACCEPT);
  iocpscope_thread_state(c.loc, c.func, 1, IOCPSCOPE_BLOCK_ACCEPT, 0);
  HK_BEFORE_REAL(&c);
  s = HK_REAL(HK_accept, accept_fn)(ls, addr, len);
  e = HK_LAST_ERROR();
  iocpscope_thread_state(c.loc, c.func, 0, 0, 0);
  if (s != INVALID_SOCKET) hk_accepted(&c, s, addr, len);
  else hk_accept_failed(&c, ls, (int)e);
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  return s;
}

static SOCKET WSAAPI hk_WSAAccept(SOCKET ls, struct sockaddr *addr, LPINT len,
                                  LPCONDITIONPROC cond, DWORD_PTR data) {
  hk_call c;
  SOCKET s;
  DWORD e;
  if (!hk_enter(&c, "WSAAccept", HK_RETADDR())) {
    hk_leave(&c);
    HK_BEFORE_REAL(&c);
    return HK_REAL(HK_WSAAccept, wsaaccept_fn)(ls, addr, len, cond, data);
  }
  hk_role(&c, IOCPSCOPE_ROLE_ACCEPT);
  iocpscope_thread_state(c.loc, c.func, 1, IOCPSCOPE_BLOCK_ACCEPT, 0);
  HK_BEFORE_REAL(&c);
  s = HK_REAL(HK_WSAAccept, wsaaccept_fn)(ls, addr, len, cond, data);
  e = HK_LAST_ERROR();
  iocpscope_thread_state(c.loc, c.func, 0, 0, 0);
  if (s != INVALID_SOCKET) hk_accepted(&c, s, addr, len);
  else hk_accept_failed(&c, ls, (int)e);
  hk_leave(&c);
  HK_SET_LAST_ERROR(e);
  return s;
}

#define HK_SOCKET_CREATE(API, CALL)                 \
  hk_call c;                                        \
  SOCKET s;                                         \
  DWORD e;                                          \
  if (!hk_enter(&c, API, HK_RETADDR())) {           \
    hk_leave(&c);                                   \
    HK_BEFORE_REAL(&c);                             \
    return CALL;                                    \
  }                                                 \
  HK_BEFORE_REAL(&c);                               \
  s = CALL;                                         \
  e = HK_LAST_ERROR();                               \
  if (s != INVALID_SOCKET) hk_sock_reset(&c, (uint64_t)s); \
  hk_leave(&c);                                     \
  HK_SET_LAST_ERROR(e);                                  \
  return s

static SOCKET WSAAPI hk_socket(int af, int type, int proto) {
  HK_SOCKET_CREATE("socket", HK_REAL(HK_socket, socket_fn)(af, type, proto));
}
static SOCKET WSAAPI hk_WSASocketA(int af, int type, int proto, LPWSAPROTOCOL_INFOA info, GROUP g,
                                   DWORD flags) {
  HK_SOCKET_CREATE("WSASocketA",
                   HK_REAL(HK_WSASocketA, wsasocketa_fn)(af, type, proto, info, g, flags));
}
static SOCKET WSAAPI hk_WSASocketW(int af, int type, int proto, LPWSAPROTOCOL_INFOW info, GROUP g,
                                   DWORD flags) {
  HK_SOCKET_CREATE("WSASocketW",
                   HK_REAL(HK_WSASocketW, wsasocketw_fn)(af, type, proto, info, g, flags));
}

/* ---- modules: patching, late loads, GetProcAddress ------------------------------------------------ */
static int hk_resolve(void);

/* Patches every module (idempotent): the server's API in the server's modules, the
 * loader and exit functions everywhere but the implementing DLLs and this one. */
static void hk_patch_all(int restore) {
  HMODULE mods[1024];
  hk_pair a[2 * HK_COUNT], b[2 * HK_COUNT];
  unsigned na = 0, nb = 0, n, i, k;
  HMODULE exe = GetModuleHandleW(NULL);
  static const wchar_t *const core[] = {L"ntdll.dll", L"kernel32.dll", L"kernelbase.dll",
                                        L"ws2_32.dll", L"mswsock.dll"};
  HMODULE skip[6];
  for (k = 0; k < HK_COUNT; k++) {
    if (!hk.api[k].real) continue;
    if (k < HK_SET_A_END) {
      a[na].real = hk.api[k].real;
      a[na++].hook = hk.api[k].hook;
      if (hk.api[k].stub) {
        a[na].real = hk.api[k].stub;
        a[na++].hook = hk.api[k].hook;
      }
    } else {
      b[nb].real = hk.api[k].real;
      b[nb++].hook = hk.api[k].hook;
      if (hk.api[k].stub) {
        b[nb].real = hk.api[k].stub;
        b[nb++].hook = hk.api[k].hook;
      }
    }
  }
  for (k = 0; k < 5; k++) skip[k] = GetModuleHandleW(core[k]);
  skip[5] = hk.self;
  {
    /* kernel32's own slots that its forwarding stubs jump through (see hk_follow_stub) */
    HMODULE k32 = skip[1];
    hk_pair s[HK_COUNT];
    unsigned ns = 0;
    for (k = 0; k < HK_COUNT; k++)
      if (hk.api[k].stub && k < HK_SET_A_END) {
        s[ns].real = hk.api[k].real;
        s[ns++].hook = hk.api[k].hook;
      }
    if (k32 && ns) {
      int r = hk_iat_patch(k32, s, ns, restore);
      if (r > 0) InterlockedExchangeAdd(&hk.slots_patched, r);
    }
  }
  n = hk_iat_modules(mods, 1024);
  for (i = 0; i < n; i++) {
    int changed = 0, is_core = 0;
    for (k = 0; k < 6; k++)
      if (skip[k] && mods[i] == skip[k]) is_core = 1;
    if (is_core) continue;
    if (mods[i] == exe || hk.patch_system || !hk_iat_is_system(mods[i])) {
      int r = hk_iat_patch(mods[i], a, na, restore);
      if (r > 0) changed += r;
    }
    {
      int r = hk_iat_patch(mods[i], b, nb, restore);
      if (r > 0) changed += r;
    }
    if (changed > 0) {
      InterlockedIncrement(&hk.modules_patched);
      InterlockedExchangeAdd(&hk.slots_patched, changed);
    }
  }
}

typedef FARPROC(WINAPI *getproc_fn)(HMODULE, LPCSTR);
typedef HMODULE(WINAPI *loadliba_fn)(LPCSTR);
typedef HMODULE(WINAPI *loadlibw_fn)(LPCWSTR);
typedef HMODULE(WINAPI *loadlibexa_fn)(LPCSTR, HANDLE, DWORD);
typedef HMODULE(WINAPI *loadlibexw_fn)(LPCWSTR, HANDLE, DWORD);
typedef void(WINAPI *exitprocess_fn)(UINT);
typedef BOOL(WINAPI *terminateprocess_fn)(HANDLE, UINT);

static FARPROC WINAPI hk_GetProcAddress(HMODULE m, LPCSTR name) {
  FARPROC p = HK_REAL(HK_GetProcAddress, getproc_fn)(m, name);
  DWORD e = HK_LAST_ERROR();
  unsigned k;
  if (!p || hk.detached) return p;
  if (hk_resolve()) hk_patch_all(0); /* mswsock came in since: its AcceptEx too */
  for (k = 0; k < HK_SET_A_END; k++) {
    if ((hk.api[k].real == (void *)p || hk.api[k].stub == (void *)p) && k != HK_GetProcAddress) {
      InterlockedIncrement(&hk.handed_out);
      HK_SET_LAST_ERROR(e);
      return (FARPROC)hk.api[k].hook;
    }
  }
  HK_SET_LAST_ERROR(e);
  return p;
}

static void hk_after_load(HMODULE m) {
  DWORD e = HK_LAST_ERROR();
  if (m && !hk.detached) {
    hk_resolve();
    hk_patch_all(0);
  }
  HK_SET_LAST_ERROR(e);
}

static HMODULE WINAPI hk_LoadLibraryA(LPCSTR f) {
  HMODULE m = HK_REAL(HK_LoadLibraryA, loadliba_fn)(f);
  hk_after_load(m);
  return m;
}
static HMODULE WINAPI hk_LoadLibraryW(LPCWSTR f) {
  HMODULE m = HK_REAL(HK_LoadLibraryW, loadlibw_fn)(f);
  hk_after_load(m);
  return m;
}
static HMODULE WINAPI hk_LoadLibraryExA(LPCSTR f, HANDLE h, DWORD flags) {
  HMODULE m = HK_REAL(HK_LoadLibraryExA, loadlibexa_fn)(f, h, flags);
  if (!(flags & (LOAD_LIBRARY_AS_DATAFILE | LOAD_LIBRARY_AS_IMAGE_RESOURCE |
                 LOAD_LIBRARY_AS_DATAFILE_EXCLUSIVE)))
    hk_after_load(m);
  return m;
}
static HMODULE WINAPI hk_LoadLibraryExW(LPCWSTR f, HANDLE h, DWORD flags) {
  HMODULE m = HK_REAL(HK_LoadLibraryExW, loadlibexw_fn)(f, h, flags);
  if (!(flags & (LOAD_LIBRARY_AS_DATAFILE | LOAD_LIBRARY_AS_IMAGE_RESOURCE |
                 LOAD_LIBRARY_AS_DATAFILE_EXCLUSIVE)))
    hk_after_load(m);
  return m;
}

/* The end of the process: the trace ends as planned (TraceEnd ServerExit) first. */
static void hk_end_trace(int reason) {
  if (iocpscope__ld32(&iocpscope__g.state) == 2) iocpscope_shutdown(reason);
}

static void WINAPI hk_ExitProcess(UINT code) {
  if (!hk.detached) hk_end_trace(IOCPSCOPE_END_SERVER_EXIT);
  HK_REAL(HK_ExitProcess, exitprocess_fn)(code);
}

static BOOL WINAPI hk_TerminateProcess(HANDLE p, UINT code) {
  if (!hk.detached && (p == GetCurrentProcess() || GetProcessId(p) == GetCurrentProcessId())) {
    DWORD e = HK_LAST_ERROR();
    hk_end_trace(IOCPSCOPE_END_SERVER_EXIT);
    HK_SET_LAST_ERROR(e);
  }
  return HK_REAL(HK_TerminateProcess, terminateprocess_fn)(p, code);
}

/* ---- set-up --------------------------------------------------------------------------------------- */
#define HK_API(dll, name, set) {dll, #name, (void *)hk_##name, NULL, NULL}
static const hk_api hk_api_init[HK_COUNT] = {
    HK_API(L"kernel32.dll", CreateIoCompletionPort, A),
    HK_API(L"kernel32.dll", SetFileCompletionNotificationModes, A),
    HK_API(L"kernel32.dll", GetQueuedCompletionStatus, A),
    HK_API(L"kernel32.dll", GetQueuedCompletionStatusEx, A),
    HK_API(L"kernel32.dll", PostQueuedCompletionStatus, A),
    HK_API(L"kernel32.dll", CancelIo, A),
    HK_API(L"kernel32.dll", CancelIoEx, A),
    HK_API(L"ws2_32.dll", WSARecv, A),
    HK_API(L"ws2_32.dll", WSASend, A),
    HK_API(L"ws2_32.dll", WSARecvFrom, A),
    HK_API(L"ws2_32.dll", WSASendTo, A),
    HK_API(L"ws2_32.dll", closesocket, A),
    HK_API(L"ws2_32.dll", accept, A),
    HK_API(L"ws2_32.dll", WSAAccept, A),
    HK_API(L"ws2_32.dll", socket, A),
    HK_API(L"ws2_32.dll", WSASocketA, A),
    HK_API(L"ws2_32.dll", WSASocketW, A),
    HK_API(L"ws2_32.dll", WSAIoctl, A),
    HK_API(L"mswsock.dll", AcceptEx, A),
    HK_API(L"kernel32.dll", GetProcAddress, A),
    HK_API(L"kernel32.dll", LoadLibraryA, B),
    HK_API(L"kernel32.dll", LoadLibraryW, B),
    HK_API(L"kernel32.dll", LoadLibraryExA, B),
    HK_API(L"kernel32.dll", LoadLibraryExW, B),
    HK_API(L"kernel32.dll", ExitProcess, B),
    HK_API(L"kernel32.dll", TerminateProcess, B),
};

#ifdef IOCPSCOPE_HOOK_SELFTIME
/* The calls to the hook of `name` so far, and the ticks the last of them spent outside
 * the real call: call i at ticks[i % keep]. */
HK_EXPORT int iocpscope_hook_selftime(const char *name, uint64_t *calls, const uint32_t **ticks,
                                      uint32_t *keep) {
  int k;
  for (k = 0; k < HK_COUNT; k++) {
    if (strcmp(hk_api_init[k].name, name) == 0) {
      *calls = hk_self_calls[k];
      *ticks = hk_self_ticks[k];
      *keep = HK_SELF_KEEP;
      return 1;
    }
  }
  return 0;
}
#endif

/* Where a forwarding stub jumps: `jmp [rip+disp]` (optionally after `lea rsp,[rsp+0]` or
 * with a REX.W prefix), as kernel32 forwards to kernelbase under Wine. The stub reads its
 * slot (kernel32's own import) on every call, so patching that slot too catches calls
 * through a pointer a loop loaded before the hooks came (attach). */
static void *hk_follow_stub(void *p) {
  unsigned n;
  for (n = 0; n < 4 && p; n++) {
    const BYTE *b = (const BYTE *)p;
    size_t at = 0;
    int32_t disp;
    void *target;
    static const BYTE lea_rsp[8] = {0x48, 0x8d, 0xa4, 0x24, 0, 0, 0, 0};
    if (memcmp(b, lea_rsp, sizeof lea_rsp) == 0) at = 8;
    if (b[at] == 0x48 && b[at + 1] == 0xff && b[at + 2] == 0x25) at++;
    if (b[at] != 0xff || b[at + 1] != 0x25) break;
    memcpy(&disp, b + at + 2, 4);
    memcpy(&target, b + at + 6 + disp, sizeof target);
    if (!target || target == p) break;
    p = target;
  }
  return p;
}

/* Finds the real functions of DLLs loaded so far; 1 if one was found now. */
static int hk_resolve(void) {
  int found = 0;
  unsigned k;
  for (k = 0; k < HK_COUNT; k++) {
    HMODULE m;
    FARPROC p;
    if (hk.api[k].real) continue;
    m = GetModuleHandleW(hk.api[k].dll);
    if (!m) continue;
    p = GetProcAddress(m, hk.api[k].name); /* this DLL's own import: never the hook */
    if (p) {
      void *impl = hk_follow_stub((void *)p);
      if (impl != (void *)p) hk.api[k].stub = (void *)p;
      hk.api[k].real = impl;
      found = 1;
    }
  }
  return found;
}

static void hk_copy(char *dst, size_t cap, const char *src) {
  size_t n = 0;
  if (src)
    for (; src[n] && n + 1 < cap; n++) dst[n] = src[n];
  dst[n] = 0;
}

/* The launcher's block, if it left one for this process. */
static void hk_read_config(void) {
  wchar_t name[64];
  HANDLE map;
  DWORD n, pid = GetCurrentProcessId();
  char buf[16];
  {
    static const wchar_t prefix[] = L"Local\\iocpscope-hook-";
    wchar_t digits[16];
    int nd = 0, k = 0;
    do digits[nd++] = (wchar_t)(L'0' + pid % 10); while ((pid /= 10) != 0);
    for (; prefix[k]; k++) name[k] = prefix[k];
    while (nd > 0) name[k++] = digits[--nd];
    name[k] = 0;
  }
  map = OpenFileMappingW(FILE_MAP_READ, FALSE, name);
  if (map) {
    const hk_shared_config *c =
        (const hk_shared_config *)MapViewOfFile(map, FILE_MAP_READ, 0, 0, sizeof(hk_shared_config));
    if (c && c->magic == HK_CONFIG_MAGIC) {
      hk_copy(hk.output, sizeof hk.output, c->output);
      hk_copy(hk.connect, sizeof hk.connect, c->connect);
      hk_copy(hk.token, sizeof hk.token, c->token);
      hk_copy(hk.app, sizeof hk.app, c->app);
      hk_copy(hk.name, sizeof hk.name, c->name);
      hk.cfg.log = (c->flags & 1) ? -1 : 0;
      hk.attached = (c->flags & 2) != 0;
    }
    if (c) UnmapViewOfFile(c);
    CloseHandle(map);
  }
  hk.cfg.output = hk.output;
  hk.cfg.connect = hk.connect;
  hk.cfg.token = hk.token;
  hk.cfg.app = hk.app;
  hk.cfg.name = hk.name;
  hk.cfg.tracer = "hook";
  hk.cfg.derived_iocount = 1;
  hk.log = hk.cfg.log >= 0;
  n = GetEnvironmentVariableA("IOCPSCOPE_LOG", buf, sizeof buf);
  if (n > 0 && n < sizeof buf && strcmp(buf, "0") == 0) hk.log = 0;
  n = GetEnvironmentVariableA("IOCPSCOPE_HOOK_MODULES", buf, sizeof buf);
  if (n > 0 && n < sizeof buf && strcmp(buf, "all") == 0) hk.patch_system = 1;
}

/* The process's first thread (main): the oldest one. */
static DWORD hk_find_main_thread(void) {
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
  THREADENTRY32 te;
  DWORD pid = GetCurrentProcessId(), best = GetCurrentThreadId();
  ULONGLONG oldest = ~0ULL;
  if (snap == INVALID_HANDLE_VALUE) return best;
  te.dwSize = sizeof te;
  if (Thread32First(snap, &te)) {
    do {
      HANDLE th;
      FILETIME c, x, k, u;
      if (te.th32OwnerProcessID != pid) continue;
      th = OpenThread(THREAD_QUERY_LIMITED_INFORMATION, FALSE, te.th32ThreadID);
      if (!th) continue;
      if (GetThreadTimes(th, &c, &x, &k, &u)) {
        ULONGLONG at = ((ULONGLONG)c.dwHighDateTime << 32) | c.dwLowDateTime;
        if (at < oldest) {
          oldest = at;
          best = te.th32ThreadID;
        }
      }
      CloseHandle(th);
      te.dwSize = sizeof te;
    } while (Thread32Next(snap, &te));
  }
  CloseHandle(snap);
  return best;
}

/* Attached: the threads already running, any of which may be waiting in GQCS. */
static void hk_pre_threads(void) {
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
  THREADENTRY32 te;
  DWORD pid = GetCurrentProcessId(), me = GetCurrentThreadId();
  if (snap == INVALID_HANDLE_VALUE) return;
  te.dwSize = sizeof te;
  if (Thread32First(snap, &te)) {
    do {
      if (te.th32OwnerProcessID == pid && te.th32ThreadID != me && hk.n_pre < 256)
        hk.pre_tids[hk.n_pre++] = te.th32ThreadID;
      te.dwSize = sizeof te;
    } while (Thread32Next(snap, &te));
  }
  CloseHandle(snap);
  hk.unsure = (LONG)hk.n_pre;
}

static int hk_init(void) {
  unsigned k;
  uint64_t cells;
  char buf[32];
  DWORD n;
  unsigned max_sessions = 16384;
  memcpy(hk.api, hk_api_init, sizeof hk.api);
  InitializeSRWLock(&hk.socks_insert);
  hk_read_config();
  n = GetEnvironmentVariableA("IOCPSCOPE_MAX_SESSIONS", buf, sizeof buf);
  if (n > 0 && n < sizeof buf) {
    unsigned long v = strtoul(buf, NULL, 10);
    if (v >= 16 && v <= (1u << 22)) max_sessions = (unsigned)v;
  }
  if (!iocpscope__map_alloc(&hk.socks, (uint64_t)max_sessions * 2)) return 0;
  for (cells = 1; cells < (uint64_t)max_sessions * 8; cells <<= 1) {
  }
  iocpscope__g.count_of = hk_count_of;
  hk.cells = (hk_cell *)VirtualAlloc(NULL, (SIZE_T)(cells * sizeof(hk_cell)),
                                     MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  if (!hk.cells) return 0;
  hk.cell_mask = cells - 1;
  hk.incall = (hk_incall *)VirtualAlloc(NULL, HK_IC_MAX * sizeof(hk_incall),
                                        MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  hk.main_tid = hk_find_main_thread();
  if (hk.attached) hk_pre_threads();
  hk_resolve();
  for (k = 0; k < HK_COUNT; k++)
    if (!hk.api[k].real && k != HK_AcceptEx)
      hk_log("%s not found: calls to it are not traced", hk.api[k].name);
  hk_patch_all(0);
  hk_log("interposed %ld import slots in %ld modules (pid %lu)", hk.slots_patched,
         hk.modules_patched, (unsigned long)GetCurrentProcessId());
  return 1;
}

/* Labels are interned once the tracer runs (the string table comes with it). */
static void hk_labels(void) {
  static const char *const text[4] = {"CancelIoEx(overlapped) = FALSE", "CancelIoEx(overlapped) = TRUE",
                                      "CancelIo(all) = FALSE", "CancelIo(all) = TRUE"};
  unsigned k;
  for (k = 0; k < 4; k++) hk.cancel_labels[k] = iocpscope__intern(text[k]);
}

/* Undo everything that can be undone, end the trace (TraceEnd Detached), and free this DLL
 * when nothing can still enter it. Run on a thread of the process (CreateRemoteThread from
 * `iocpscope attach --detach`). Returns 0 when freed (it never returns then), 1 when the
 * DLL stays mapped and inert, 2 if it was detached already. */
HK_EXPORT DWORD WINAPI iocpscope_hook_detach(LPVOID arg) {
  unsigned i, inside = 0;
  (void)arg;
  if (InterlockedExchange(&hk.detached, 1)) return 2;
  hk_patch_all(1);
  hk_end_trace(IOCPSCOPE_END_DETACHED);
  Sleep(200); /* a thread that read a patched slot just before the restore gets in meanwhile */
  for (i = 0; i < (unsigned)iocpscope__g.thread_hw && iocpscope__g.threads; i++) {
    iocpscope__thread *t = &iocpscope__g.threads[i];
    if (t->in_use && !t->exited && HK_DEPTH(t) != 0) inside++;
  }
  inside += (unsigned)iocpscope__ld32(&hk.untracked_inside);
  hk_log("detached: imports restored, trace ended%s",
         inside || hk.handed_out ? "; the DLL stays mapped (threads inside a hook, or pointers "
                                   "to hooks handed out) and forwards every call"
                                 : "; unloading");
  if (inside || hk.handed_out) return 1;
  if (iocpscope__g.fls != FLS_OUT_OF_INDEXES && iocpscope__g.fls != 0) FlsFree(iocpscope__g.fls);
  FreeLibraryAndExitThread(hk.self, 0);
  return 0;
}

/* 1 while the hooks are in place and tracing (tests and the launcher read it). */
HK_EXPORT LONG iocpscope_hook_state(void) { return hk.detached ? 0 : 1; }

BOOL WINAPI DllMain(HINSTANCE h, DWORD why, LPVOID reserved) {
  (void)reserved;
  if (why == DLL_PROCESS_ATTACH) {
    hk.self = h;
    DisableThreadLibraryCalls(h);
    if (!hk_init()) {
      hk_log("could not set up (error %lu): nothing is traced", (unsigned long)HK_LAST_ERROR());
      hk.detached = 1;
    }
  }
  return TRUE;
}

#ifdef __cplusplus
}
#endif
