// Ring-buffer arithmetic for RecvQ and SendQ, which live in the port's shared
// arena (iocp-model.md §2, bug 7). A queue is (base, cap) in the arena plus two
// int32 sequence counters: r (bytes consumed) and w (bytes produced), which
// wrap modulo 2^32; used = (w - r) | 0, free = cap - used, and byte k of the
// stream lives at base + (k & (cap - 1)). cap is a power of two.
//
// WSABUFs: the free (recv) or used (send) space is one contiguous range, or two
// when it wraps, the second always starting at the queue's base.

/** Out-parameters of a two-buffer computation (reused, no allocation). */
export interface TwoBufs {
  off0: number;
  len0: number;
  off1: number;
  len1: number;
}

export const newTwoBufs = (): TwoBufs => ({ off0: 0, len0: 0, off1: 0, len1: 0 });

/** The free space after w, as up to two WSABUFs (for WSARecv). */
export function freeBufs(out: TwoBufs, base: number, cap: number, r: number, w: number): number {
  const free = cap - ((w - r) | 0);
  return rangeBufs(out, base, cap, w, free);
}

/** The used space from r, as up to two WSABUFs (for WSASend), capped at `max` bytes. */
export function usedBufs(
  out: TwoBufs,
  base: number,
  cap: number,
  r: number,
  w: number,
  max: number,
): number {
  const used = Math.min((w - r) | 0, max);
  return rangeBufs(out, base, cap, r, used);
}

function rangeBufs(out: TwoBufs, base: number, cap: number, from: number, n: number): number {
  const off = from & (cap - 1);
  const first = Math.min(n, cap - off);
  out.off0 = base + off;
  out.len0 = first;
  out.off1 = n > first ? base : 0;
  out.len1 = n - first;
  return n;
}

/** Byte at stream position k of a queue. */
export const byteAt = (arena: Uint8Array, base: number, cap: number, k: number): number =>
  arena[base + (k & (cap - 1))]!;

/**
 * Copy n bytes from stream position `from` of queue A to stream position `to` of
 * queue B (both in `arena`), in at most three contiguous pieces.
 */
export function copyBetween(
  arena: Uint8Array,
  aBase: number,
  aCap: number,
  from: number,
  bBase: number,
  bCap: number,
  to: number,
  n: number,
): void {
  while (n > 0) {
    const aOff = from & (aCap - 1);
    const bOff = to & (bCap - 1);
    const k = Math.min(n, aCap - aOff, bCap - bOff);
    arena.copyWithin(bBase + bOff, aBase + aOff, aBase + aOff + k);
    from = (from + k) | 0;
    to = (to + k) | 0;
    n -= k;
  }
}
