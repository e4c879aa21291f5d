/* inject.c — iocpscope-inject.exe: puts iocpscope-hook.dll into a server process.
 * `iocpscope run` and `iocpscope attach` run it (natively on Windows, under Wine
 * elsewhere); it can be run by hand too:
 *
 *   iocpscope-inject run    --dll PATH [CONFIG] -- server.exe [args]
 *       starts the server suspended, queues LoadLibraryW(dll) as an APC on its main
 *       thread (it runs in the loader's initialisation, after the server's own DLLs
 *       are loaded and before its entry point), resumes it and waits: the exit code
 *       is the server's.
 *   iocpscope-inject attach --dll PATH (--pid N | --exe NAME) [CONFIG]
 *                           [--seconds N] [--stop-file PATH] [--stay]
 *       loads the DLL into a running process (a thread of its own, LoadLibraryW),
 *       then waits until the process exits, N seconds pass, the stop file appears
 *       or Ctrl-C; then detaches (unless --stay): the DLL's iocpscope_hook_detach
 *       restores the imports and ends the trace, and the process runs on.
 *   iocpscope-inject detach --dll PATH (--pid N | --exe NAME)
 *   iocpscope-inject pid    --exe NAME          prints the process id
 *
 * CONFIG: --output FILE (.iocptrace), --connect HOST:PORT, --token T, --app NAME,
 * --name TEXT, --quiet. It travels in a named mapping, Local\iocpscope-hook-<pid>,
 * that the DLL reads when it loads (so a running process needs no environment).
 * Exit codes: the server's (run); 0 done, 1 failed, 2 bad usage (attach, detach, pid).
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <tlhelp32.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

#define HK_CONFIG_MAGIC 0x4B4F4F48u
typedef struct hk_shared_config { /* as in hook.c */
  uint32_t magic, version, flags, reserved;
  char output[1024];
  char connect[256];
  char token[260];
  char app[64];
  char name[260];
} hk_shared_config;

static volatile LONG g_interrupted;

static BOOL WINAPI on_ctrl(DWORD type) {
  (void)type;
  InterlockedExchange(&g_interrupted, 1);
  return TRUE; /* the server (same console) gets it too and decides for itself */
}

static void say(const char *fmt, ...) {
  va_list ap;
  fputs("[iocpscope-inject] ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
}

static int usage(const char *why) {
  say("%s", why);
  fputs("usage: iocpscope-inject run --dll PATH [--output F] [--connect H:P] [--token T] [--app A]\n"
        "                            [--name N] [--quiet] -- server.exe [args]\n"
        "       iocpscope-inject attach --dll PATH (--pid N | --exe NAME) [config]\n"
        "                            [--seconds N] [--stop-file PATH] [--stay]\n"
        "       iocpscope-inject detach --dll PATH (--pid N | --exe NAME)\n"
        "       iocpscope-inject pid --exe NAME\n",
        stderr);
  return 2;
}

static void utf8(char *out, size_t cap, const wchar_t *w) {
  if (!w || !WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)cap, NULL, NULL)) out[0] = 0;
}

/* One argument quoted for CommandLineToArgvW / the CRT's parser. */
static size_t quote_arg(wchar_t *out, size_t at, size_t cap, const wchar_t *a) {
  int needs = a[0] == 0 || wcspbrk(a, L" \t\n\v\"") != NULL;
  size_t i, slashes;
  if (!needs) {
    for (i = 0; a[i] && at + 1 < cap; i++) out[at++] = a[i];
    return at;
  }
  if (at + 1 < cap) out[at++] = L'"';
  for (i = 0;; i++) {
    slashes = 0;
    while (a[i] == L'\\') {
      i++;
      slashes++;
    }
    if (a[i] == 0) {
      while (slashes-- > 0 && at + 2 < cap) {
        out[at++] = L'\\';
        out[at++] = L'\\';
      }
      break;
    }
    if (a[i] == L'"') {
      size_t k;
      for (k = 0; k < slashes * 2 + 1 && at + 1 < cap; k++) out[at++] = L'\\';
      if (at + 1 < cap) out[at++] = L'"';
    } else {
      while (slashes-- > 0 && at + 1 < cap) out[at++] = L'\\';
      if (at + 1 < cap) out[at++] = a[i];
    }
  }
  if (at + 1 < cap) out[at++] = L'"';
  return at;
}

typedef struct options {
  const wchar_t *dll, *output, *connect, *token, *app, *name, *exe, *stop_file;
  DWORD pid;
  int quiet, stay;
  unsigned seconds;
  int rest; /* index of the first argument after "--" */
} options;

static int parse(int argc, wchar_t **argv, int from, options *o) {
  int i;
  memset(o, 0, sizeof *o);
  for (i = from; i < argc; i++) {
    const wchar_t *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!wcscmp(a, L"--")) {
      o->rest = i + 1;
      return 1;
    }
    if (!wcscmp(a, L"--quiet")) {
      o->quiet = 1;
      continue;
    }
    if (!wcscmp(a, L"--stay")) {
      o->stay = 1;
      continue;
    }
    if (!v) return 0;
    if (!wcscmp(a, L"--dll")) o->dll = v;
    else if (!wcscmp(a, L"--output")) o->output = v;
    else if (!wcscmp(a, L"--connect")) o->connect = v;
    else if (!wcscmp(a, L"--token")) o->token = v;
    else if (!wcscmp(a, L"--app")) o->app = v;
    else if (!wcscmp(a, L"--name")) o->name = v;
    else if (!wcscmp(a, L"--exe")) o->exe = v;
    else if (!wcscmp(a, L"--stop-file")) o->stop_file = v;
    else if (!wcscmp(a, L"--pid")) o->pid = (DWORD)wcstoul(v, NULL, 10);
    else if (!wcscmp(a, L"--seconds")) o->seconds = (unsigned)wcstoul(v, NULL, 10);
    else return 0;
    i++;
  }
  return 1;
}

/* The configuration block for process `pid` (kept open by the caller until the DLL read it). */
static HANDLE publish_config(DWORD pid, const options *o, int attach) {
  wchar_t name[64];
  HANDLE map;
  hk_shared_config *c;
  swprintf(name, 64, L"Local\\iocpscope-hook-%lu", (unsigned long)pid);
  map = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0,
                           (DWORD)sizeof(hk_shared_config), name);
  if (!map) return NULL;
  c = (hk_shared_config *)MapViewOfFile(map, FILE_MAP_WRITE, 0, 0, sizeof *c);
  if (!c) {
    CloseHandle(map);
    return NULL;
  }
  memset(c, 0, sizeof *c);
  c->version = 1;
  c->flags = (o->quiet ? 1u : 0u) | (attach ? 2u : 0u); /* 2: into a running process */
  utf8(c->output, sizeof c->output, o->output);
  utf8(c->connect, sizeof c->connect, o->connect);
  utf8(c->token, sizeof c->token, o->token);
  utf8(c->app, sizeof c->app, o->app);
  utf8(c->name, sizeof c->name, o->name);
  MemoryBarrier();
  c->magic = HK_CONFIG_MAGIC;
  UnmapViewOfFile(c);
  return map;
}

/* The DLL's path as a string in the target's memory. */
static void *remote_path(HANDLE process, const wchar_t *dll) {
  SIZE_T n = (wcslen(dll) + 1) * sizeof(wchar_t), wrote = 0;
  void *mem = VirtualAllocEx(process, NULL, n, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  if (!mem) return NULL;
  if (!WriteProcessMemory(process, mem, dll, n, &wrote) || wrote != n) {
    VirtualFreeEx(process, mem, 0, MEM_RELEASE);
    return NULL;
  }
  return mem;
}

static const wchar_t *base_name(const wchar_t *p) {
  const wchar_t *b = p, *s;
  for (s = p; *s; s++)
    if (*s == L'\\' || *s == L'/') b = s + 1;
  return b;
}

typedef BOOL(WINAPI *enum_ex_fn)(HANDLE, HMODULE *, DWORD, LPDWORD, DWORD);
typedef DWORD(WINAPI *name_ex_fn)(HANDLE, HMODULE, LPWSTR, DWORD);

/* The DLL's base address in the target, or NULL. */
static HMODULE remote_module(HANDLE process, const wchar_t *dll) {
  HMODULE k32 = GetModuleHandleW(L"kernel32.dll"), mods[1024];
  enum_ex_fn enum_ex = (enum_ex_fn)(void (*)(void))GetProcAddress(k32, "K32EnumProcessModulesEx");
  name_ex_fn name_ex = (name_ex_fn)(void (*)(void))GetProcAddress(k32, "K32GetModuleFileNameExW");
  DWORD need = 0, i, n;
  const wchar_t *want = base_name(dll);
  if (!enum_ex || !name_ex) return NULL;
  if (!enum_ex(process, mods, (DWORD)sizeof mods, &need, 3 /* LIST_MODULES_ALL */)) return NULL;
  n = need / (DWORD)sizeof(HMODULE);
  if (n > 1024) n = 1024;
  for (i = 0; i < n; i++) {
    wchar_t path[MAX_PATH];
    if (name_ex(process, mods[i], path, MAX_PATH) && !_wcsicmp(base_name(path), want))
      return mods[i];
  }
  return NULL;
}

static DWORD find_pid(const wchar_t *exe, int *count) {
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  PROCESSENTRY32W pe;
  DWORD found = 0, self = GetCurrentProcessId();
  *count = 0;
  if (snap == INVALID_HANDLE_VALUE) return 0;
  pe.dwSize = sizeof pe;
  if (Process32FirstW(snap, &pe)) {
    do {
      if (pe.th32ProcessID != self && !_wcsicmp(pe.szExeFile, base_name(exe))) {
        found = pe.th32ProcessID;
        (*count)++;
      }
      pe.dwSize = sizeof pe;
    } while (Process32NextW(snap, &pe));
  }
  CloseHandle(snap);
  return found;
}

static DWORD target_pid(const options *o) {
  int n = 0;
  DWORD pid;
  if (o->pid) return o->pid;
  if (!o->exe) return 0;
  pid = find_pid(o->exe, &n);
  if (n > 1) say("%d processes are named %ls: pass --pid", n, o->exe);
  return n == 1 ? pid : 0;
}

static FARPROC load_library_w(void) {
  return GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "LoadLibraryW");
}

/* ---- run ---------------------------------------------------------------------------------------- */
static int cmd_run(int argc, wchar_t **argv, const options *o) {
  static wchar_t cmdline[32768];
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  HANDLE config;
  void *path;
  DWORD code = 1, waited = 0;
  size_t at = 0;
  int i;
  if (!o->rest || o->rest >= argc) return usage("run: nothing to run (put the server after --)");
  for (i = o->rest; i < argc; i++) {
    if (i > o->rest && at + 1 < sizeof cmdline / sizeof cmdline[0]) cmdline[at++] = L' ';
    at = quote_arg(cmdline, at, sizeof cmdline / sizeof cmdline[0], argv[i]);
  }
  cmdline[at] = 0;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  if (!CreateProcessW(NULL, cmdline, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, &pi)) {
    say("cannot start %ls (error %lu)", argv[o->rest], (unsigned long)GetLastError());
    return 1;
  }
  config = publish_config(pi.dwProcessId, o, 0);
  path = remote_path(pi.hProcess, o->dll);
  if (!config || !path ||
      !QueueUserAPC((PAPCFUNC)(void (*)(void))load_library_w(), pi.hThread, (ULONG_PTR)path)) {
    say("cannot inject into %ls (error %lu): stopping it", argv[o->rest],
        (unsigned long)GetLastError());
    TerminateProcess(pi.hProcess, 1);
    return 1;
  }
  SetConsoleCtrlHandler(on_ctrl, TRUE);
  ResumeThread(pi.hThread);
  /* the DLL is in before main: say so if it is not there within a few seconds */
  while (waited < 5000 && !remote_module(pi.hProcess, o->dll)) {
    if (WaitForSingleObject(pi.hProcess, 20) == WAIT_OBJECT_0) break;
    waited += 20;
  }
  if (waited >= 5000) say("the hook DLL did not load into %ls: it runs untraced", argv[o->rest]);
  WaitForSingleObject(pi.hProcess, INFINITE);
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(config);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return (int)code;
}

/* ---- attach / detach ---------------------------------------------------------------------------- */
static DWORD detach_rva(const wchar_t *dll) {
  HMODULE local = LoadLibraryExW(dll, NULL, DONT_RESOLVE_DLL_REFERENCES);
  FARPROC p;
  DWORD rva = 0;
  if (!local) return 0;
  p = GetProcAddress(local, "iocpscope_hook_detach");
  if (p) rva = (DWORD)((const BYTE *)(void *)p - (const BYTE *)local);
  FreeLibrary(local);
  return rva;
}

static int run_remote(HANDLE process, void *start, void *arg, DWORD timeout_ms, DWORD *exit_code) {
  HANDLE th = CreateRemoteThread(process, NULL, 0, (LPTHREAD_START_ROUTINE)start, arg, 0, NULL);
  if (!th) return 0;
  if (WaitForSingleObject(th, timeout_ms) != WAIT_OBJECT_0) {
    CloseHandle(th);
    return 0;
  }
  GetExitCodeThread(th, exit_code);
  CloseHandle(th);
  return 1;
}

static int detach(HANDLE process, DWORD pid, const wchar_t *dll) {
  HMODULE base = remote_module(process, dll);
  DWORD rva = detach_rva(dll), code = 0;
  if (!base) {
    say("process %lu has no %ls loaded", (unsigned long)pid, base_name(dll));
    return 1;
  }
  if (!rva) {
    say("%ls has no iocpscope_hook_detach", dll);
    return 1;
  }
  if (!run_remote(process, (BYTE *)base + rva, NULL, 30000, &code)) {
    say("detaching from process %lu failed (error %lu)", (unsigned long)pid,
        (unsigned long)GetLastError());
    return 1;
  }
  say("detached from process %lu: %s", (unsigned long)pid,
      code == 0   ? "the DLL is unloaded"
      : code == 1 ? "imports restored and the trace ended; the DLL stays mapped, inert"
                  : "it was detached already");
  return 0;
}

static int cmd_attach(const options *o) {
  DWORD pid = target_pid(o), code = 0, waited = 0;
  HANDLE process, config;
  void *path;
  if (!pid) return usage("attach: which process? (--pid N or --exe NAME)");
  process = OpenProcess(PROCESS_ALL_ACCESS, FALSE, pid);
  if (!process) {
    say("cannot open process %lu (error %lu)", (unsigned long)pid, (unsigned long)GetLastError());
    return 1;
  }
  if (remote_module(process, o->dll)) {
    say("process %lu already has %ls", (unsigned long)pid, base_name(o->dll));
    return 1;
  }
  config = publish_config(pid, o, 1);
  path = remote_path(process, o->dll);
  /* said before the remote load, which may wait up to 30 s: a hang is then placed */
  say("loading %ls into process %lu", base_name(o->dll), (unsigned long)pid);
  if (!config || !path || !run_remote(process, (void *)load_library_w(), path, 30000, &code) ||
      !remote_module(process, o->dll)) {
    say("cannot load %ls into process %lu (error %lu)", o->dll, (unsigned long)pid,
        (unsigned long)GetLastError());
    return 1;
  }
  say("attached to process %lu", (unsigned long)pid);
  printf("attached %lu\n", (unsigned long)pid);
  fflush(stdout);
  if (o->stay) return 0;
  SetConsoleCtrlHandler(on_ctrl, TRUE);
  for (;;) {
    if (WaitForSingleObject(process, 50) == WAIT_OBJECT_0) {
      say("process %lu exited", (unsigned long)pid);
      CloseHandle(config);
      return 0;
    }
    waited += 50;
    if (g_interrupted) break;
    if (o->seconds && waited >= o->seconds * 1000u) break;
    if (o->stop_file && GetFileAttributesW(o->stop_file) != INVALID_FILE_ATTRIBUTES) break;
  }
  CloseHandle(config);
  return detach(process, pid, o->dll);
}

static int cmd_detach(const options *o) {
  DWORD pid = target_pid(o);
  HANDLE process;
  if (!pid) return usage("detach: which process? (--pid N or --exe NAME)");
  process = OpenProcess(PROCESS_ALL_ACCESS, FALSE, pid);
  if (!process) {
    say("cannot open process %lu (error %lu)", (unsigned long)pid, (unsigned long)GetLastError());
    return 1;
  }
  return detach(process, pid, o->dll);
}

int wmain(int argc, wchar_t **argv) {
  options o;
  if (argc < 2) return usage("what to do?");
  if (!parse(argc, argv, 2, &o)) return usage("bad option");
  if (!wcscmp(argv[1], L"pid")) {
    DWORD pid = target_pid(&o);
    if (!pid) return 1;
    printf("%lu\n", (unsigned long)pid);
    return 0;
  }
  if (!o.dll) return usage("--dll PATH is required");
  if (GetFileAttributesW(o.dll) == INVALID_FILE_ATTRIBUTES) {
    say("%ls does not exist", o.dll);
    return 1;
  }
  if (!wcscmp(argv[1], L"run")) return cmd_run(argc, argv, &o);
  if (!wcscmp(argv[1], L"attach")) return cmd_attach(&o);
  if (!wcscmp(argv[1], L"detach")) return cmd_detach(&o);
  return usage("unknown command");
}
