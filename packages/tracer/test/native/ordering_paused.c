/* The two ordering mechanisms, each made to matter deterministically by pausing a
 * thread inside the tracer (IOCPSCOPE_TEST_HOOKS):
 *   late: thread A stamps a Marker, then sleeps 300 ms before publishing it, while
 *         the main thread records Markers every 5 ms. The merge must wait for A:
 *         A's marker belongs before every marker stamped after it.
 *   aba:  thread A reads the clock for IOCount +1 (count 0), then sleeps 200 ms
 *         before its CAS, while the main thread moves the count 0 -> 1 -> 0 ten
 *         times; A's CAS then still finds 0 and succeeds, with a stamp older than
 *         those twenty changes. The IoCount records must still form a chain.
 *   reuse: thread A releases a session and sleeps 200 ms between finding the socket's
 *         entry naming it and removing it, while the main thread creates a new session
 *         on the same socket handle. The socket must then name the new session.
 * Usage: ordering_paused.exe late|aba|reuse */
#define IOCPSCOPE_TEST_HOOKS
#define IOCPSCOPE_IMPLEMENTATION
#include "iocpscope.h"

#include <string.h>

static DWORD g_pause_tid;
static int g_pause_where, g_pause_ms;
static LONG volatile g_paused, g_count;

static void hook(int where) {
  if (where == g_pause_where && GetCurrentThreadId() == g_pause_tid &&
      InterlockedExchange(&g_paused, 1) == 0)
    Sleep((DWORD)g_pause_ms);
}

static DWORD WINAPI thread_a(LPVOID arg) {
  int aba = arg == (LPVOID)1;
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_OTHER, "paused");
  g_pause_tid = GetCurrentThreadId();
  if (arg == (LPVOID)2)
    IOCPSCOPE_SESSION_RELEASED(0x900000002ULL, 0);
  else if (aba)
    IOCPSCOPE_IOCOUNT_ADD(&g_count, 1, 0x800000001ULL, IOCPSCOPE_CAUSE_HOLD_ACQUIRE, NULL);
  else
    IOCPSCOPE_MARKER("late", 0);
  return 0;
}

int main(int argc, char **argv) {
  HANDLE th;
  int aba, i;
  if (argc < 2) return 2;
  aba = strcmp(argv[1], "aba") == 0;
  if (IOCPSCOPE_INIT(NULL) != 0) return 3;
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_MAIN, "main");
  if (strcmp(argv[1], "reuse") == 0) {
    /* socket 0x77 closed; its session's release is paused while a new connection gets
     * the same handle value */
    IOCPSCOPE_SESSION_CREATED(0x900000002ULL, "127.0.0.1:9", 0x77);
    g_pause_where = 6;
    g_pause_ms = 200;
    iocpscope_test_hook = hook;
    th = CreateThread(NULL, 0, thread_a, (LPVOID)2, 0, NULL);
    while (!g_paused) Sleep(1);
    IOCPSCOPE_SESSION_CREATED(0xA00000003ULL, "127.0.0.1:10", 0x77);
    WaitForSingleObject(th, 10000);
    iocpscope_test_hook = NULL;
    i = iocpscope__session_of_socket(0x77) == 0xA00000003ULL;
    IOCPSCOPE_SHUTDOWN();
    return i ? 0 : 5;
  }
  IOCPSCOPE_SESSION_CREATED(0x800000001ULL, "127.0.0.1:8", 0);
  IOCPSCOPE_IOCOUNT_ADD(&g_count, 0, 0x800000001ULL, IOCPSCOPE_CAUSE_OTHER, NULL); /* count 0 known */
  g_pause_where = aba ? 2 : 1;
  g_pause_ms = aba ? 200 : 300;
  iocpscope_test_hook = hook;
  th = CreateThread(NULL, 0, thread_a, aba ? (LPVOID)1 : NULL, 0, NULL);
  while (!g_paused) Sleep(1);
  if (aba) {
    Sleep(20);
    for (i = 0; i < 10; i++) {
      IOCPSCOPE_IOCOUNT_ADD(&g_count, 1, 0x800000001ULL, IOCPSCOPE_CAUSE_HOLD_ACQUIRE, NULL);
      IOCPSCOPE_IOCOUNT_ADD(&g_count, -1, 0x800000001ULL, IOCPSCOPE_CAUSE_HOLD_RELEASE, NULL);
      Sleep(5);
    }
  } else {
    for (i = 0; i < 40; i++) {
      IOCPSCOPE_MARKER("other", 0);
      Sleep(5);
    }
  }
  WaitForSingleObject(th, 10000);
  iocpscope_test_hook = NULL;
  if (aba) IOCPSCOPE_IOCOUNT_ADD(&g_count, -1, 0x800000001ULL, IOCPSCOPE_CAUSE_HOLD_RELEASE, NULL);
  IOCPSCOPE_SHUTDOWN();
  return g_count == 0 ? 0 : 4;
}
