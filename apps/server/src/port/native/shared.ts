// What the native backend's threads share besides the addon's own state: the
// descriptor (structured-cloneable) and a few control words in a
// SharedArrayBuffer (closed flag, the per-port ioId sequence, attached threads).
// ioIds are handed out here, in JS, so a thread can record an event carrying
// the id before the Win32 call that the id names.

import { PortError, type PortDescriptor } from '../types.ts';

export const CTL_CLOSED = 0;
export const CTL_IO_SEQ = 1;
export const CTL_ATTACHED = 2;
export const CTL_WORDS = 4;

export interface NativeDescriptor extends PortDescriptor {
  readonly backend: 'native';
  /** Absolute path of the addon every thread loads. */
  readonly addonPath: string;
  /** The addon's port id (process-wide table). */
  readonly portId: number;
  /** The I/O arena: WSABUFs point into this memory (pinned by the addon). */
  readonly arena: SharedArrayBuffer;
  readonly ctl: SharedArrayBuffer;
  readonly concurrency: number;
  readonly maxThreads: number;
}

/** Checks a descriptor that crossed a thread boundary. */
export function asNativeDescriptor(d: PortDescriptor): NativeDescriptor {
  const n = d as Partial<NativeDescriptor>;
  if (
    n.backend !== 'native' ||
    typeof n.addonPath !== 'string' ||
    typeof n.portId !== 'number' ||
    !(n.arena instanceof SharedArrayBuffer) ||
    !(n.ctl instanceof SharedArrayBuffer) ||
    n.ctl.byteLength < CTL_WORDS * 4 ||
    typeof n.concurrency !== 'number' ||
    typeof n.maxThreads !== 'number'
  ) {
    throw new PortError('ERR_PORT_DESCRIPTOR', 'not a native port descriptor');
  }
  return n as NativeDescriptor;
}

/** The next ioId of the port (never 0; wraps modulo 2^32). */
export function nextIoId(ctl: Uint32Array): number {
  let id = (Atomics.add(ctl, CTL_IO_SEQ, 1) + 1) >>> 0;
  if (id === 0) id = (Atomics.add(ctl, CTL_IO_SEQ, 1) + 1) >>> 0;
  return id;
}

export const isU32 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
