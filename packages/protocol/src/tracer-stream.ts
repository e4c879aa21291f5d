// The tracer stream (FORMAT.md §11): what a foreign process's tracer (the
// iocpscope.h header, the hook DLL) sends to a viewer over TCP. A handshake
// (magic, version, token), then exactly the bytes of an .iocptrace file.
//
// TracerStreamReader is incremental and bounded: it buffers at most the
// handshake (16 + 256 bytes) and then one incomplete chunk (through the file
// reader, which never allocates from a declared length), keeps no records
// (each chunk goes to onChunk and is dropped), and reports the first problem
// as a ProtocolError with the stream offset. After an error it ignores input.

import { PROTOCOL_VERSION, PROTOCOL_VERSION_MIN } from './events.ts';
import { ProtocolError } from './errors.ts';
import { TraceFileReader, type TraceFileHeader } from './file.ts';
import { align4, dataView } from './sections.ts';
import { encodeUtf8, type StringTable } from './strings.ts';

/** Bytes 0-7 of a tracer stream: 89 49 4F 43 53 54 52 0A ("\x89IOCSTR\n"). */
export const TRACER_STREAM_MAGIC = Uint8Array.of(0x89, 0x49, 0x4f, 0x43, 0x53, 0x54, 0x52, 0x0a);
export const TRACER_HANDSHAKE_FIXED_BYTES = 16;
export const MAX_TRACER_TOKEN_BYTES = 256;

/** The handshake a tracer sends first (for tests and TypeScript tracers). */
export function encodeTracerHandshake(token = ''): Uint8Array {
  const t = encodeUtf8(token);
  if (t.length > MAX_TRACER_TOKEN_BYTES) {
    throw new ProtocolError('OVERSIZED', `token of ${t.length} bytes`);
  }
  const out = new Uint8Array(TRACER_HANDSHAKE_FIXED_BYTES + align4(t.length));
  out.set(TRACER_STREAM_MAGIC, 0);
  const v = dataView(out);
  v.setUint16(8, PROTOCOL_VERSION, true);
  v.setUint16(10, 0, true);
  v.setUint32(12, t.length, true);
  out.set(t, TRACER_HANDSHAKE_FIXED_BYTES);
  return out;
}

export interface TracerStreamCallbacks {
  /** The handshake was read; `token` is what the tracer presented ('' for none). */
  onHandshake?(info: { version: number; token: string }): void;
  /** The file header was read. */
  onHeader?(header: TraceFileHeader): void;
  /** One valid chunk: records (valid during the call only) and the strings it defines. */
  onChunk?(records: Uint32Array, strings: ReadonlyArray<readonly [number, string]>): void;
}

export interface TracerStreamOptions {
  /** Largest chunk body accepted (OVERSIZED above). Default 16 MiB. */
  maxChunkBytes?: number;
}

export class TracerStreamReader {
  readonly #cb: TracerStreamCallbacks;
  readonly #maxChunkBytes: number;
  #hs = new Uint8Array(TRACER_HANDSHAKE_FIXED_BYTES + MAX_TRACER_TOKEN_BYTES);
  #hsLen = 0;
  #hsNeed = TRACER_HANDSHAKE_FIXED_BYTES;
  #file: TraceFileReader | null = null;
  #error: ProtocolError | undefined;

  constructor(callbacks: TracerStreamCallbacks, options: TracerStreamOptions = {}) {
    this.#cb = callbacks;
    this.#maxChunkBytes = options.maxChunkBytes ?? 16 * 1024 * 1024;
  }

  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /** The string table of the stream so far (empty before the handshake). */
  get strings(): StringTable | undefined {
    return this.#file?.strings;
  }

  /** Valid chunks read so far. */
  get chunks(): number {
    return this.#file?.chunks ?? 0;
  }

  /** Feed bytes as they arrive. Never throws for bad input: see `error`. */
  push(bytes: Uint8Array): void {
    if (this.#error !== undefined) return;
    try {
      let off = 0;
      if (this.#file === null) {
        off = this.#handshake(bytes);
        if (this.#file === null) return;
      }
      const file: TraceFileReader = this.#file;
      if (off < bytes.length) file.push(bytes.subarray(off));
      if (file.error !== undefined) this.#fail(file.error, this.#hsNeed);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.#error = e;
    }
  }

  /**
   * End of the stream. A stream cut inside its handshake, header or a chunk is
   * TRUNCATED (everything before it was already delivered).
   */
  finish(): ProtocolError | undefined {
    if (this.#error !== undefined) return this.#error;
    if (this.#file === null) {
      this.#error = new ProtocolError(
        'TRUNCATED',
        `stream ends ${this.#hsLen} bytes into the tracer handshake`,
        0,
      );
      return this.#error;
    }
    const r = this.#file.finish();
    if (r.error !== undefined) this.#fail(r.error, this.#hsNeed);
    return this.#error;
  }

  /** Consume handshake bytes from `bytes`; returns how many were used. */
  #handshake(bytes: Uint8Array): number {
    let off = 0;
    while (this.#file === null && off < bytes.length) {
      const take = Math.min(this.#hsNeed - this.#hsLen, bytes.length - off);
      this.#hs.set(bytes.subarray(off, off + take), this.#hsLen);
      const from = this.#hsLen;
      this.#hsLen += take;
      off += take;
      for (let i = from; i < Math.min(this.#hsLen, 8); i++) {
        if (this.#hs[i] !== TRACER_STREAM_MAGIC[i]) {
          throw new ProtocolError('BAD_MAGIC', 'not an iocpscope tracer stream', 0);
        }
      }
      if (this.#hsLen < this.#hsNeed) continue;
      const v = dataView(this.#hs);
      if (this.#hsNeed === TRACER_HANDSHAKE_FIXED_BYTES) {
        const version = v.getUint16(8, true);
        if (version < PROTOCOL_VERSION_MIN || version > PROTOCOL_VERSION) {
          throw new ProtocolError('UNSUPPORTED_VERSION', `tracer stream version ${version}`, 8);
        }
        if (v.getUint16(10, true) !== 0) {
          throw new ProtocolError('BAD_HEADER', 'reserved handshake field is not 0', 10);
        }
        const tokenBytes = v.getUint32(12, true);
        if (tokenBytes > MAX_TRACER_TOKEN_BYTES) {
          throw new ProtocolError('OVERSIZED', `token of ${tokenBytes} bytes`, 12);
        }
        this.#hsNeed = TRACER_HANDSHAKE_FIXED_BYTES + align4(tokenBytes);
        if (this.#hsLen < this.#hsNeed) continue;
      }
      const tokenBytes = v.getUint32(12, true);
      for (let p = TRACER_HANDSHAKE_FIXED_BYTES + tokenBytes; p < this.#hsNeed; p++) {
        if (this.#hs[p] !== 0) throw new ProtocolError('BAD_HEADER', 'non-zero padding', p);
      }
      const tokenRaw = this.#hs.subarray(
        TRACER_HANDSHAKE_FIXED_BYTES,
        TRACER_HANDSHAKE_FIXED_BYTES + tokenBytes,
      );
      let token = '';
      for (const b of tokenRaw) {
        if (b < 0x21 || b > 0x7e) {
          throw new ProtocolError('BAD_HEADER', 'the token is not visible ASCII', 16);
        }
        token += String.fromCharCode(b);
      }
      this.#cb.onHandshake?.({ version: v.getUint16(8, true), token });
      const cb = this.#cb;
      this.#file = new TraceFileReader({
        maxChunkBytes: this.#maxChunkBytes,
        retain: false,
        onHeader: (h) => cb.onHeader?.(h),
        onChunk: (r, s) => cb.onChunk?.(r, s),
      });
      this.#hs = new Uint8Array(0);
    }
    return off;
  }

  /** Rebase a file-reader error to a stream offset. */
  #fail(e: ProtocolError, base: number): void {
    this.#error = e.offset === undefined ? e : new ProtocolError(e.code, e.detail, e.offset + base);
  }
}
