/* A viewer that attaches while a WSASend is inside the tracer: the post straddles
 * the moment recording switches on. Thread A's WSASend has returned; A is paused
 * (IOCPSCOPE_TEST_HOOKS, hook 3) before the wrapper decides whether to record it.
 * Meanwhile the send's completion is dequeued, and a viewer attaches:
 *   gone:   the completion is dequeued before recording switches on (not
 *           recorded); A goes on once it is on. The send is over: the viewer's
 *           LateJoin snapshot must not hold it as outstanding.
 *   seeded: recording switches on while A is paused (its send is outstanding
 *           then); the completion is dequeued after that (recorded), then A
 *           goes on. The viewer must see the send complete once, and nothing
 *           outstanding after.
 *   undecided: A is paused earlier (hook 4), after it decided not to record
 *           (recording is off) and before its post is in the tracer's table;
 *           recording switches on, then A posts. The send is outstanding when
 *           the viewer joins: the snapshot must hold it, and it completes after.
 *   late:   A posts once recording is on, before the tracer reads its tables
 *           (hook 5), and is paused (hook 3) until the viewer's snapshot is out
 *           and the completion was dequeued (recorded).
 *           The send is recorded (its IoPosted comes in the stream, after its
 *           completion): the snapshot must not hold it too.
 *   waiting: no send. Three workers start waiting in GQCS in an order that is
 *           not the order they were created in (w2, then w0, then w1, 50 ms
 *           apart), with recording off; then a viewer attaches. Its snapshot
 *           must list them waiting in that order (the port wakes the last
 *           one first: the order is what the LIFO is rebuilt from).
 * The viewer is this program (a thread on 127.0.0.1:port): it answers
 * {"ok":true} and keeps the stream's file bytes (FORMAT.md §11) in `out`.
 * Usage: latejoin_paused.exe gone|seeded|undecided|late|waiting port out.iocptrace */
#define IOCPSCOPE_TEST_HOOKS
#define IOCPSCOPE_IMPLEMENTATION
#include "iocpscope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION 0x800000001ULL

static DWORD g_a_tid;
static int g_seeded, g_undecided, g_late;
static LONG volatile g_hooked;
static HANDLE g_a_paused, g_dequeued, g_listen_now, g_viewer_done;
static SOCKET g_server_side = INVALID_SOCKET;
static unsigned short g_viewer_port;
static const char *g_out;
static int g_viewer_ok;

/* Until the tracer's flag (recording on, a viewer attached) is set, at most `ms`. */
static int until_set(LONG volatile *flag, DWORD ms) {
  DWORD t0 = GetTickCount();
  while (!iocpscope__ld32(flag)) {
    if (GetTickCount() - t0 > ms) return 0;
    Sleep(1);
  }
  return 1;
}
#define until_active(ms) until_set(&iocpscope__g.active, (ms))
#define until_connected(ms) until_set(&iocpscope__g.connected, (ms))

static void hook(int where) {
  if (where == 5) { /* the collector, before it reads the tables: A's post is in them */
    if (g_late) WaitForSingleObject(g_a_paused, 2000);
    return;
  }
  if (where != (g_undecided ? 4 : 3) || GetCurrentThreadId() != g_a_tid ||
      InterlockedExchange(&g_hooked, 1) != 0)
    return;
  SetEvent(g_a_paused);
  if (g_undecided) {
    until_active(10000);
    Sleep(30);
  } else if (g_late) {
    WaitForSingleObject(g_dequeued, 10000);
    Sleep(5);
  } else if (!g_seeded) {
    /* the completion was dequeued unrecorded; go on once recording is on */
    WaitForSingleObject(g_dequeued, 10000);
    until_active(10000);
    Sleep(30);
  } else {
    /* recording switches on; the completion is dequeued (recorded); then go on.
     * (Bounded: a tracer that waits for this call before it reads its tables
     * dequeues only after that.) */
    until_active(10000);
    WaitForSingleObject(g_dequeued, 1500);
    Sleep(5);
  }
}

static DWORD WINAPI viewer(LPVOID arg) {
  SOCKET l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP), c;
  struct sockaddr_in a;
  size_t cap = 1 << 20, n = 0;
  char *buf = (char *)malloc(cap);
  FILE *f;
  (void)arg;
  WaitForSingleObject(g_listen_now, INFINITE);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(g_viewer_port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0) goto out;
  c = accept(l, NULL, NULL);
  if (c == INVALID_SOCKET) goto out;
  send(c, "{\"ok\":true}\n", 12, 0);
  for (;;) {
    int r;
    if (n == cap) {
      char *more = (char *)realloc(buf, cap * 2);
      if (!more) break;
      buf = more;
      cap *= 2;
    }
    r = recv(c, buf + n, (int)(cap - n), 0);
    if (r <= 0) break;
    n += (size_t)r;
  }
  closesocket(c);
  /* the handshake: magic, version, reserved, tokenBytes (0), then the file */
  if (n > 16 && (f = fopen(g_out, "wb")) != NULL) {
    fwrite(buf + 16, 1, n - 16, f);
    fclose(f);
    g_viewer_ok = 1;
  }
out:
  closesocket(l);
  free(buf);
  SetEvent(g_viewer_done);
  return 0;
}

static DWORD WINAPI thread_a(LPVOID arg) {
  static char msg[] = "hello";
  static WSABUF b;
  static WSAOVERLAPPED ov;
  DWORD sent = 0;
  (void)arg;
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_WORKER, "poster");
  g_a_tid = GetCurrentThreadId();
  if (g_late) until_active(10000);
  b.buf = msg;
  b.len = 5;
  memset(&ov, 0, sizeof ov);
  if (IOCPSCOPE_WSASend(g_server_side, &b, 1, &sent, 0, &ov, NULL) != 0 &&
      WSAGetLastError() != WSA_IO_PENDING)
    return 1;
  return 0;
}

/* waiting: the workers, each entering GQCS when its event is set. */
static HANDLE g_wait_port, g_wait_go[3];

static DWORD WINAPI waiter(LPVOID arg) {
  static const char *const names[3] = {"w0", "w1", "w2"};
  int k = (int)(INT_PTR)arg;
  DWORD bytes = 0;
  ULONG_PTR key = 0;
  OVERLAPPED *ov = NULL;
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_WORKER, names[k]);
  WaitForSingleObject(g_wait_go[k], 10000);
  return IOCPSCOPE_GetQueuedCompletionStatus(g_wait_port, &bytes, &key, &ov, 20000) ? 0 : 1;
}

static int waiting_order(void) {
  static const int enter[3] = {2, 0, 1};
  HANDLE th[3], vt;
  DWORD code;
  int k, bad = 0;
  g_wait_port = IOCPSCOPE_CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 4);
  if (!g_wait_port) return 5;
  vt = CreateThread(NULL, 0, viewer, NULL, 0, NULL);
  for (k = 0; k < 3; k++) g_wait_go[k] = CreateEventW(NULL, TRUE, FALSE, NULL);
  for (k = 0; k < 3; k++) th[k] = CreateThread(NULL, 0, waiter, (LPVOID)(INT_PTR)k, 0, NULL);
  Sleep(50);
  for (k = 0; k < 3; k++) { /* recording is off: these GQCS calls are not recorded */
    SetEvent(g_wait_go[enter[k]]);
    Sleep(50);
  }
  SetEvent(g_listen_now);
  if (!until_active(10000)) return 8;
  Sleep(300); /* the snapshot is out */
  for (k = 0; k < 3; k++) IOCPSCOPE_PostQueuedCompletionStatus(g_wait_port, 0, 0, NULL);
  for (k = 0; k < 3; k++) {
    WaitForSingleObject(th[k], 10000);
    if (!GetExitCodeThread(th[k], &code) || code != 0) bad = 1;
  }
  Sleep(200);
  CloseHandle(g_wait_port);
  IOCPSCOPE_SHUTDOWN();
  WaitForSingleObject(vt, 10000);
  printf("latejoin_paused waiting: workers %s, viewer %s\n", bad ? "failed" : "ok",
         g_viewer_ok ? "ok" : "failed");
  return g_viewer_ok && !bad ? 0 : 9;
}

int main(int argc, char **argv) {
  WSADATA wsa;
  SOCKET l, client;
  struct sockaddr_in a;
  int alen = (int)sizeof a;
  HANDLE port, th, vt;
  DWORD bytes = 0;
  ULONG_PTR key = 0;
  OVERLAPPED *ov = NULL;
  char rbuf[16];
  if (argc < 4) return 2;
  g_seeded = strcmp(argv[1], "seeded") == 0;
  g_undecided = strcmp(argv[1], "undecided") == 0;
  g_late = strcmp(argv[1], "late") == 0;
  g_viewer_port = (unsigned short)atoi(argv[2]);
  g_out = argv[3];
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) return 3;
  if (IOCPSCOPE_INIT(NULL) != 0) return 3;
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_WORKER, "main");
  g_a_paused = CreateEventW(NULL, TRUE, FALSE, NULL);
  g_dequeued = CreateEventW(NULL, TRUE, FALSE, NULL);
  g_listen_now = CreateEventW(NULL, TRUE, FALSE, NULL);
  g_viewer_done = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (strcmp(argv[1], "waiting") == 0) return waiting_order();
  vt = CreateThread(NULL, 0, viewer, NULL, 0, NULL);

  /* a connected pair on loopback; the server side on a port, as session SESSION */
  l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0) return 4;
  getsockname(l, (struct sockaddr *)&a, &alen);
  client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (connect(client, (struct sockaddr *)&a, sizeof a) != 0) return 4;
  g_server_side = accept(l, NULL, NULL);
  if (g_server_side == INVALID_SOCKET) return 4;
  port = IOCPSCOPE_CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 2);
  IOCPSCOPE_SESSION_CREATED(SESSION, "127.0.0.1:1", (uint64_t)g_server_side);
  if (!IOCPSCOPE_CreateIoCompletionPort((HANDLE)g_server_side, port, (ULONG_PTR)SESSION, 0)) return 5;

  iocpscope_test_hook = hook;
  if (g_late) SetEvent(g_listen_now);
  th = CreateThread(NULL, 0, thread_a, NULL, 0, NULL);
  if (WaitForSingleObject(g_a_paused, 10000) != WAIT_OBJECT_0) return 6;
  if (g_late) {
    until_connected(10000);
    Sleep(50);
    if (!IOCPSCOPE_GetQueuedCompletionStatus(port, &bytes, &key, &ov, 5000)) return 7;
    SetEvent(g_dequeued);
  } else if (g_undecided) {
    SetEvent(g_listen_now);
    until_connected(10000);
    Sleep(50);
    if (!IOCPSCOPE_GetQueuedCompletionStatus(port, &bytes, &key, &ov, 5000)) return 7;
    SetEvent(g_dequeued);
  } else if (!g_seeded) {
    if (!IOCPSCOPE_GetQueuedCompletionStatus(port, &bytes, &key, &ov, 5000)) return 7;
    SetEvent(g_dequeued);
    SetEvent(g_listen_now);
  } else {
    SetEvent(g_listen_now);
    if (!until_active(10000)) return 8;
    Sleep(10);
    if (!IOCPSCOPE_GetQueuedCompletionStatus(port, &bytes, &key, &ov, 5000)) return 7;
    SetEvent(g_dequeued);
  }
  WaitForSingleObject(th, 10000);
  iocpscope_test_hook = NULL;
  if (!until_active(10000)) return 8;
  recv(client, rbuf, sizeof rbuf, 0);
  Sleep(300); /* the stream carries what follows the snapshot */
  IOCPSCOPE_SESSION_RELEASED(SESSION, 0);
  IOCPSCOPE_closesocket(g_server_side);
  closesocket(client);
  closesocket(l);
  CloseHandle(port);
  Sleep(200);
  IOCPSCOPE_SHUTDOWN();
  WaitForSingleObject(vt, 10000);
  printf("latejoin_paused %s: dequeued %lu bytes, key %llx, viewer %s\n", argv[1],
         (unsigned long)bytes, (unsigned long long)key, g_viewer_ok ? "ok" : "failed");
  return g_viewer_ok && bytes == 5 && key == SESSION ? 0 : 9;
}
