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
