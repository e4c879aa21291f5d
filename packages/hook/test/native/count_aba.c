/* count_aba.exe — the derived IOCount's order, made to matter deterministically.
 * The hook (src/hook.c, compiled in with IOCPSCOPE_TEST_HOOKS) stamps a change of a
 * session's count, then CASes it. Thread A stamps +1 (count 1) and is paused 200 ms
 * between its stamp and its CAS (test hook 2); meanwhile the main thread takes the
 * count 1 -> 0 -> 1. A's change must not keep its stamp from before those two: its
 * CAS must find the count changed (its version did) and stamp again, so that the
 * stamps follow the order of the changes and the records form a chain. On the count
 * alone, A's CAS found 1 again and succeeded with the oldest stamp.
 * Exit 0 when that holds; it prints the three stamps either way. */
#define IOCPSCOPE_TEST_HOOKS
#include "../../src/hook.c"
#include "../../src/iat.c"

#include <stdio.h>

static iocpscope__thread ta, tb;
static hk_cell cell;
static DWORD volatile pause_tid;
static LONG volatile paused;
static uint64_t a_ticks;
static LONG a_now;

static void hook(int where) {
  if (where == 2 && GetCurrentThreadId() == pause_tid && InterlockedExchange(&paused, 1) == 0)
    Sleep(200);
}

static DWORD WINAPI thread_a(LPVOID arg) {
  (void)arg;
  pause_tid = GetCurrentThreadId();
  a_now = hk_count_cas(&ta, &cell, 1, &a_ticks);
  return 0;
}

int main(void) {
  uint64_t b1, b2;
  LONG n1, n2;
  HANDLE th;
  int ok;
  cell.word = 1; /* count 1, version 0 */
  iocpscope_test_hook = hook;
  th = CreateThread(NULL, 0, thread_a, NULL, 0, NULL);
  if (!th) return 3;
  while (!paused) Sleep(1);
  n1 = hk_count_cas(&tb, &cell, -1, &b1);
  n2 = hk_count_cas(&tb, &cell, 1, &b2);
  WaitForSingleObject(th, INFINITE);
  ok = n1 == 0 && n2 == 1 && a_now == 2 && a_ticks > b2 &&
       HK_COUNT_OF_WORD(cell.word) == 2;
  printf("main: 1 -> %ld at %llu, -> %ld at %llu; paused thread: -> %ld at %llu: %s\n", (long)n1,
         (unsigned long long)b1, (long)n2, (unsigned long long)b2, (long)a_now,
         (unsigned long long)a_ticks,
         ok ? "its stamp follows both (it stamped again)"
            : "its change kept a stamp from before them");
  return ok ? 0 : 1;
}
