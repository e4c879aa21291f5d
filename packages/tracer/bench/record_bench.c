/* The record path in a tight loop (pnpm bench:tracer). Each thread records
 * bursts of IOCPSCOPE_IOCOUNT events (one 32-byte record each: thread lookup,
 * clock read, IOCount table update, ring write) small enough for its ring, and
 * times each burst; IOCPSCOPE_FLUSH drains the rings between bursts, so no
 * record is lost and the overflow path is not what is measured. The clock's own
 * cost is measured apart: QueryPerformanceCounter and rdtsc in the same loop.
 * Prints one JSON object.
 * Usage: record_bench.exe THREADS BURST BURSTS */
#define IOCPSCOPE_IMPLEMENTATION
#include "iocpscope.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_THREADS 16
#define MAX_BURSTS 64

static int g_burst = 100000, g_bursts = 10, g_threads = 1;
static double g_ns[MAX_THREADS][MAX_BURSTS];
static LONG volatile g_go, g_done;
static double g_qpc_ns_per_tick;

static double now_ns(void) {
  LARGE_INTEGER q;
  QueryPerformanceCounter(&q);
  return (double)q.QuadPart * g_qpc_ns_per_tick;
}

static DWORD WINAPI recorder(LPVOID arg) {
  int me = (int)(uintptr_t)arg, b, i;
  unsigned long long session = 0x100000000ULL | (unsigned)me;
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_OTHER, "bench");
  IOCPSCOPE_SESSION_CREATED(session, "127.0.0.1:1", 0);
  for (b = 0; b < g_bursts; b++) {
    double t0, t1;
    while (g_go <= b) YieldProcessor();
    t0 = now_ns();
    for (i = 0; i < g_burst; i++) IOCPSCOPE_IOCOUNT(session, 1, i, IOCPSCOPE_CAUSE_OTHER, NULL);
    t1 = now_ns();
    g_ns[me][b] = (t1 - t0) / g_burst;
    InterlockedIncrement(&g_done);
  }
  return 0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  LARGE_INTEGER f;
  HANDLE th[MAX_THREADS];
  double all[MAX_THREADS * MAX_BURSTS], t0, qpc_ns, tsc_ns, clock_ns;
  volatile unsigned long long sink = 0;
  int i, b, n = 0, loops = 2000000;
  iocpscope_stats st;
  if (argc > 1) g_threads = atoi(argv[1]);
  if (argc > 2) g_burst = atoi(argv[2]);
  if (argc > 3) g_bursts = atoi(argv[3]);
  if (g_threads < 1 || g_threads > MAX_THREADS || g_burst < 1 || g_bursts < 1 || g_bursts > MAX_BURSTS)
    return 2;
  QueryPerformanceFrequency(&f);
  g_qpc_ns_per_tick = 1e9 / (double)f.QuadPart;
  if (IOCPSCOPE_INIT(NULL) != 0) return 3;

  /* the clock, apart */
  t0 = now_ns();
  for (i = 0; i < loops; i++) {
    LARGE_INTEGER q;
    QueryPerformanceCounter(&q);
    sink += (unsigned long long)q.QuadPart;
  }
  qpc_ns = (now_ns() - t0) / loops;
  t0 = now_ns();
  for (i = 0; i < loops; i++) sink += __rdtsc();
  tsc_ns = (now_ns() - t0) / loops;

  for (i = 0; i < g_threads; i++) th[i] = CreateThread(NULL, 0, recorder, (LPVOID)(uintptr_t)i, 0, NULL);
  for (b = 0; b < g_bursts; b++) {
    InterlockedExchange(&g_go, b + 1);
    while (g_done < (b + 1) * g_threads) Sleep(0);
    IOCPSCOPE_FLUSH(10000); /* drained before the next burst */
  }
  WaitForMultipleObjects((DWORD)g_threads, th, TRUE, 60000);
  IOCPSCOPE_FLUSH(10000);
  IOCPSCOPE_STATS(&st);
  for (i = 0; i < g_threads; i++)
    for (b = 0; b < g_bursts; b++) all[n++] = g_ns[i][b];
  qsort(all, (size_t)n, sizeof all[0], cmp);
  clock_ns = st.clock == IOCPSCOPE_CLOCK_TSC ? tsc_ns : qpc_ns;
  printf("{\"threads\":%d,\"burst\":%d,\"bursts\":%d,\"nsPerEventMin\":%.2f,\"nsPerEventMedian\":%.2f,"
         "\"qpcNs\":%.2f,\"rdtscNs\":%.2f,\"clockNs\":%.2f,\"clock\":\"%s\",\"records\":%llu,\"lost\":%llu,"
         "\"sink\":%llu}\n",
         g_threads, g_burst, g_bursts, all[0], all[n / 2], qpc_ns, tsc_ns, clock_ns,
         st.clock == IOCPSCOPE_CLOCK_TSC ? "tsc" : "qpc", st.records, st.lost, sink & 1);
  fflush(stdout);
  IOCPSCOPE_SHUTDOWN();
  return 0;
}
