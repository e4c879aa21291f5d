// A futex mutex on one Int32 word (Drepper's "mutex 2"): 0 free, 1 locked,
// 2 locked with possible sleepers. Critical sections guarded by it are a few
// hundred nanoseconds, so a short spin before sleeping pays off; the sleep
// itself is Atomics.wait, which Node allows on the main thread too.

const SPINS = 64;

export function lock(w: Int32Array, i: number): void {
  if (Atomics.compareExchange(w, i, 0, 1) === 0) return;
  for (let s = 0; s < SPINS; s++) {
    if (Atomics.load(w, i) === 0 && Atomics.compareExchange(w, i, 0, 1) === 0) return;
  }
  while (Atomics.exchange(w, i, 2) !== 0) Atomics.wait(w, i, 2);
}

export function unlock(w: Int32Array, i: number): void {
  if (Atomics.sub(w, i, 1) !== 1) {
    Atomics.store(w, i, 0);
    Atomics.notify(w, i, 1);
  }
}
