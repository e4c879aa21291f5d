// The port's FIFO of completion packets: a ring of P_WORDS-word records in the
// control block. Not thread-safe by itself: every call happens under H_LOCK,
// whose Atomics acquire/release order the plain reads and writes here.

import { H_PKT_COUNT, H_PKT_HEAD, P_WORDS } from './layout.ts';

export class PacketRing {
  constructor(
    private readonly u32: Uint32Array,
    private readonly base: number,
    readonly capacity: number,
  ) {}

  get count(): number {
    return this.u32[H_PKT_COUNT]!;
  }

  /** Append one packet; false when the ring is full. */
  push(
    bytes: number,
    keyLo: number,
    keyHi: number,
    overlapped: number,
    error: number,
    op: number,
    ioId: number,
  ): boolean {
    const u = this.u32;
    const count = u[H_PKT_COUNT]!;
    if (count === this.capacity) return false;
    let slot = u[H_PKT_HEAD]! + count;
    if (slot >= this.capacity) slot -= this.capacity;
    const o = this.base + slot * P_WORDS;
    u[o] = bytes;
    u[o + 1] = keyLo;
    u[o + 2] = keyHi;
    u[o + 3] = overlapped;
    u[o + 4] = error;
    u[o + 5] = op;
    u[o + 6] = ioId;
    u[H_PKT_COUNT] = count + 1;
    return true;
  }

  /** Move the oldest packet into `dst` at word `at`; false when empty. */
  shiftInto(dst: Uint32Array, at: number): boolean {
    const u = this.u32;
    const count = u[H_PKT_COUNT]!;
    if (count === 0) return false;
    const head = u[H_PKT_HEAD]!;
    const o = this.base + head * P_WORDS;
    for (let k = 0; k < P_WORDS; k++) dst[at + k] = u[o + k]!;
    u[H_PKT_HEAD] = head + 1 === this.capacity ? 0 : head + 1;
    u[H_PKT_COUNT] = count - 1;
    return true;
  }

  /** Drop every queued packet (port closed). */
  clear(): void {
    this.u32[H_PKT_HEAD] = 0;
    this.u32[H_PKT_COUNT] = 0;
  }
}
