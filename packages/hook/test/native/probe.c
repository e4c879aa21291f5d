/* probe.exe — every interposed call, in cases whose outcome does not depend on
 * timing, each written as one JSON line: return value, GetLastError,
 * WSAGetLastError, what GQCS handed back, the OVERLAPPED's Internal and
 * InternalHigh. The test runs it plain and through `iocpscope run`: the two
 * outputs must be identical (transparency), and the hooked run's trace must
 * show each case (skip-on-success immediate successes without a packet, a
 * module loaded later, a function got with GetProcAddress, AcceptEx through
 * both mswsock's export and WSAIoctl's pointer, ConnectEx, DisconnectEx, UDP, accept and
 * WSAAccept that return no socket).
 *
 * Usage: probe.exe RESULTS.jsonl LATE.dll
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
#include <mswsock.h>
#include <ws2tcpip.h>
#include <stdio.h>
#include <string.h>

static FILE *out;
static HANDLE port;

#define LINE(name, fmt, ...) fprintf(out, "{\"case\":\"%s\"," fmt "}\n", name, __VA_ARGS__)

/* What a GQCS call gave back, with the OVERLAPPED compared to the one expected. */
static void gqcs_case(const char *name, const OVERLAPPED *want, DWORD timeout) {
  DWORD bytes = 0xDEAD, err;
  ULONG_PTR key = 0xBEEF;
  OVERLAPPED *ov = (OVERLAPPED *)(uintptr_t)1;
  BOOL ok;
  SetLastError(0x4321);
  ok = GetQueuedCompletionStatus(port, &bytes, &key, &ov, timeout);
  err = GetLastError();
  LINE(name,
       "\"ok\":%d,\"err\":%lu,\"wsa\":%d,\"bytes\":%lu,\"key\":%llu,\"ov\":\"%s\",\"internal\":%ld,"
       "\"high\":%llu",
       ok, (unsigned long)err, WSAGetLastError(), (unsigned long)bytes, (unsigned long long)key,
       ov == NULL ? "null" : ov == want ? "same" : "other",
       ov && ov == want ? (long)(LONG)ov->Internal : -1L,
       ov && ov == want ? (unsigned long long)ov->InternalHigh : 0ULL);
}

static void call_case(const char *name, long ret, int is_error) {
  DWORD err = GetLastError();
  int wsa = WSAGetLastError();
  LINE(name, "\"ret\":%ld,\"err\":%lu,\"wsa\":%d,\"failed\":%d", ret, (unsigned long)err, wsa,
       is_error);
}

static SOCKET listener(struct sockaddr_in *a) {
  SOCKET l = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
  int len = (int)sizeof *a;
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(l, (struct sockaddr *)a, (int)sizeof *a);
  listen(l, 16);
  getsockname(l, (struct sockaddr *)a, &len);
  return l;
}

/* A connected pair: `srv` from accept(), associated with the port with key `key`. */
static void pair(SOCKET *cli, SOCKET *srv, ULONG_PTR key) {
  struct sockaddr_in a;
  SOCKET l = listener(&a);
  *cli = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  connect(*cli, (struct sockaddr *)&a, (int)sizeof a);
  *srv = accept(l, NULL, NULL);
  closesocket(l);
  CreateIoCompletionPort((HANDLE)*srv, port, key, 0);
}

int main(int argc, char **argv) {
  WSADATA wsa;
  OVERLAPPED ov1, ov2, ov3;
  WSABUF b;
  DWORD n, flags;
  char buf[64], data[16] = "hello, iocp";
  SOCKET cli, srv;
  int r;
  if (argc < 3 || !(out = fopen(argv[1], "w"))) return 2;
  WSAStartup(MAKEWORD(2, 2), &wsa);

  /* ---- the port ---- */
  SetLastError(0x1234);
  port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 2);
  call_case("CreateIoCompletionPort new", port != NULL, port == NULL);
  gqcs_case("GQCS empty, timeout 0", NULL, 0);
  SetLastError(0x1234);
  r = PostQueuedCompletionStatus(port, 5, 7, NULL);
  call_case("PQCS null overlapped", r, !r);
  gqcs_case("GQCS posted null overlapped", NULL, 0);
  memset(&ov1, 0, sizeof ov1);
  r = PostQueuedCompletionStatus(port, 9, 11, &ov1);
  call_case("PQCS with overlapped", r, !r);
  gqcs_case("GQCS posted overlapped", &ov1, 0);
  r = PostQueuedCompletionStatus(INVALID_HANDLE_VALUE, 1, 1, NULL);
  call_case("PQCS invalid handle", r, !r);
  {
    DWORD bytes;
    ULONG_PTR key;
    OVERLAPPED *ov;
    r = GetQueuedCompletionStatus(NULL, &bytes, &key, &ov, 0);
    call_case("GQCS invalid handle", r, !r);
  }
  {
    OVERLAPPED_ENTRY e[8];
    ULONG removed = 99, k;
    PostQueuedCompletionStatus(port, 1, 101, NULL);
    PostQueuedCompletionStatus(port, 2, 102, &ov2);
    PostQueuedCompletionStatus(port, 3, 103, NULL);
    SetLastError(0x1234);
    r = GetQueuedCompletionStatusEx(port, e, 8, &removed, 0, FALSE);
    call_case("GQCSEx three posted", r, !r);
    for (k = 0; k < removed && k < 8; k++)
      LINE("GQCSEx entry", "\"k\":%lu,\"bytes\":%lu,\"key\":%llu,\"ov\":\"%s\"", (unsigned long)k,
           (unsigned long)e[k].dwNumberOfBytesTransferred,
           (unsigned long long)e[k].lpCompletionKey,
           e[k].lpOverlapped == &ov2 ? "ov2" : e[k].lpOverlapped ? "other" : "null");
    SetLastError(0x1234);
    r = GetQueuedCompletionStatusEx(port, e, 8, &removed, 0, FALSE);
    call_case("GQCSEx empty", r, !r);
  }

  /* ---- sockets: recv, send, errors ---- */
  pair(&cli, &srv, 21);
  memset(&ov1, 0, sizeof ov1);
  b.buf = buf;
  b.len = sizeof buf;
  flags = 0;
  SetLastError(0x1234);
  r = WSARecv(srv, &b, 1, NULL, &flags, &ov1, NULL);
  call_case("WSARecv pending", r, r != 0);
  send(cli, data, 5, 0);
  gqcs_case("GQCS recv completion", &ov1, 5000);
  LINE("recv data", "\"same\":%d", memcmp(buf, data, 5) == 0);
  memset(&ov2, 0, sizeof ov2);
  b.buf = data;
  b.len = 7;
  n = 0;
  r = WSASend(srv, &b, 1, &n, 0, &ov2, NULL);
  call_case("WSASend", r == 0 || WSAGetLastError() == WSA_IO_PENDING, r != 0 && WSAGetLastError() != WSA_IO_PENDING);
  gqcs_case("GQCS send completion", &ov2, 5000);
  recv(cli, buf, 7, 0);
  r = WSARecv((SOCKET)0x7FFF0, &b, 1, NULL, &flags, &ov3, NULL);
  call_case("WSARecv not a socket", r, r != 0);
  r = WSASend(srv, &b, 1, &n, 0, NULL, NULL);
  call_case("WSASend synchronous", r, r != 0);
  recv(cli, buf, 7, 0);

  /* ---- CancelIoEx on a pending recv, then closesocket on one ---- */
  memset(&ov1, 0, sizeof ov1);
  b.buf = buf;
  b.len = sizeof buf;
  flags = 0;
  WSARecv(srv, &b, 1, NULL, &flags, &ov1, NULL);
  SetLastError(0x1234);
  r = CancelIoEx((HANDLE)srv, &ov1);
  call_case("CancelIoEx pending recv", r, !r);
  gqcs_case("GQCS cancelled recv", &ov1, 5000);
  r = CancelIoEx((HANDLE)srv, &ov1);
  call_case("CancelIoEx nothing to cancel", r, !r);
  memset(&ov1, 0, sizeof ov1);
  WSARecv(srv, &b, 1, NULL, &flags, &ov1, NULL);
  r = closesocket(srv);
  call_case("closesocket with a recv pending", r, r != 0);
  gqcs_case("GQCS recv of a closed socket", &ov1, 5000);
  r = closesocket(srv);
  call_case("closesocket twice", r, r != 0);
  closesocket(cli);

  /* ---- skip-on-success: an immediate success queues no packet ---- */
  pair(&cli, &srv, 31);
  SetLastError(0x1234);
  r = SetFileCompletionNotificationModes((HANDLE)srv, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                                                          FILE_SKIP_SET_EVENT_ON_HANDLE);
  call_case("SetFileCompletionNotificationModes skip", r, !r);
  r = SetFileCompletionNotificationModes(INVALID_HANDLE_VALUE, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS);
  call_case("SetFileCompletionNotificationModes invalid", r, !r);
  send(cli, data, 6, 0);
  Sleep(100); /* the bytes are there before the recv: it succeeds in the call */
  memset(&ov1, 0, sizeof ov1);
  b.buf = buf;
  b.len = sizeof buf;
  flags = 0;
  n = 0;
  r = WSARecv(srv, &b, 1, &n, &flags, &ov1, NULL);
  LINE("WSARecv skip-on-success", "\"ret\":%d,\"bytes\":%lu,\"internal\":%ld,\"high\":%llu", r,
       (unsigned long)n, (long)(LONG)ov1.Internal, (unsigned long long)ov1.InternalHigh);
  gqcs_case("GQCS after an immediate recv (no packet)", &ov1, 200);
  memset(&ov2, 0, sizeof ov2);
  b.buf = data;
  b.len = 4;
  r = WSASend(srv, &b, 1, &n, 0, &ov2, NULL);
  LINE("WSASend skip-on-success", "\"ret\":%d,\"bytes\":%lu", r, (unsigned long)n);
  gqcs_case("GQCS after an immediate send (no packet)", &ov2, 200);
  recv(cli, buf, 4, 0);
  memset(&ov3, 0, sizeof ov3);
  b.buf = buf;
  b.len = sizeof buf;
  r = WSARecv(srv, &b, 1, NULL, &flags, &ov3, NULL);
  call_case("WSARecv skip-on-success pending", r, r != 0);
  send(cli, data, 3, 0);
  gqcs_case("GQCS skip-on-success pending recv", &ov3, 5000);
  closesocket(srv);
  closesocket(cli);

  /* ---- a module loaded later, a function got by name ---- */
  {
    HMODULE late = LoadLibraryA(argv[2]);
    typedef int (*late_fn)(SOCKET, char *, unsigned, OVERLAPPED *);
    late_fn late_send = late ? (late_fn)(void (*)(void))GetProcAddress(late, "late_send") : NULL;
    typedef int(WSAAPI * recv_fn)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD, LPWSAOVERLAPPED,
                                  LPWSAOVERLAPPED_COMPLETION_ROUTINE);
    recv_fn by_name =
        (recv_fn)(void (*)(void))GetProcAddress(GetModuleHandleA("ws2_32.dll"), "WSARecv");
    LINE("LoadLibrary late.dll", "\"loaded\":%d", late_send != NULL);
    pair(&cli, &srv, 41);
    memset(&ov1, 0, sizeof ov1);
    r = late_send ? late_send(srv, data, 8, &ov1) : -1;
    call_case("late.dll WSASend", r == 0 || WSAGetLastError() == WSA_IO_PENDING, r != 0 && WSAGetLastError() != WSA_IO_PENDING);
    gqcs_case("GQCS late.dll send", &ov1, 5000);
    recv(cli, buf, 8, 0);
    memset(&ov2, 0, sizeof ov2);
    b.buf = buf;
    b.len = sizeof buf;
    flags = 0;
    r = by_name(srv, &b, 1, NULL, &flags, &ov2, NULL);
    call_case("WSARecv by GetProcAddress", r, r != 0);
    send(cli, data, 2, 0);
    gqcs_case("GQCS recv by GetProcAddress", &ov2, 5000);
    closesocket(srv);
    closesocket(cli);
  }

  /* ---- AcceptEx (export and pointer), ConnectEx, DisconnectEx ---- */
  {
    struct sockaddr_in a, any;
    SOCKET l = listener(&a), as1, as2, c1, c2, cs;
    LPFN_ACCEPTEX acceptex = NULL;
    LPFN_CONNECTEX connectex = NULL;
    LPFN_DISCONNECTEX disconnectex = NULL;
    GUID g1 = WSAID_ACCEPTEX, g2 = WSAID_CONNECTEX, g3 = WSAID_DISCONNECTEX;
    char addrs[2][2 * (sizeof(struct sockaddr_in6) + 16)];
    DWORD got = 0;
    int r1, r2, r3;
    r1 = WSAIoctl(l, SIO_GET_EXTENSION_FUNCTION_POINTER, &g1, sizeof g1, &acceptex, sizeof acceptex,
                  &got, NULL, NULL);
    r2 = WSAIoctl(l, SIO_GET_EXTENSION_FUNCTION_POINTER, &g2, sizeof g2, &connectex,
                  sizeof connectex, &got, NULL, NULL);
    r3 = WSAIoctl(l, SIO_GET_EXTENSION_FUNCTION_POINTER, &g3, sizeof g3, &disconnectex,
                  sizeof disconnectex, &got, NULL, NULL);
    LINE("WSAIoctl extension pointers", "\"r\":[%d,%d,%d],\"got\":%lu", r1, r2, r3,
         (unsigned long)got);
    CreateIoCompletionPort((HANDLE)l, port, 51, 0);
    as1 = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    as2 = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    memset(&ov1, 0, sizeof ov1);
    memset(&ov2, 0, sizeof ov2);
    r = AcceptEx(l, as1, addrs[0], 0, sizeof(struct sockaddr_in6) + 16,
                 sizeof(struct sockaddr_in6) + 16, &got, &ov1);
    call_case("AcceptEx export", r, !r);
    c1 = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    connect(c1, (struct sockaddr *)&a, (int)sizeof a);
    gqcs_case("GQCS AcceptEx export", &ov1, 5000);
    r = acceptex(l, as2, addrs[1], 0, sizeof(struct sockaddr_in6) + 16,
                 sizeof(struct sockaddr_in6) + 16, &got, &ov2);
    call_case("AcceptEx pointer", r, !r);
    c2 = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    connect(c2, (struct sockaddr *)&a, (int)sizeof a);
    gqcs_case("GQCS AcceptEx pointer", &ov2, 5000);
    /* ConnectEx: a bound, associated socket connects to the listener */
    cs = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    memset(&any, 0, sizeof any);
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(cs, (struct sockaddr *)&any, (int)sizeof any);
    CreateIoCompletionPort((HANDLE)cs, port, 61, 0);
    memset(&ov3, 0, sizeof ov3);
    r = connectex(cs, (struct sockaddr *)&a, (int)sizeof a, NULL, 0, NULL, &ov3);
    call_case("ConnectEx", r, !r);
    gqcs_case("GQCS ConnectEx", &ov3, 5000);
    setsockopt(cs, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0);
    {
      SOCKET peer = accept(l, NULL, NULL);
      memset(&ov3, 0, sizeof ov3);
      r = disconnectex(cs, &ov3, 0, 0);
      call_case("DisconnectEx", r, !r);
      gqcs_case("GQCS DisconnectEx", &ov3, 5000);
      closesocket(peer);
    }
    closesocket(cs);
    closesocket(c1);
    closesocket(c2);
    closesocket(as1);
    closesocket(as2);
    closesocket(l);
  }

  /* ---- accept and WSAAccept that return no socket: on a socket that is not listening they
   * fail (the trace holds a Marker for each); on a non-blocking listener with nothing queued
   * accept would block (no failure: none) ---- */
  {
    struct sockaddr_in a;
    SOCKET idle = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    SOCKET l = listener(&a);
    u_long nonblocking = 1;
    SOCKET s;
    SetLastError(0x1234);
    s = accept(idle, NULL, NULL);
    call_case("accept not listening", s != INVALID_SOCKET, s == INVALID_SOCKET);
    SetLastError(0x1234);
    s = WSAAccept(idle, NULL, NULL, NULL, 0);
    call_case("WSAAccept not listening", s != INVALID_SOCKET, s == INVALID_SOCKET);
    ioctlsocket(l, FIONBIO, &nonblocking);
    SetLastError(0x1234);
    s = accept(l, NULL, NULL);
    call_case("accept would block", s != INVALID_SOCKET, s == INVALID_SOCKET);
    closesocket(idle);
    closesocket(l);
  }

  /* ---- UDP: WSARecvFrom, WSASendTo ---- */
  {
    SOCKET u1 = WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_OVERLAPPED);
    SOCKET u2 = WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_OVERLAPPED);
    struct sockaddr_in a1, from;
    int len = (int)sizeof a1, fromlen = (int)sizeof from;
    memset(&a1, 0, sizeof a1);
    a1.sin_family = AF_INET;
    a1.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(u1, (struct sockaddr *)&a1, (int)sizeof a1);
    getsockname(u1, (struct sockaddr *)&a1, &len);
    bind(u2, (struct sockaddr *)&a1 /* any port */, 0);
    CreateIoCompletionPort((HANDLE)u1, port, 71, 0);
    CreateIoCompletionPort((HANDLE)u2, port, 72, 0);
    memset(&ov1, 0, sizeof ov1);
    b.buf = buf;
    b.len = sizeof buf;
    flags = 0;
    r = WSARecvFrom(u1, &b, 1, NULL, &flags, (struct sockaddr *)&from, &fromlen, &ov1, NULL);
    call_case("WSARecvFrom pending", r, r != 0);
    memset(&ov2, 0, sizeof ov2);
    {
      WSABUF sb;
      sb.buf = data;
      sb.len = 9;
      r = WSASendTo(u2, &sb, 1, &n, 0, (struct sockaddr *)&a1, (int)sizeof a1, &ov2, NULL);
      call_case("WSASendTo", r == 0 || WSAGetLastError() == WSA_IO_PENDING, r != 0 && WSAGetLastError() != WSA_IO_PENDING);
    }
    {
      int k, got_recv = 0, got_send = 0;
      for (k = 0; k < 2; k++) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *ov = NULL;
        if (GetQueuedCompletionStatus(port, &bytes, &key, &ov, 5000)) {
          if (ov == &ov1) got_recv = (int)bytes;
          if (ov == &ov2) got_send = (int)bytes;
        }
      }
      LINE("UDP completions", "\"recv\":%d,\"send\":%d", got_recv, got_send);
    }
    closesocket(u1);
    closesocket(u2);
  }

  /* ---- the last error survives a successful call that does not set it ---- */
  SetLastError(0x2468);
  r = PostQueuedCompletionStatus(port, 0, 99, NULL);
  call_case("last error after PQCS", r, !r);
  SetLastError(0x1357);
  gqcs_case("last error after GQCS", NULL, 0);

  fclose(out);
  CloseHandle(port);
  WSACleanup();
  return 0;
}
