/* count_aba.exe — the derived IOCount's order, made to matter deterministically.
 * The hook (src/hook.c, compiled in with IOCPSCOPE_TEST_HOOKS) stamps a change of a
 * session's count, then CASes it. Thread A stamps +1 (count 1) and is paused 200 ms
 * between its stamp and its CAS (test hook 2); meanwhile the main thread takes the
 * count 1 -> 0 -> 1. A's change must not keep its stamp from before those two: its
 * CAS must find the count changed (its version did) and stamp again, so that the
 * stamps follow the order of the changes and the records form a chain. On the count
 * alone, A's CAS found 1 again and succeeded with the oldest stamp.
 *
 * Then the stamp's lower bound: the count's word carries the last change's stamp, and a
 * change whose clock reading is behind it (a read without a fence that ran ahead of the
 * load of the word, or another core's clock a little ahead) stamps past it. Here a word
 * is given a stamp 50,000 ticks ahead of the clock: the next change must stamp after it.
 * A stamp a lap of its 44 bits ago bounds nothing: the change keeps its own reading.
 * Exit 0 when all of it holds; it prints the stamps either way. */
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
  {
    static hk_cell ahead, lap, neg;
    uint64_t now = iocpscope__ticks(), t1, t2, t3;
    LONG c1, c2, c3;
    int ok2;
    ahead.word = (LONG64)((((now + 50000) & HK_STAMP_MASK) << HK_COUNT_BITS) | 1);
    lap.word = (LONG64)((((now - (1ull << 43)) & HK_STAMP_MASK) << HK_COUNT_BITS) | 1);
    neg.word = (LONG64)(((now - 10) & HK_STAMP_MASK) << HK_COUNT_BITS);
    c1 = hk_count_cas(&tb, &ahead, 1, &t1);
    c2 = hk_count_cas(&tb, &lap, 1, &t2);
    c3 = hk_count_cas(&tb, &neg, -1, &t3);
    ok2 = c1 == 2 && t1 > now + 50000 && HK_STAMP_OF_WORD(ahead.word) == (t1 & HK_STAMP_MASK) &&
          c2 == 2 && t2 >= now && t2 < now + 50000 && c3 == -1 &&
          HK_COUNT_OF_WORD(neg.word) == -1 && t3 >= now;
    printf("last stamp %llu ahead of the clock (%llu): the change stamped %llu (count %ld); "
           "a lap ago: %llu (count %ld); 0 - 1 = %ld: %s\n",
           (unsigned long long)(now + 50000), (unsigned long long)now, (unsigned long long)t1,
           (long)c1, (unsigned long long)t2, (long)c2, (long)c3,
           ok2 ? "each stamp follows the last" : "a stamp does not follow the last");
    ok = ok && ok2;
  }
  return ok ? 0 : 1;
}
