// The .iocptrace file: a header (magic, version, JSON metadata, CRC32), then
// append-only chunks, each length-prefixed and CRC32-checked, each carrying
// records and the strings they first use, so every chunk prefix of a file is a
// valid trace and a file cut short by a crash reads back every complete chunk.
// Layout in FORMAT.md, ".iocptrace files".
// Readers stop at the first damage and keep everything before it. They never
// allocate from a declared length before the bytes have arrived, and cap every
// length (OVERSIZED).

import { PROTOCOL_VERSION, PROTOCOL_VERSION_MIN, RECORD_BYTES, RECORD_WORDS } from './events.ts';
import { ProtocolError } from './errors.ts';
import { checkFileHeader, type TraceFileHeader } from './header.ts';
import { crc32 } from './crc32.ts';
import { describeInvalidRecord, findInvalidRecord } from './record.ts';
import {
  align4,
  assertLittleEndian,
  dataView,
  encodeStrings,
  parseSections,
  sectionsByteLength,
  writeSections,
} from './sections.ts';
import { EventStore } from './store.ts';
import { StringTable, decodeUtf8, encodeUtf8 } from './strings.ts';

/** Bytes 0-7 of every .iocptrace file: 89 49 4F 43 50 54 52 0A ("\x89IOCPTR\n"). */
export const FILE_MAGIC = Uint8Array.of(0x89, 0x49, 0x4f, 0x43, 0x50, 0x54, 0x52, 0x0a);
export const FILE_EXTENSION = '.iocptrace';
/** Fixed part of the file header, before the metadata JSON. */
export const FILE_HEADER_FIXED_BYTES = 16;
/** Largest metadata JSON in the header. */
export const MAX_META_BYTES = 64 * 1024;
/** "IOCK" read as a little-endian u32 (bytes 49 4F 43 4B). */
export const CHUNK_MAGIC = 0x4b434f49;
/** Chunk magic + bodyBytes. */
export const CHUNK_HEADER_BYTES = 8;
export const CHUNK_TRAILER_BYTES = 4;
/** Largest chunk body a reader accepts by default (writers should stay far below, ~1 MiB). */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
/** The reader keeps its carry-over buffer up to this size between chunks. */
const KEEP_PENDING_BYTES = 16 * 1024 * 1024;

export type { TraceFileHeader } from './header.ts';

export interface TraceFileReadResult {
  /** undefined when the header itself is missing or damaged (see error). */
  header: TraceFileHeader | undefined;
  /** The file's protocol version (0 when the header could not be read). */
  version: number;
  /** The records of every valid chunk, in file order. */
  records: Uint32Array;
  /** The same records in their store (keep it, or trimToSize() it). */
  store: EventStore;
  strings: StringTable;
  /** Valid chunks read. */
  chunks: number;
  /** Bytes from the start of the file through the last valid chunk. */
  validBytes: number;
  /** The first damage found; everything before it is in records/strings. */
  error?: ProtocolError;
}

export function encodeFileHeader(h: TraceFileHeader): Uint8Array {
  const parsed = checkFileHeader(h);
  if (!parsed.ok) throw new ProtocolError('BAD_HEADER', parsed.message);
  const meta = encodeUtf8(JSON.stringify(parsed.value));
  if (meta.length > MAX_META_BYTES) {
    throw new ProtocolError('OVERSIZED', `header metadata of ${meta.length} bytes`);
  }
  const crcAt = FILE_HEADER_FIXED_BYTES + align4(meta.length);
  const out = new Uint8Array(crcAt + 4);
  const view = dataView(out);
  out.set(FILE_MAGIC, 0);
  view.setUint16(8, PROTOCOL_VERSION, true);
  view.setUint16(10, 0, true);
  view.setUint32(12, meta.length, true);
  out.set(meta, FILE_HEADER_FIXED_BYTES);
  view.setUint32(crcAt, crc32(out, 0, crcAt), true);
  return out;
}

/** One chunk: the records (whole 8-word records) and any strings they first use. */
export function encodeChunk(
  records: Uint32Array,
  strings?: ReadonlyArray<readonly [number, string]>,
): Uint8Array {
  assertLittleEndian();
  const s = encodeStrings(strings);
  const body = sectionsByteLength(records.length, s);
  if (body > MAX_CHUNK_BYTES) throw new ProtocolError('OVERSIZED', `chunk of ${body} bytes`);
  const out = new Uint8Array(CHUNK_HEADER_BYTES + body + CHUNK_TRAILER_BYTES);
  const view = dataView(out);
  view.setUint32(0, CHUNK_MAGIC, true);
  view.setUint32(4, body, true);
  writeSections(out, view, CHUNK_HEADER_BYTES, records, s);
  view.setUint32(CHUNK_HEADER_BYTES + body, crc32(out, 0, CHUNK_HEADER_BYTES + body), true);
  return out;
}

export interface TraceFileReaderOptions {
  /** Largest accepted chunk body; default MAX_CHUNK_BYTES. */
  maxChunkBytes?: number;
  /**
   * Expected file size (e.g. File.size), used to size the event store once.
   * Only ever a hint: the store still grows or stays small with the bytes that arrive.
   */
  sizeHint?: number;
  /**
   * Called with each valid chunk's records (valid during the call only) and the
   * strings it defines, in file order. With `retain: false` the reader keeps no
   * records (a stream of any length in bounded memory; `store` stays empty).
   */
  onChunk?: (
    records: Uint32Array,
    strings: ReadonlyArray<readonly [number, string]>,
    /** The chunk's offset in the file and its length in bytes (head and CRC included). */
    at: { offset: number; bytes: number },
  ) => void;
  /** Called once the header is read, before any chunk. */
  onHeader?: (header: TraceFileHeader) => void;
  /** Keep every record in `store` (default true). */
  retain?: boolean;
  /** Strings the table may hold (default MAX_STRINGS, 2^20; smaller only in tests). */
  maxStrings?: number;
  /**
   * The CRC-32 of bytes[start, end) (§7), when the host has a faster one than
   * this package's (Node's zlib.crc32). It must compute exactly the same value.
   */
  crc32?: (bytes: Uint8Array, start: number, end: number) => number;
  /**
   * findInvalidRecord (record.ts), when the host has a faster one. It must
   * give exactly the same answer.
   */
  findInvalid?: (w: Uint32Array, from: number, to: number, version: number) => number;
}

export interface DecodeChunkOptions {
  /** A faster CRC-32 (see TraceFileReaderOptions.crc32); it must compute the same value. */
  crc32?: (bytes: Uint8Array, start: number, end: number) => number;
  /**
   * The records may be a view into `bytes` (when they sit 4-aligned) instead of
   * a copy: for a caller that owns `bytes` and keeps it only for them.
   */
  inPlace?: boolean;
}

/**
 * Incremental reader: push() the file's bytes in chunks of any size (a
 * browser File.stream(), a Node read stream), then finish(). Never throws for
 * bad input: the first problem is kept in `error` and later pushes are
 * ignored. Buffers at most one incomplete chunk.
 */
export class TraceFileReader {
  readonly store: EventStore;
  readonly strings: StringTable;
  readonly #maxChunkBytes: number;
  readonly #onChunk: TraceFileReaderOptions['onChunk'];
  readonly #onHeader: TraceFileReaderOptions['onHeader'];
  readonly #retain: boolean;
  readonly #crc: (bytes: Uint8Array, start: number, end: number) => number;
  readonly #findInvalid: (w: Uint32Array, from: number, to: number, version: number) => number;
  #header: TraceFileHeader | undefined;
  #version = 0;
  #chunks = 0;
  #error: ProtocolError | undefined;
  #pending = new Uint8Array(0);
  #pendingLen = 0;
  /** File offset of the next unparsed byte (= #pending[0] when pending). */
  #offset = 0;

  constructor(options: TraceFileReaderOptions = {}) {
    assertLittleEndian();
    this.#maxChunkBytes = options.maxChunkBytes ?? MAX_CHUNK_BYTES;
    this.strings = new StringTable(options.maxStrings);
    this.#onChunk = options.onChunk;
    this.#onHeader = options.onHeader;
    this.#retain = options.retain ?? true;
    this.#crc = options.crc32 ?? crc32;
    this.#findInvalid = options.findInvalid ?? findInvalidRecord;
    const hint = this.#retain ? (options.sizeHint ?? 0) : 0;
    this.store = new EventStore(Math.min(Math.floor(hint / RECORD_BYTES), 1 << 26));
  }

  get header(): TraceFileHeader | undefined {
    return this.#header;
  }
  /** The file's protocol version (0 until its header has been read). */
  get version(): number {
    return this.#version;
  }
  get chunks(): number {
    return this.#chunks;
  }
  get error(): ProtocolError | undefined {
    return this.#error;
  }
  /** Bytes through the end of the last complete unit (header or chunk). */
  get validBytes(): number {
    return this.#offset;
  }

  push(bytes: Uint8Array): void {
    if (this.#error !== undefined) return;
    try {
      this.#push(bytes);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.#error = e;
    }
  }

  /** End of input. An incomplete header or chunk at the end is TRUNCATED. */
  finish(): TraceFileReadResult {
    if (this.#error === undefined && (this.#pendingLen > 0 || this.#header === undefined)) {
      let message: string;
      if (this.#header === undefined) {
        message = `file ends ${this.#pendingLen} bytes into a file header`;
      } else {
        // The pending bytes passed every check when they arrived: their length is known
        // once the chunk's 8-byte header is there.
        const need =
          this.#pendingLen >= CHUNK_HEADER_BYTES
            ? this.#unitLength(this.#pending, 0, this.#pendingLen)
            : 0;
        message =
          `file ends ${this.#pendingLen} bytes into chunk ${this.#chunks + 1}` +
          (need > 0 ? `, which declares ${need} bytes` : '') +
          this.#kept();
      }
      this.#error = new ProtocolError('TRUNCATED', message, this.#offset);
    }
    this.#pending = new Uint8Array(0);
    this.#pendingLen = 0;
    const result: TraceFileReadResult = {
      header: this.#header,
      version: this.#version,
      records: this.store.words,
      store: this.store,
      strings: this.strings,
      chunks: this.#chunks,
      validBytes: this.#offset,
    };
    if (this.#error !== undefined) result.error = this.#error;
    return result;
  }

  #push(chunk: Uint8Array): void {
    let off = 0;
    while (this.#pendingLen > 0) {
      const need = this.#unitLength(this.#pending, 0, this.#pendingLen);
      if (this.#pendingLen === need) {
        this.#consume(this.#pending.subarray(0, need), 0, need);
        this.#pendingLen = 0;
        // Kept for the next chunk that straddles a push (a fresh buffer each time costs
        // its page faults again); only an unusually large one is let go.
        if (this.#pending.length > KEEP_PENDING_BYTES) this.#pending = new Uint8Array(0);
        break;
      }
      const take = Math.min(chunk.length - off, need - this.#pendingLen);
      if (take === 0) return;
      this.#append(chunk.subarray(off, off + take));
      off += take;
    }
    while (off < chunk.length) {
      const need = this.#unitLength(chunk, off, chunk.length - off);
      if (chunk.length - off < need) break;
      this.#consume(chunk, off, need);
      off += need;
    }
    if (off < chunk.length) this.#append(chunk.subarray(off));
  }

  /**
   * Total bytes of the unit (header or chunk) starting at bytes[off], given
   * `avail` bytes of it; a lower bound while its length field has not arrived.
   * Checks magic, version and limits as soon as their bytes are there.
   */
  #unitLength(bytes: Uint8Array, off: number, avail: number): number {
    const at = this.#offset;
    if (this.#header === undefined) {
      for (let i = 0; i < 8 && i < avail; i++) {
        if (bytes[off + i] !== FILE_MAGIC[i]) {
          throw new ProtocolError('BAD_MAGIC', 'not an .iocptrace file', at);
        }
      }
      if (avail < FILE_HEADER_FIXED_BYTES) return FILE_HEADER_FIXED_BYTES;
      const view = dataView(bytes);
      const version = view.getUint16(off + 8, true);
      if (version < PROTOCOL_VERSION_MIN || version > PROTOCOL_VERSION) {
        throw new ProtocolError(
          'UNSUPPORTED_VERSION',
          `file version ${version} (this reader reads ${PROTOCOL_VERSION_MIN} to ${PROTOCOL_VERSION})`,
          at + 8,
        );
      }
      this.#version = version;
      const metaBytes = view.getUint32(off + 12, true);
      if (metaBytes > MAX_META_BYTES) {
        throw new ProtocolError('OVERSIZED', `header metadata of ${metaBytes} bytes`, at + 12);
      }
      return FILE_HEADER_FIXED_BYTES + align4(metaBytes) + 4;
    }
    const view = dataView(bytes);
    if (avail >= 4 && view.getUint32(off, true) !== CHUNK_MAGIC) {
      throw new ProtocolError(
        'BAD_MAGIC',
        `chunk ${this.#chunks + 1} does not start with the chunk magic "IOCK"${this.#kept()}`,
        at,
      );
    }
    if (avail < CHUNK_HEADER_BYTES) return CHUNK_HEADER_BYTES;
    const body = view.getUint32(off + 4, true);
    if (body > this.#maxChunkBytes) {
      throw new ProtocolError(
        'OVERSIZED',
        `chunk ${this.#chunks + 1} declares a body of ${body} bytes, above the limit of ${this.#maxChunkBytes}${this.#kept()}`,
        at + 4,
      );
    }
    if (body % 4 !== 0) {
      throw new ProtocolError(
        'BAD_FRAME',
        `chunk ${this.#chunks + 1} declares a body of ${body} bytes, not a multiple of 4${this.#kept()}`,
        at + 4,
      );
    }
    return CHUNK_HEADER_BYTES + body + CHUNK_TRAILER_BYTES;
  }

  /** Parse one complete unit at bytes[off, off+len) and advance. */
  #consume(bytes: Uint8Array, off: number, len: number): void {
    const view = dataView(bytes);
    const at = this.#offset;
    const crcAt = off + len - 4;
    const stored = view.getUint32(crcAt, true);
    const actual = this.#crc(bytes, off, crcAt);
    if (stored !== actual) {
      const what = this.#header ? `chunk ${this.#chunks + 1}` : 'the file header';
      throw new ProtocolError(
        'CHECKSUM_MISMATCH',
        `${what} (${len} bytes) fails its CRC32 check (stored ${hex32(stored)}, computed ` +
          `${hex32(actual)})${this.#header ? this.#kept() : ''}`,
        at,
      );
    }
    const base = at - off;
    if (this.#header === undefined) {
      this.#header = readHeaderMeta(bytes, view, off, base);
      this.#offset += len;
      this.#onHeader?.(this.#header);
      return;
    }
    this.#readChunk(bytes, view, off, len, base);
    this.#chunks++;
    this.#offset += len;
  }

  #readChunk(bytes: Uint8Array, view: DataView, off: number, len: number, base: number): void {
    const p = parseSections(bytes, view, off + CHUNK_HEADER_BYTES, off + len - 4, base);
    this.strings.checkBatch(p.strings, base + off);
    // Not keeping the records and they sit 4-aligned in memory: read them in
    // place instead of copying them into the store first.
    const at = bytes.byteOffset + p.recordsOffset;
    const inPlace = !this.#retain && (at & 3) === 0;
    const first = inPlace ? 0 : this.store.appendBytes(bytes, p.recordsOffset, p.recordCount);
    // (The store's buffer may have been replaced by the append: read it after.)
    const buf = inPlace
      ? new Uint32Array(bytes.buffer, at, p.recordCount * RECORD_WORDS)
      : this.store.buffer;
    const bad = this.#findInvalid(buf, first, first + p.recordCount, this.#version);
    if (bad >= 0) {
      const why = describeInvalidRecord(buf, bad, this.#version);
      if (!inPlace) this.store.truncate(first);
      throw new ProtocolError(
        'BAD_RECORD',
        why,
        base + p.recordsOffset + (bad - first) * RECORD_BYTES,
      );
    }
    try {
      for (const [id, s] of p.strings) this.strings.set(id, s, base + off);
    } catch (e) {
      if (!inPlace) this.store.truncate(first);
      throw e;
    }
    if (this.#onChunk !== undefined) {
      this.#onChunk(buf.subarray(first * 8, (first + p.recordCount) * 8), p.strings, {
        offset: base + off,
        bytes: len,
      });
    }
    if (!this.#retain && !inPlace) this.store.truncate(first);
  }

  /** What the valid prefix before the chunk being read holds, for error messages. */
  #kept(): string {
    const n = this.#chunks;
    const e = this.store.length;
    if (n === 0) return '; it is the first chunk, so no events precede it';
    const events = `${e} event${e === 1 ? '' : 's'}`;
    return n === 1
      ? `; the chunk before it, ${events}, is intact`
      : `; the ${n} chunks before it, ${events}, are intact`;
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

function readHeaderMeta(
  bytes: Uint8Array,
  view: DataView,
  off: number,
  base: number,
): TraceFileHeader {
  if (view.getUint16(off + 10, true) !== 0) {
    throw new ProtocolError('BAD_HEADER', 'reserved header field is not 0', base + off + 10);
  }
  const metaBytes = view.getUint32(off + 12, true);
  const metaAt = off + FILE_HEADER_FIXED_BYTES;
  for (let p = metaAt + metaBytes; p < metaAt + align4(metaBytes); p++) {
    if (bytes[p] !== 0) throw new ProtocolError('BAD_HEADER', 'non-zero padding', base + p);
  }
  let json: unknown;
  try {
    json = JSON.parse(decodeUtf8(bytes.subarray(metaAt, metaAt + metaBytes), base + metaAt));
  } catch (e) {
    if (e instanceof ProtocolError) throw new ProtocolError('BAD_HEADER', e.message, e.offset);
    throw new ProtocolError('BAD_HEADER', 'metadata is not JSON', base + metaAt);
  }
  const parsed = checkFileHeader(json);
  if (!parsed.ok) throw new ProtocolError('BAD_HEADER', parsed.message, base + metaAt);
  return parsed.value;
}

function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * Read a whole file held in memory. Returns every valid chunk before the
 * first damage, and that damage as `error`.
 */
export function readTraceFile(
  bytes: Uint8Array,
  options: Omit<TraceFileReaderOptions, 'sizeHint'> = {},
): TraceFileReadResult {
  const reader = new TraceFileReader({ ...options, sizeHint: bytes.length });
  reader.push(bytes);
  return reader.finish();
}

/**
 * Decode one chunk already known to be valid (it passed a reader once: an
 * index points at it), for random access by file offset: its CRC, sections
 * and records are checked again all the same (the file may have changed), and
 * a problem throws the ProtocolError a reader would report. `offset` is the
 * chunk's file offset, for error offsets; `version` the file's.
 */
export function decodeChunkAt(
  bytes: Uint8Array,
  offset: number,
  version: number = PROTOCOL_VERSION,
  options: DecodeChunkOptions = {},
): { records: Uint32Array; strings: Array<[number, string]> } {
  assertLittleEndian();
  const view = dataView(bytes);
  if (bytes.length < CHUNK_HEADER_BYTES + CHUNK_TRAILER_BYTES) {
    throw new ProtocolError('TRUNCATED', `chunk of ${bytes.length} bytes`, offset);
  }
  if (view.getUint32(0, true) !== CHUNK_MAGIC) {
    throw new ProtocolError('BAD_MAGIC', 'not a chunk', offset);
  }
  const body = view.getUint32(4, true);
  if (CHUNK_HEADER_BYTES + body + CHUNK_TRAILER_BYTES !== bytes.length) {
    throw new ProtocolError('BAD_FRAME', `chunk declares ${body} body bytes`, offset + 4);
  }
  const crcAt = CHUNK_HEADER_BYTES + body;
  if (view.getUint32(crcAt, true) !== (options.crc32 ?? crc32)(bytes, 0, crcAt)) {
    throw new ProtocolError('CHECKSUM_MISMATCH', 'chunk fails its CRC32 check', offset);
  }
  const p = parseSections(bytes, view, CHUNK_HEADER_BYTES, crcAt, offset);
  let records: Uint32Array;
  const at = bytes.byteOffset + p.recordsOffset;
  if (options.inPlace === true && (at & 3) === 0) {
    records = new Uint32Array(bytes.buffer, at, p.recordCount * RECORD_WORDS);
  } else {
    records = new Uint32Array(p.recordCount * RECORD_WORDS);
    new Uint8Array(records.buffer).set(
      bytes.subarray(p.recordsOffset, p.recordsOffset + p.recordCount * RECORD_BYTES),
    );
  }
  const bad = findInvalidRecord(records, 0, p.recordCount, version);
  if (bad >= 0) {
    throw new ProtocolError(
      'BAD_RECORD',
      describeInvalidRecord(records, bad, version),
      offset + p.recordsOffset + bad * RECORD_BYTES,
    );
  }
  return { records, strings: p.strings };
}
