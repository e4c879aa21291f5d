/* post_claim.exe — a send's table entry on a skip-on-success socket is published only
 * when its call has returned (hook.c hk_post_end), so a packet dequeued on another
 * thread before that must wait for it (hk_take_post). Made to happen deterministically: hook.c is compiled in with
 * its test hooks and with instant stand-ins for the real calls.
 * 1. Thread P posts a WSASend that pends and is paused 300 ms after the real call
 *    returned, before the publish (test hook 7). Meanwhile the main thread dequeues the
 *    packet. The dequeue must match the post: the session's derived IOCount goes back to
 *    0, the dequeue waited for the publish, and no entry for the OVERLAPPED is left.
 *    Without the wait the packet went unmatched, the count stayed at 1 and the entry
 *    stayed in the table for good.
 * 2. A WSASend done in the call on a skip-on-success socket drops its entry: none is left
 *    (claimed or published), and the count is back at 0.
 * Usage: post_claim.exe TRACE.iocptrace. Exit 0 when both hold; it says what it saw. */
#define IOCPSCOPE_TEST_HOOKS
#include "../../src/hook.c"
#include "../../src/iat.c"

#include <stdio.h>

static LPOVERLAPPED pc_last;
static DWORD volatile pause_tid;
static HANDLE in_window;

static void hook(int where) {
  if (where == 7 && GetCurrentThreadId() == pause_tid) {
    SetEvent(in_window);
    Sleep(300);
  }
}

static int volatile send_pends;

static int WSAAPI pc_send(SOCKET s, LPWSABUF b, DWORD n, LPDWORD sent, DWORD f,
                          LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  (void)s, (void)f, (void)cr;
  if (send_pends) {
    pc_last = ov; /* pending: its packet is queued at once */
    SetLastError(WSA_IO_PENDING);
    return SOCKET_ERROR;
  }
  if (sent) *sent = n ? b[0].len : 0;
  SetLastError(0);
  return 0; /* done in the call: the socket skips the port on success */
}

static BOOL WINAPI pc_gqcs(HANDLE p, LPDWORD b, PULONG_PTR k, LPOVERLAPPED *ov, DWORD t) {
  (void)p, (void)t;
  *b = 5;
  *k = 1;
  *ov = pc_last;
  return TRUE;
}

static SOCKET sock;
static OVERLAPPED ov_pend, ov_send;

static DWORD WINAPI poster(LPVOID arg) {
  char buf[8];
  WSABUF w;
  DWORD n = 0;
  (void)arg;
  w.buf = buf;
  w.len = sizeof buf;
  pause_tid = GetCurrentThreadId();
  hk_WSASend(sock, &w, 1, &n, 0, &ov_pend, NULL);
  return 0;
}

/* Any entry for `ov` in the table, claimed or published. */
static int pc_entry(LPOVERLAPPED ov) {
  iocpscope__map *m = &iocpscope__g.ovs;
  uint64_t o = (uint64_t)(uintptr_t)ov, i = iocpscope__mix(o), n;
  for (n = 0; n < IOCPSCOPE__PROBES; n++, i++) {
    iocpscope__slot *s = &m->slots[i & m->mask];
    int st = (int)(s->ctl & 3);
    if (st == IOCPSCOPE__M_EMPTY) return 0;
    if ((uint64_t)s->key == o && (st == IOCPSCOPE__M_LIVE || st == IOCPSCOPE__M_CLAIMING)) return st;
  }
  return 0;
}

int main(int argc, char **argv) {
  WSADATA wsa;
  HANDLE th;
  iocpscope__slot *k;
  uint64_t session;
  DWORD b;
  ULONG_PTR key;
  LPOVERLAPPED got = NULL;
  LONG count1, count2;
  int left1, left2, ok1, ok2;
  double waited_ms;
  LARGE_INTEGER f, t0, t1;
  if (argc < 2) return 2;
  WSAStartup(MAKEWORD(2, 2), &wsa);
  if (!hk_init()) return 3;
  snprintf(hk.output, sizeof hk.output, "%s", argv[1]);
  hk.api[HK_WSASend].real = (void *)pc_send;
  hk.api[HK_GetQueuedCompletionStatus].real = (void *)pc_gqcs;
  in_window = CreateEventW(NULL, TRUE, FALSE, NULL);
  sock = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  k = hk_sock_entry((uint64_t)sock);
  if (!k || !in_window) return 4;
  k->v[1] |= (LONG64)FILE_SKIP_COMPLETION_PORT_ON_SUCCESS << HK_SOCK_MODES_SHIFT;
  iocpscope_test_hook = hook;

  /* 1. the packet dequeued before its post's call returned */
  send_pends = 1;
  th = CreateThread(NULL, 0, poster, NULL, 0, NULL);
  if (!th || WaitForSingleObject(in_window, 10000) != WAIT_OBJECT_0) return 5;
  QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&t0);
  hk_GetQueuedCompletionStatus((HANDLE)1, &b, &key, &got, 0);
  QueryPerformanceCounter(&t1);
  WaitForSingleObject(th, INFINITE);
  waited_ms = (double)(t1.QuadPart - t0.QuadPart) * 1000.0 / (double)f.QuadPart;
  session = (uint64_t)hk_sock((uint64_t)sock)->v[0];
  count1 = hk_count_of(session);
  left1 = pc_entry(&ov_pend);
  ok1 = got == &ov_pend && count1 == 0 && left1 == 0 && waited_ms >= 150;
  printf("dequeued before the post's call returned: waited %.0f ms, count %ld, entry %s: %s\n",
         waited_ms, (long)count1, left1 ? (left1 == 2 ? "live" : "claimed") : "gone",
         ok1 ? "matched once published" : "NOT matched");

  /* 2. done in the call: the entry is dropped */
  {
    char buf[8] = "abcdefg";
    WSABUF w;
    DWORD n = 0;
    w.buf = buf;
    w.len = 7;
    iocpscope_test_hook = NULL;
    send_pends = 0;
    hk_WSASend(sock, &w, 1, &n, 0, &ov_send, NULL);
  }
  count2 = hk_count_of(session);
  left2 = pc_entry(&ov_send);
  ok2 = count2 == 0 && left2 == 0;
  printf("done in the call: count %ld, entry %s: %s\n", (long)count2,
         left2 ? (left2 == 2 ? "live" : "claimed") : "gone", ok2 ? "dropped" : "NOT dropped");
  iocpscope_shutdown(IOCPSCOPE_END_SERVER_EXIT);
  return ok1 && ok2 ? 0 : 1;
}
