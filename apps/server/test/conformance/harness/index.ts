// The conformance harness: picks the backend (IOCPSCOPE_BACKEND=emulated|native,
// default emulated), creates ports on the main thread, and drives real worker
// threads ("port threads") by remote control. Tests touch the backend only
// through the port interface: PortHost here, CompletionPort inside the threads.
//
// Synchronisation is by events, never by sleeping: every thread streams its
// recorder's events (with a cross-thread sequence number), so a test waits for
// "B recorded ThreadState Waiting" before it posts the packet that must wake B.
// The emulated backend records Waiting after the thread is on the port's wait
// stack, so that handshake is exact. A native backend records it just before
// entering GQCS; WAIT_SETTLE_MS covers that gap there and is 0 here.

import net from 'node:net';
import type { Worker } from 'node:worker_threads';
import { EventKind, ThreadStateValue } from '@iocpscope/protocol';
import {
  createPort,
  type AcceptResult,
  type BackendName,
  type CompletionEntry,
  type PortHost,
  type PortOptions,
} from '../../../src/port/index.ts';
import { spawnThread } from '../../../src/port/threads.ts';
import type { Command, Reply, ToParent } from './protocol.ts';
import { newSeqBuffer, SeqRecorder, type SeqEvent } from './recorder.ts';

export type { SeqEvent } from './recorder.ts';

export const BACKEND: BackendName =
  process.env.IOCPSCOPE_BACKEND === 'native' ? 'native' : 'emulated';
const WAIT_SETTLE_MS = BACKEND === 'native' ? 20 : 0;

/** One sequence counter per test file, shared by the host and every thread. */
export const seqBuffer = newSeqBuffer();
export const HOST_TID = 0;

export interface TestPort {
  host: PortHost;
  /** The kernel's (main thread's) events. */
  hostLog: EventLog;
}

export async function createTestPort(
  options: Partial<PortOptions> & { concurrency: number },
): Promise<TestPort> {
  const hostLog = new EventLog();
  const recorder = new SeqRecorder(seqBuffer, HOST_TID, (e) => hostLog.add(e));
  const host = await createPort({
    arenaBytes: 64 * 1024,
    maxThreads: 16,
    maxSockets: 64,
    ...options,
    recorder,
    backend: BACKEND,
  });
  return { host, hostLog };
}

/**
 * Resolves once the packet of the post `ioId` is in the queue. The emulated
 * kernel records PacketQueued before it makes a packet visible; a native port
 * cannot see the Windows kernel queue it, so there the harness settles instead.
 */
export async function packetQueued(tp: TestPort, ioId: number): Promise<void> {
  if (BACKEND === 'native') {
    await new Promise((r) => setTimeout(r, 50));
    return;
  }
  await tp.hostLog.next((e) => e.kind === EventKind.PacketQueued && e.ioId === ioId, 0);
}

/** Events of one thread, with promise-based waiting for a matching event. */
export class EventLog {
  readonly events: SeqEvent[] = [];
  private waiters: Waiter[] = [];

  add(e: SeqEvent): void {
    this.events.push(e);
    const idx = this.events.length - 1;
    this.waiters = this.waiters.filter((w) => {
      if (idx >= w.from && w.pred(e)) {
        w.resolve(e);
        return false;
      }
      return true;
    });
  }

  /** Resolves with the first event from index `from` on that matches. */
  next(pred: (e: SeqEvent) => boolean, from = this.events.length): Promise<SeqEvent> {
    for (let i = from; i < this.events.length; i++) {
      if (pred(this.events[i]!)) return Promise.resolve(this.events[i]!);
    }
    return new Promise((resolve) => this.waiters.push({ pred, from, resolve }));
  }
}

interface Waiter {
  pred: (e: SeqEvent) => boolean;
  from: number;
  resolve: (e: SeqEvent) => void;
}

/** A worker thread attached to a port, driven one command at a time. */
export class PortThread {
  readonly log = new EventLog();
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: Reply) => void; reject: (e: Error) => void }
  >();
  private constructor(
    readonly name: string,
    readonly tid: number,
    private readonly worker: Worker,
  ) {
    worker.on('message', (m: ToParent) => this.onMessage(m));
    worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }

  static async start(name: string, tid: number): Promise<PortThread> {
    const worker = await spawnThread(new URL('./thread-main.ts', import.meta.url), {
      workerData: { seqBuffer, tid },
    });
    const t = new PortThread(name, tid, worker);
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: ToParent): void => {
        if (m.type === 'ready') {
          worker.off('message', onMsg);
          resolve();
        }
      };
      worker.on('message', onMsg);
      worker.once('error', reject);
    });
    return t;
  }

  private onMessage(m: ToParent): void {
    if (m.type === 'event') {
      this.log.add(m.event);
    } else if (m.type === 'reply' || m.type === 'error') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'reply') p.resolve(m.reply);
      else p.reject(Object.assign(new Error(m.message), { code: m.code }));
    }
  }

  /** Send a command; the promise settles when the thread has finished it. */
  call(command: Command): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, command });
    });
  }

  get events(): SeqEvent[] {
    return this.log.events;
  }

  next(pred: (e: SeqEvent) => boolean, from = this.events.length): Promise<SeqEvent> {
    return this.log.next(pred, from);
  }

  /**
   * Start a GQCS and resolve once the thread sleeps in it (it recorded
   * ThreadState Waiting). The returned `result` settles when GQCS returns.
   */
  async gqcsWaiting(timeoutMs = INFINITE_MS): Promise<{ result: Promise<Reply> }> {
    return this.waitingIn({ op: 'gqcs', timeoutMs });
  }

  /** Like gqcsWaiting for any blocking command (GQCS-Ex). */
  async waitingIn(command: Command): Promise<{ result: Promise<Reply> }> {
    const from = this.events.length;
    const result = this.call(command);
    const returned = result.then((r) => {
      throw new Error(
        `${this.name}: ${command.op} returned without waiting (error ${r.lastError})`,
      );
    });
    await Promise.race([this.next(isWaiting, from), returned]);
    returned.catch(() => {});
    if (WAIT_SETTLE_MS > 0) await new Promise((r) => setTimeout(r, WAIT_SETTLE_MS));
    return { result };
  }

  /** Run a command and return its reply with the events it recorded. */
  async traced(command: Command): Promise<{ reply: Reply; events: SeqEvent[] }> {
    const from = this.events.length;
    const reply = await this.call(command);
    return { reply, events: this.events.slice(from) };
  }

  attach(host: PortHost): Promise<Reply> {
    return this.call({ op: 'attach', descriptor: host.descriptor });
  }
  detach(): Promise<Reply> {
    return this.call({ op: 'detach' });
  }
  gqcs(timeoutMs = INFINITE_MS): Promise<Reply> {
    return this.call({ op: 'gqcs', timeoutMs });
  }
  gqcsEx(max: number, timeoutMs = INFINITE_MS): Promise<Reply> {
    return this.call({ op: 'gqcsEx', max, timeoutMs });
  }
  pqcs(bytes: number, keyLo: number, keyHi: number, overlapped: number): Promise<Reply> {
    return this.call({ op: 'pqcs', bytes, keyLo, keyHi, overlapped });
  }
  recv(socket: number, overlapped: number, bufs: Bufs, ioId = 0): Promise<Reply> {
    return this.call({ op: 'recv', socket, overlapped, ...flat(bufs), ioId });
  }
  send(socket: number, overlapped: number, bufs: Bufs, ioId = 0): Promise<Reply> {
    return this.call({ op: 'send', socket, overlapped, ...flat(bufs), ioId });
  }
  closesocket(socket: number): Promise<Reply> {
    return this.call({ op: 'closesocket', socket });
  }
  associate(socket: number, keyLo: number, keyHi: number): Promise<Reply> {
    return this.call({ op: 'associate', socket, keyLo, keyHi });
  }
  accept(listenSocket: number, timeoutMs = INFINITE_MS): Promise<Reply> {
    return this.call({ op: 'accept', listenSocket, timeoutMs });
  }
  blockBegin(reason: number, detail = 0): Promise<Reply> {
    return this.call({ op: 'blockBegin', reason, detail });
  }
  blockEnd(): Promise<Reply> {
    return this.call({ op: 'blockEnd' });
  }
  allocIoId(): Promise<Reply> {
    return this.call({ op: 'allocIoId' });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export const INFINITE_MS = 0xffffffff;

export type Bufs = readonly (readonly [offset: number, length: number])[];

function flat(bufs: Bufs): { off0: number; len0: number; off1: number; len1: number } {
  const [b0 = [0, 0], b1 = [0, 0]] = bufs;
  return { off0: b0[0], len0: b0[1], off1: b1[0], len1: b1[1] };
}

export const isWaiting = (e: SeqEvent): boolean =>
  e.kind === EventKind.ThreadState && e.state === ThreadStateValue.Waiting;

/** Start `n` port threads in parallel (tids 1..n), named A, B, C... */
export async function startThreads(n: number): Promise<PortThread[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) => PortThread.start(String.fromCharCode(65 + i), i + 1)),
  );
}

export async function stopThreads(threads: readonly PortThread[]): Promise<void> {
  await Promise.all(threads.map((t) => t.terminate()));
}

/** The packet a GQCS reply carries (its single entry). */
export function entryOf(r: Reply): CompletionEntry {
  const e = r.entries[0];
  if (!e) throw new Error('the reply carries no entry');
  return e;
}

// ---- sockets ------------------------------------------------------------------

/** A loopback client that collects everything it receives. */
export class Client {
  received = Buffer.alloc(0);
  ended = false;
  private wanted: { bytes: number; resolve: () => void } | null = null;
  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      if (this.wanted && this.received.length >= this.wanted.bytes) {
        const w = this.wanted;
        this.wanted = null;
        w.resolve();
      }
    });
    sock.on('end', () => {
      this.ended = true;
    });
    sock.on('error', () => {});
  }

  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () =>
        resolve(new Client(s)),
      );
      s.once('error', reject);
    });
  }

  write(data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.sock.write(data, (e) => (e ? reject(e) : resolve())),
    );
  }

  /** Resolves once at least `bytes` bytes have arrived in total. */
  receivedAtLeast(bytes: number): Promise<void> {
    if (this.received.length >= bytes) return Promise.resolve();
    return new Promise((resolve) => (this.wanted = { bytes, resolve }));
  }

  closed(): Promise<void> {
    return new Promise((resolve) => {
      if (this.sock.destroyed) resolve();
      else this.sock.once('close', () => resolve());
    });
  }

  /** Abortive close: the server sees a reset. */
  reset(): void {
    this.sock.resetAndDestroy();
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/**
 * A connected, associated server socket: listen on the host, connect a client,
 * accept on `acceptor` (a port thread), associate with `key`.
 */
export async function connectedPair(
  host: PortHost,
  acceptor: PortThread,
  keyLo: number,
  keyHi = 0,
): Promise<{ listen: number; socket: number; client: Client; accepted: AcceptResult }> {
  const { socket: listen, port } = await host.listen('127.0.0.1', 0);
  const acceptReply = acceptor.accept(listen, 5000);
  const client = await Client.connect(port);
  const r = await acceptReply;
  if (!r.accepted) throw new Error(`accept failed with ${r.lastError}`);
  const a = await acceptor.associate(r.accepted.socket, keyLo, keyHi);
  if (a.value !== true) throw new Error(`associate failed with ${a.lastError}`);
  return { listen, socket: r.accepted.socket, client, accepted: r.accepted };
}

/** Events of one kind, from any list. */
export function ofKind<K extends SeqEvent['kind']>(
  events: readonly SeqEvent[],
  kind: K,
): Extract<SeqEvent, { kind: K }>[] {
  return events.filter((e): e is Extract<SeqEvent, { kind: K }> => e.kind === kind);
}
