// The section list shared by stream frames and file chunks (FORMAT.md,
// "Sections"): a run of (u32 type, u32 payloadBytes, payload, zero padding to
// a multiple of 4). Unknown types are skipped, which is how later versions add
// data without breaking older readers. Known types appear at most once.
// Parsing never allocates from a declared length before checking that the
// bytes are there.

import { RECORD_BYTES, RECORD_WORDS } from './events.ts';
import { ProtocolError } from './errors.ts';
import { MAX_STRING_BYTES, decodeUtf8, encodeUtf8 } from './strings.ts';

export const SectionType = { Strings: 1, Records: 2 } as const;
export const SECTION_HEADER_BYTES = 8;
/** Smallest encoding of one string entry: u32 id + u32 length. */
const STRING_ENTRY_MIN_BYTES = 8;

export const align4 = (n: number): number => (n + 3) & ~3;

export function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('iocpscope protocol: big-endian platforms are not supported');
  }
}

export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---- writing ----------------------------------------------------------------

export interface EncodedStrings {
  readonly entries: ReadonlyArray<readonly [number, Uint8Array]>;
  /** Payload bytes of the strings section (0 = no section). */
  readonly payloadBytes: number;
}

export function encodeStrings(
  strings: ReadonlyArray<readonly [number, string]> | undefined,
): EncodedStrings {
  if (strings === undefined || strings.length === 0) return { entries: [], payloadBytes: 0 };
  let payloadBytes = 4;
  const entries: Array<readonly [number, Uint8Array]> = [];
  for (const [id, s] of strings) {
    if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) {
      throw new ProtocolError('BAD_STRING', `bad string id ${id}`);
    }
    const bytes = encodeUtf8(s);
    if (bytes.length > MAX_STRING_BYTES) {
      throw new ProtocolError('OVERSIZED', `string ${id} longer than ${MAX_STRING_BYTES} bytes`);
    }
    entries.push([id, bytes]);
    payloadBytes += STRING_ENTRY_MIN_BYTES + bytes.length;
  }
  return { entries, payloadBytes };
}

/** Bytes the section list takes for these records and strings. */
export function sectionsByteLength(recordWords: number, s: EncodedStrings): number {
  let n = 0;
  if (s.payloadBytes > 0) n += SECTION_HEADER_BYTES + align4(s.payloadBytes);
  if (recordWords > 0) n += SECTION_HEADER_BYTES + recordWords * 4;
  return n;
}

/** Write the section list at `off` (strings first, then records); returns the end offset. */
export function writeSections(
  out: Uint8Array,
  view: DataView,
  off: number,
  records: Uint32Array,
  s: EncodedStrings,
): number {
  if (s.payloadBytes > 0) {
    view.setUint32(off, SectionType.Strings, true);
    view.setUint32(off + 4, s.payloadBytes, true);
    view.setUint32(off + 8, s.entries.length, true);
    let p = off + 12;
    for (const [id, bytes] of s.entries) {
      view.setUint32(p, id, true);
      view.setUint32(p + 4, bytes.length, true);
      out.set(bytes, p + 8);
      p += 8 + bytes.length;
    }
    off += SECTION_HEADER_BYTES + align4(s.payloadBytes);
  }
  if (records.length > 0) {
    if (records.length % RECORD_WORDS !== 0) {
      throw new RangeError(`${records.length} words is not whole records`);
    }
    view.setUint32(off, SectionType.Records, true);
    view.setUint32(off + 4, records.byteLength, true);
    out.set(new Uint8Array(records.buffer, records.byteOffset, records.byteLength), off + 8);
    off += SECTION_HEADER_BYTES + records.byteLength;
  }
  return off;
}

// ---- reading ----------------------------------------------------------------

export interface ParsedSections {
  /** Byte offset (in the parsed array) of the first record. */
  recordsOffset: number;
  recordCount: number;
  strings: Array<[number, string]>;
}

/**
 * Parse the section list in bytes[start, end). `base` is the stream or file
 * offset of bytes[0], for error offsets. Structure errors are BAD_FRAME.
 * Records are located, not copied or validated.
 */
export function parseSections(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  base: number,
): ParsedSections {
  const out: ParsedSections = { recordsOffset: 0, recordCount: 0, strings: [] };
  let seenStrings = false;
  let seenRecords = false;
  let off = start;
  while (off < end) {
    if (end - off < SECTION_HEADER_BYTES) {
      throw new ProtocolError('BAD_FRAME', 'section header runs past the end', base + off);
    }
    const type = view.getUint32(off, true);
    const len = view.getUint32(off + 4, true);
    const body = off + SECTION_HEADER_BYTES;
    if (len > end - body || align4(len) > end - body) {
      throw new ProtocolError('BAD_FRAME', `section of ${len} bytes runs past the end`, base + off);
    }
    for (let p = body + len; p < body + align4(len); p++) {
      if (bytes[p] !== 0) throw new ProtocolError('BAD_FRAME', 'non-zero padding', base + p);
    }
    if (type === 0) throw new ProtocolError('BAD_FRAME', 'section type 0', base + off);
    if (type === SectionType.Strings) {
      if (seenStrings) throw new ProtocolError('BAD_FRAME', 'two strings sections', base + off);
      seenStrings = true;
      parseStrings(bytes, view, body, body + len, base, out.strings);
    } else if (type === SectionType.Records) {
      if (seenRecords) throw new ProtocolError('BAD_FRAME', 'two records sections', base + off);
      seenRecords = true;
      if (len % RECORD_BYTES !== 0) {
        throw new ProtocolError('BAD_FRAME', `records section of ${len} bytes`, base + off);
      }
      out.recordsOffset = body;
      out.recordCount = len / RECORD_BYTES;
    }
    off = body + align4(len);
  }
  return out;
}

function parseStrings(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  base: number,
  into: Array<[number, string]>,
): void {
  if (end - start < 4)
    throw new ProtocolError('BAD_FRAME', 'strings section too short', base + start);
  const count = view.getUint32(start, true);
  if (count > (end - start - 4) / STRING_ENTRY_MIN_BYTES) {
    throw new ProtocolError('BAD_FRAME', `${count} strings cannot fit the section`, base + start);
  }
  const seen = count > 1 ? new Map<number, string>() : undefined;
  let p = start + 4;
  for (let i = 0; i < count; i++) {
    if (end - p < STRING_ENTRY_MIN_BYTES) {
      throw new ProtocolError('BAD_FRAME', 'string entry runs past the section', base + p);
    }
    const id = view.getUint32(p, true);
    const len = view.getUint32(p + 4, true);
    if (id === 0) throw new ProtocolError('BAD_STRING', 'string id 0', base + p);
    if (len > MAX_STRING_BYTES) {
      throw new ProtocolError('OVERSIZED', `string of ${len} bytes`, base + p);
    }
    if (len > end - p - STRING_ENTRY_MIN_BYTES) {
      throw new ProtocolError('BAD_FRAME', 'string runs past the section', base + p);
    }
    const s = decodeUtf8(bytes.subarray(p + 8, p + 8 + len), base + p);
    if (seen !== undefined) {
      const prev = seen.get(id);
      if (prev !== undefined && prev !== s) {
        throw new ProtocolError('BAD_STRING', `string ${id} defined twice`, base + p);
      }
      seen.set(id, s);
    }
    into.push([id, s]);
    p += STRING_ENTRY_MIN_BYTES + len;
  }
  if (p !== end) throw new ProtocolError('BAD_FRAME', 'bytes after the last string', base + p);
}
