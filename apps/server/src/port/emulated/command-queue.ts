// Commands from port threads to the kernel (main thread): a bounded
// multi-producer single-consumer ring (Vyukov's sequence-per-cell design) in the
// control block, so posting I/O costs a compare-exchange and a few stores instead
// of a postMessage. Positions are Int32 and wrap; every comparison is done on
// the wrapped difference. Producers never block here: a full ring returns false
// and the caller decides how to wait (see ThreadPort.enqueue).

import { C_DATA_WORDS, C_SEQ, C_WORDS, H_CMD_ENQ } from './layout.ts';

export class CommandQueue {
  private readonly mask: number;
  /** Consumer position; only the single consumer reads or writes it. */
  private deq = 0;

  constructor(
    private readonly i32: Int32Array,
    private readonly base: number,
    readonly capacity: number,
  ) {
    if (capacity < 2 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError('command capacity must be a power of two');
    }
    this.mask = capacity - 1;
  }

  /** Set every cell's sequence; done once by the creator before any thread uses it. */
  init(): void {
    for (let k = 0; k < this.capacity; k++) this.i32[this.base + k * C_WORDS + C_SEQ] = k;
    Atomics.store(this.i32, H_CMD_ENQ, 0);
  }

  /** Producer: copy C_DATA_WORDS words from src[0..] into a cell; false when full. */
  enqueue(src: Int32Array): boolean {
    const w = this.i32;
    let pos = Atomics.load(w, H_CMD_ENQ);
    let o: number;
    for (;;) {
      o = this.base + (pos & this.mask) * C_WORDS;
      const dif = (Atomics.load(w, o + C_SEQ) - pos) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(w, H_CMD_ENQ, pos, (pos + 1) | 0);
        if (seen === pos) break;
        pos = seen;
      } else if (dif < 0) {
        return false;
      } else {
        pos = Atomics.load(w, H_CMD_ENQ);
      }
    }
    for (let k = 0; k < C_DATA_WORDS; k++) w[o + 1 + k] = src[k]!;
    Atomics.store(w, o + C_SEQ, (pos + 1) | 0);
    return true;
  }

  /** Consumer: copy the oldest command into dst[0..C_DATA_WORDS); false when empty. */
  dequeue(dst: Int32Array): boolean {
    const w = this.i32;
    const pos = this.deq;
    const o = this.base + (pos & this.mask) * C_WORDS;
    if (((Atomics.load(w, o + C_SEQ) - ((pos + 1) | 0)) | 0) !== 0) return false;
    for (let k = 0; k < C_DATA_WORDS; k++) dst[k] = w[o + 1 + k]!;
    Atomics.store(w, o + C_SEQ, (pos + this.capacity) | 0);
    this.deq = (pos + 1) | 0;
    return true;
  }

  /** Consumer: whether a command is ready (the kernel's last look before sleeping). */
  hasReady(): boolean {
    const o = this.base + (this.deq & this.mask) * C_WORDS;
    return ((Atomics.load(this.i32, o + C_SEQ) - ((this.deq + 1) | 0)) | 0) === 0;
  }
}
