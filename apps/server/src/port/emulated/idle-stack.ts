// The LIFO of threads waiting in GQCS. Atomics.notify wakes in FIFO order, so
// LIFO release needs this explicit stack plus one wait cell per thread: the
// waker pops the most recent waiter and notifies exactly its cell. Guarded by
// H_LOCK like the packet ring. remove() serves timeouts (a waiter that gives up
// may sit anywhere in the stack); the stack never holds more than maxThreads.

import { H_IDLE_TOP } from './layout.ts';

export class IdleStack {
  constructor(
    private readonly i32: Int32Array,
    private readonly base: number,
    readonly capacity: number,
  ) {}

  get size(): number {
    return this.i32[H_IDLE_TOP]!;
  }

  push(thread: number): void {
    const top = this.i32[H_IDLE_TOP]!;
    if (top === this.capacity) throw new Error('idle stack overflow: a thread waits twice');
    this.i32[this.base + top] = thread;
    this.i32[H_IDLE_TOP] = top + 1;
  }

  /** The most recent waiter, or -1. */
  pop(): number {
    const top = this.i32[H_IDLE_TOP]!;
    if (top === 0) return -1;
    this.i32[H_IDLE_TOP] = top - 1;
    return this.i32[this.base + top - 1]!;
  }

  /** Remove `thread` wherever it is, keeping the others' order; false if absent. */
  remove(thread: number): boolean {
    const w = this.i32;
    const top = w[H_IDLE_TOP]!;
    for (let k = top - 1; k >= 0; k--) {
      if (w[this.base + k] === thread) {
        for (let m = k; m < top - 1; m++) w[this.base + m] = w[this.base + m + 1]!;
        w[H_IDLE_TOP] = top - 1;
        return true;
      }
    }
    return false;
  }

  /** Bottom-to-top copy (for close and tests). */
  toArray(): number[] {
    const out: number[] = [];
    const top = this.i32[H_IDLE_TOP]!;
    for (let k = 0; k < top; k++) out.push(this.i32[this.base + k]!);
    return out;
  }

  clear(): void {
    this.i32[H_IDLE_TOP] = 0;
  }
}
