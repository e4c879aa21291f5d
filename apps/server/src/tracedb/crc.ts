// CRC-32 for the server's readers: the native index pass's (carry-less
// multiply folding, about 16 GB/s here) when it is built and not turned off
// (IOCPSCOPE_INDEX_PASS=js), else Node's (zlib's, Node >= 20.15, about 3.5
// GB/s), else the protocol's JavaScript table. All compute the same value (the
// IEEE polynomial); crc.test.ts and native-index.test.ts check that.

import * as zlib from 'node:zlib';
import {
  EVENT_KIND_MAX_BY_VERSION,
  TS_HI_MAX,
  crc32,
  findInvalidRecord,
  type DecodeChunkOptions,
} from '@iocpscope/protocol';
import { nativeIndexAddon } from './native-index.ts';

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of bytes[start, end). */
const addon = process.env.IOCPSCOPE_INDEX_PASS === 'js' ? null : nativeIndexAddon();

export const fastCrc32: (bytes: Uint8Array, start?: number, end?: number) => number =
  addon !== null
    ? (bytes, start = 0, end = bytes.length) => addon.crc32(bytes, start, end)
    : native === undefined
      ? (bytes, start = 0, end = bytes.length) => crc32(bytes, start, end)
      : (bytes, start = 0, end = bytes.length) => native(bytes.subarray(start, end)) >>> 0;

/**
 * The protocol's findInvalidRecord (a bad kind or stamp), from the native
 * addon when it is there: one pass over a chunk's records in C, 10x the
 * JavaScript loop (bench:big spent 0.55 s of a 3.7 s index build in it).
 */
export const fastFindInvalidRecord: (
  w: Uint32Array,
  from: number,
  to: number,
  version: number,
) => number =
  addon !== null
    ? (w, from, to, version) => {
        const max = EVENT_KIND_MAX_BY_VERSION[version];
        return max === undefined
          ? findInvalidRecord(w, from, to, version)
          : addon.findInvalid(w, from, to, max, version === 1 ? TS_HI_MAX : 0xffffffff);
      }
    : findInvalidRecord;

/**
 * decodeChunkAt's options for a chunk read into a buffer of its own: the fast
 * CRC, and the records as a view into that buffer (no second copy).
 */
export const OWN_CHUNK: DecodeChunkOptions = { crc32: fastCrc32, inPlace: true };
