/* hook_bench.exe — what the hook adds to an interposed call, measured in one
 * process: run through `iocpscope run`, its calls go through the hooks (the
 * import table is patched), while pointers it finds itself in the DLLs' export
 * tables (not through GetProcAddress, which the hook answers) reach the real
 * functions. Each case runs batches x iterations pairs: one iteration through
 * the real functions and one through the hooks, back to back, in alternating
 * order, each timed alone with the TSC. A call into Wine's server takes tens of
 * µs and varies by several, so batch averages (or their minimum) differ by more
 * than the hook costs; the medians of the paired per-iteration times do not
 * drift with the machine, and their difference, divided by the hooked calls in
 * an iteration, is the cost of the hook (the mean is printed too).
 *
 * Usage: hook_bench.exe RESULTS.json [batches] [iterations per batch]
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <intrin.h>

typedef BOOL(WINAPI *pqcs_fn)(HANDLE, DWORD, ULONG_PTR, LPOVERLAPPED);
typedef BOOL(WINAPI *gqcs_fn)(HANDLE, LPDWORD, PULONG_PTR, LPOVERLAPPED *, DWORD);
typedef int(WSAAPI *wsasend_fn)(SOCKET, LPWSABUF, DWORD, LPDWORD, DWORD, LPWSAOVERLAPPED,
                                LPWSAOVERLAPPED_COMPLETION_ROUTINE);
typedef int(WSAAPI *wsarecv_fn)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD, LPWSAOVERLAPPED,
                                LPWSAOVERLAPPED_COMPLETION_ROUTINE);

/* An export found by walking the DLL's export directory (GetProcAddress is hooked). */
static void *export_of(const char *dll, const char *name) {
  const BYTE *base = (const BYTE *)GetModuleHandleA(dll);
  const IMAGE_NT_HEADERS *nt;
  const IMAGE_EXPORT_DIRECTORY *ex;
  const DWORD *names, *funcs;
  const WORD *ords;
  DWORD i;
  if (!base) return NULL;
  nt = (const IMAGE_NT_HEADERS *)(base + ((const IMAGE_DOS_HEADER *)base)->e_lfanew);
  ex = (const IMAGE_EXPORT_DIRECTORY *)(base + nt->OptionalHeader
                                                   .DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT]
                                                   .VirtualAddress);
  names = (const DWORD *)(base + ex->AddressOfNames);
  funcs = (const DWORD *)(base + ex->AddressOfFunctions);
  ords = (const WORD *)(base + ex->AddressOfNameOrdinals);
  for (i = 0; i < ex->NumberOfNames; i++)
    if (strcmp((const char *)(base + names[i]), name) == 0) return (void *)(base + funcs[ords[i]]);
  return NULL;
}

static HANDLE port;
static SOCKET srv, cli;
static pqcs_fn real_pqcs;
static gqcs_fn real_gqcs;
static wsasend_fn real_send;
static wsarecv_fn real_recv;
static OVERLAPPED ov;
static char buf[64];

static double now_ns(void) {
  static LARGE_INTEGER f;
  LARGE_INTEGER t;
  if (!f.QuadPart) QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&t);
  return (double)t.QuadPart * 1e9 / (double)f.QuadPart;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* TSC ticks per ns, against QueryPerformanceCounter over 100 ms. */
static double tsc_per_ns(void) {
  double t0 = now_ns(), t1;
  unsigned long long c0 = __rdtsc(), c1;
  Sleep(100);
  t1 = now_ns();
  c1 = __rdtsc();
  return (double)(c1 - c0) / (t1 - t0);
}

/* One iteration of each case; `real` picks the unhooked pointers. */
static void post_dequeue_null(int real) {
  DWORD b;
  ULONG_PTR k;
  OVERLAPPED *o;
  if (real) {
    real_pqcs(port, 1, 2, NULL);
    real_gqcs(port, &b, &k, &o, 0);
  } else {
    PostQueuedCompletionStatus(port, 1, 2, NULL);
    GetQueuedCompletionStatus(port, &b, &k, &o, 0);
  }
}

static void post_dequeue_ov(int real) {
  DWORD b;
  ULONG_PTR k;
  OVERLAPPED *o;
  if (real) {
    real_pqcs(port, 1, 2, &ov);
    real_gqcs(port, &b, &k, &o, 0);
  } else {
    PostQueuedCompletionStatus(port, 1, 2, &ov);
    GetQueuedCompletionStatus(port, &b, &k, &o, 0);
  }
}

static void send_at_once(int real) {
  WSABUF w;
  DWORD n = 0;
  w.buf = buf;
  w.len = 1;
  memset(&ov, 0, sizeof ov);
  if (real)
    real_send(srv, &w, 1, &n, 0, &ov, NULL);
  else
    WSASend(srv, &w, 1, &n, 0, &ov, NULL);
}

static void recv_and_complete(int real) {
  WSABUF w;
  DWORD n = 0, flags = 0, b;
  ULONG_PTR k;
  OVERLAPPED *o;
  w.buf = buf;
  w.len = sizeof buf;
  memset(&ov, 0, sizeof ov);
  if (real) {
    real_recv(cli, &w, 1, &n, &flags, &ov, NULL);
    send(srv, "x", 1, 0);
    real_gqcs(port, &b, &k, &o, 1000);
  } else {
    WSARecv(cli, &w, 1, &n, &flags, &ov, NULL);
    send(srv, "x", 1, 0);
    GetQueuedCompletionStatus(port, &b, &k, &o, 1000);
  }
}

static DWORD WINAPI drain(LPVOID arg) {
  char sink[65536];
  (void)arg;
  for (;;)
    if (recv(cli, sink, sizeof sink, 0) <= 0) return 0;
}

/* A DLL built with IOCPSCOPE_HOOK_SELFTIME times each hook on the caller's thread,
 * outside the real call: the hook's own cost, without the variance of Wine's server calls.
 * It keeps each call's ticks; their median is taken, as interrupts land in some calls. */
typedef int (*selftime_fn)(const char *, unsigned long long *, const unsigned int **,
                           unsigned int *);
static selftime_fn selftime;
static const char *const timed_apis[] = {"PostQueuedCompletionStatus", "GetQueuedCompletionStatus",
                                         "WSARecv", "WSASend"};
#define N_TIMED (sizeof timed_apis / sizeof timed_apis[0])

static int cmp_u32(const void *a, const void *b) {
  unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;
  return x < y ? -1 : x > y;
}

static void selftime_calls(unsigned long long calls[N_TIMED]) {
  unsigned k;
  const unsigned int *t;
  unsigned int keep;
  for (k = 0; k < N_TIMED; k++)
    if (!selftime || !selftime(timed_apis[k], &calls[k], &t, &keep)) calls[k] = 0;
}

/* The median ticks of the hook's calls since `since` (at most the last `keep`). */
static double selftime_median(unsigned k, unsigned long long since, unsigned long long *n_out) {
  static unsigned int s[65536];
  unsigned long long calls, n, i;
  const unsigned int *t;
  unsigned int keep;
  *n_out = 0;
  if (!selftime || !selftime(timed_apis[k], &calls, &t, &keep) || calls <= since) return 0;
  n = calls - since;
  if (n > keep) n = keep;
  if (n > sizeof s / sizeof s[0]) n = sizeof s / sizeof s[0];
  for (i = 0; i < n; i++) s[i] = t[(calls - n + i) % keep];
  qsort(s, (size_t)n, sizeof s[0], cmp_u32);
  *n_out = calls - since;
  return (double)s[n / 2];
}

/* What the timing adds by itself: the hook's four TSC reads around nothing (median ticks). */
static double selftime_overhead(void) {
  static unsigned int d[20001];
  int i;
  for (i = 0; i < 20001; i++) {
    volatile unsigned long long st0 = __rdtsc(), real = 0, r0 = __rdtsc();
    real += __rdtsc() - r0;
    d[i] = (unsigned int)(__rdtsc() - st0 - real);
  }
  qsort(d, 20001, sizeof d[0], cmp_u32);
  return (double)d[10000];
}

typedef struct bench_case {
  const char *name;
  void (*fn)(int);
  int calls; /* hooked calls per iteration */
} bench_case;

int main(int argc, char **argv) {
  WSADATA wsa;
  FILE *out;
  int batches = argc > 2 ? atoi(argv[2]) : 30, iters = argc > 3 ? atoi(argv[3]) : 2000, c, b;
  struct sockaddr_in a;
  int alen = (int)sizeof a;
  SOCKET l;
  bench_case cases[] = {
      {"PQCS + GQCS, NULL OVERLAPPED", post_dequeue_null, 2},
      {"PQCS + GQCS with an OVERLAPPED", post_dequeue_ov, 2},
      {"WSARecv pending + GQCS of its completion", recv_and_complete, 2},
      {"WSASend done in the call (skip-on-success)", send_at_once, 1},
  };
  HANDLE drainer = NULL;
  double ticks, *times[2];
  if (argc < 2 || !(out = fopen(argv[1], "w"))) return 2;
  if (batches < 1 || iters < 10 || (double)batches * iters > 1e7) return 2;
  times[0] = (double *)malloc(sizeof(double) * (size_t)batches * (size_t)iters);
  times[1] = (double *)malloc(sizeof(double) * (size_t)batches * (size_t)iters);
  if (!times[0] || !times[1]) return 4;
  ticks = tsc_per_ns();
  WSAStartup(MAKEWORD(2, 2), &wsa);
  real_pqcs = (pqcs_fn)(void (*)(void))export_of("kernelbase.dll", "PostQueuedCompletionStatus");
  real_gqcs = (gqcs_fn)(void (*)(void))export_of("kernelbase.dll", "GetQueuedCompletionStatus");
  if (!real_pqcs) real_pqcs = (pqcs_fn)(void (*)(void))export_of("kernel32.dll", "PostQueuedCompletionStatus");
  if (!real_gqcs) real_gqcs = (gqcs_fn)(void (*)(void))export_of("kernel32.dll", "GetQueuedCompletionStatus");
  real_send = (wsasend_fn)(void (*)(void))export_of("ws2_32.dll", "WSASend");
  real_recv = (wsarecv_fn)(void (*)(void))export_of("ws2_32.dll", "WSARecv");
  if (!real_pqcs || !real_gqcs || !real_send || !real_recv) return 3;
  selftime = (selftime_fn)(void (*)(void))export_of("iocpscope-hook.dll", "iocpscope_hook_selftime");
  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(l, (struct sockaddr *)&a, (int)sizeof a);
  listen(l, 1);
  getsockname(l, (struct sockaddr *)&a, &alen);
  cli = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
  connect(cli, (struct sockaddr *)&a, (int)sizeof a);
  srv = accept(l, NULL, NULL);
  CreateIoCompletionPort((HANDLE)srv, port, 1, 0);
  CreateIoCompletionPort((HANDLE)cli, port, 2, 0);
  SetFileCompletionNotificationModes((HANDLE)srv, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS);
  fprintf(out, "{\"batches\":%d,\"iterations\":%d,\"selftime\":%s,\"timerNs\":%.1f,\"cases\":[",
          batches, iters, selftime ? "true" : "false", selftime_overhead() / ticks);
  for (c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
    double med[2], sum[2], in_ticks = 0, in_calls = 0;
    unsigned long long c0[N_TIMED], got;
    unsigned k;
    int i, mode, n;
    if (cases[c].fn == send_at_once) {
      drainer = CreateThread(NULL, 0, drain, NULL, 0, NULL);
    }
    for (i = 0; i < iters / 10; i++) cases[c].fn(i & 1); /* warm-up: rings, tables, sites */
    for (mode = 0; mode < 2; mode++) sum[mode] = 0;
    selftime_calls(c0);
    for (b = 0, n = 0; b < batches; b++) {
      for (i = 0; i < iters; i++, n++) {
        for (mode = 0; mode < 2; mode++) {
          int real = (i + mode) & 1; /* alternate which goes first */
          unsigned long long t0 = __rdtsc();
          cases[c].fn(real);
          times[real][n] = (double)(__rdtsc() - t0) / ticks;
          sum[real] += times[real][n];
        }
      }
    }
    for (k = 0; k < N_TIMED; k++) { /* each API's median, weighted by its calls */
      double m = selftime_median(k, c0[k], &got);
      in_calls += (double)got;
      in_ticks += m * (double)got;
    }
    for (mode = 0; mode < 2; mode++) {
      qsort(times[mode], (size_t)n, sizeof(double), cmp_double);
      med[mode] = times[mode][n / 2];
    }
    if (drainer) {
      shutdown(srv, SD_SEND);
      WaitForSingleObject(drainer, 5000);
      drainer = NULL;
    }
    fprintf(out,
            "%s{\"name\":\"%s\",\"calls\":%d,\"realNs\":%.1f,\"hookedNs\":%.1f,"
            "\"realMeanNs\":%.1f,\"hookedMeanNs\":%.1f,\"samples\":%d,"
            "\"insideCalls\":%.0f,\"insideNs\":%.2f}",
            c ? "," : "", cases[c].name, cases[c].calls, med[1], med[0], sum[1] / n, sum[0] / n, n,
            in_calls, in_calls > 0 ? in_ticks / in_calls / ticks : -1.0);
    fflush(out);
  }
  fprintf(out, "]}\n");
  fclose(out);
  free(times[0]);
  free(times[1]);
  return 0;
}
