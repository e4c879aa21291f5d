/* iat.c — import address table patching (see iat.h). Written for this project
 * from the PE/COFF specification (Microsoft, "PE Format": the import and
 * delay-load import directories); no code from other hooking libraries. */
#include "iat.h"

#include <stdint.h>

/* A pointer-sized slot written atomically, with the page made writable for the write. */
static int hk_write_slot(void **slot, void *value) {
  DWORD old = 0, ignored = 0;
  if (!VirtualProtect(slot, sizeof(void *), PAGE_READWRITE, &old)) return 0;
  InterlockedExchangePointer((PVOID volatile *)slot, value);
  VirtualProtect(slot, sizeof(void *), old, &ignored);
  return 1;
}

static int hk_patch_thunks(void **iat, const hk_pair *pairs, unsigned n, int restore) {
  int changed = 0;
  for (; *iat; iat++) {
    void *v = *iat;
    unsigned k;
    for (k = 0; k < n; k++) {
      void *from = restore ? pairs[k].hook : pairs[k].real;
      void *to = restore ? pairs[k].real : pairs[k].hook;
      if (from && v == from) {
        if (hk_write_slot(iat, to)) changed++;
        break;
      }
    }
  }
  return changed;
}

static const IMAGE_DATA_DIRECTORY *hk_directory(const BYTE *base, unsigned which) {
  const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)base;
  const IMAGE_NT_HEADERS *nt;
  if (dos->e_magic != IMAGE_DOS_SIGNATURE) return NULL;
  nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
  if (nt->Signature != IMAGE_NT_SIGNATURE) return NULL;
  if (nt->OptionalHeader.Magic != IMAGE_NT_OPTIONAL_HDR_MAGIC) return NULL;
  if (nt->OptionalHeader.NumberOfRvaAndSizes <= which) return NULL;
  return &nt->OptionalHeader.DataDirectory[which];
}

int hk_iat_patch(HMODULE m, const hk_pair *pairs, unsigned n, int restore) {
  const BYTE *base = (const BYTE *)m;
  const IMAGE_DATA_DIRECTORY *dir;
  int changed = 0;
  if (!m) return -1;
  dir = hk_directory(base, IMAGE_DIRECTORY_ENTRY_IMPORT);
  if (!hk_directory(base, 0)) return -1;
  if (dir && dir->VirtualAddress && dir->Size) {
    const IMAGE_IMPORT_DESCRIPTOR *d =
        (const IMAGE_IMPORT_DESCRIPTOR *)(base + dir->VirtualAddress);
    for (; d->Name != 0 || d->FirstThunk != 0; d++) {
      if (!d->FirstThunk) continue;
      changed += hk_patch_thunks((void **)(base + d->FirstThunk), pairs, n, restore);
    }
  }
  dir = hk_directory(base, IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT);
  if (dir && dir->VirtualAddress && dir->Size) {
    /* IMAGE_DELAYLOAD_DESCRIPTOR: Attributes, DllNameRVA, ModuleHandleRVA,
     * ImportAddressTableRVA, ImportNameTableRVA, BoundImportAddressTableRVA,
     * UnloadInformationTableRVA, TimeDateStamp (eight DWORDs). */
    const DWORD *d = (const DWORD *)(base + dir->VirtualAddress);
    for (; d[1] != 0; d += 8) {
      if (!d[3]) continue;
      changed += hk_patch_thunks((void **)(base + d[3]), pairs, n, restore);
    }
  }
  return changed;
}

typedef BOOL(WINAPI *hk_enum_fn)(HANDLE, HMODULE *, DWORD, LPDWORD);

unsigned hk_iat_modules(HMODULE *out, unsigned cap) {
  static hk_enum_fn enum_modules;
  DWORD need = 0;
  if (!enum_modules) {
    HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
    FARPROC p = k32 ? GetProcAddress(k32, "K32EnumProcessModules") : NULL;
    enum_modules = (hk_enum_fn)(void (*)(void))p;
    if (!enum_modules) return 0;
  }
  if (!enum_modules(GetCurrentProcess(), out, (DWORD)(cap * sizeof(HMODULE)), &need)) return 0;
  need /= (DWORD)sizeof(HMODULE);
  return need < cap ? (unsigned)need : cap;
}

static int hk_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

int hk_iat_is_system(HMODULE m) {
  WCHAR path[MAX_PATH], win[MAX_PATH];
  DWORD n = GetModuleFileNameW(m, path, MAX_PATH), w = GetWindowsDirectoryW(win, MAX_PATH), i;
  if (n == 0 || n >= MAX_PATH || w == 0 || w >= MAX_PATH) return 0;
  if (n <= w) return 0;
  for (i = 0; i < w; i++)
    if (hk_lower(path[i] == '/' ? '\\' : path[i]) != hk_lower(win[i] == '/' ? '\\' : win[i]))
      return 0;
  return path[w] == '\\' || path[w] == '/';
}

HMODULE hk_iat_module_of(const void *addr) {
  HMODULE m = NULL;
  if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                              GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                          (LPCWSTR)addr, &m))
    return NULL;
  return m;
}
