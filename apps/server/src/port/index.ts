// Public surface of the port: the contract (types.ts) plus backend selection.
// Server code imports only this module. A backend is a module exporting
// `createHost(options)` (main thread) and `attach(descriptor, recorder)` (any
// other thread); native/index.ts plugs in under that name when it exists.

import {
  NO_RECORDER,
  PortError,
  type BackendName,
  type CompletionPort,
  type PortDescriptor,
  type PortHost,
  type PortOptions,
  type ThreadRecorder,
} from './types.ts';

import * as emulated from './emulated/index.ts';
import * as native from './native/index.ts';

export * from './types.ts';

export interface BackendModule {
  createHost(options: PortOptions): PortHost | Promise<PortHost>;
  attach(descriptor: PortDescriptor, recorder: ThreadRecorder): CompletionPort;
}

// Both backends are imported statically (a thread started from a bundle cannot
// resolve a variable specifier); the native one loads its addon only when used
// and throws ERR_PORT_BACKEND where it cannot be.
async function loadBackend(name: BackendName): Promise<BackendModule> {
  if (name === 'emulated') return emulated;
  if (name === 'native') return native;
  throw new PortError('ERR_PORT_BACKEND', `unknown backend ${String(name)}`);
}

/** CreateIoCompletionPort on the main thread. backend defaults to defaultBackend(). */
export async function createPort(
  options: PortOptions & { backend?: BackendName },
): Promise<PortHost> {
  const backend = await loadBackend(options.backend ?? defaultBackend());
  return backend.createHost(options);
}

/** On Windows with the addon built: the real completion port; elsewhere the emulation. */
export function defaultBackend(): BackendName {
  return native.nativeAddonPresent() ? 'native' : 'emulated';
}

/** Attach the calling (non-main) thread to a port created elsewhere. */
export async function attachPort(
  descriptor: PortDescriptor,
  recorder: ThreadRecorder = NO_RECORDER,
): Promise<CompletionPort> {
  if (typeof descriptor !== 'object' || descriptor === null) {
    throw new PortError('ERR_PORT_DESCRIPTOR', 'missing port descriptor');
  }
  const backend = await loadBackend(descriptor.backend);
  return backend.attach(descriptor, recorder);
}
