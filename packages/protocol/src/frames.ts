// Stream frames: how batches of records (and the strings they introduce) travel
// over the live WebSocket, one frame per binary message, or back to back in a
// byte stream (the frame header carries its own length). Layout in FORMAT.md,
// "Stream frames". Frames carry no checksum: their transports are reliable.
// Gaps travel as ordinary Gap records (EventKind.Gap, GapSource.ClientQueue).
// Decoding is one copy of the record bytes plus a validation loop over the
// words; no per-record objects.

import { PROTOCOL_VERSION, PROTOCOL_VERSION_MIN, RECORD_BYTES, RECORD_WORDS } from './events.ts';
import { ProtocolError } from './errors.ts';
import { describeInvalidRecord, findInvalidRecord } from './record.ts';
import {
  assertLittleEndian,
  dataView,
  encodeStrings,
  parseSections,
  sectionsByteLength,
  writeSections,
} from './sections.ts';
import type { EventStore } from './store.ts';
import type { StringTable } from './strings.ts';

/** "IOCF" read as a little-endian u32 (bytes 49 4F 43 46). */
export const FRAME_MAGIC = 0x46434f49;
export const FRAME_HEADER_BYTES = 16;
/** A header that carries the stream position (v2 revision, FORMAT.md §5.1). */
export const FRAME_HEADER_STREAM_BYTES = 24;
/** Default largest frame a decoder accepts (OVERSIZED above). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface Frame {
  /** Sender's frame counter, u32, +1 per frame (wraps). */
  seq: number;
  /**
   * Added in the v2 revision (a 24-byte header): the live stream's position,
   * the number of the first record of the stream in this frame, counted from
   * the first record the server's stream ever carried; a frame of per-client
   * records (a Snapshot bracket, a Gap) gives the number of the stream record
   * that follows it. FORMAT.md §5.1.
   */
  stream?: number;
  /** Whole records, 8 words each. */
  records: Uint32Array;
  /** Strings first used by these records (or re-sent), as (id, string). */
  strings: Array<[number, string]>;
}

export interface FrameInput {
  seq: number;
  records: Uint32Array;
  strings?: ReadonlyArray<readonly [number, string]>;
  /** The stream position (written in a 24-byte header); omitted: a 16-byte header. */
  stream?: number;
}

export interface FrameDecodeOptions {
  /** Largest accepted frameBytes; default MAX_FRAME_BYTES. */
  maxFrameBytes?: number;
}

export function encodeFrame(f: FrameInput): Uint8Array {
  assertLittleEndian();
  if (!Number.isInteger(f.seq) || f.seq < 0 || f.seq > 0xffffffff) {
    throw new RangeError(`frame seq ${f.seq} is not a u32`);
  }
  if (f.records.length % RECORD_WORDS !== 0) {
    throw new RangeError(`${f.records.length} words is not whole records`);
  }
  const st = f.stream;
  if (st !== undefined && (!Number.isSafeInteger(st) || st < 0)) {
    throw new RangeError(`frame stream position ${st} is not an integer in [0, 2^53)`);
  }
  const headerBytes = st === undefined ? FRAME_HEADER_BYTES : FRAME_HEADER_STREAM_BYTES;
  const s = encodeStrings(f.strings);
  const total = headerBytes + sectionsByteLength(f.records.length, s);
  const out = new Uint8Array(total);
  const view = dataView(out);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint16(4, PROTOCOL_VERSION, true);
  view.setUint16(6, headerBytes, true);
  view.setUint32(8, total, true);
  view.setUint32(12, f.seq, true);
  if (st !== undefined) {
    view.setUint32(16, st % 4294967296, true);
    view.setUint32(20, Math.floor(st / 4294967296), true);
  }
  writeSections(out, view, headerBytes, f.records, s);
  return out;
}

interface FrameHeader {
  seq: number;
  version: number;
  headerBytes: number;
  frameBytes: number;
}

/** Check the 16-byte header at `off`; `base` is the stream offset of bytes[0]. */
function readFrameHeader(
  view: DataView,
  off: number,
  base: number,
  maxFrameBytes: number,
): FrameHeader {
  if (view.getUint32(off, true) !== FRAME_MAGIC) {
    throw new ProtocolError('BAD_MAGIC', 'not an iocpscope frame', base + off);
  }
  const version = view.getUint16(off + 4, true);
  if (version < PROTOCOL_VERSION_MIN || version > PROTOCOL_VERSION) {
    throw new ProtocolError('UNSUPPORTED_VERSION', `frame version ${version}`, base + off + 4);
  }
  const headerBytes = view.getUint16(off + 6, true);
  const frameBytes = view.getUint32(off + 8, true);
  if (frameBytes > maxFrameBytes) {
    throw new ProtocolError('OVERSIZED', `frame of ${frameBytes} bytes`, base + off + 8);
  }
  if (headerBytes < FRAME_HEADER_BYTES || headerBytes % 4 !== 0) {
    throw new ProtocolError('BAD_FRAME', `frame header of ${headerBytes} bytes`, base + off + 6);
  }
  if (frameBytes < headerBytes || frameBytes % 4 !== 0) {
    throw new ProtocolError('BAD_FRAME', `frame length ${frameBytes}`, base + off + 8);
  }
  return { seq: view.getUint32(off + 12, true), version, headerBytes, frameBytes };
}

/** Decode the frame body at `off` (its header already checked). */
function decodeBody(
  bytes: Uint8Array,
  view: DataView,
  off: number,
  h: FrameHeader,
  base: number,
): Frame {
  const p = parseSections(bytes, view, off + h.headerBytes, off + h.frameBytes, base);
  const records = new Uint32Array(p.recordCount * RECORD_WORDS);
  new Uint8Array(records.buffer).set(
    bytes.subarray(p.recordsOffset, p.recordsOffset + p.recordCount * RECORD_BYTES),
  );
  const bad = findInvalidRecord(records, 0, p.recordCount, h.version);
  if (bad >= 0) {
    throw new ProtocolError(
      'BAD_RECORD',
      describeInvalidRecord(records, bad, h.version),
      base + p.recordsOffset + bad * RECORD_BYTES,
    );
  }
  const frame: Frame = { seq: h.seq, records, strings: p.strings };
  const stream = streamOf(view, off, h, base);
  if (stream !== undefined) frame.stream = stream;
  return frame;
}

/** The stream position of a header of 24 bytes or more (undefined for a 16-byte one). */
function streamOf(view: DataView, off: number, h: FrameHeader, base: number): number | undefined {
  if (h.headerBytes < FRAME_HEADER_STREAM_BYTES) return undefined;
  const hi = view.getUint32(off + 20, true);
  if (hi > 0x1fffff)
    throw new ProtocolError('BAD_FRAME', 'stream position above 2^53', base + off + 20);
  return view.getUint32(off + 16, true) + hi * 4294967296;
}

/** Check that `bytes` is exactly one frame with a valid header. */
function wholeFrame(bytes: Uint8Array, options: FrameDecodeOptions): [DataView, FrameHeader] {
  assertLittleEndian();
  if (bytes.length < FRAME_HEADER_BYTES) {
    if (bytes.length >= 4 && dataView(bytes).getUint32(0, true) !== FRAME_MAGIC) {
      throw new ProtocolError('BAD_MAGIC', 'not an iocpscope frame', 0);
    }
    throw new ProtocolError('TRUNCATED', `${bytes.length} bytes is shorter than a frame header`, 0);
  }
  const view = dataView(bytes);
  const h = readFrameHeader(view, 0, 0, options.maxFrameBytes ?? MAX_FRAME_BYTES);
  if (bytes.length < h.frameBytes) {
    throw new ProtocolError('TRUNCATED', `frame of ${h.frameBytes} bytes, got ${bytes.length}`, 0);
  }
  if (bytes.length > h.frameBytes) {
    throw new ProtocolError('BAD_FRAME', 'bytes after the frame', h.frameBytes);
  }
  return [view, h];
}

/** Decode exactly one frame (one WebSocket binary message). Throws ProtocolError. */
export function decodeFrame(bytes: Uint8Array, options: FrameDecodeOptions = {}): Frame {
  const [view, h] = wholeFrame(bytes, options);
  return decodeBody(bytes, view, 0, h, 0);
}

/**
 * Decode one frame straight into a store and string table (no intermediate
 * Frame). Returns the frame's seq and how many records were appended. On
 * error nothing is appended or defined.
 */
export function decodeFrameInto(
  bytes: Uint8Array,
  store: EventStore,
  strings: StringTable,
  options: FrameDecodeOptions = {},
): { seq: number; records: number; stream?: number } {
  const [view, h] = wholeFrame(bytes, options);
  const p = parseSections(bytes, view, h.headerBytes, h.frameBytes, 0);
  strings.checkBatch(p.strings, 0);
  const first = store.appendBytes(bytes, p.recordsOffset, p.recordCount);
  const bad = findInvalidRecord(store.buffer, first, first + p.recordCount, h.version);
  if (bad >= 0) {
    const why = describeInvalidRecord(store.buffer, bad, h.version);
    store.truncate(first);
    throw new ProtocolError('BAD_RECORD', why, p.recordsOffset + (bad - first) * RECORD_BYTES);
  }
  try {
    for (const [id, s] of p.strings) strings.set(id, s, 0);
  } catch (e) {
    store.truncate(first);
    throw e;
  }
  const stream = streamOf(view, 0, h, 0);
  return stream === undefined
    ? { seq: h.seq, records: p.recordCount }
    : { seq: h.seq, records: p.recordCount, stream };
}

/**
 * Incremental decoder for frames back to back in a byte stream, fed chunks
 * with arbitrary boundaries. Buffers at most one incomplete frame, growing
 * with the bytes actually received (never from the declared length alone).
 * After an error it is poisoned: every later push throws the same error.
 * Error offsets count from the start of the stream.
 */
export class FrameStreamDecoder {
  readonly #maxFrameBytes: number;
  #pending = new Uint8Array(0);
  #pendingLen = 0;
  /** Stream offset of #pending[0]. */
  #base = 0;
  #error: ProtocolError | undefined;

  constructor(options: FrameDecodeOptions = {}) {
    assertLittleEndian();
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.#pendingLen;
  }

  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /** Feed bytes; returns the frames completed by them, in order. */
  push(chunk: Uint8Array): Frame[] {
    if (this.#error !== undefined) throw this.#error;
    try {
      return this.#push(chunk);
    } catch (e) {
      if (e instanceof ProtocolError) this.#error = e;
      throw e;
    }
  }

  /** End of stream: throws TRUNCATED if it stopped inside a frame. */
  finish(): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#pendingLen > 0) {
      this.#error = new ProtocolError(
        'TRUNCATED',
        `stream ended ${this.#pendingLen} bytes into a frame`,
        this.#base,
      );
      throw this.#error;
    }
  }

  #push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let off = 0;
    // First finish the frame left pending by earlier chunks, copying only what it needs.
    while (this.#pendingLen > 0) {
      let need = FRAME_HEADER_BYTES;
      if (this.#pendingLen >= FRAME_HEADER_BYTES) {
        const bytes = this.#pending.subarray(0, this.#pendingLen);
        const view = dataView(bytes);
        const h = readFrameHeader(view, 0, this.#base, this.#maxFrameBytes);
        if (this.#pendingLen === h.frameBytes) {
          frames.push(decodeBody(bytes, view, 0, h, this.#base));
          this.#base += h.frameBytes;
          this.#pendingLen = 0;
          if (this.#pending.length > 1024 * 1024) this.#pending = new Uint8Array(0);
          break;
        }
        need = h.frameBytes;
      }
      const take = Math.min(chunk.length - off, need - this.#pendingLen);
      if (take === 0) return frames;
      this.#append(chunk.subarray(off, off + take));
      off += take;
      this.#checkMagic(this.#pending, this.#pendingLen, this.#base);
    }
    // Then frames wholly inside `chunk`: decoded in place, without copying the frame.
    const view = dataView(chunk);
    while (chunk.length - off >= FRAME_HEADER_BYTES) {
      const h = readFrameHeader(view, off, this.#base - off, this.#maxFrameBytes);
      if (chunk.length - off < h.frameBytes) break;
      frames.push(decodeBody(chunk, view, off, h, this.#base - off));
      off += h.frameBytes;
      this.#base += h.frameBytes;
    }
    if (off < chunk.length) {
      const rest = chunk.subarray(off);
      this.#checkMagic(rest, rest.length, this.#base);
      if (rest.length >= FRAME_HEADER_BYTES) {
        readFrameHeader(dataView(rest), 0, this.#base, this.#maxFrameBytes);
      }
      this.#append(rest);
    }
    return frames;
  }

  /** Fail early on a wrong magic, before a whole header has arrived. */
  #checkMagic(bytes: Uint8Array, len: number, base: number): void {
    for (let i = 0; i < 4 && i < len; i++) {
      if (bytes[i] !== (FRAME_MAGIC >>> (8 * i)) % 256) {
        throw new ProtocolError('BAD_MAGIC', 'not an iocpscope frame', base);
      }
    }
  }

  #append(bytes: Uint8Array): void {
    const need = this.#pendingLen + bytes.length;
    if (need > this.#pending.length) {
      const next = new Uint8Array(Math.max(need, Math.min(this.#pending.length * 2, need * 2), 64));
      next.set(this.#pending.subarray(0, this.#pendingLen));
      this.#pending = next;
    }
    this.#pending.set(bytes, this.#pendingLen);
    this.#pendingLen = need;
  }
}
