/* post_claim.exe — a send on a skip-on-success socket reaches the OVERLAPPED table only
 * when its call has returned (hook.c hk_post_begin / hk_post_end): until then it is in
 * its thread's in-call record, or, when that record is in use, in a table slot claimed
 * but not published. A packet dequeued on another thread before the call returned must
 * still find its post (hk_take_post). Made to happen deterministically: hook.c compiled in
 * with its test hooks, and instant stand-ins for the real calls.
 * 1. P's send pends and P is paused after its call (test hook 7), its post in its record.
 *    The main thread dequeues the packet: it must take the post from the record (the
 *    session's derived IOCount back to 0), and P, on resuming, must not leave a table
 *    entry behind (its packet was taken). Red without the record's take (count 1, entry
 *    left live) or without that removal (entry left live).
 * 2. P's send pends; thread D dequeues its packet and misses the table, and is paused
 *    before it looks in the records (test hook 8) until P has published the post and left
 *    its record. D must then find it in the table on its second look. Red without it.
 * 3. As 1 with no in-call records (as when a thread's record is in use): the post's slot
 *    stays claimed through the call, and the dequeue must wait for the publish. Red without
 *    the wait (count 1, entry left live).
 * 4. A send done in the call leaves nothing: no table entry, the record idle, count 0; and
 *    as 3's way, its claimed slot is dropped. Red without the drop (entry left claimed).
 * Usage: post_claim.exe TRACE.iocptrace. Exit 0 when all hold; it says what it saw. */
#define IOCPSCOPE_TEST_HOOKS
#include "../../src/hook.c"
#include "../../src/iat.c"

#include <stdio.h>

static LPOVERLAPPED pc_last;
static DWORD volatile pause7_tid, pause8_tid;
static HANDLE in_window, d_at_8, p_thread;
static int volatile pause7_ms, pause7_until_d;
static LONG volatile hook8_seen;

static void hook(int where) {
  if (where == 7 && GetCurrentThreadId() == pause7_tid) {
    SetEvent(in_window);
    if (pause7_until_d)
      WaitForSingleObject(d_at_8, 5000);
    else
      Sleep(pause7_ms);
  }
  if (where == 8 && GetCurrentThreadId() == pause8_tid && InterlockedExchange(&hook8_seen, 1) == 0) {
    SetEvent(d_at_8);
    WaitForSingleObject(p_thread, 5000); /* P publishes, leaves its record and ends */
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
static OVERLAPPED ovs[4];
static OVERLAPPED *volatile ov_next;
static LPOVERLAPPED got;
static double waited_ms;

static void pc_send_one(OVERLAPPED *ov) {
  char buf[8] = "abcdefg";
  WSABUF w;
  DWORD n = 0;
  w.buf = buf;
  w.len = 7;
  hk_WSASend(sock, &w, 1, &n, 0, ov, NULL);
}

static DWORD WINAPI poster(LPVOID arg) {
  (void)arg;
  pause7_tid = GetCurrentThreadId();
  pc_send_one(ov_next);
  return 0;
}

static DWORD WINAPI dequeuer(LPVOID arg) {
  DWORD b;
  ULONG_PTR key;
  LARGE_INTEGER f, t0, t1;
  (void)arg;
  pause8_tid = GetCurrentThreadId();
  QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&t0);
  hk_GetQueuedCompletionStatus((HANDLE)1, &b, &key, &got, 0);
  QueryPerformanceCounter(&t1);
  waited_ms = (double)(t1.QuadPart - t0.QuadPart) * 1000.0 / (double)f.QuadPart;
  return 0;
}

/* Any entry for `ov` in the table: 2 published, 1 claimed, 0 none. */
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

static const char *pc_said(int e) { return e == 2 ? "live" : e == 1 ? "claimed" : "gone"; }

static uint64_t session;

/* One pending send dequeued on another thread while its poster is paused (`how`: 1, 2, 3
 * as above). */
static int pc_pending(int how, OVERLAPPED *ov, const char *what) {
  HANDLE d;
  LONG count;
  int left, ok;
  ResetEvent(in_window);
  ResetEvent(d_at_8);
  hook8_seen = how == 2 ? 0 : 1;
  pause7_ms = how == 2 ? 0 : 300;
  pause7_until_d = how == 2;
  send_pends = 1;
  ov_next = ov;
  got = NULL;
  p_thread = CreateThread(NULL, 0, poster, NULL, 0, NULL);
  if (!p_thread || WaitForSingleObject(in_window, 10000) != WAIT_OBJECT_0) return 0;
  d = CreateThread(NULL, 0, dequeuer, NULL, 0, NULL);
  if (!d) return 0;
  WaitForSingleObject(d, 20000);
  WaitForSingleObject(p_thread, 20000);
  CloseHandle(d);
  CloseHandle(p_thread);
  count = hk_count_of(session);
  left = pc_entry(ov);
  ok = got == ov && count == 0 && left == 0 && (how != 3 || waited_ms >= 150) &&
       (how != 2 || hook8_seen);
  printf("%d. %s: dequeue took %.0f ms, count %ld, entry %s: %s\n", how, what, waited_ms,
         (long)count, pc_said(left), ok ? "matched" : "NOT matched");
  return ok;
}

int main(int argc, char **argv) {
  WSADATA wsa;
  iocpscope__slot *k;
  hk_incall *keep;
  int ok = 1;
  if (argc < 2) return 2;
  WSAStartup(MAKEWORD(2, 2), &wsa);
  if (!hk_init()) return 3;
  snprintf(hk.output, sizeof hk.output, "%s", argv[1]);
  hk.api[HK_WSASend].real = (void *)pc_send;
  hk.api[HK_GetQueuedCompletionStatus].real = (void *)pc_gqcs;
  in_window = CreateEventW(NULL, TRUE, FALSE, NULL);
  d_at_8 = CreateEventW(NULL, TRUE, FALSE, NULL);
  sock = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  k = hk_sock_entry((uint64_t)sock);
  if (!k || !in_window || !d_at_8) return 4;
  k->v[1] |= (LONG64)FILE_SKIP_COMPLETION_PORT_ON_SUCCESS << HK_SOCK_MODES_SHIFT;
  send_pends = 0;
  pc_send_one(&ovs[3]); /* the session begins */
  session = (uint64_t)hk_sock((uint64_t)sock)->v[0];
  iocpscope_test_hook = hook;

  ok &= pc_pending(1, &ovs[0], "taken from the poster's record while its call ran");
  ok &= pc_pending(2, &ovs[1], "in the table by the time the records were looked at");
  keep = hk.incall;
  hk.incall = NULL;
  ok &= pc_pending(3, &ovs[2], "a claimed slot, waited for until published");

  /* 4. done in the call, both ways */
  iocpscope_test_hook = NULL;
  send_pends = 0;
  pc_send_one(&ovs[3]);
  {
    int left_claimed = pc_entry(&ovs[3]);
    int ok4;
    hk.incall = keep;
    pc_send_one(&ovs[3]);
    ok4 = left_claimed == 0 && pc_entry(&ovs[3]) == 0 && hk_count_of(session) == 0 &&
          (hk_incall_of(iocpscope__self())->state & 3) == HK_IC_IDLE;
    printf("4. done in the call: by a claimed slot, entry %s; by the record, entry %s, record "
           "%s; count %ld: %s\n",
           pc_said(left_claimed), pc_said(pc_entry(&ovs[3])),
           (hk_incall_of(iocpscope__self())->state & 3) == HK_IC_IDLE ? "idle" : "in use",
           (long)hk_count_of(session), ok4 ? "nothing left" : "NOT cleared");
    ok &= ok4;
  }
  iocpscope_shutdown(IOCPSCOPE_END_SERVER_EXIT);
  return ok ? 0 : 1;
}
