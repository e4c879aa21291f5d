// CRC-32 for the server's readers: Node's native one (zlib's, Node >= 20.15),
// about three times the protocol's JavaScript table, else the protocol's. Both
// compute the same value (the IEEE polynomial); crc.test.ts checks that.

import * as zlib from 'node:zlib';
import { crc32, type DecodeChunkOptions } from '@iocpscope/protocol';

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of bytes[start, end). */
export const fastCrc32: (bytes: Uint8Array, start?: number, end?: number) => number =
  native === undefined
    ? (bytes, start = 0, end = bytes.length) => crc32(bytes, start, end)
    : (bytes, start = 0, end = bytes.length) => native(bytes.subarray(start, end)) >>> 0;

/**
 * decodeChunkAt's options for a chunk read into a buffer of its own: the fast
 * CRC, and the records as a view into that buffer (no second copy).
 */
export const OWN_CHUNK: DecodeChunkOptions = { crc32: fastCrc32, inPlace: true };
