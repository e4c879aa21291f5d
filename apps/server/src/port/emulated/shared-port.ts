// The emulated port's shared state and the NT queue rules that act on it
// (ReactOS ke/queue.c: KeInsertQueue / KeRemoveQueue / KiActivateWaiterQueue).
// Both sides use this: port threads (thread-port.ts) and the kernel (kernel.ts).
//
// Invariants, all under H_LOCK:
// - H_RUNNING counts threads with T_COUNTED = 1 (NT's CurrentCount).
// - A thread is on the idle stack iff it waits in GQCS with T_CELL = CELL_WAITING.
// - Waiters are released only while packets are queued and H_RUNNING <
//   concurrency; releasing hands the oldest packet straight into the waiter's
//   mailbox (as KiUnwaitThread does), counts it as running, and the caller
//   notifies its cell after unlocking. So the most recent waiter gets the next
//   packet, and a woken thread never finds its packet stolen.

import {
  CELL_ABANDONED,
  CELL_HANDED,
  H_CLOSED,
  H_CONCURRENCY,
  H_IO_SEQ,
  H_LOCK,
  H_RUNNING,
  SOCK_CLOSED,
  SOCK_FREE,
  SOCK_LISTENING,
  SOCK_OPEN,
  S_GS,
  S_WORDS,
  T_CELL,
  T_COUNTED,
  T_MAILBOX,
  T_WORDS,
  computeLayout,
  socketGen,
  socketSlot,
  type Layout,
} from './layout.ts';
import { CommandQueue } from './command-queue.ts';
import { IdleStack } from './idle-stack.ts';
import { lock, unlock } from './mutex.ts';
import { PacketRing } from './packet-ring.ts';
import { PortError, type PortDescriptor } from '../types.ts';

export interface EmulatedDescriptor extends PortDescriptor {
  readonly backend: 'emulated';
  readonly control: SharedArrayBuffer;
  readonly arena: SharedArrayBuffer;
  readonly maxThreads: number;
  readonly maxSockets: number;
  readonly packetCapacity: number;
  readonly commandCapacity: number;
}

export class SharedPort {
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly layout: Layout;
  readonly ring: PacketRing;
  readonly idle: IdleStack;
  readonly commands: CommandQueue;
  readonly arena: Uint8Array;
  readonly concurrency: number;

  constructor(readonly descriptor: EmulatedDescriptor) {
    const d = descriptor;
    this.layout = computeLayout(d.maxThreads, d.maxSockets, d.packetCapacity, d.commandCapacity);
    if (
      !(d.control instanceof SharedArrayBuffer) ||
      !(d.arena instanceof SharedArrayBuffer) ||
      d.control.byteLength < this.layout.totalWords * 4
    ) {
      throw new PortError('ERR_PORT_DESCRIPTOR', 'not an emulated port descriptor');
    }
    this.i32 = new Int32Array(d.control);
    this.u32 = new Uint32Array(d.control);
    this.ring = new PacketRing(this.u32, this.layout.packetsBase, d.packetCapacity);
    this.idle = new IdleStack(this.i32, this.layout.idleBase, d.maxThreads);
    this.commands = new CommandQueue(this.i32, this.layout.commandsBase, d.commandCapacity);
    this.arena = new Uint8Array(d.arena);
    this.concurrency = Atomics.load(this.i32, H_CONCURRENCY);
  }

  static allocate(
    concurrency: number,
    arenaBytes: number,
    maxThreads: number,
    maxSockets: number,
    packetCapacity: number,
    commandCapacity: number,
  ): SharedPort {
    const layout = computeLayout(maxThreads, maxSockets, packetCapacity, commandCapacity);
    const control = new SharedArrayBuffer(layout.totalWords * 4);
    const i32 = new Int32Array(control);
    i32[H_CONCURRENCY] = concurrency;
    const port = new SharedPort({
      backend: 'emulated',
      control,
      arena: new SharedArrayBuffer(arenaBytes),
      maxThreads,
      maxSockets,
      packetCapacity,
      commandCapacity,
    });
    port.commands.init();
    return port;
  }

  threadBase(t: number): number {
    return this.layout.threadsBase + t * T_WORDS;
  }

  socketBase(slot: number): number {
    return this.layout.socketsBase + slot * S_WORDS;
  }

  /** Slot of a live handle with the expected generation, else -1. */
  slotOf(socket: number): number {
    const slot = socketSlot(socket);
    if (slot === 0 || slot > this.layout.maxSockets) return -1;
    const gs = Atomics.load(this.i32, this.socketBase(slot) + S_GS);
    return gs >>> 8 === socketGen(socket) ? slot : -1;
  }

  /** SOCK_* state of a handle, SOCK_FREE when the handle is stale or invalid. */
  stateOf(socket: number): number {
    const slot = this.slotOf(socket);
    return slot < 0 ? SOCK_FREE : Atomics.load(this.i32, this.socketBase(slot) + S_GS) & 0xff;
  }

  /**
   * closesocket's shared half: flip OPEN/LISTENING to CLOSED with one
   * compare-exchange on (generation, state), so exactly one closer wins and a
   * reused slot is never closed by a stale handle.
   */
  markClosed(socket: number): boolean {
    const slot = this.slotOf(socket);
    if (slot < 0) return false;
    const at = this.socketBase(slot) + S_GS;
    const gs = Atomics.load(this.i32, at);
    const state = gs & 0xff;
    if (gs >>> 8 !== socketGen(socket) || (state !== SOCK_OPEN && state !== SOCK_LISTENING)) {
      return false;
    }
    return Atomics.compareExchange(this.i32, at, gs, (gs & ~0xff) | SOCK_CLOSED) === gs;
  }

  /** A fresh ioId (never 0), unique per port until the u32 wraps. */
  nextIoId(): number {
    let id = (Atomics.add(this.u32, H_IO_SEQ, 1) + 1) >>> 0;
    if (id === 0) id = (Atomics.add(this.u32, H_IO_SEQ, 1) + 1) >>> 0;
    return id;
  }

  lock(): void {
    lock(this.i32, H_LOCK);
  }

  unlock(): void {
    unlock(this.i32, H_LOCK);
  }

  get closed(): boolean {
    return Atomics.load(this.i32, H_CLOSED) !== 0;
  }

  /**
   * Under the lock: release waiters while packets are queued and fewer than
   * `concurrency` threads run. Appends the woken thread indices to `woken`
   * starting at `n` and returns the new length; notify them after unlocking.
   */
  releaseWaiters(woken: Int32Array, n: number): number {
    const i32 = this.i32;
    while (this.ring.count > 0 && i32[H_RUNNING]! < this.concurrency) {
      const t = this.idle.pop();
      if (t < 0) break;
      const tb = this.threadBase(t);
      this.ring.shiftInto(this.u32, tb + T_MAILBOX);
      i32[tb + T_COUNTED] = 1;
      i32[H_RUNNING] = i32[H_RUNNING]! + 1;
      Atomics.store(i32, tb + T_CELL, CELL_HANDED);
      woken[n++] = t;
    }
    return n;
  }

  /** Wake threads whose cells were set under the lock (call after unlocking). */
  notifyAll(woken: Int32Array, n: number): void {
    for (let k = 0; k < n; k++) Atomics.notify(this.i32, this.threadBase(woken[k]!) + T_CELL, 1);
  }

  /**
   * Under the lock: mark the port closed, drop packets and abandon every waiter
   * (they return ERROR_ABANDONED_WAIT_0). Returns the count written to `woken`.
   */
  closeUnderLock(woken: Int32Array): number {
    Atomics.store(this.i32, H_CLOSED, 1);
    this.ring.clear();
    let n = 0;
    for (let t = this.idle.pop(); t >= 0; t = this.idle.pop()) {
      Atomics.store(this.i32, this.threadBase(t) + T_CELL, CELL_ABANDONED);
      woken[n++] = t;
    }
    return n;
  }
}
