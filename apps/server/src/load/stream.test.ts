import { describe, expect, it } from 'vitest';
import { createRandom, mix32 } from './random.ts';
import { HEADER_BYTES, StreamImage, packetStamp } from './stream.ts';

/** The naive definition of byte j of packet k, straight from the module header. */
function naiveByte(salt: number, size: number, type: number, k: number, j: number): number {
  if (j < 2) return (size >> (8 * j)) & 0xff;
  if (j < 4) return (type >> (8 * (j - 2))) & 0xff;
  const p = j - HEADER_BYTES;
  if (p < 4) return (((Math.imul(k, 0x9e3779b1) + salt) >>> 0) >>> (8 * p)) & 0xff;
  return mix32(salt, k, p) & 0xff;
}

/** The naive cyclic read of the image from a byte offset. */
function naiveCyclic(img: StreamImage, from: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(img.bytes[(from + i) % img.bytes.length]!);
  return out;
}

describe('StreamImage', () => {
  it('lays out every packet byte as the documented formula says', () => {
    for (const [size, type] of [
      [0, 1],
      [1, 2],
      [3, 0xffff],
      [4, 7],
      [5, 1],
      [64, 1],
      [8192, 300],
    ] as const) {
      const img = new StreamImage({ seed: 42 + size, messageSize: size, type, inFlight: 4 });
      expect(img.packetBytes).toBe(HEADER_BYTES + size);
      expect(img.bytes.length).toBe(img.packetCount * img.packetBytes);
      const rnd = createRandom(size);
      const wrong: string[] = [];
      // Every byte of a few packets, and random bytes everywhere.
      for (const k of [0, 1, img.packetCount - 1]) {
        for (let j = 0; j < img.packetBytes; j++) {
          if (img.bytes[k * img.packetBytes + j] !== naiveByte(img.salt, size, type, k, j))
            wrong.push(`${k}/${j}`);
        }
      }
      for (let i = 0; i < 2000; i++) {
        const at = rnd.int(img.bytes.length);
        const k = Math.floor(at / img.packetBytes);
        const j = at % img.packetBytes;
        if (img.bytes[at] !== naiveByte(img.salt, size, type, k, j)) wrong.push(`${k}/${j}`);
      }
      expect(wrong).toEqual([]);
    }
  });

  it('holds more than twice the messages in flight, and at least 64 KiB', () => {
    const small = new StreamImage({ seed: 1, messageSize: 0, type: 1, inFlight: 1 });
    expect(small.bytes.length).toBeGreaterThanOrEqual(64 * 1024);
    const deep = new StreamImage({ seed: 1, messageSize: 60, type: 1, inFlight: 1024 });
    expect(deep.packetCount).toBeGreaterThan(2 * 1024);
  });

  it('gives 256 consecutive packets distinct low stamp bytes, so 1-byte payloads still show order', () => {
    const seen = new Set<number>();
    for (let k = 1000; k < 1256; k++) seen.add(packetStamp(12345, k) & 0xff);
    expect(seen.size).toBe(256);
  });

  it('is the same for the same seed and differs for another seed', () => {
    const a = new StreamImage({ seed: 9, messageSize: 64, type: 1, inFlight: 16 });
    const b = new StreamImage({ seed: 9, messageSize: 64, type: 1, inFlight: 16 });
    const c = new StreamImage({ seed: 10, messageSize: 64, type: 1, inFlight: 16 });
    expect(a.bytes.equals(b.bytes)).toBe(true);
    expect(a.bytes.equals(c.bytes)).toBe(false);
    expect(a.phasePacket(3, 0)).toBe(b.phasePacket(3, 0));
    const phases = new Set<number>();
    for (let conn = 0; conn < 100; conn++) phases.add(a.phasePacket(conn, 0));
    expect(phases.size).toBeGreaterThan(80);
  });

  it('finds the first difference of a chunk against a cyclic read, across the wrap', () => {
    const img = new StreamImage({ seed: 5, messageSize: 13, type: 1, inFlight: 2 });
    const rnd = createRandom(77);
    const mistakes: string[] = [];
    for (let trial = 0; trial < 300; trial++) {
      // Start near the end half the time so the read wraps.
      const from = trial % 2 ? img.bytes.length - 1 - rnd.int(40) : rnd.int(img.bytes.length);
      const n = 1 + rnd.int(200);
      const chunk = Buffer.from(naiveCyclic(img, from, n + 10));
      const corruptAt = rnd.float() < 0.7 ? 5 + rnd.int(n) : -1;
      if (corruptAt >= 0) chunk[corruptAt] = chunk[corruptAt]! ^ (1 + rnd.int(255));
      const expected = corruptAt >= 5 && corruptAt < 5 + n ? corruptAt : -1;
      const got = img.firstDifference(chunk, 5, 5 + n, (from + 5) % img.bytes.length);
      if (got !== expected) mistakes.push(`${trial}: ${got} != ${expected}`);
    }
    expect(mistakes).toEqual([]);
  });

  it('identifies which packet a run of received bytes belongs to', () => {
    const img = new StreamImage({ seed: 3, messageSize: 20, type: 1, inFlight: 8 });
    const k = 123;
    const packet = img.bytes.subarray(k * img.packetBytes, (k + 1) * img.packetBytes);
    expect(img.packetsMatching(packet, 0, packet.length, 0)).toEqual([k]);
    // From the middle of the packet (positions 6.. only).
    expect(img.packetsMatching(packet, 6, packet.length, 6)).toEqual([k]);
    // Header bytes alone match every packet.
    expect(img.packetsMatching(packet, 0, 4, 0)).toHaveLength(img.packetCount);
    const garbage = Buffer.alloc(img.packetBytes, 0xee);
    expect(img.packetsMatching(garbage, 0, garbage.length, 0)).toEqual([]);
  });
});
