/* acceptex_echo.c — a minimal IOCP echo server, written unlike the course's
 * (../../tracer/examples/echo_server.cpp), to be traced unmodified by the hook:
 *
 * - No accept thread: AcceptEx keeps N accepts posted on the listening socket;
 *   each accepted socket is associated with the port and starts reading. The
 *   AcceptEx calls go alternately through mswsock's export and the pointer
 *   WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) hands out (--accept-via).
 * - One OVERLAPPED per operation, taken from a lock-free pool (an SList) and
 *   returned when its completion has been handled; no ring buffers: a recv's
 *   bytes go out in a send of their own, with its own context, while the next
 *   recv is already posted (several sends may be in flight on one socket; they
 *   are issued in the order the data came, and complete in that order).
 * - Workers loop on GetQueuedCompletionStatusEx (a batch of entries per call).
 * - A connection counts its outstanding operations plus one for being open;
 *   whoever takes it to 0 frees it.
 * - --skip-on-success: FILE_SKIP_COMPLETION_PORT_ON_SUCCESS on every accepted
 *   socket: a call that succeeds at once queues no packet and is handled
 *   in place (the loop in Pump()).
 * - --reuse: a finished connection's socket is disconnected with DisconnectEx
 *   (TF_REUSE_SOCKET) and handed to the next AcceptEx instead of being closed:
 *   the same handle value carries one connection after another. (Under Wine 8
 *   not with --skip-on-success: a DisconnectEx that returned pending on a
 *   skip-on-success socket never queues its packet; and a socket reused this way
 *   may end its next connection at once: the hook's tests leave --reuse out.)
 * - A client that connects and resets before its AcceptEx completes is no
 *   connection of the server's: under Wine that AcceptEx completes FALSE (59,
 *   ERROR_UNEXP_NET_ERR), the socket is closed and the accept posted again;
 *   "acceptsFailed" counts these (not the accepts cancelled, 995, when the
 *   listening socket is closed at stop).
 *
 * Wire format: bytes are echoed as they come (so `iocpscope load`'s packets
 * come back unchanged). Options: --port N --workers N --accepts N --batch N
 * --skip-on-success --reuse --accept-via export|ioctl|both --stop-file PATH
 * --ready-file PATH --stats PATH (its own counters as JSON, at exit).
 *
 * Build: x86_64-w64-mingw32-gcc -std=c99 -O2 acceptex_echo.c -o acceptex_echo.exe
 *        -static-libgcc -lws2_32 -lmswsock
 *   MSVC: cl /O2 /W4 acceptex_echo.c ws2_32.lib mswsock.lib
 */
#define _CRT_SECURE_NO_WARNINGS
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601
#endif
#include <winsock2.h>
#include <windows.h>
#include <mswsock.h>
#include <ws2tcpip.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA_BYTES 4096
#define ADDR_BYTES (sizeof(struct sockaddr_in6) + 16)
#define MAX_WORKERS 32
/* The NTSTATUS of an I/O cancelled by closing its handle (ERROR_OPERATION_ABORTED, 995);
 * ntstatus.h clashes with windows.h, so it is spelt here. */
#define ECHO_STATUS_CANCELLED 0xC0000120u

typedef enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_DISCONNECT } OpKind;

typedef struct Conn Conn;

/* One operation's context. The SLIST_ENTRY comes first (the pool is 16-byte aligned). */
typedef struct IoCtx {
  SLIST_ENTRY link;
  OVERLAPPED ov;
  OpKind kind;
  Conn *conn;
  SOCKET sock; /* AcceptEx: the socket it accepts into */
  WSABUF buf;
  char data[DATA_BYTES];
  char addrs[2 * ADDR_BYTES];
  char pad[8];
} IoCtx;

struct Conn {
  SLIST_ENTRY link;
  SOCKET sock;
  LONG volatile refs; /* outstanding operations + 1 while open */
  LONG volatile closing;
  LONG volatile reuse;
  char pad[4];
};

static struct {
  unsigned short port;
  unsigned workers, accepts, batch;
  int skip, reuse, via; /* via: 0 both, 1 export, 2 ioctl */
  const char *stop_file, *ready_file, *stats_file;
} cfg = {0, 2, 8, 16, 0, 0, 0, NULL, NULL, NULL};

static HANDLE g_port;
static SOCKET g_listen = INVALID_SOCKET;
static LPFN_ACCEPTEX g_acceptex_ptr;
static LPFN_DISCONNECTEX g_disconnectex;
static SLIST_HEADER g_free_ctx, g_free_conn, g_reuse_socks;
static LONG volatile g_stopping, g_accepts_pending, g_accept_seq;

typedef struct ReuseNode {
  SLIST_ENTRY link;
  SOCKET sock;
  char pad[8];
} ReuseNode;
static ReuseNode *g_reuse_nodes;
static SLIST_HEADER g_free_reuse_nodes;

static struct {
  LONG volatile accepted, released, live, refused;
  LONG volatile acceptPosts, acceptsFailed, recvPosts, sendPosts, disconnectPosts, failedPosts;
  LONG volatile dequeued, failedCompletions, zeroRecvs, immediate;
  LONG64 volatile recvBytes, sendBytes;
} st;

/* ---- pools --------------------------------------------------------------------------------------- */
static void *aligned_pool(size_t n, size_t size) {
  return VirtualAlloc(NULL, n * size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
}

static IoCtx *ctx_get(OpKind kind, Conn *c) {
  IoCtx *x = (IoCtx *)InterlockedPopEntrySList(&g_free_ctx);
  if (!x) return NULL;
  memset(&x->ov, 0, sizeof x->ov);
  x->kind = kind;
  x->conn = c;
  x->sock = INVALID_SOCKET;
  return x;
}

static void ctx_put(IoCtx *x) { InterlockedPushEntrySList(&g_free_ctx, &x->link); }

static void conn_unref(Conn *c) {
  if (InterlockedDecrement(&c->refs) != 0) return;
  if (c->reuse) {
    ReuseNode *n = (ReuseNode *)InterlockedPopEntrySList(&g_free_reuse_nodes);
    if (n) {
      n->sock = c->sock;
      InterlockedPushEntrySList(&g_reuse_socks, &n->link);
    } else {
      closesocket(c->sock);
    }
  }
  InterlockedIncrement(&st.released);
  InterlockedDecrement(&st.live);
  InterlockedPushEntrySList(&g_free_conn, &c->link);
}

/* ---- closing -------------------------------------------------------------------------------------- */
static void complete_disconnect(IoCtx *x, BOOL ok);

/* Once: disconnect for reuse (DisconnectEx) or close; then drop the open reference. */
static void conn_close(Conn *c) {
  if (InterlockedExchange(&c->closing, 1) != 0) return;
  if (cfg.reuse && !g_stopping && g_disconnectex) {
    IoCtx *x = ctx_get(OP_DISCONNECT, c);
    if (x) {
      InterlockedIncrement(&c->refs);
      InterlockedIncrement(&st.disconnectPosts);
      if (g_disconnectex(c->sock, &x->ov, TF_REUSE_SOCKET, 0)) {
        if (cfg.skip) { /* done: no packet will come */
          InterlockedIncrement(&st.immediate);
          complete_disconnect(x, TRUE);
        }
      } else if (WSAGetLastError() != ERROR_IO_PENDING) {
        InterlockedIncrement(&st.failedPosts);
        ctx_put(x);
        InterlockedDecrement(&c->refs);
        closesocket(c->sock);
      }
      conn_unref(c);
      return;
    }
  }
  closesocket(c->sock);
  conn_unref(c);
}

static void complete_disconnect(IoCtx *x, BOOL ok) {
  Conn *c = x->conn;
  if (ok) {
    c->reuse = 1; /* its socket goes back to the accept side when the last reference goes */
  } else {
    closesocket(c->sock);
  }
  ctx_put(x);
  conn_unref(c);
}

/* ---- accepting -------------------------------------------------------------------------------------- */
static SOCKET new_socket(void) {
  ReuseNode *n = (ReuseNode *)InterlockedPopEntrySList(&g_reuse_socks);
  if (n) {
    SOCKET s = n->sock;
    InterlockedPushEntrySList(&g_free_reuse_nodes, &n->link);
    return s;
  }
  return WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
}

/* Post one AcceptEx with `x` (a context of its own, reused from accept to accept). */
static int post_accept(IoCtx *x) {
  BOOL ok;
  DWORD got = 0;
  LONG n = InterlockedIncrement(&g_accept_seq);
  int via_export = cfg.via == 1 || (cfg.via == 0 && (n & 1) == 0);
  if (g_stopping) return 0;
  x->kind = OP_ACCEPT;
  x->conn = NULL;
  x->sock = new_socket();
  if (x->sock == INVALID_SOCKET) return 0;
  memset(&x->ov, 0, sizeof x->ov);
  InterlockedIncrement(&g_accepts_pending);
  InterlockedIncrement(&st.acceptPosts);
  ok = via_export ? AcceptEx(g_listen, x->sock, x->addrs, 0, ADDR_BYTES, ADDR_BYTES, &got, &x->ov)
                  : g_acceptex_ptr(g_listen, x->sock, x->addrs, 0, ADDR_BYTES, ADDR_BYTES, &got,
                                   &x->ov);
  if (!ok && WSAGetLastError() != ERROR_IO_PENDING) {
    InterlockedIncrement(&st.failedPosts);
    InterlockedDecrement(&g_accepts_pending);
    closesocket(x->sock);
    return 0;
  }
  /* a listening socket without skip-on-success: even an immediate success queues a packet */
  return 1;
}

/* ---- reading and writing ------------------------------------------------------------------------- */
/* Post a recv into `x`; returns 1 pending, 2 done now (skip-on-success: handle it), 0 failed. */
static int post_recv(Conn *c, IoCtx *x, DWORD *got) {
  DWORD flags = 0;
  int r;
  x->kind = OP_RECV;
  x->conn = c;
  memset(&x->ov, 0, sizeof x->ov);
  x->buf.buf = x->data;
  x->buf.len = DATA_BYTES;
  InterlockedIncrement(&c->refs);
  InterlockedIncrement(&st.recvPosts);
  *got = 0;
  r = WSARecv(c->sock, &x->buf, 1, got, &flags, &x->ov, NULL);
  if (r == 0) return cfg.skip ? 2 : 1;
  if (WSAGetLastError() == WSA_IO_PENDING) return 1;
  InterlockedIncrement(&st.failedPosts);
  InterlockedDecrement(&c->refs);
  return 0;
}

/* Post the echo of `n` bytes in a context of its own; 0 when it failed. */
static int post_send(Conn *c, const char *data, DWORD n) {
  IoCtx *x = ctx_get(OP_SEND, c);
  DWORD sent = 0;
  int r;
  if (!x) return 0;
  memcpy(x->data, data, n);
  x->buf.buf = x->data;
  x->buf.len = n;
  InterlockedIncrement(&c->refs);
  InterlockedIncrement(&st.sendPosts);
  r = WSASend(c->sock, &x->buf, 1, &sent, 0, &x->ov, NULL);
  if (r == 0) {
    if (cfg.skip) { /* done: no packet will come */
      InterlockedIncrement(&st.immediate);
      InterlockedExchangeAdd64(&st.sendBytes, sent);
      ctx_put(x);
      conn_unref(c);
    }
    return 1;
  }
  if (WSAGetLastError() == WSA_IO_PENDING) return 1;
  InterlockedIncrement(&st.failedPosts);
  ctx_put(x);
  InterlockedDecrement(&c->refs);
  return 0;
}

/* A recv completed with `bytes` (0 = the peer closed): echo, read on; loops while
 * skip-on-success recvs complete in place. Owns one reference (the recv's). */
static void on_recv(IoCtx *x, DWORD bytes) {
  Conn *c = x->conn;
  for (;;) {
    DWORD got = 0;
    int r;
    if (bytes == 0) {
      InterlockedIncrement(&st.zeroRecvs);
      ctx_put(x);
      conn_close(c);
      conn_unref(c);
      return;
    }
    InterlockedExchangeAdd64(&st.recvBytes, bytes);
    if (c->closing || !post_send(c, x->data, bytes)) {
      ctx_put(x);
      conn_close(c);
      conn_unref(c);
      return;
    }
    r = c->closing ? 0 : post_recv(c, x, &got);
    conn_unref(c); /* the completed recv's reference (the new one took its own) */
    if (r == 0) {
      ctx_put(x);
      conn_close(c);
      return;
    }
    if (r == 1) return;
    InterlockedIncrement(&st.immediate);
    bytes = got; /* done in place: handle it now */
  }
}

/* An AcceptEx completed: a connection on its socket; post the next accept with the context.
 * `status` is the entry's NTSTATUS (0 when ok). */
static void on_accept(IoCtx *x, BOOL ok, DWORD status) {
  SOCKET s = x->sock;
  Conn *c;
  IoCtx *rx;
  DWORD got = 0;
  int r;
  InterlockedDecrement(&g_accepts_pending);
  /* not cancelled by our close: the client went away before its connection was ours */
  if (!ok && status != ECHO_STATUS_CANCELLED) InterlockedIncrement(&st.acceptsFailed);
  if (!ok || g_stopping) {
    closesocket(s);
    if (!g_stopping && post_accept(x)) return;
    ctx_put(x);
    return;
  }
  setsockopt(s, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&g_listen, (int)sizeof g_listen);
  c = (Conn *)InterlockedPopEntrySList(&g_free_conn);
  rx = c ? ctx_get(OP_RECV, c) : NULL;
  if (!post_accept(x)) ctx_put(x);
  if (!c || !rx) {
    InterlockedIncrement(&st.refused);
    if (rx) ctx_put(rx);
    if (c) InterlockedPushEntrySList(&g_free_conn, &c->link);
    closesocket(s);
    return;
  }
  c->sock = s;
  c->refs = 1;
  c->closing = 0;
  c->reuse = 0;
  InterlockedIncrement(&st.accepted);
  InterlockedIncrement(&st.live);
  /* a reused socket is associated already (a handle joins a port once) */
  CreateIoCompletionPort((HANDLE)s, g_port, (ULONG_PTR)c, 0);
  if (cfg.skip)
    SetFileCompletionNotificationModes((HANDLE)s, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                                                      FILE_SKIP_SET_EVENT_ON_HANDLE);
  r = post_recv(c, rx, &got);
  if (r == 0) {
    ctx_put(rx);
    conn_close(c);
  } else if (r == 2) {
    InterlockedIncrement(&st.immediate);
    on_recv(rx, got);
  }
}

static DWORD WINAPI worker(LPVOID arg) {
  OVERLAPPED_ENTRY entries[64];
  (void)arg;
  for (;;) {
    ULONG n = 0, i, exits = 0;
    if (!GetQueuedCompletionStatusEx(g_port, entries, cfg.batch, &n, INFINITE, FALSE)) {
      if (GetLastError() == ERROR_ABANDONED_WAIT_0) return 0;
      continue;
    }
    for (i = 0; i < n; i++) {
      OVERLAPPED_ENTRY *e = &entries[i];
      IoCtx *x;
      BOOL ok;
      if (!e->lpOverlapped) {
        exits++;
        continue;
      }
      x = CONTAINING_RECORD(e->lpOverlapped, IoCtx, ov);
      /* the entry's status is an NTSTATUS in the low 32 bits (Wine leaves the high ones) */
      ok = (LONG)e->Internal == 0;
      InterlockedIncrement(&st.dequeued);
      if (!ok) InterlockedIncrement(&st.failedCompletions);
      switch (x->kind) {
      case OP_ACCEPT:
        on_accept(x, ok, (DWORD)e->Internal);
        break;
      case OP_RECV:
        if (ok) {
          on_recv(x, e->dwNumberOfBytesTransferred);
        } else {
          Conn *c = x->conn;
          ctx_put(x);
          conn_close(c);
          conn_unref(c);
        }
        break;
      case OP_SEND: {
        Conn *c = x->conn;
        if (ok) InterlockedExchangeAdd64(&st.sendBytes, e->dwNumberOfBytesTransferred);
        ctx_put(x);
        if (!ok) conn_close(c);
        conn_unref(c);
        break;
      }
      case OP_DISCONNECT:
        complete_disconnect(x, ok);
        break;
      }
    }
    if (exits > 0) {
      /* one exit packet per worker: pass on the ones this batch took beyond its own */
      while (--exits > 0) PostQueuedCompletionStatus(g_port, 0, 0, NULL);
      return 0;
    }
  }
}

/* ---- start and stop -------------------------------------------------------------------------------- */
static int usage(const char *why) {
  fprintf(stderr,
          "acceptex_echo: %s\nusage: acceptex_echo [--port N] [--workers N] [--accepts N] "
          "[--batch N] [--skip-on-success] [--reuse] [--accept-via export|ioctl|both] "
          "[--stop-file P] [--ready-file P] [--stats P]\n",
          why);
  return 2;
}

static void write_stats(int drained, int joined) {
  FILE *f;
  if (!cfg.stats_file || !(f = fopen(cfg.stats_file, "w"))) return;
  fprintf(f,
          "{\"accepted\":%ld,\"released\":%ld,\"live\":%ld,\"refused\":%ld,\"acceptPosts\":%ld,"
          "\"acceptsFailed\":%ld,\"recvPosts\":%ld,\"sendPosts\":%ld,\"disconnectPosts\":%ld,"
          "\"failedPosts\":%ld,\"dequeued\":%ld,\"failedCompletions\":%ld,\"zeroRecvs\":%ld,"
          "\"immediate\":%ld,\"recvBytes\":%lld,\"sendBytes\":%lld,\"drained\":%s,\"joined\":%s}\n",
          st.accepted, st.released, st.live, st.refused, st.acceptPosts, st.acceptsFailed,
          st.recvPosts, st.sendPosts, st.disconnectPosts, st.failedPosts, st.dequeued,
          st.failedCompletions, st.zeroRecvs, st.immediate, (long long)st.recvBytes,
          (long long)st.sendBytes, drained ? "true" : "false", joined ? "true" : "false");
  fclose(f);
}

int main(int argc, char **argv) {
  WSADATA wsa;
  struct sockaddr_in a;
  HANDLE workers[MAX_WORKERS];
  IoCtx *ctxs;
  Conn *conns;
  unsigned i, nctx = 8192, nconn = 4096;
  int alen;
  DWORD t0;
  for (i = 1; i < (unsigned)argc; i++) {
    const char *o = argv[i], *v = i + 1 < (unsigned)argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--skip-on-success")) {
      cfg.skip = 1;
      continue;
    }
    if (!strcmp(o, "--reuse")) {
      cfg.reuse = 1;
      continue;
    }
    if (!v) return usage("option without a value");
    if (!strcmp(o, "--port")) cfg.port = (unsigned short)atoi(v);
    else if (!strcmp(o, "--workers")) cfg.workers = (unsigned)atoi(v);
    else if (!strcmp(o, "--accepts")) cfg.accepts = (unsigned)atoi(v);
    else if (!strcmp(o, "--batch")) cfg.batch = (unsigned)atoi(v);
    else if (!strcmp(o, "--accept-via"))
      cfg.via = !strcmp(v, "export") ? 1 : !strcmp(v, "ioctl") ? 2 : 0;
    else if (!strcmp(o, "--stop-file")) cfg.stop_file = v;
    else if (!strcmp(o, "--ready-file")) cfg.ready_file = v;
    else if (!strcmp(o, "--stats")) cfg.stats_file = v;
    else return usage("unknown option");
    i++;
  }
  if (cfg.workers < 1 || cfg.workers > MAX_WORKERS) return usage("--workers: 1..32");
  if (cfg.batch < 1 || cfg.batch > 64) return usage("--batch: 1..64");
  if (cfg.accepts < 1 || cfg.accepts > 256) return usage("--accepts: 1..256");
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) return 1;
  InitializeSListHead(&g_free_ctx);
  InitializeSListHead(&g_free_conn);
  InitializeSListHead(&g_reuse_socks);
  InitializeSListHead(&g_free_reuse_nodes);
  ctxs = (IoCtx *)aligned_pool(nctx, sizeof(IoCtx));
  conns = (Conn *)aligned_pool(nconn, sizeof(Conn));
  g_reuse_nodes = (ReuseNode *)aligned_pool(nconn, sizeof(ReuseNode));
  if (!ctxs || !conns || !g_reuse_nodes) return 1;
  for (i = 0; i < nctx; i++) InterlockedPushEntrySList(&g_free_ctx, &ctxs[i].link);
  for (i = 0; i < nconn; i++) {
    InterlockedPushEntrySList(&g_free_conn, &conns[i].link);
    InterlockedPushEntrySList(&g_free_reuse_nodes, &g_reuse_nodes[i].link);
  }
  g_port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  g_listen = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(cfg.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!g_port || g_listen == INVALID_SOCKET ||
      bind(g_listen, (struct sockaddr *)&a, (int)sizeof a) != 0 || listen(g_listen, SOMAXCONN) != 0) {
    fprintf(stderr, "acceptex_echo: cannot listen on 127.0.0.1:%u (error %d)\n", cfg.port,
            WSAGetLastError());
    return 1;
  }
  {
    GUID accept_id = WSAID_ACCEPTEX, disconnect_id = WSAID_DISCONNECTEX;
    DWORD n = 0;
    if (WSAIoctl(g_listen, SIO_GET_EXTENSION_FUNCTION_POINTER, &accept_id, (DWORD)sizeof accept_id,
                 &g_acceptex_ptr, (DWORD)sizeof g_acceptex_ptr, &n, NULL, NULL) != 0 ||
        WSAIoctl(g_listen, SIO_GET_EXTENSION_FUNCTION_POINTER, &disconnect_id,
                 (DWORD)sizeof disconnect_id, &g_disconnectex, (DWORD)sizeof g_disconnectex, &n,
                 NULL, NULL) != 0) {
      fprintf(stderr, "acceptex_echo: no AcceptEx/DisconnectEx (error %d)\n", WSAGetLastError());
      return 1;
    }
  }
  CreateIoCompletionPort((HANDLE)g_listen, g_port, 0, 0);
  alen = (int)sizeof a;
  getsockname(g_listen, (struct sockaddr *)&a, &alen);
  for (i = 0; i < cfg.workers; i++) {
    workers[i] = CreateThread(NULL, 0, worker, NULL, 0, NULL);
    if (!workers[i]) return 1;
  }
  for (i = 0; i < cfg.accepts; i++) {
    IoCtx *x = ctx_get(OP_ACCEPT, NULL);
    if (!x || !post_accept(x)) return 1;
  }
  printf("acceptex_echo listening on 127.0.0.1:%u, %u workers, %u accepts posted%s%s\n",
         ntohs(a.sin_port), cfg.workers, cfg.accepts, cfg.skip ? ", skip-on-success" : "",
         cfg.reuse ? ", socket reuse" : "");
  fflush(stdout);
  if (cfg.ready_file) {
    FILE *f = fopen(cfg.ready_file, "w");
    if (f) {
      fprintf(f, "%u\n", ntohs(a.sin_port));
      fclose(f);
    }
  }
  while (!cfg.stop_file || GetFileAttributesA(cfg.stop_file) == INVALID_FILE_ATTRIBUTES) Sleep(50);

  /* stop: no more accepts, close every connection, wait for the last references, one exit
   * packet per worker, join */
  InterlockedExchange(&g_stopping, 1);
  closesocket(g_listen); /* the pending AcceptExs complete (995) and close their sockets */
  for (i = 0; i < nconn; i++) {
    Conn *c = &conns[i];
    for (;;) { /* a hold while closing from outside, unless it is free already */
      LONG r = c->refs;
      if (r <= 0 || c->closing) break;
      if (InterlockedCompareExchange(&c->refs, r + 1, r) == r) {
        conn_close(c);
        conn_unref(c);
        break;
      }
    }
  }
  t0 = GetTickCount();
  while ((st.live > 0 || g_accepts_pending > 0) && GetTickCount() - t0 < 5000) Sleep(10);
  {
    int drained = st.live == 0 && g_accepts_pending == 0, joined;
    ReuseNode *n;
    for (i = 0; i < cfg.workers; i++) PostQueuedCompletionStatus(g_port, 0, 0, NULL);
    joined = WaitForMultipleObjects(cfg.workers, workers, TRUE, 5000) == WAIT_OBJECT_0;
    while ((n = (ReuseNode *)InterlockedPopEntrySList(&g_reuse_socks)) != NULL) closesocket(n->sock);
    printf("acceptex_echo stopped: %ld accepted, %ld released, %ld live\n", st.accepted,
           st.released, st.live);
    write_stats(drained, joined);
    fflush(stdout);
    CloseHandle(g_port);
    WSACleanup();
    return drained && joined ? 0 : 3;
  }
}
