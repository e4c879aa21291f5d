/* IoCount records follow the order in which the count changed: threads hammer
 * IOCPSCOPE_IOCOUNT_ADD (+1 then -1) on one shared counter; in the recording,
 * each IoCount record's value must equal the running sum of the deltas before
 * it (the test checks that in TypeScript). Every CAS retry makes the clock read
 * race with another thread's change, so a clock read that runs ahead of the
 * CAS shows up here as records out of count order.
 * Usage: ordering.exe THREADS OPS_PER_THREAD */
#define IOCPSCOPE_IMPLEMENTATION
#include "iocpscope.h"

#include <stdio.h>
#include <stdlib.h>

static LONG volatile g_count;
static int g_ops = 100000;

static DWORD WINAPI hammer(LPVOID arg) {
  int i;
  (void)arg;
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_WORKER, "hammer");
  for (i = 0; i < g_ops; i++) {
    IOCPSCOPE_IOCOUNT_ADD(&g_count, 1, 0x700000001ULL, IOCPSCOPE_CAUSE_HOLD_ACQUIRE, NULL);
    IOCPSCOPE_IOCOUNT_ADD(&g_count, -1, 0x700000001ULL, IOCPSCOPE_CAUSE_HOLD_RELEASE, NULL);
  }
  return 0;
}

int main(int argc, char **argv) {
  HANDLE th[16];
  iocpscope_stats st;
  int n = argc > 1 ? atoi(argv[1]) : 4, i;
  if (argc > 2) g_ops = atoi(argv[2]);
  if (n < 1 || n > 16 || g_ops < 1) return 2;
  if (IOCPSCOPE_INIT(NULL) != 0) return 3;
  IOCPSCOPE_SESSION_CREATED(0x700000001ULL, "127.0.0.1:7", 0);
  for (i = 0; i < n; i++) th[i] = CreateThread(NULL, 0, hammer, NULL, 0, NULL);
  WaitForMultipleObjects((DWORD)n, th, TRUE, 120000);
  IOCPSCOPE_SHUTDOWN();
  IOCPSCOPE_STATS(&st);
  printf("{\"reordered\":%llu,\"unordered\":%llu}\n", st.reordered, st.unordered);
  return g_count == 0 ? 0 : 4;
}
