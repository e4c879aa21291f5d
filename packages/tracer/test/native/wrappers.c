/* The wrappers against the plain Win32 calls, under Wine, while recording:
 *
 * 1. Each wrapper leaves the return value, GetLastError() and WSAGetLastError()
 *    exactly as the plain call does, for failing calls and for calls that
 *    succeed without touching the last error (a sentinel value must survive).
 *    One JSON line per case: {"case", "plain": [ret, err, wsa], "wrapped": [...]}.
 * 2. Matching: PQCS packets with OVERLAPPEDs, dequeued by GQCS and GQCS-Ex, and
 *    a real WSASend/WSARecv pair on a loopback connection; the test then finds
 *    in the trace that every GqcsReturn carries its post's ioId and session,
 *    and that IoDetail holds the OVERLAPPED's address (printed here).
 *
 * Usage: wrappers.exe RESULT_FILE */
#define IOCPSCOPE_IMPLEMENTATION
#include "iocpscope.h"

#include <stdio.h>

#define SENTINEL 0x1234567u

static FILE *out;
static int failures;

typedef struct outcome {
  long long ret;
  unsigned long err, wsa;
} outcome;

static void report(const char *name, outcome a, outcome b) {
  int same = a.ret == b.ret && a.err == b.err && a.wsa == b.wsa;
  if (!same) failures++;
  fprintf(out, "{\"case\":\"%s\",\"plain\":[%lld,%lu,%lu],\"wrapped\":[%lld,%lu,%lu],\"same\":%s}\n",
          name, a.ret, a.err, a.wsa, b.ret, b.err, b.wsa, same ? "true" : "false");
}

static void sentinel(void) {
  WSASetLastError((int)SENTINEL);
  SetLastError(SENTINEL);
}

static outcome done(long long ret) {
  outcome o;
  o.ret = ret;
  o.err = GetLastError();
  o.wsa = (unsigned long)WSAGetLastError();
  return o;
}

/* a connected loopback pair */
static int pair(SOCKET *a, SOCKET *b) {
  SOCKET l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  struct sockaddr_in sa;
  int len = sizeof sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (l == INVALID_SOCKET || bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l, 1) != 0)
    return 0;
  getsockname(l, (struct sockaddr *)&sa, &len);
  *a = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (connect(*a, (struct sockaddr *)&sa, sizeof sa) != 0) return 0;
  *b = accept(l, NULL, NULL);
  closesocket(l);
  return *b != INVALID_SOCKET;
}

int main(int argc, char **argv) {
  HANDLE port;
  DWORD bytes = 0, flags = 0;
  ULONG_PTR key = 0;
  LPOVERLAPPED got = NULL;
  OVERLAPPED_ENTRY entries[8];
  ULONG removed = 0;
  OVERLAPPED ovs[4], rov, sov, nov;
  WSABUF buf;
  char data[16] = "hello, iocp", rbuf[16];
  SOCKET a = INVALID_SOCKET, b = INVALID_SOCKET, closed;
  WSADATA wd;
  outcome p, w;
  int i;

  if (argc < 2 || !(out = fopen(argv[1], "w"))) return 2;
  if (WSAStartup(MAKEWORD(2, 2), &wd) != 0) return 2;
  if (IOCPSCOPE_INIT(NULL) != 0) return 3;
  IOCPSCOPE_THREAD(IOCPSCOPE_ROLE_WORKER, "wrappers");
  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);

#define CASE(name, plain_expr, wrapped_expr) \
  sentinel();                                \
  p = done((long long)(plain_expr));         \
  sentinel();                                \
  w = done((long long)(wrapped_expr));       \
  report(name, p, w)

  CASE("GQCS timeout", GetQueuedCompletionStatus(port, &bytes, &key, &got, 0),
       IOCPSCOPE_GetQueuedCompletionStatus(port, &bytes, &key, &got, 0));
  CASE("GQCS invalid handle", GetQueuedCompletionStatus(NULL, &bytes, &key, &got, 0),
       IOCPSCOPE_GetQueuedCompletionStatus(NULL, &bytes, &key, &got, 0));
  CASE("GQCS-Ex timeout", GetQueuedCompletionStatusEx(port, entries, 8, &removed, 0, FALSE),
       IOCPSCOPE_GetQueuedCompletionStatusEx(port, entries, 8, &removed, 0, FALSE));
  CASE("PQCS invalid handle", PostQueuedCompletionStatus(NULL, 1, 2, NULL),
       IOCPSCOPE_PostQueuedCompletionStatus(NULL, 1, 2, NULL));
  CASE("PQCS ok", PostQueuedCompletionStatus(port, 1, 2, NULL),
       IOCPSCOPE_PostQueuedCompletionStatus(port, 1, 2, NULL));
  CASE("GQCS ok", GetQueuedCompletionStatus(port, &bytes, &key, &got, 0),
       IOCPSCOPE_GetQueuedCompletionStatus(port, &bytes, &key, &got, 0));
  buf.buf = rbuf;
  buf.len = sizeof rbuf;
  memset(&nov, 0, sizeof nov);
  CASE("WSARecv not a socket", WSARecv(INVALID_SOCKET, &buf, 1, NULL, &flags, &nov, NULL),
       IOCPSCOPE_WSARecv(INVALID_SOCKET, &buf, 1, NULL, &flags, &nov, NULL));
  closed = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  closesocket(closed);
  CASE("WSASend closed socket", WSASend(closed, &buf, 1, NULL, 0, &nov, NULL),
       IOCPSCOPE_WSASend(closed, &buf, 1, NULL, 0, &nov, NULL));
  CASE("closesocket not a socket", closesocket(INVALID_SOCKET),
       IOCPSCOPE_closesocket(INVALID_SOCKET));
  CASE("CancelIoEx invalid handle", CancelIoEx(NULL, NULL), IOCPSCOPE_CancelIoEx(NULL, NULL));
  CASE("CancelIoEx nothing to cancel", CancelIoEx((HANDLE)port, &nov),
       IOCPSCOPE_CancelIoEx((HANDLE)port, &nov));
  CASE("CreateIoCompletionPort invalid handle", CreateIoCompletionPort(NULL, port, 1, 0),
       IOCPSCOPE_CreateIoCompletionPort(NULL, port, 1, 0));
  CASE("SetFileCompletionNotificationModes invalid handle",
       SetFileCompletionNotificationModes(NULL, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS),
       IOCPSCOPE_SetFileCompletionNotificationModes(NULL, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS));

  /* Matching: three PQCS with OVERLAPPEDs (GQCS, then GQCS-Ex for two). */
  for (i = 0; i < 3; i++) {
    memset(&ovs[i], 0, sizeof ovs[i]);
    IOCPSCOPE_PostQueuedCompletionStatus(port, (DWORD)(100 + i), (ULONG_PTR)(7 + i), &ovs[i]);
  }
  IOCPSCOPE_GetQueuedCompletionStatus(port, &bytes, &key, &got, 1000);
  removed = 0;
  IOCPSCOPE_GetQueuedCompletionStatusEx(port, entries, 8, &removed, 1000, FALSE);
  fprintf(out, "{\"pqcsDequeued\":%lu}\n", 1 + removed);

  /* Matching: a real recv and send on a session's socket. */
  if (!pair(&a, &b)) return 5;
  IOCPSCOPE_SESSION_CREATED(0x500000001ULL, "127.0.0.1:1", a);
  IOCPSCOPE_CreateIoCompletionPort((HANDLE)a, port, 0x500000001ULL, 0);
  memset(&rov, 0, sizeof rov);
  memset(&sov, 0, sizeof sov);
  buf.buf = rbuf;
  buf.len = sizeof rbuf;
  flags = 0;
  IOCPSCOPE_IOCOUNT(0x500000001ULL, 1, 1, IOCPSCOPE_CAUSE_RECV_POST, &rov);
  sentinel();
  i = IOCPSCOPE_WSARecv(a, &buf, 1, NULL, &flags, &rov, NULL);
  p = done(i);
  fprintf(out, "{\"recvPosted\":[%lld,%lu,%lu]}\n", p.ret, p.err, p.wsa);
  send(b, data, 12, 0);
  IOCPSCOPE_GetQueuedCompletionStatus(port, &bytes, &key, &got, 2000);
  IOCPSCOPE_IOCOUNT(0x500000001ULL, -1, 0, IOCPSCOPE_CAUSE_COMPLETION, &rov);
  fprintf(out, "{\"recvBytes\":%lu,\"recvOv\":\"%llu\",\"gotRecv\":%s}\n", bytes,
          (unsigned long long)(uintptr_t)&rov, got == &rov ? "true" : "false");
  buf.buf = data;
  buf.len = 12;
  IOCPSCOPE_IOCOUNT(0x500000001ULL, 1, 1, IOCPSCOPE_CAUSE_SEND_POST, &sov);
  IOCPSCOPE_WSASend(a, &buf, 1, NULL, 0, &sov, NULL);
  IOCPSCOPE_GetQueuedCompletionStatus(port, &bytes, &key, &got, 2000);
  IOCPSCOPE_IOCOUNT(0x500000001ULL, -1, 0, IOCPSCOPE_CAUSE_COMPLETION, &sov);
  fprintf(out, "{\"sendBytes\":%lu,\"sendOv\":\"%llu\",\"gotSend\":%s}\n", bytes,
          (unsigned long long)(uintptr_t)&sov, got == &sov ? "true" : "false");
  IOCPSCOPE_closesocket(a);
  closesocket(b);
  IOCPSCOPE_SESSION_RELEASED(0x500000001ULL, 0);

  fprintf(out, "{\"failures\":%d}\n", failures);
  IOCPSCOPE_SHUTDOWN();
  fclose(out);
  return 0;
}
