// The emulated backend's entry points: create the port on the main thread (the
// kernel), attach from any other thread with the descriptor.

import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { EmulatedKernel } from './kernel.ts';
import { MAX_SOCKETS_LIMIT } from './layout.ts';
import { SharedPort, type EmulatedDescriptor } from './shared-port.ts';
import { ThreadPort } from './thread-port.ts';
import { lowerThreadPriority } from '../thread-priority.ts';
import {
  NO_RECORDER,
  PortError,
  type CompletionPort,
  type PortDescriptor,
  type PortHost,
  type PortOptions,
  type ThreadRecorder,
} from '../types.ts';

const MAX_THREADS_LIMIT = 1024;
const MAX_ARENA_BYTES = 2 ** 31 - 1;

export function createHost(options: PortOptions): PortHost {
  if (!isMainThread) {
    throw new PortError('ERR_PORT_THREAD', 'the emulated kernel runs on the main thread only');
  }
  const maxThreads = intOption('maxThreads', options.maxThreads ?? 64, 1, MAX_THREADS_LIMIT);
  const maxSockets = intOption('maxSockets', options.maxSockets ?? 16384, 1, MAX_SOCKETS_LIMIT);
  const arenaBytes = intOption('arenaBytes', options.arenaBytes, 1, MAX_ARENA_BYTES);
  const requested = intOption('concurrency', options.concurrency, 0, MAX_THREADS_LIMIT);
  const workerCount = intOption('workerCount', options.workerCount ?? 0, 0, MAX_THREADS_LIMIT);
  const concurrency = requested === 0 ? availableParallelism() : requested;
  // Each outstanding I/O owes one packet; two per socket plus PQCS headroom.
  const packetCapacity = 2 * maxSockets + 4 * maxThreads + 1024;
  let commandCapacity = 1024;
  while (commandCapacity < 2 * maxSockets && commandCapacity < 65536) commandCapacity *= 2;
  const sp = SharedPort.allocate(
    concurrency,
    arenaBytes,
    maxThreads,
    maxSockets,
    packetCapacity,
    commandCapacity,
  );
  return new EmulatedKernel(sp, {
    concurrency,
    workerCount,
    recorder: options.recorder ?? NO_RECORDER,
    tcpNoDelay: options.tcpNoDelay === true,
  });
}

export function attach(descriptor: PortDescriptor, recorder: ThreadRecorder): CompletionPort {
  if (isMainThread) {
    throw new PortError(
      'ERR_PORT_THREAD',
      'attach from a worker thread: the main thread is the emulated kernel and must not block',
    );
  }
  if (descriptor.backend !== 'emulated') {
    throw new PortError('ERR_PORT_DESCRIPTOR', 'not an emulated port descriptor');
  }
  // Port threads must not preempt the kernel (the main thread) they share cores with.
  lowerThreadPriority();
  return ThreadPort.attach(new SharedPort(descriptor as EmulatedDescriptor), recorder);
}

function intOption(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new PortError('ERR_PORT_OPTIONS', `${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}
