/* Ring overflow: two threads record numbered IoCount events in bursts far
 * larger than a deliberately tiny ring (IOCPSCOPE_RING_KB=1: 32 records), with
 * pauses that let the collector drain it between bursts. The test then checks
 * the trace: per thread, every Gap record's lost count must equal the numbers
 * missing between the records around it, and all of them together the events
 * recorded minus those in the file (and the tracer's own lost count).
 * Usage: overflow.exe RESULT_FILE */
#define IOCPSCOPE_IMPLEMENTATION
#include "iocpscope.h"

#include <stdio.h>

#define BURSTS 60
#define PER_BURST 500

static DWORD WINAPI recorder(LPVOID arg) {
  unsigned long long session = (unsigned long long)(uintptr_t)arg;
  int b, i;
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_OTHER, session == 1 ? "recorder 1" : "recorder 2");
  for (b = 0; b < BURSTS; b++) {
    for (i = 0; i < PER_BURST; i++)
      IOCPSCOPE_IOCOUNT(session, 0, b * PER_BURST + i, IOCPSCOPE_CAUSE_OTHER, NULL);
    Sleep(b % 3 == 0 ? 30 : 0); /* some bursts run into the next one: long gaps */
  }
  return 0;
}

int main(int argc, char **argv) {
  HANDLE th[2];
  iocpscope_stats st;
  FILE *f;
  if (argc < 2) return 2;
  if (IOCPSCOPE_INIT(NULL) != 0) return 3;
  th[0] = CreateThread(NULL, 0, recorder, (LPVOID)1, 0, NULL);
  th[1] = CreateThread(NULL, 0, recorder, (LPVOID)2, 0, NULL);
  WaitForMultipleObjects(2, th, TRUE, 60000);
  IOCPSCOPE_FLUSH(5000);
  IOCPSCOPE_STATS(&st);
  IOCPSCOPE_SHUTDOWN();
  f = fopen(argv[1], "w");
  if (!f) return 4;
  fprintf(f, "{\"perThread\":%d,\"records\":%llu,\"lost\":%llu}\n", BURSTS * PER_BURST,
          st.records, st.lost);
  fclose(f);
  return 0;
}
