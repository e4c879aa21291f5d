/* iat.h — import address table patching for the hook DLL.
 *
 * A module calls a DLL's function through its import address table (IAT): one
 * pointer per imported function, filled in by the loader. Patching replaces
 * the pointer, in that module only. The functions here match IAT entries by
 * the address they hold, never by name: whatever DLL name a module imported
 * from (kernel32, an api-ms-win-* set, a forwarder) and whether by name or by
 * ordinal, the loader resolved it to the one real address, and that is what
 * is compared. Delay-load tables are patched the same way once resolved (and a
 * GetProcAddress hook sees them resolved). Patching is idempotent: a slot that
 * already holds the hook is left alone, so a module can be patched again after
 * every LoadLibrary without keeping a list of what was done.
 *
 * No allocation, no CRT; safe to call under the loader lock.
 */
#ifndef IOCPSCOPE_HOOK_IAT_H
#define IOCPSCOPE_HOOK_IAT_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One function to interpose: the address the loader resolves it to, and its replacement. */
typedef struct hk_pair {
  void *real;
  void *hook;
} hk_pair;

/* Points every IAT slot of `m` that holds a pair's `real` at its `hook` (restore: the
 * other way round). Returns how many slots changed, -1 if `m` is not a PE image. */
int hk_iat_patch(HMODULE m, const hk_pair *pairs, unsigned n, int restore);

/* The modules loaded in this process (at most `cap`); returns how many. */
unsigned hk_iat_modules(HMODULE *out, unsigned cap);

/* 1 if `m` lives under the Windows directory (system32, SysWOW64, WinSxS: the OS's own
 * DLLs, whose internal use of completion ports is not the server's). */
int hk_iat_is_system(HMODULE m);

/* The module holding `addr` (no reference taken), or NULL. */
HMODULE hk_iat_module_of(const void *addr);

#ifdef __cplusplus
}
#endif

#endif
