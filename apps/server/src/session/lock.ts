// An instrumented mutex in shared memory (Drepper's futex mutex: 0 free,
// 1 locked, 2 locked with waiters). Every acquisition records LockAcquire,
// every release LockRelease; a contended acquisition first records LockWait and
// brackets its sleep with port.blockBegin(Lock)/blockEnd(), so the completion
// port frees the thread's concurrency slot, as NT does for a thread blocked on
// a lock (iocp-model.md §1, bugs 14 and 16).

import { BlockReason, EventKind } from '@iocpscope/protocol';
import type { CompletionPort } from '../port/index.ts';
import type { TraceRecorder } from '../trace/recorder.ts';

export class SharedLock {
  private readonly nameStr: number;

  constructor(
    private readonly word: Int32Array,
    private readonly index: number,
    readonly lockId: number,
    name: string,
    private readonly rec: TraceRecorder,
    private readonly port: CompletionPort | null,
  ) {
    this.nameStr = rec.intern(name);
  }

  acquire(sessLo: number, sessHi: number): void {
    const w = this.word;
    const i = this.index;
    if (Atomics.compareExchange(w, i, 0, 1) !== 0) {
      this.rec.record(EventKind.LockWait, 0, this.lockId, sessLo, sessHi, this.nameStr, 0);
      this.port?.blockBegin(BlockReason.Lock, this.lockId);
      let c = Atomics.exchange(w, i, 2);
      while (c !== 0) {
        Atomics.wait(w, i, 2);
        c = Atomics.exchange(w, i, 2);
      }
      this.port?.blockEnd();
    }
    this.rec.record(EventKind.LockAcquire, 0, this.lockId, sessLo, sessHi, this.nameStr, 0);
  }

  release(sessLo: number, sessHi: number): void {
    this.rec.record(EventKind.LockRelease, 0, this.lockId, sessLo, sessHi, this.nameStr, 0);
    if (Atomics.sub(this.word, this.index, 1) !== 1) {
      Atomics.store(this.word, this.index, 0);
      Atomics.notify(this.word, this.index, 1);
    }
  }
}

/**
 * An instrumented reader-writer lock in shared memory (the seeds' RW lock):
 * the word is the number of readers, or -1 while a writer holds it. Readers
 * share it; a writer excludes everyone. Waiters sleep on the word (futex
 * style) and are all woken by the release that may let them in. Every
 * acquisition records LockAcquire with its mode (v2: LockMode 0 exclusive,
 * 1 shared), a contended one LockWait first and a Blocked(Lock) state while it
 * sleeps, every release LockRelease. Not recursive: a thread that holds it
 * must not take it again (the seeds' write-then-read exception is not needed
 * here).
 */
export class SharedRwLock {
  private readonly nameStr: number;

  constructor(
    private readonly word: Int32Array,
    private readonly index: number,
    readonly lockId: number,
    name: string,
    private readonly rec: TraceRecorder,
    private readonly port: CompletionPort | null,
  ) {
    this.nameStr = rec.intern(name);
  }

  acquireShared(sessLo: number, sessHi: number): void {
    this.acquire(LOCK_SHARED, sessLo, sessHi);
  }

  acquireExclusive(sessLo: number, sessHi: number): void {
    this.acquire(LOCK_EXCLUSIVE, sessLo, sessHi);
  }

  release(mode: number, sessLo: number, sessHi: number): void {
    const w = this.word;
    const i = this.index;
    this.rec.record(EventKind.LockRelease, mode, this.lockId, sessLo, sessHi, this.nameStr, 0);
    if (mode === LOCK_EXCLUSIVE) {
      Atomics.store(w, i, 0);
      Atomics.notify(w, i);
    } else if (Atomics.sub(w, i, 1) === 1) {
      Atomics.notify(w, i);
    }
  }

  private tryTake(mode: number): boolean {
    const w = this.word;
    const i = this.index;
    if (mode === LOCK_EXCLUSIVE) return Atomics.compareExchange(w, i, 0, -1) === 0;
    for (;;) {
      const s = Atomics.load(w, i);
      if (s < 0) return false;
      if (Atomics.compareExchange(w, i, s, s + 1) === s) return true;
    }
  }

  private acquire(mode: number, sessLo: number, sessHi: number): void {
    if (!this.tryTake(mode)) {
      const w = this.word;
      const i = this.index;
      this.rec.record(EventKind.LockWait, mode, this.lockId, sessLo, sessHi, this.nameStr, 0);
      this.port?.blockBegin(BlockReason.Lock, this.lockId);
      while (!this.tryTake(mode)) {
        const s = Atomics.load(w, i);
        // Sleep while the lock is in the state that kept us out (bounded: a missed wake costs 1 ms).
        if (mode === LOCK_EXCLUSIVE ? s !== 0 : s < 0) Atomics.wait(w, i, s, 1);
      }
      this.port?.blockEnd();
    }
    this.rec.record(EventKind.LockAcquire, mode, this.lockId, sessLo, sessHi, this.nameStr, 0);
  }
}

/** LockMode (protocol v2): the `a` of lock records. */
export const LOCK_EXCLUSIVE = 0;
export const LOCK_SHARED = 1;
