import { describe, expect, it } from 'vitest';
import { crc32 } from '@iocpscope/protocol';
import { fastCrc32 } from './crc.ts';

describe('fastCrc32', () => {
  it('computes the protocol’s CRC-32 over any range, aligned or not', () => {
    const b = new Uint8Array(4099);
    let x = 12345;
    for (let i = 0; i < b.length; i++) b[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    for (const [s, e] of [
      [0, b.length],
      [1, 4000],
      [3, 3],
      [7, 77],
    ] as const) {
      expect(fastCrc32(b, s, e)).toBe(crc32(b, s, e));
    }
    expect(fastCrc32(b)).toBe(crc32(b));
  });
});
