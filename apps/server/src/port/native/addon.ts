// Finding and loading the Win32 addon (apps/server/native, built by node-gyp on
// Windows or by native/build-mingw.sh here), and the shape of what it exports.
//
// Where the addon is: $IOCPSCOPE_NATIVE_ADDON if set, else
// apps/server/native/build/Release/iocpscope.node resolved from this source
// file. A thread started from an esbuild bundle cannot resolve files relative
// to itself (import.meta.url is the bundle's), so the host resolves the path
// once and passes it to every thread in the port descriptor.
//
// The addon keeps one process-wide port table, so every thread that loads the
// same file sees the same ports. Loading is lazy: importing this module on
// Linux costs nothing and never fails.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { assetPath } from '../../assets.ts';
import { PortError } from '../types.ts';

export const ADDON_ENV = 'IOCPSCOPE_NATIVE_ADDON';

/** Words of the per-thread scratch Uint32Array the addon writes results into. */
export const S_LAST_ERROR = 0;
export const S_KEY_LO = 1;
export const S_KEY_HI = 2;
export const ENTRY_BASE = 8;
export const ENTRY_WORDS = 8;
/** Entry words: bytes, keyLo, keyHi, overlapped, error, op, ioId. */
export const E_BYTES = 0;
export const E_KEY_LO = 1;
export const E_KEY_HI = 2;
export const E_OVERLAPPED = 3;
export const E_ERROR = 4;
export const E_OP = 5;
export const E_IO_ID = 6;
/** Most entries one GQCS-Ex call returns (the addon's stack array). */
export const MAX_EX_ENTRIES = 256;

export interface AddonAccept {
  socket: number;
  peerAddress: string;
  peerPort: number;
}

/** What iocp.c exports (see the comment above each function there). */
export interface NativeAddon {
  readonly abiVersion: number;
  createPort(
    concurrency: number,
    arena: Uint8Array,
    maxSockets: number,
    opCount: number,
    /** 1: TCP_NODELAY on accepted sockets. Older builds ignore it. */
    flags?: number,
  ): [portId: number, concurrency: number];
  closePort(portId: number): void;
  drainPort(portId: number): boolean;
  gqcs(portId: number, scratch: Uint32Array, timeoutMs: number): number;
  gqcsEx(portId: number, scratch: Uint32Array, max: number, timeoutMs: number): number;
  pqcs(
    portId: number,
    bytes: number,
    keyLo: number,
    keyHi: number,
    overlapped: number,
    ioId: number,
  ): number;
  wsaRecv(
    portId: number,
    socket: number,
    overlapped: number,
    off0: number,
    len0: number,
    off1: number,
    len1: number,
    ioId: number,
    scratch: Uint32Array,
  ): number;
  wsaSend(
    portId: number,
    socket: number,
    overlapped: number,
    off0: number,
    len0: number,
    off1: number,
    len1: number,
    ioId: number,
    scratch: Uint32Array,
  ): number;
  closesocket(portId: number, socket: number): number;
  associate(portId: number, socket: number, keyLo: number, keyHi: number): number;
  /** [socket, boundPort], or a negative WSA error. */
  listen(
    portId: number,
    address: string,
    port: number,
    backlog: number,
  ): [socket: number, port: number] | number;
  accept(
    portId: number,
    listenSocket: number,
    timeoutMs: number,
    scratch: Uint32Array,
  ): AddonAccept | null;
  stats(portId: number): { opsInUse: number; entering: number; closed: number };
}

/** The ABI this JS side speaks; iocp.c exports the same number. */
export const ADDON_ABI = 1;

/** The addon's path: its build output next to the sources, or native/ in the installed package. */
export function defaultAddonPath(): string | null {
  return assetPath('apps/server/native/build/Release/iocpscope.node', 'native/iocpscope.node');
}

/** Where the addon should be: the environment override, else next to the sources. */
export function addonPath(): string | null {
  const env = process.env[ADDON_ENV];
  if (env !== undefined && env !== '') return env;
  return defaultAddonPath();
}

/** True when this process can use the native backend: Windows and a built addon. */
export function nativeAddonPresent(): boolean {
  if (process.platform !== 'win32') return false;
  const p = addonPath();
  return p !== null && existsSync(p);
}

const nodeRequire = createRequire(import.meta.url);
const loaded = new Map<string, NativeAddon>();

/** Load (once per thread) the addon at `path`; ERR_PORT_BACKEND when it cannot be used. */
export function loadAddon(path: string | null): NativeAddon {
  if (process.platform !== 'win32') {
    throw new PortError(
      'ERR_PORT_BACKEND',
      `the native backend needs Windows (this is ${process.platform})`,
    );
  }
  if (path === null || path === '') {
    throw new PortError('ERR_PORT_BACKEND', `no addon path: set ${ADDON_ENV}`);
  }
  const hit = loaded.get(path);
  if (hit) return hit;
  if (!existsSync(path)) {
    throw new PortError(
      'ERR_PORT_BACKEND',
      `the native addon is not built (${path}); build it with node-gyp in apps/server/native`,
    );
  }
  let addon: NativeAddon;
  try {
    addon = nodeRequire(path) as NativeAddon;
  } catch (e) {
    throw new PortError(
      'ERR_PORT_BACKEND',
      `cannot load the native addon ${path}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (addon.abiVersion !== ADDON_ABI) {
    throw new PortError(
      'ERR_PORT_BACKEND',
      `native addon ${path} speaks ABI ${String(addon.abiVersion)}, expected ${ADDON_ABI}: rebuild it`,
    );
  }
  loaded.set(path, addon);
  return addon;
}
