/* Uses every macro of iocpscope.h once. The test compiles this file as C99 and
 * as C++11, with and without IOCPSCOPE_ENABLE (and with the implementation in
 * the same translation unit), with -Wall -Wextra -Werror; without
 * IOCPSCOPE_ENABLE the object must hold no iocpscope symbol (nm). Every local
 * used only as a macro argument must not trigger an unused-variable warning
 * when the macros compile to nothing. Compiled with IOCPSCOPE_WRAP_ALL too. */
#define IOCPSCOPE_IMPLEMENTATION
#include "iocpscope.h"

#include <string.h>

int uses_every_macro(HANDLE port, SOCKET s, SOCKET listener);

int uses_every_macro(HANDLE port, SOCKET s, SOCKET listener) {
  iocpscope_config cfg;
  iocpscope_stats st;
  OVERLAPPED ov;
  OVERLAPPED_ENTRY entries[4];
  ULONG removed = 0;
  DWORD bytes = 0, flags = 0;
  ULONG_PTR key = 0;
  LPOVERLAPPED got = NULL;
  WSABUF bufs[2];
  char data[64], accept_buf[128];
  LONG volatile io_count = 0;
  LONG v;
  unsigned long long session = 0x100000001ULL;
  const char *peer = "127.0.0.1:5000";
  int lock_object = 0, r = 0;
  HANDLE h;

  memset(&cfg, 0, sizeof cfg);
  memset(&ov, 0, sizeof ov);
  cfg.output = "trace.iocptrace";
  cfg.workers = 4;
  r += IOCPSCOPE_INIT(&cfg);
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_WORKER, "worker 1");
  IOCPSCOPE_BLOCKED(IOCPSCOPE_BLOCK_SLEEP, 10);
  IOCPSCOPE_RUNNING();
  IOCPSCOPE_SESSION_CREATED(session, peer, s);
  IOCPSCOPE_SESSION_CREATED_SLOT(session, peer, s, 1);
  IOCPSCOPE_SESSION_RINGS(session, 8192, 16384);
  IOCPSCOPE_SESSION_ACCEPTED(session);
  IOCPSCOPE_IOCOUNT(session, 1, 1, IOCPSCOPE_CAUSE_RECV_POST, &ov);
  v = IOCPSCOPE_IOCOUNT_ADD(&io_count, 1, session, IOCPSCOPE_CAUSE_SEND_POST, &ov);
  r += (int)v;
  IOCPSCOPE_DISCONNECT(session, IOCPSCOPE_REASON_PEER_CLOSED, 0);
  IOCPSCOPE_LOCK_WAIT(&lock_object, "session lock");
  IOCPSCOPE_LOCK_ACQUIRE(&lock_object, "session lock");
  IOCPSCOPE_LOCK_RELEASE(&lock_object, "session lock");
  IOCPSCOPE_LOCK_EX(1, 42, "shared lock", IOCPSCOPE_LOCK_SHARED, session);
  IOCPSCOPE_MARKER("marker", session);
  IOCPSCOPE_RING_POST(&ov, 0, 32, 0, 64);
  IOCPSCOPE_SESSION_RELEASED(session, 0);

  bufs[0].buf = data;
  bufs[0].len = 32;
  bufs[1].buf = data + 32;
  bufs[1].len = 32;
  h = IOCPSCOPE_CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
  if (h) IOCPSCOPE_CreateIoCompletionPort((HANDLE)s, h, (ULONG_PTR)session, 0);
  r += IOCPSCOPE_SetFileCompletionNotificationModes((HANDLE)s, 0) ? 1 : 0;
  r += IOCPSCOPE_WSARecv(s, bufs, 2, &bytes, &flags, &ov, NULL);
  r += IOCPSCOPE_WSASend(s, bufs, 1, &bytes, 0, &ov, NULL);
  r += IOCPSCOPE_PostQueuedCompletionStatus(port, 0, 0, NULL) ? 1 : 0;
  r += IOCPSCOPE_GetQueuedCompletionStatus(port, &bytes, &key, &got, 0) ? 1 : 0;
  r += IOCPSCOPE_GetQueuedCompletionStatusEx(port, entries, 4, &removed, 0, FALSE) ? 1 : 0;
  r += IOCPSCOPE_CancelIoEx((HANDLE)s, &ov) ? 1 : 0;
  r += IOCPSCOPE_AcceptEx(listener, s, accept_buf, 0, sizeof(SOCKADDR_IN) + 16,
                          sizeof(SOCKADDR_IN) + 16, &bytes, &ov)
           ? 1
           : 0;
  r += IOCPSCOPE_closesocket(s);
  IOCPSCOPE_FLUSH(100);
  IOCPSCOPE_STATS(&st);
  r += (int)st.threads;
  IOCPSCOPE_SHUTDOWN();
  return r;
}

#ifdef IOCPSCOPE_WRAP_ALL
/* With IOCPSCOPE_WRAP_ALL the plain names go through the wrappers. */
int uses_wrap_all(HANDLE port, SOCKET s);
int uses_wrap_all(HANDLE port, SOCKET s) {
  DWORD bytes = 0;
  ULONG_PTR key = 0;
  LPOVERLAPPED got = NULL;
  int r = GetQueuedCompletionStatus(port, &bytes, &key, &got, 0) ? 1 : 0;
  r += PostQueuedCompletionStatus(port, 0, 0, NULL) ? 1 : 0;
  r += closesocket(s);
  return r;
}
#endif
