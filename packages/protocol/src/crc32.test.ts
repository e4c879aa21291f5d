import { describe, expect, it } from 'vitest';
import { rng } from '../test/samples.ts';
import { crc32 } from './crc32.ts';
import { encodeUtf8 } from './strings.ts';

/** Bit-by-bit CRC-32, straight from the definition: the model for the table version. */
function naiveCrc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32', () => {
  it('gives the standard check value for "123456789"', () => {
    expect(crc32(encodeUtf8('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('matches the bit-by-bit definition at every length and alignment', () => {
    const next = rng(32);
    const buf = new Uint8Array(300);
    for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(next() * 256);
    for (let start = 0; start < 8; start++) {
      for (let len = 0; start + len <= buf.length; len += 1 + (len >> 3)) {
        const view = buf.subarray(start, start + len);
        expect(crc32(view), `start ${start} len ${len}`).toBe(naiveCrc32(view));
        expect(crc32(buf, start, start + len)).toBe(naiveCrc32(view));
      }
    }
  });

  it('continues a running CRC across pieces', () => {
    const bytes = encodeUtf8('the quick brown fox jumps over the lazy dog, twice over: '.repeat(4));
    const whole = crc32(bytes);
    for (const cut of [0, 1, 7, 64, 100, bytes.length]) {
      expect(crc32(bytes, cut, bytes.length, crc32(bytes, 0, cut))).toBe(whole);
    }
  });
});
