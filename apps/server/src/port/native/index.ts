// The native backend's entry points (see port/index.ts): createHost on the main
// thread (CreateIoCompletionPort through the Win32 addon), attach on any other
// thread with the descriptor. Importing this module never loads the addon, so
// it is safe on Linux; createHost/attach throw ERR_PORT_BACKEND where the addon
// cannot be used.

import { isMainThread } from 'node:worker_threads';
import { addonPath, loadAddon } from './addon.ts';
import { NativeHost } from './host.ts';
import { NativeThreadPort } from './thread-port.ts';
import {
  NO_RECORDER,
  PortError,
  type CompletionPort,
  type PortDescriptor,
  type PortHost,
  type PortOptions,
  type ThreadRecorder,
} from '../types.ts';

export { nativeAddonPresent, ADDON_ENV } from './addon.ts';

const MAX_THREADS_LIMIT = 1024;
const MAX_SOCKETS_LIMIT = 0xffff;
const MAX_ARENA_BYTES = 2 ** 31 - 1;

export function createHost(options: PortOptions): PortHost {
  if (!isMainThread) {
    throw new PortError('ERR_PORT_THREAD', 'create the port on the main thread');
  }
  const maxThreads = intOption('maxThreads', options.maxThreads ?? 64, 1, MAX_THREADS_LIMIT);
  const maxSockets = intOption('maxSockets', options.maxSockets ?? 16384, 1, MAX_SOCKETS_LIMIT);
  const arenaBytes = intOption('arenaBytes', options.arenaBytes, 1, MAX_ARENA_BYTES);
  const concurrency = intOption('concurrency', options.concurrency, 0, MAX_THREADS_LIMIT);
  const workerCount = intOption('workerCount', options.workerCount ?? 0, 0, MAX_THREADS_LIMIT);
  const path = addonPath();
  loadAddon(path); // ERR_PORT_BACKEND before anything else if it cannot be used
  return new NativeHost({
    addonPath: path!,
    concurrency,
    arenaBytes,
    maxThreads,
    maxSockets,
    workerCount,
    recorder: options.recorder ?? NO_RECORDER,
    tcpNoDelay: options.tcpNoDelay === true,
  });
}

export function attach(descriptor: PortDescriptor, recorder: ThreadRecorder): CompletionPort {
  if (isMainThread) {
    // Legal for Win32, but the contract keeps the main thread free of blocking calls.
    throw new PortError('ERR_PORT_THREAD', 'attach from a worker thread, not the main thread');
  }
  return NativeThreadPort.attach(descriptor, recorder);
}

function intOption(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new PortError('ERR_PORT_OPTIONS', `${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}
