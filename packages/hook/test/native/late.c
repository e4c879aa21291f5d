/* late.dll — loaded by probe.exe with LoadLibrary after the hook is in: its own
 * imports of WSASend must be patched too (the LoadLibrary hook). */
#include <winsock2.h>
#include <windows.h>

__declspec(dllexport) int late_send(SOCKET s, char *buf, unsigned len, OVERLAPPED *ov) {
  WSABUF b;
  DWORD sent = 0;
  b.buf = buf;
  b.len = len;
  return WSASend(s, &b, 1, &sent, 0, ov, NULL);
}
