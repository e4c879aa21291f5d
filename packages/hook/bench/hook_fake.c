/* hook_fake.exe — the hook's own code, timed apart from what Wine does around it
 * (pnpm bench:hook, parts 1c, 1d and 1e).
 *
 * 1c. This program compiles the hook in (src/hook.c, unchanged: the same hooks,
 *     tables, rings and collector, recording to a file), points the hooks' "real"
 *     functions at instant stand-ins, and times tight loops of hooked calls. The
 *     hook's work is all there; what a real call into Wine does to the caller's
 *     caches and TLB is not (part 1b measures the hook in place, after real calls).
 * 1d. What a page costs here at its first touch after a system call: a chain of
 *     16 dependent loads, one per page, against 16 lines of one page, each right
 *     after a GetQueuedCompletionStatus on an empty port (a call into Wine's
 *     server). On a kernel with page-table isolation and no PCID every system
 *     call empties the TLB, and a hook that touches n pages pays n of these.
 *
 * 1e. What the primitives the hook's paths are built of cost here, each timed in a
 *     loop of its own: a clock read (rdtsc), a clock read after every earlier
 *     instruction (lfence; rdtsc: what the IOCount stamps cost before the count's word
 *     carried the last stamp, hook.c hk_count_cas), a locked add and a 64-bit
 *     compare-and-swap on a line no other thread touches.
 *
 * Usage: hook_fake.exe RESULTS.json TRACE.iocptrace
 */
#include "../src/hook.c"
#include "../src/iat.c"

#include <stdio.h>

static LPOVERLAPPED fk_last;
static DWORD fk_bytes;
static ULONG_PTR fk_key;

static int WSAAPI fk_send(SOCKET s, LPWSABUF b, DWORD n, LPDWORD sent, DWORD f,
                          LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  (void)s;
  (void)f;
  (void)ov;
  (void)cr;
  if (sent) *sent = n ? b[0].len : 0;
  SetLastError(0);
  return 0; /* done in the call (the socket skips the port on success) */
}

static int WSAAPI fk_recv(SOCKET s, LPWSABUF b, DWORD n, LPDWORD got, LPDWORD f,
                          LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE cr) {
  (void)s;
  (void)b;
  (void)n;
  (void)got;
  (void)f;
  (void)cr;
  fk_last = ov; /* pending: the next GQCS dequeues it */
  fk_bytes = 7;
  fk_key = 1;
  SetLastError(WSA_IO_PENDING);
  return SOCKET_ERROR;
}

static BOOL WINAPI fk_pqcs(HANDLE p, DWORD b, ULONG_PTR k, LPOVERLAPPED ov) {
  (void)p;
  fk_last = ov;
  fk_bytes = b;
  fk_key = k;
  return TRUE;
}

static BOOL WINAPI fk_gqcs(HANDLE p, LPDWORD b, PULONG_PTR k, LPOVERLAPPED *ov, DWORD t) {
  (void)p;
  (void)t;
  *b = fk_bytes;
  *k = fk_key;
  *ov = fk_last;
  return TRUE;
}

static double fk_now_ns(void) {
  static LARGE_INTEGER f;
  LARGE_INTEGER t;
  if (!f.QuadPart) QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&t);
  return (double)t.QuadPart * 1e9 / (double)f.QuadPart;
}

/* Records lost so far (a full ring), every thread's. */
static unsigned long long fk_lost(void) {
  unsigned long long n = (unsigned long long)iocpscope__g.untraced_lost;
  int i;
  for (i = 0; i < (int)iocpscope__g.thread_hw; i++)
    n += (unsigned long long)iocpscope__g.threads[i].lost_total;
  return n;
}

/* ns per iteration of the primitive `which` (0 rdtsc, 1 lfence + rdtsc, 2 locked add,
 * 3 CAS64), the best of 9 runs of 1,000,000. */
static volatile unsigned long long fk_sink;

static double fk_primitive(int which, double tsc_per_ns) {
  static LONG volatile add;
  static LONG64 volatile word;
  double best = 1e9;
  int run, i;
  for (run = 0; run < 9; run++) {
    unsigned long long t0, sum = 0;
    _mm_lfence();
    t0 = __rdtsc();
    switch (which) {
    case 0:
      for (i = 0; i < 1000000; i++) sum += __rdtsc();
      break;
    case 1:
      for (i = 0; i < 1000000; i++) {
        _mm_lfence();
        sum += __rdtsc();
      }
      break;
    case 2:
      for (i = 0; i < 1000000; i++) InterlockedIncrement(&add);
      break;
    default:
      for (i = 0; i < 1000000; i++) {
        LONG64 old = word;
        InterlockedCompareExchange64(&word, old + 1, old);
      }
    }
    _mm_lfence();
    {
      double ns = (double)(__rdtsc() - t0) / tsc_per_ns / 1e6;
      if (ns < best) best = ns;
    }
    fk_sink = sum;
  }
  return best;
}

static int fk_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#define FK_BURSTS 60
#define FK_BURST 2000
#define FK_CASES 4

static const char *const fk_names[FK_CASES] = {
    "PQCS + GQCS, NULL OVERLAPPED", "PQCS + GQCS with an OVERLAPPED",
    "WSARecv pending + GQCS of its completion", "WSASend done in the call (skip-on-success)"};
static const int fk_calls[FK_CASES] = {2, 2, 2, 1};

static void fk_iteration(int c, SOCKET s, OVERLAPPED *ov) {
  char buf[64];
  WSABUF w;
  DWORD n = 0, fl = 0, b;
  ULONG_PTR key;
  LPOVERLAPPED o;
  w.buf = buf;
  w.len = 1;
  switch (c) {
  case 0:
    hk_PostQueuedCompletionStatus((HANDLE)1, 1, 2, NULL);
    hk_GetQueuedCompletionStatus((HANDLE)1, &b, &key, &o, 0);
    break;
  case 1:
    hk_PostQueuedCompletionStatus((HANDLE)1, 1, 2, ov);
    hk_GetQueuedCompletionStatus((HANDLE)1, &b, &key, &o, 0);
    break;
  case 2:
    memset(ov, 0, sizeof *ov);
    hk_WSARecv(s, &w, 1, &n, &fl, ov, NULL);
    hk_GetQueuedCompletionStatus((HANDLE)1, &b, &key, &o, 0);
    break;
  default:
    memset(ov, 0, sizeof *ov);
    hk_WSASend(s, &w, 1, &n, 0, ov, NULL);
    break;
  }
}

/* 16 dependent loads `step` bytes apart, timed right after a call into Wine's server;
 * the median of `n` (ns). */
static double fk_chain(volatile char *base, size_t step, HANDLE port, gqcs_fn real_gqcs, int n,
                       double *scratch, double tsc_per_ns) {
  int i, j;
  for (j = 0; j < 17; j++) *(volatile char **)(base + (size_t)j * step) = base + (size_t)(j + 1) * step;
  for (i = 0; i < n; i++) {
    DWORD b;
    ULONG_PTR k;
    LPOVERLAPPED o;
    volatile char *p = base;
    unsigned long long t0;
    real_gqcs(port, &b, &k, &o, 0);
    _mm_lfence();
    t0 = __rdtsc();
    _mm_lfence();
    for (j = 0; j < 16; j++) p = *(volatile char *volatile *)p;
    _mm_lfence();
    scratch[i] = (double)(__rdtsc() - t0) / tsc_per_ns;
    if (!p) return -1;
  }
  qsort(scratch, (size_t)n, sizeof scratch[0], fk_cmp);
  return scratch[n / 2];
}

int main(int argc, char **argv) {
  static double bursts[FK_BURSTS], chain[4001];
  WSADATA wsa;
  SOCKET s;
  OVERLAPPED ov;
  iocpscope__slot *k;
  FILE *out;
  int c, r, i;
  unsigned long long lost = 0, lost0;
  double tsc_per_ns, page_ns, line_ns;
  HANDLE port;
  gqcs_fn real_gqcs;
  volatile char *mem;
  if (argc < 3 || !(out = fopen(argv[1], "w"))) return 2;
  WSAStartup(MAKEWORD(2, 2), &wsa);
  if (!hk_init()) return 3; /* what DllMain does in the DLL (it patches this program's imports) */
  snprintf(hk.output, sizeof hk.output, "%s", argv[2]);
  real_gqcs = (gqcs_fn)hk.api[HK_GetQueuedCompletionStatus].real;
  hk.api[HK_WSASend].real = (void *)fk_send;
  hk.api[HK_WSARecv].real = (void *)fk_recv;
  hk.api[HK_PostQueuedCompletionStatus].real = (void *)fk_pqcs;
  hk.api[HK_GetQueuedCompletionStatus].real = (void *)fk_gqcs;
  s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  k = hk_sock_entry((uint64_t)s);
  if (!k || !real_gqcs) return 4;
  k->v[1] |= (LONG64)FILE_SKIP_COMPLETION_PORT_ON_SUCCESS << HK_SOCK_MODES_SHIFT;
  {
    double t0 = fk_now_ns(), t1;
    unsigned long long c0 = __rdtsc(), c1;
    Sleep(100);
    t1 = fk_now_ns();
    c1 = __rdtsc();
    tsc_per_ns = (double)(c1 - c0) / (t1 - t0);
  }
  fprintf(out, "{\"cases\":[");
  for (c = 0; c < FK_CASES; c++) {
    /* warm-up: tables, sites, and every page of the ring (32,768 records by default: a
     * first touch costs a page fault, not the hook), in bursts the collector drains */
    for (r = 0; r < 10; r++) {
      for (i = 0; i < FK_BURST; i++) fk_iteration(c, s, &ov);
      Sleep(10);
    }
    lost0 = fk_lost();
    for (r = 0; r < FK_BURSTS; r++) {
      double t0, t1;
      Sleep(10); /* the collector drains the ring between bursts: nothing is lost */
      t0 = fk_now_ns();
      for (i = 0; i < FK_BURST; i++) fk_iteration(c, s, &ov);
      t1 = fk_now_ns();
      bursts[r] = (t1 - t0) / FK_BURST / fk_calls[c];
    }
    lost += fk_lost() - lost0; /* records lost while timed: those calls were cheaper */
    qsort(bursts, FK_BURSTS, sizeof bursts[0], fk_cmp);
    fprintf(out, "%s{\"name\":\"%s\",\"minNs\":%.1f,\"medianNs\":%.1f}", c ? "," : "", fk_names[c],
            bursts[0], bursts[FK_BURSTS / 2]);
  }
  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  mem = (volatile char *)VirtualAlloc(NULL, 4u << 20, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  if (!port || !mem) return 5;
  line_ns = fk_chain(mem, 64, port, real_gqcs, 4001, chain, tsc_per_ns);
  page_ns = fk_chain(mem + (2u << 20), 4096 + 64, port, real_gqcs, 4001, chain, tsc_per_ns);
  fprintf(out,
          "],\"lines16Ns\":%.1f,\"pages16Ns\":%.1f,\"lost\":%llu,\"clockNs\":%.1f,"
          "\"clockFencedNs\":%.1f,\"lockedAddNs\":%.1f,\"cas64Ns\":%.1f}\n",
          line_ns, page_ns, lost, fk_primitive(0, tsc_per_ns), fk_primitive(1, tsc_per_ns),
          fk_primitive(2, tsc_per_ns), fk_primitive(3, tsc_per_ns));
  fclose(out);
  iocpscope_shutdown(IOCPSCOPE_END_SERVER_EXIT);
  return 0;
}
