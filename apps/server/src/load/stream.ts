// What each load connection sends, and therefore what it must get back: the
// echo wire format (iocp-model.md §2: a packet is a u16le payload length, a
// u16le type, then 0..8192 payload bytes) laid out as a "stream image".
//
// The image is K packets back to back, built once per run from the seed.
// Packet k has header (size, type) and payload byte j =
//   j < 4:  byte j of the stamp  (k * 0x9E3779B1 + salt) mod 2^32  (little-endian)
//   j >= 4: mix32(salt, k, j) & 0xff
// A connection's byte stream is the image read cyclically from a per
// connection (and per reconnect) phase, so sending is a subarray write of the
// immutable image and verifying a whole read is one memcmp against it, with no
// per-message allocation or byte loop. Consecutive packets differ in their
// stamp (the multiplier is odd, so even its low byte is distinct across 256
// consecutive packets), which makes reordering, drops and duplicates within a
// window of K > 2 * inFlight packets visible; a 0-byte payload carries no
// stamp, so with size 0 only lengths, types and byte counts can be checked.

import { mix32 } from './random.ts';

export const HEADER_BYTES = 4;
export const MAX_PAYLOAD_BYTES = 8192;
const STAMP_MULTIPLIER = 0x9e3779b1;
const MIN_IMAGE_BYTES = 64 * 1024;
const MIN_PACKETS = 257;

export interface StreamImageOptions {
  seed: number;
  /** Payload bytes per packet, 0..MAX_PAYLOAD_BYTES. */
  messageSize: number;
  /** The u16 packet type written in every header. */
  type: number;
  /** Messages in flight per connection; the image holds more than twice as many packets. */
  inFlight: number;
}

/** The stamp of packet k (the first up to 4 payload bytes, little-endian). */
export function packetStamp(salt: number, k: number): number {
  return (Math.imul(k, STAMP_MULTIPLIER) + salt) >>> 0;
}

export class StreamImage {
  /** K packets back to back; never written after construction. */
  readonly bytes: Buffer;
  readonly packetBytes: number;
  readonly packetCount: number;
  readonly salt: number;
  private readonly seed: number;

  constructor(options: StreamImageOptions) {
    const { seed, messageSize, type, inFlight } = options;
    this.seed = seed >>> 0;
    this.salt = mix32(this.seed, 0x51ed);
    this.packetBytes = HEADER_BYTES + messageSize;
    this.packetCount = Math.max(
      MIN_PACKETS,
      2 * inFlight + 1,
      Math.ceil(MIN_IMAGE_BYTES / this.packetBytes),
    );
    const bytes = Buffer.allocUnsafeSlow(this.packetCount * this.packetBytes);
    for (let k = 0; k < this.packetCount; k++) {
      const at = k * this.packetBytes;
      bytes.writeUInt16LE(messageSize, at);
      bytes.writeUInt16LE(type, at + 2);
      const stamp = packetStamp(this.salt, k);
      const stampBytes = Math.min(4, messageSize);
      for (let j = 0; j < stampBytes; j++) bytes[at + 4 + j] = (stamp >>> (8 * j)) & 0xff;
      for (let j = 4; j < messageSize; j++) bytes[at + 4 + j] = mix32(this.salt, k, j) & 0xff;
    }
    this.bytes = bytes;
  }

  /** Index of the first packet of a connection's stream (for one connect attempt). */
  phasePacket(connection: number, incarnation: number): number {
    return mix32(this.seed ^ 0x5bd1e995, connection, incarnation) % this.packetCount;
  }

  /**
   * Compares chunk[start, end) with the image read cyclically from byte
   * `imageOffset`. Returns the chunk index of the first difference, or -1.
   */
  firstDifference(chunk: Uint8Array, start: number, end: number, imageOffset: number): number {
    const img = this.bytes;
    let at = start;
    let off = imageOffset;
    while (at < end) {
      const n = Math.min(end - at, img.length - off);
      if (img.compare(chunk, at, at + n, off, off + n) !== 0) {
        for (let i = 0; i < n; i++) if (chunk[at + i] !== img[off + i]) return at + i;
      }
      at += n;
      off = 0;
    }
    return -1;
  }

  /**
   * Which image packets agree with `bytes[from, to)`, taken as bytes at
   * positions packetPos.. of one packet. Only used to explain a mismatch.
   */
  packetsMatching(bytes: Uint8Array, from: number, to: number, packetPos: number): number[] {
    const out: number[] = [];
    const n = Math.min(to - from, this.packetBytes - packetPos);
    if (n <= 0) return out;
    for (let k = 0; k < this.packetCount; k++) {
      const at = k * this.packetBytes + packetPos;
      if (this.bytes.compare(bytes, from, from + n, at, at + n) === 0) out.push(k);
    }
    return out;
  }
}
