// The main thread's side of the native backend. Unlike the emulation, the main
// thread is not the kernel here (Windows is): the host only creates the port
// (CreateIoCompletionPort), listens, posts, closes sockets and closes the port.
// None of its calls block.
//
// close(): the addon closes the port handle (threads waiting in GQCS wake with
// FALSE/NULL/ERROR_ABANDONED_WAIT_0, queued packets are dropped), stops accept
// threads and closes every socket. The kernel may still write into the arena
// and the OVERLAPPEDs until the aborted operations finish, so the returned
// promise resolves once the addon reports the port drained (it then unpins
// the arena), or after DRAIN_LIMIT_MS, leaving that memory pinned for the
// process's life rather than risking a write into freed memory.

import { Backend, EventKind } from '@iocpscope/protocol';
import { loadAddon, type NativeAddon } from './addon.ts';
import { CTL_CLOSED, CTL_WORDS, type NativeDescriptor } from './shared.ts';
import { postPacket } from './thread-port.ts';
import { PortError, type ListenResult, type PortHost, type ThreadRecorder } from '../types.ts';

/** Accepted connections queued while no accept call waits (clamped to SOMAXCONN by Winsock). */
const DEFAULT_BACKLOG = 4096;
const DRAIN_POLL_MS = 5;
const DRAIN_LIMIT_MS = 5000;

/** Winsock errors listen() can report, by the name Node uses for them. */
const LISTEN_ERRORS: Record<number, string> = {
  10013: 'EACCES',
  10048: 'EADDRINUSE',
  10049: 'EADDRNOTAVAIL',
  10022: 'EINVAL',
  10055: 'ENOBUFS',
};

export class NativeListenError extends Error {
  readonly code: string;
  constructor(
    readonly errno: number,
    address: string,
    port: number,
  ) {
    const code = LISTEN_ERRORS[errno] ?? `WSA${errno}`;
    super(`listen ${code} ${address}:${port} (Winsock error ${errno})`);
    this.name = 'NativeListenError';
    this.code = code;
  }
}

export interface NativeHostOptions {
  addonPath: string;
  concurrency: number;
  arenaBytes: number;
  maxThreads: number;
  maxSockets: number;
  workerCount: number;
  recorder: ThreadRecorder;
  tcpNoDelay: boolean;
}

export class NativeHost implements PortHost {
  readonly backend = 'native' as const;
  readonly descriptor: NativeDescriptor;
  readonly concurrency: number;
  readonly arena: Uint8Array;
  private readonly addon: NativeAddon;
  private readonly id: number;
  private readonly ctl: Uint32Array;
  private readonly rec: ThreadRecorder;
  private closing: Promise<void> | null = null;

  constructor(o: NativeHostOptions) {
    this.addon = loadAddon(o.addonPath);
    const arenaSab = new SharedArrayBuffer(o.arenaBytes);
    const ctlSab = new SharedArrayBuffer(CTL_WORDS * 4);
    this.arena = new Uint8Array(arenaSab);
    this.ctl = new Uint32Array(ctlSab);
    this.rec = o.recorder;
    // Every outstanding I/O and every queued PQCS packet holds one OVERLAPPED.
    const opCount = Math.min(4 * o.maxSockets + 64 * o.maxThreads + 4096, 1 << 22);
    const [id, concurrency] = this.addon.createPort(
      o.concurrency,
      this.arena,
      o.maxSockets,
      opCount,
      o.tcpNoDelay ? 1 : 0,
    );
    this.id = id;
    this.concurrency = concurrency;
    this.descriptor = {
      backend: 'native',
      addonPath: o.addonPath,
      portId: id,
      arena: arenaSab,
      ctl: ctlSab,
      concurrency,
      maxThreads: o.maxThreads,
    };
    this.rec.record(EventKind.PortCreated, Backend.Native, concurrency, 0, 0, o.workerCount, 0);
  }

  listen(address: string, port: number, backlog = DEFAULT_BACKLOG): Promise<ListenResult> {
    if (Atomics.load(this.ctl, CTL_CLOSED) !== 0) {
      return Promise.reject(new PortError('ERR_PORT_OPTIONS', 'the port is closed'));
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return Promise.reject(new PortError('ERR_PORT_OPTIONS', `bad port ${port}`));
    }
    if (!Number.isInteger(backlog) || backlog < 1) {
      return Promise.reject(new PortError('ERR_PORT_OPTIONS', `bad backlog ${backlog}`));
    }
    if (typeof address !== 'string' || address.length === 0 || address.length > 63) {
      return Promise.reject(new PortError('ERR_PORT_OPTIONS', `bad address ${String(address)}`));
    }
    const r = this.addon.listen(this.id, address, port, Math.min(backlog, 0x7fffffff));
    if (typeof r === 'number') {
      const errno = -r;
      if (errno === 10055)
        return Promise.reject(new PortError('ERR_PORT_LIMIT', 'socket table full'));
      return Promise.reject(new NativeListenError(errno, address, port));
    }
    return Promise.resolve({ socket: r[0], port: r[1] });
  }

  postQueuedCompletionStatus(
    bytes: number,
    keyLo: number,
    keyHi: number,
    overlapped: number,
  ): boolean {
    return postPacket(this.addon, this.id, this.ctl, this.rec, bytes, keyLo, keyHi, overlapped) > 0;
  }

  closesocket(socket: number): number {
    return this.addon.closesocket(this.id, socket >>> 0);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    Atomics.store(this.ctl, CTL_CLOSED, 1);
    this.addon.closePort(this.id);
    const started = Date.now();
    this.closing = new Promise<void>((resolve) => {
      const poll = (): void => {
        if (this.addon.drainPort(this.id) || Date.now() - started > DRAIN_LIMIT_MS) resolve();
        else setTimeout(poll, DRAIN_POLL_MS);
      };
      poll();
    });
    return this.closing;
  }
}
