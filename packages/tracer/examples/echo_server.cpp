// A course-style IOCP echo server (../../../../shared/docs/iocp-model.md §2),
// traced with iocpscope.h. It speaks the reference server's wire format: a
// packet is a u16le payload length (0..8192), a u16le type (1..0x7FFF), then
// the payload; every complete packet is echoed unchanged; a bad header kicks
// the session. `iocpscope load` drives it as it drives the reference server.
//
// The design, as the course builds it:
// - Session: socket, peer, a 64-bit SessionID never reused (slot index in the
//   low 32 bits, the slot's reuse generation in the high 32), RecvQ and SendQ
//   ring buffers (posted as two WSABUFs when the free or used part wraps), a
//   recv and a send OVERLAPPED, IOCount, a send-in-flight flag.
// - IOCount = posted-and-not-dequeued I/O + holds; +1 before each WSARecv or
//   WSASend (the completion can be dequeued on another thread before the call
//   returns), -1 per dequeued completion, or at once when a post fails. The
//   thread that takes it to 0 releases the session exactly once: a CAS from 0
//   to the RELEASED bit of the same word, so a hold taken from outside (the
//   shutdown sweep) sees a released session and backs off.
// - An accept thread (blocking accept) creates the session, holds one IOCount
//   across the first RecvPost, then drops it. An accept() that fails is
//   counted (acceptsFailed) and the loop goes on: a client that reset before
//   accept() took its connection ends there (WSAECONNRESET, the documentation
//   says; Wine 8 fails it with WSAENOTCONN, 10057), and is no session.
//   Workers loop on GQCS. Shutdown:
//   stop accepting, disconnect every session, wait for them to be released,
//   one PQCS(0, 0, NULL) per worker, join.
//
// Fault flags (--fault NAME, repeatable) turn on real bugs in this code, each
// mirroring a switch of the TypeScript reference server (apps/server/src/echo).
//
// Build (MinGW):  x86_64-w64-mingw32-g++ -std=c++11 -O2 -DIOCPSCOPE_ENABLE -I../include
//                 echo_server.cpp -o echo_server.exe -static-libgcc -static-libstdc++ -lws2_32
// Build (MSVC):   cl /std:c++14 /O2 /W4 /EHsc /DIOCPSCOPE_ENABLE /I..\include echo_server.cpp ws2_32.lib
// Drop -DIOCPSCOPE_ENABLE for an untraced build of the same code.

#define _CRT_SECURE_NO_WARNINGS  // fopen/printf, as course code uses them (MSVC /W4)
#define IOCPSCOPE_IMPLEMENTATION
#include "iocpscope.h"

#include <ws2tcpip.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// ---- configuration --------------------------------------------------------------

const uint32_t kRecvCap = 16384;  // RecvQ: one whole packet (4 + 8192) always fits twice
const uint32_t kSendCap = 32768;  // SendQ: more than that queued for a client kicks it
const uint32_t kHeaderBytes = 4;
const uint32_t kMaxPayload = 8192;
const LONG kReleased = 0x40000000;  // the release flag, in the IOCount word

enum Fault {
  kIocountDoubleDecrement,
  kReleaseWithIoPending,
  kTwoSendsInFlight,
  kNoDecrementOnFailure,
  kRecvNotReposted,
  kTooFewExitPackets,
  kLockAcrossSend,
  kNoAcceptHold,
  kFaultCount
};
const char *const kFaultNames[kFaultCount] = {
    "iocount-double-decrement", "release-with-io-pending", "two-sends-in-flight",
    "no-decrement-on-failure",  "recv-not-reposted",       "too-few-exit-packets",
    "lock-across-send",         "no-accept-hold",
};

struct Config {
  unsigned short port = 7701;
  unsigned workers = 2;
  unsigned concurrency = 0;
  unsigned maxSessions = 4096;
  unsigned joinMs = 0;  // OnClientJoin's work in the accept thread (no-accept-hold needs it)
  unsigned runMs = 0;   // stop by itself after this long (0 = never)
  const char *stopFile = nullptr;
  const char *readyFile = nullptr;
  const char *statsFile = nullptr;
  bool faults[kFaultCount] = {};
};

Config g_cfg;

inline bool Faulty(Fault f) { return g_cfg.faults[f]; }

// ---- sessions ------------------------------------------------------------------------

enum IoType { kRecv = 1, kSend = 2 };

struct IoContext {
  OVERLAPPED ov;  // first: the OVERLAPPED* GQCS returns is the IoContext*
  IoType type;
};

struct Session {
  SOCKET sock;
  uint64_t id;  // generation << 32 | slot; 0 = slot free
  uint32_t generation;
  char peer[64];
  char *recvQ;
  char *sendQ;
  // RecvQ: touched only by the thread handling the one outstanding recv.
  uint32_t recvR, recvW;
  // SendQ: written by the recv handler, read by the send completion handler.
  LONG volatile sendR, sendW;
  LONG volatile sendLen;  // bytes of the send in flight
  LONG volatile sendFlag;
  LONG volatile ioCount;  // count, plus kReleased once released
  LONG volatile disconnected;
  LONG volatile sockClosed;
  IoContext recvCtx;
  IoContext sendCtx;
};

Session *g_sessions = nullptr;
HANDLE g_port = nullptr;
SOCKET g_listen = INVALID_SOCKET;
LONG volatile g_stopping = 0;
SRWLOCK g_freeLock = SRWLOCK_INIT;
unsigned *g_freeSlots = nullptr;
unsigned g_freeCount = 0;
SRWLOCK g_sendLock = SRWLOCK_INIT;  // lock-across-send only

struct Stats {
  LONG volatile accepted, released, live, refused, acceptsFailed;
  LONG volatile recvPosts, sendPosts, failedPosts;
  LONG volatile recvCompletions, sendCompletions, failedCompletions, zeroRecvs;
  LONG volatile staleCompletions;
  LONG64 volatile recvBytes, sendBytes;
  LONG volatile disconnects[10];
} g_stats;

// ---- ring buffers (positions are free-running u32; used = w - r) -------------------------

inline LONG LoadAcquire(LONG volatile *p) { return InterlockedCompareExchange(p, 0, 0); }

// The free part of RecvQ (recv) or the used part of SendQ (send) as up to two WSABUFs.
unsigned RingBufs(char *base, uint32_t cap, uint32_t from, uint32_t n, WSABUF bufs[2],
                  uint32_t *off0) {
  uint32_t off = from & (cap - 1);
  uint32_t first = n < cap - off ? n : cap - off;
  *off0 = off;
  bufs[0].buf = base + off;
  bufs[0].len = first;
  if (first == n) return 1;
  bufs[1].buf = base;
  bufs[1].len = n - first;
  return 2;
}

void RingCopyOut(const char *base, uint32_t cap, uint32_t from, char *dst, uint32_t n) {
  uint32_t off = from & (cap - 1), first = n < cap - off ? n : cap - off;
  memcpy(dst, base + off, first);
  if (first < n) memcpy(dst + first, base, n - first);
}

void RingCopyIn(char *base, uint32_t cap, uint32_t at, const char *src, uint32_t n) {
  uint32_t off = at & (cap - 1), first = n < cap - off ? n : cap - off;
  memcpy(base + off, src, first);
  if (first < n) memcpy(base, src + first, n - first);
}

// ---- IOCount, disconnect, release -------------------------------------------------------

void Release(Session *s);

LONG IncIo(Session *s, int cause, OVERLAPPED *ov) {
  return IOCPSCOPE_IOCOUNT_ADD(&s->ioCount, 1, s->id, cause, ov);
}

void DecIo(Session *s, int cause, OVERLAPPED *ov) {
  LONG v = IOCPSCOPE_IOCOUNT_ADD(&s->ioCount, -1, s->id, cause, ov);
  // Only the thread that saw 0 may try, and the CAS lets exactly one succeed.
  if (v == 0 && InterlockedCompareExchange(&s->ioCount, kReleased, 0) == 0) Release(s);
}

void CloseSocketOnce(Session *s) {
  if (InterlockedExchange(&s->sockClosed, 1) != 0) return;
  IOCPSCOPE_closesocket(s->sock);  // every pending I/O now completes FALSE/995
}

// Start disconnecting, once: closing the socket makes the pending I/O come back;
// the last completion releases the session.
void Disconnect(Session *s, int reason, DWORD error) {
  if (InterlockedExchange(&s->disconnected, 1) != 0) return;
  IOCPSCOPE_DISCONNECT(s->id, reason, error);
  InterlockedIncrement(&g_stats.disconnects[reason < 10 ? reason : 0]);
  CloseSocketOnce(s);
  if (Faulty(kReleaseWithIoPending)) {
    // BUG (release-with-io-pending): free the session now instead of when IOCount reaches 0.
    InterlockedOr(&s->ioCount, kReleased);
    Release(s);
  }
}

void Release(Session *s) {
  IOCPSCOPE_SESSION_RELEASED(s->id, s->ioCount & ~kReleased);
  CloseSocketOnce(s);
  InterlockedIncrement(&g_stats.released);
  InterlockedDecrement(&g_stats.live);
  unsigned slot = static_cast<unsigned>(s->id & 0xFFFFFFFFu);
  AcquireSRWLockExclusive(&g_freeLock);
  g_freeSlots[g_freeCount++] = slot;
  ReleaseSRWLockExclusive(&g_freeLock);
}

// ---- posts ------------------------------------------------------------------------------

void RecvPost(Session *s) {
  if (s->disconnected) return;
  WSABUF bufs[2];
  uint32_t off0, free = kRecvCap - (s->recvW - s->recvR);
  unsigned n = RingBufs(s->recvQ, kRecvCap, s->recvW, free, bufs, &off0);
  memset(&s->recvCtx.ov, 0, sizeof s->recvCtx.ov);
  IncIo(s, IOCPSCOPE_CAUSE_RECV_POST, &s->recvCtx.ov);
  IOCPSCOPE_RING_POST(&s->recvCtx.ov, off0, bufs[0].len, 0, free);
  DWORD flags = 0;
  InterlockedIncrement(&g_stats.recvPosts);
  if (IOCPSCOPE_WSARecv(s->sock, bufs, n, nullptr, &flags, &s->recvCtx.ov, nullptr) == SOCKET_ERROR) {
    int e = WSAGetLastError();
    if (e != WSA_IO_PENDING) {
      // No packet will ever come for this call: undo its IOCount now.
      InterlockedIncrement(&g_stats.failedPosts);
      Disconnect(s, IOCPSCOPE_REASON_IO_ERROR, static_cast<DWORD>(e));
      DecIo(s, IOCPSCOPE_CAUSE_POST_FAILED, &s->recvCtx.ov);
    }
  }
}

void SendPost(Session *s) {
  const bool twoSends = Faulty(kTwoSendsInFlight);
  for (;;) {
    if (s->disconnected) return;
    // BUG (two-sends-in-flight): post without owning the send-in-flight flag.
    if (!twoSends && InterlockedExchange(&s->sendFlag, 1) == 1) return;
    uint32_t r = static_cast<uint32_t>(LoadAcquire(&s->sendR));
    uint32_t used = static_cast<uint32_t>(LoadAcquire(&s->sendW)) - r;
    if (used > 0 && used <= kSendCap) {
      WSABUF bufs[2];
      uint32_t off0;
      unsigned n = RingBufs(s->sendQ, kSendCap, r, used, bufs, &off0);
      InterlockedExchange(&s->sendLen, static_cast<LONG>(used));
      bool lock = Faulty(kLockAcrossSend);
      if (lock) {
        // BUG (lock-across-send): one global lock held across WSASend.
        IOCPSCOPE_LOCK_WAIT(&g_sendLock, "send lock");
        AcquireSRWLockExclusive(&g_sendLock);
        IOCPSCOPE_LOCK_ACQUIRE(&g_sendLock, "send lock");
      }
      memset(&s->sendCtx.ov, 0, sizeof s->sendCtx.ov);
      IncIo(s, IOCPSCOPE_CAUSE_SEND_POST, &s->sendCtx.ov);
      IOCPSCOPE_RING_POST(&s->sendCtx.ov, off0, bufs[0].len, 0, used);
      InterlockedIncrement(&g_stats.sendPosts);
      int ret = IOCPSCOPE_WSASend(s->sock, bufs, n, nullptr, 0, &s->sendCtx.ov, nullptr);
      int e = ret == SOCKET_ERROR ? WSAGetLastError() : 0;
      if (lock) {
        IOCPSCOPE_LOCK_RELEASE(&g_sendLock, "send lock");
        ReleaseSRWLockExclusive(&g_sendLock);
      }
      if (ret == SOCKET_ERROR && e != WSA_IO_PENDING) {
        InterlockedIncrement(&g_stats.failedPosts);
        InterlockedExchange(&s->sendFlag, 0);
        Disconnect(s, IOCPSCOPE_REASON_IO_ERROR, static_cast<DWORD>(e));
        DecIo(s, IOCPSCOPE_CAUSE_POST_FAILED, &s->sendCtx.ov);
      }
      return;
    }
    if (twoSends) return;
    InterlockedExchange(&s->sendFlag, 0);
    // Lost wake-up guard: bytes queued after we looked, while the flag was still ours.
    if (static_cast<uint32_t>(LoadAcquire(&s->sendW)) == r) return;
  }
}

// ---- completions ----------------------------------------------------------------------------

// Cut complete packets out of RecvQ and queue them, unchanged, on SendQ.
// Returns false when the session was kicked (bad length or type, SendQ full).
bool CutPackets(Session *s) {
  uint32_t start = s->recvR, r = start, used = s->recvW - s->recvR;
  while (used >= kHeaderBytes) {
    unsigned char h[4];
    RingCopyOut(s->recvQ, kRecvCap, r, reinterpret_cast<char *>(h), 4);
    uint32_t len = h[0] | (h[1] << 8), type = h[2] | (h[3] << 8);
    if (len > kMaxPayload) {
      Disconnect(s, IOCPSCOPE_REASON_BAD_LENGTH, 0);
      return false;
    }
    if (type < 1 || type > 0x7FFF) {
      Disconnect(s, IOCPSCOPE_REASON_BAD_TYPE, 0);
      return false;
    }
    if (used < kHeaderBytes + len) break;
    r += kHeaderBytes + len;
    used -= kHeaderBytes + len;
  }
  uint32_t n = r - start;
  if (n == 0) return true;
  uint32_t sw = static_cast<uint32_t>(s->sendW);
  uint32_t inQueue = sw - static_cast<uint32_t>(LoadAcquire(&s->sendR));
  if (inQueue > kSendCap || n > kSendCap - inQueue) {
    Disconnect(s, IOCPSCOPE_REASON_SEND_OVERFLOW, 0);
    return false;
  }
  static thread_local char copy[kRecvCap];
  RingCopyOut(s->recvQ, kRecvCap, start, copy, n);
  RingCopyIn(s->sendQ, kSendCap, sw, copy, n);
  s->recvR = r;
  InterlockedExchange(&s->sendW, static_cast<LONG>(sw + n));
  return true;
}

void OnRecv(Session *s, DWORD bytes, OVERLAPPED *ov) {
  if (bytes == 0) {
    InterlockedIncrement(&g_stats.zeroRecvs);
    Disconnect(s, IOCPSCOPE_REASON_PEER_CLOSED, 0);
    DecIo(s, IOCPSCOPE_CAUSE_COMPLETION, ov);
    return;
  }
  InterlockedIncrement(&g_stats.recvCompletions);
  InterlockedExchangeAdd64(&g_stats.recvBytes, bytes);
  s->recvW += bytes;
  if (CutPackets(s)) SendPost(s);
  // BUG (recv-not-reposted): forget to post the next recv.
  if (!Faulty(kRecvNotReposted)) RecvPost(s);
  DecIo(s, IOCPSCOPE_CAUSE_COMPLETION, ov);
  // BUG (iocount-double-decrement): a second -1 for the same completion.
  if (Faulty(kIocountDoubleDecrement)) DecIo(s, IOCPSCOPE_CAUSE_COMPLETION, ov);
}

void OnSend(Session *s, DWORD bytes, OVERLAPPED *ov) {
  const bool twoSends = Faulty(kTwoSendsInFlight);
  InterlockedIncrement(&g_stats.sendCompletions);
  InterlockedExchangeAdd64(&g_stats.sendBytes, bytes);
  if (!twoSends && static_cast<LONG>(bytes) != LoadAcquire(&s->sendLen)) {
    // An overlapped send completes with all its bytes or fails: anything else is broken.
    Disconnect(s, IOCPSCOPE_REASON_IO_ERROR, 0);
  } else {
    uint32_t r = static_cast<uint32_t>(s->sendR) + bytes;
    InterlockedExchange(&s->sendR, static_cast<LONG>(r));
    if (!twoSends) InterlockedExchange(&s->sendFlag, 0);
    if (static_cast<uint32_t>(LoadAcquire(&s->sendW)) != r) SendPost(s);
  }
  DecIo(s, IOCPSCOPE_CAUSE_COMPLETION, ov);
}

DWORD WINAPI WorkerMain(LPVOID arg) {
  char name[32];
  snprintf(name, sizeof name, "worker %u", static_cast<unsigned>(reinterpret_cast<uintptr_t>(arg)));
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_WORKER, name);
  for (;;) {
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *ov = nullptr;
    BOOL ok = IOCPSCOPE_GetQueuedCompletionStatus(g_port, &bytes, &key, &ov, INFINITE);
    if (ov == nullptr) {
      if (ok && key == 0 && bytes == 0) break;  // the exit packet
      if (!ok) {
        DWORD e = GetLastError();
        if (e == ERROR_ABANDONED_WAIT_0 || e == ERROR_INVALID_HANDLE) break;  // port closed
      }
      continue;  // a timeout, or a packet this server does not post
    }
    uint64_t id = key;
    uint64_t slot = id & 0xFFFFFFFFu;
    Session *s = slot < g_cfg.maxSessions ? &g_sessions[slot] : nullptr;
    if (!s || s->id != id) {
      // The session this I/O belonged to is gone (only a bug gets here).
      InterlockedIncrement(&g_stats.staleCompletions);
      IOCPSCOPE_MARKER("completion for a released session", id);
      continue;
    }
    IoContext *ctx = reinterpret_cast<IoContext *>(ov);
    if (!ok) {
      // FALSE with an overlapped: the I/O failed (64 reset, 995 after our close).
      InterlockedIncrement(&g_stats.failedCompletions);
      Disconnect(s, IOCPSCOPE_REASON_IO_ERROR, GetLastError());
      // BUG (no-decrement-on-failure): skip the -1: the session is never released.
      if (!Faulty(kNoDecrementOnFailure)) DecIo(s, IOCPSCOPE_CAUSE_COMPLETION, ov);
      continue;
    }
    if (ctx->type == kRecv)
      OnRecv(s, bytes, ov);
    else
      OnSend(s, bytes, ov);
  }
  return 0;
}

// ---- accept -----------------------------------------------------------------------------------

Session *Allocate() {
  AcquireSRWLockExclusive(&g_freeLock);
  Session *s = nullptr;
  if (g_freeCount > 0) s = &g_sessions[g_freeSlots[--g_freeCount]];
  ReleaseSRWLockExclusive(&g_freeLock);
  return s;
}

DWORD WINAPI AcceptMain(LPVOID) {
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_ACCEPT, "accept");
  for (;;) {
    sockaddr_in addr;
    int len = static_cast<int>(sizeof addr);
    IOCPSCOPE_BLOCKED(IOCPSCOPE_BLOCK_ACCEPT, 0);
    SOCKET c = accept(g_listen, reinterpret_cast<sockaddr *>(&addr), &len);
    IOCPSCOPE_RUNNING();
    if (c == INVALID_SOCKET) {
      if (g_stopping) break;  // the listening socket was closed under it: not a client's
      InterlockedIncrement(&g_stats.acceptsFailed);
      Sleep(1);
      continue;
    }
    Session *s = Allocate();
    if (!s) {
      InterlockedIncrement(&g_stats.refused);
      IOCPSCOPE_MARKER("session pool full: connection refused", 0);
      closesocket(c);
      continue;
    }
    if (!s->recvQ) {
      // A slot's rings are allocated by its first session (only this thread
      // allocates) and reused by every later one.
      s->recvQ = static_cast<char *>(malloc(kRecvCap));
      s->sendQ = static_cast<char *>(malloc(kSendCap));
      if (!s->recvQ || !s->sendQ) {
        free(s->recvQ);
        free(s->sendQ);
        s->recvQ = s->sendQ = nullptr;
        AcquireSRWLockExclusive(&g_freeLock);
        g_freeSlots[g_freeCount++] = static_cast<unsigned>(s - g_sessions);
        ReleaseSRWLockExclusive(&g_freeLock);
        InterlockedIncrement(&g_stats.refused);
        closesocket(c);
        continue;
      }
    }
    BOOL one = TRUE;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char *>(&one),
               static_cast<int>(sizeof one));
    unsigned slot = static_cast<unsigned>(s - g_sessions);
    s->generation++;
    s->sock = c;
    s->recvR = s->recvW = 0;
    s->sendR = s->sendW = s->sendLen = s->sendFlag = 0;
    s->disconnected = s->sockClosed = 0;
    s->ioCount = 0;
    s->id = (static_cast<uint64_t>(s->generation) << 32) | slot;
    const unsigned char *ip = reinterpret_cast<const unsigned char *>(&addr.sin_addr);
    snprintf(s->peer, sizeof s->peer, "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2], ip[3],
             ntohs(addr.sin_port));
    InterlockedIncrement(&g_stats.accepted);
    InterlockedIncrement(&g_stats.live);
    IOCPSCOPE_SESSION_CREATED_SLOT(s->id, s->peer, c, slot);
    IOCPSCOPE_SESSION_RINGS(s->id, kRecvCap, kSendCap);
    // The accept hold: keeps the session alive until this thread is done with it.
    const bool hold = !Faulty(kNoAcceptHold);
    if (hold) IncIo(s, IOCPSCOPE_CAUSE_ACCEPT_HOLD, nullptr);
    if (!IOCPSCOPE_CreateIoCompletionPort(reinterpret_cast<HANDLE>(c), g_port,
                                          static_cast<ULONG_PTR>(s->id), 0)) {
      Disconnect(s, IOCPSCOPE_REASON_IO_ERROR, GetLastError());
      if (hold) DecIo(s, IOCPSCOPE_CAUSE_ACCEPT_RELEASE, nullptr);
      else if (InterlockedCompareExchange(&s->ioCount, kReleased, 0) == 0) Release(s);
      continue;
    }
    RecvPost(s);
    if (g_cfg.joinMs > 0) {  // OnClientJoin: the content side's work for the new client
      IOCPSCOPE_BLOCKED(IOCPSCOPE_BLOCK_SLEEP, g_cfg.joinMs);
      Sleep(g_cfg.joinMs);
      IOCPSCOPE_RUNNING();
    }
    IOCPSCOPE_SESSION_ACCEPTED(s->id);
    if (hold) DecIo(s, IOCPSCOPE_CAUSE_ACCEPT_RELEASE, nullptr);
  }
  return 0;
}

// ---- shutdown -------------------------------------------------------------------------------------

LONG volatile g_ctrlStop = 0;

BOOL WINAPI OnCtrl(DWORD) {
  InterlockedExchange(&g_ctrlStop, 1);
  return TRUE;
}

bool StopRequested(DWORD startTick) {
  if (g_ctrlStop) return true;
  if (g_cfg.runMs > 0 && GetTickCount() - startTick >= g_cfg.runMs) return true;
  return g_cfg.stopFile && GetFileAttributesA(g_cfg.stopFile) != INVALID_FILE_ATTRIBUTES;
}

// Take a hold on a live session (unless it is already released), disconnect it, drop the hold.
void HoldAndDisconnect(Session *s) {
  LONG v = InterlockedIncrement(&s->ioCount);
  if (v & kReleased) {
    InterlockedDecrement(&s->ioCount);
    return;
  }
  IOCPSCOPE_IOCOUNT(s->id, 1, v, IOCPSCOPE_CAUSE_HOLD_ACQUIRE, nullptr);
  Disconnect(s, IOCPSCOPE_REASON_SHUTDOWN, 0);
  DecIo(s, IOCPSCOPE_CAUSE_HOLD_RELEASE, nullptr);
}

void WriteStats(bool drained, bool joined) {
  if (!g_cfg.statsFile) return;
  FILE *f = fopen(g_cfg.statsFile, "w");
  if (!f) return;
  fprintf(f,
          "{\"accepted\":%ld,\"released\":%ld,\"live\":%ld,\"refused\":%ld,\"acceptsFailed\":%ld,"
          "\"recvPosts\":%ld,\"sendPosts\":%ld,\"failedPosts\":%ld,\"recvCompletions\":%ld,"
          "\"sendCompletions\":%ld,\"failedCompletions\":%ld,\"zeroRecvs\":%ld,\"staleCompletions\":%ld,"
          "\"recvBytes\":%lld,\"sendBytes\":%lld,\"drained\":%s,\"joined\":%s,"
          "\"disconnects\":[",
          g_stats.accepted, g_stats.released, g_stats.live, g_stats.refused, g_stats.acceptsFailed,
          g_stats.recvPosts, g_stats.sendPosts, g_stats.failedPosts, g_stats.recvCompletions,
          g_stats.sendCompletions, g_stats.failedCompletions, g_stats.zeroRecvs, g_stats.staleCompletions,
          static_cast<long long>(g_stats.recvBytes), static_cast<long long>(g_stats.sendBytes),
          drained ? "true" : "false", joined ? "true" : "false");
  for (int i = 0; i < 10; i++) fprintf(f, "%s%ld", i ? "," : "", g_stats.disconnects[i]);
  iocpscope_stats ts;
  IOCPSCOPE_STATS(&ts);
  fprintf(f, "],\"trace\":{\"records\":%llu,\"lost\":%llu,\"written\":%llu,\"dropped\":%llu}}\n",
          ts.records, ts.lost, ts.written, ts.dropped);
  fclose(f);
}

// ---- options ---------------------------------------------------------------------------------------

int Usage(const char *why) {
  fprintf(stderr,
          "echo_server: %s\n"
          "usage: echo_server [--port N] [--workers N] [--concurrency N] [--max-sessions N]\n"
          "                   [--join-ms N] [--run-ms N] [--stop-file PATH] [--ready-file PATH]\n"
          "                   [--stats PATH] [--fault NAME]...\n"
          "faults:",
          why);
  for (int i = 0; i < kFaultCount; i++) fprintf(stderr, " %s", kFaultNames[i]);
  fprintf(stderr, "\n");
  return 2;
}

bool ParseUint(const char *s, unsigned lo, unsigned hi, unsigned *out) {
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) return false;
  *out = static_cast<unsigned>(v);
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
    unsigned n = 0;
    if (!v) return Usage("every option takes a value");
    if (!strcmp(a, "--port") && ParseUint(v, 0, 65535, &n)) g_cfg.port = static_cast<unsigned short>(n);
    else if (!strcmp(a, "--workers") && ParseUint(v, 1, 64, &n)) g_cfg.workers = n;
    else if (!strcmp(a, "--concurrency") && ParseUint(v, 0, 64, &n)) g_cfg.concurrency = n;
    else if (!strcmp(a, "--max-sessions") && ParseUint(v, 1, 1000000, &n)) g_cfg.maxSessions = n;
    else if (!strcmp(a, "--join-ms") && ParseUint(v, 0, 10000, &n)) g_cfg.joinMs = n;
    else if (!strcmp(a, "--run-ms") && ParseUint(v, 0, 86400000, &n)) g_cfg.runMs = n;
    else if (!strcmp(a, "--stop-file")) g_cfg.stopFile = v;
    else if (!strcmp(a, "--ready-file")) g_cfg.readyFile = v;
    else if (!strcmp(a, "--stats")) g_cfg.statsFile = v;
    else if (!strcmp(a, "--fault")) {
      int f = 0;
      while (f < kFaultCount && strcmp(v, kFaultNames[f]) != 0) f++;
      if (f == kFaultCount) return Usage("unknown fault");
      g_cfg.faults[f] = true;
    } else {
      return Usage("bad option or value");
    }
    i++;
  }

  iocpscope_config tc;
  memset(&tc, 0, sizeof tc);
  tc.app = "echo-cpp";
  tc.workers = g_cfg.workers;
  tc.concurrency = g_cfg.concurrency;
  IOCPSCOPE_INIT(&tc);
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_MAIN, "main");

  WSADATA wsa;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) return 1;
  g_sessions = static_cast<Session *>(calloc(g_cfg.maxSessions, sizeof(Session)));
  g_freeSlots = static_cast<unsigned *>(calloc(g_cfg.maxSessions, sizeof(unsigned)));
  if (!g_sessions || !g_freeSlots) return 1;
  for (unsigned i = 0; i < g_cfg.maxSessions; i++) {
    Session *s = &g_sessions[g_cfg.maxSessions - 1 - i];
    s->recvCtx.type = kRecv;
    s->sendCtx.type = kSend;
    s->sock = INVALID_SOCKET;
    g_freeSlots[g_freeCount++] = g_cfg.maxSessions - 1 - i;
  }

  g_port = IOCPSCOPE_CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, g_cfg.concurrency);
  if (!g_port) return 1;
  g_listen = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  sockaddr_in bindAddr;
  memset(&bindAddr, 0, sizeof bindAddr);
  bindAddr.sin_family = AF_INET;
  bindAddr.sin_port = htons(g_cfg.port);
  bindAddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (g_listen == INVALID_SOCKET ||
      bind(g_listen, reinterpret_cast<sockaddr *>(&bindAddr), static_cast<int>(sizeof bindAddr)) != 0 ||
      listen(g_listen, SOMAXCONN) != 0) {
    fprintf(stderr, "echo_server: cannot listen on 127.0.0.1:%u (error %d)\n", g_cfg.port,
            WSAGetLastError());
    return 1;
  }
  int alen = static_cast<int>(sizeof bindAddr);
  getsockname(g_listen, reinterpret_cast<sockaddr *>(&bindAddr), &alen);
  unsigned port = ntohs(bindAddr.sin_port);

  HANDLE workers[64];
  for (unsigned i = 0; i < g_cfg.workers; i++) {
    workers[i] = CreateThread(nullptr, 0, WorkerMain, reinterpret_cast<LPVOID>(static_cast<uintptr_t>(i + 1)), 0, nullptr);
    if (!workers[i]) return 1;
  }
  HANDLE acceptor = CreateThread(nullptr, 0, AcceptMain, nullptr, 0, nullptr);
  if (!acceptor) return 1;
  SetConsoleCtrlHandler(OnCtrl, TRUE);

  printf("echo_server listening on 127.0.0.1:%u, %u workers", port, g_cfg.workers);
  for (int f = 0; f < kFaultCount; f++)
    if (g_cfg.faults[f]) printf(", fault %s", kFaultNames[f]);
  printf("\n");
  fflush(stdout);
  if (g_cfg.readyFile) {
    FILE *f = fopen(g_cfg.readyFile, "w");
    if (f) {
      fprintf(f, "%u\n", port);
      fclose(f);
    }
  }

  DWORD start = GetTickCount();
  while (!StopRequested(start)) Sleep(50);

  // Shutdown: stop accepting, disconnect everyone, wait for releases, one exit packet per worker.
  InterlockedExchange(&g_stopping, 1);
  closesocket(g_listen);
  WaitForSingleObject(acceptor, 5000);
  CloseHandle(acceptor);
  for (unsigned i = 0; i < g_cfg.maxSessions; i++)
    if (g_sessions[i].id != 0 && !(g_sessions[i].ioCount & kReleased)) HoldAndDisconnect(&g_sessions[i]);
  DWORD waitStart = GetTickCount();
  while (g_stats.live > 0 && GetTickCount() - waitStart < 3000) Sleep(10);
  bool drained = g_stats.live == 0;
  // BUG (too-few-exit-packets): one exit packet fewer than there are workers.
  unsigned exits = Faulty(kTooFewExitPackets) ? g_cfg.workers - 1 : g_cfg.workers;
  for (unsigned i = 0; i < exits; i++) IOCPSCOPE_PostQueuedCompletionStatus(g_port, 0, 0, nullptr);
  bool joined = WaitForMultipleObjects(g_cfg.workers, workers, TRUE, 3000) == WAIT_OBJECT_0;
  printf("echo_server stopped: %ld accepted, %ld released, %ld live%s%s\n", g_stats.accepted,
         g_stats.released, g_stats.live, drained ? "" : " (not drained)",
         joined ? "" : " (workers still running)");
  IOCPSCOPE_SHUTDOWN();
  WriteStats(drained, joined);
  fflush(stdout);
  if (!joined) ExitProcess(3);  // a worker is stuck in GQCS (too-few-exit-packets)
  CloseHandle(g_port);
  for (unsigned i = 0; i < g_cfg.workers; i++) CloseHandle(workers[i]);
  WSACleanup();
  return 0;
}
