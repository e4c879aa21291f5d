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

export * from './types.ts';

export interface BackendModule {
  createHost(options: PortOptions): PortHost | Promise<PortHost>;
  attach(descriptor: PortDescriptor, recorder: ThreadRecorder): CompletionPort;
}

// A variable specifier: the native module is optional and may not exist yet.
// Once native/index.ts exists, import it statically like the emulated one: a
// thread started from a bundle (threads.ts) cannot resolve a variable specifier.
const NATIVE_MODULE = './native/index.ts';

async function loadBackend(name: BackendName): Promise<BackendModule> {
  if (name === 'emulated') return emulated;
  if (name === 'native') {
    try {
      return (await import(NATIVE_MODULE)) as BackendModule;
    } catch (e) {
      throw new PortError(
        'ERR_PORT_BACKEND',
        `the native backend is unavailable: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
  throw new PortError('ERR_PORT_BACKEND', `unknown backend ${String(name)}`);
}

/** CreateIoCompletionPort on the main thread. backend defaults to 'emulated'. */
export async function createPort(
  options: PortOptions & { backend?: BackendName },
): Promise<PortHost> {
  const backend = await loadBackend(options.backend ?? 'emulated');
  return backend.createHost(options);
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
