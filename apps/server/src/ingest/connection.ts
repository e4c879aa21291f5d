// One tracer connection (FORMAT.md §11): a foreign process's tracer (the
// iocpscope.h header or the hook DLL) sends a handshake, then the bytes of an
// .iocptrace file. This reads them with the protocol's TracerStreamReader
// (bounded: at most one chunk is buffered and no records are kept) and turns
// them into three events for the viewer: attached (the header, once the token
// is accepted), chunk (records and the strings they define), ended (why).
//
// Refusals (a wrong token, BUSY, a handshake or header that does not arrive in
// time) and bad bytes are answered with one JSON line when possible, then the
// socket is closed; the viewer keeps running. Nothing here throws at the caller.

import type { Socket } from 'node:net';
import { TracerStreamReader, type TraceFileHeader } from '@iocpscope/protocol';

/** Why a tracer connection ended, with a stable code. */
export interface TracerEnd {
  /**
   * 'closed' (the tracer ended the stream), 'refused' (BUSY, UNAUTHORIZED,
   * HANDSHAKE_TIMEOUT) or a ProtocolError code for bad bytes (BAD_MAGIC, ...),
   * or 'SOCKET_ERROR'.
   */
  code: string;
  message: string;
  /** Byte offset in the stream, for bad bytes. */
  offset?: number;
  /** The viewer had accepted the stream (attached was called). */
  wasAttached: boolean;
}

export interface TracerConnectionEvents {
  /**
   * The handshake and header arrived and the token matched. Return a refusal
   * ({code, message}) to turn the tracer away (BUSY), or null to accept it.
   */
  attached(header: TraceFileHeader): { code: string; message: string } | null;
  chunk(records: Uint32Array, strings: ReadonlyArray<readonly [number, string]>): void;
  ended(end: TracerEnd): void;
}

export interface TracerConnectionOptions {
  /** The token tracers must present (undefined: none needed). */
  token?: string;
  /** Time allowed for the handshake and file header after connecting. Default 10 s. */
  handshakeMs?: number;
  /** Largest chunk body accepted. Default 16 MiB. */
  maxChunkBytes?: number;
}

/** Constant-time string comparison for the token. */
function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

export class TracerConnection {
  readonly peer: string;
  readonly #socket: Socket;
  readonly #events: TracerConnectionEvents;
  readonly #reader: TracerStreamReader;
  #attached = false;
  #done = false;
  #handshakeTimer: NodeJS.Timeout | null;
  #bytes = 0;

  constructor(socket: Socket, events: TracerConnectionEvents, options: TracerConnectionOptions) {
    this.#socket = socket;
    this.#events = events;
    this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const token = options.token;
    this.#reader = new TracerStreamReader(
      {
        onHandshake: (h) => {
          if (token !== undefined && !sameToken(h.token, token)) {
            this.#refuse(
              'UNAUTHORIZED',
              h.token === ''
                ? 'this viewer needs a token (IOCPSCOPE_TOKEN in the traced process)'
                : 'wrong token',
            );
          }
        },
        onHeader: (header) => {
          if (this.#done) return;
          if (header.backend !== 'external') {
            this.#refuse(
              'BAD_HEADER',
              `a tracer stream must say backend "external", not "${header.backend}"`,
            );
            return;
          }
          const refusal = this.#events.attached(header);
          if (refusal !== null) {
            this.#refuse(refusal.code, refusal.message);
            return;
          }
          this.#attached = true;
          this.#clearTimer();
          socket.write('{"ok":true}\n');
        },
        onChunk: (records, strings) => {
          if (this.#attached && !this.#done) this.#events.chunk(records, strings);
        },
      },
      options.maxChunkBytes !== undefined ? { maxChunkBytes: options.maxChunkBytes } : {},
    );
    this.#handshakeTimer = setTimeout(() => {
      this.#refuse(
        'HANDSHAKE_TIMEOUT',
        `no tracer handshake and file header within ${options.handshakeMs ?? 10_000} ms`,
      );
    }, options.handshakeMs ?? 10_000);
    this.#handshakeTimer.unref();
    socket.on('data', (b: Buffer) => this.#onData(b));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (e: Error & { code?: string }) =>
      this.#finish({
        code: 'SOCKET_ERROR',
        message: `${e.message}${e.code ? ` (${e.code})` : ''}`,
        wasAttached: this.#attached,
      }),
    );
    socket.on('close', () => this.#onEnd());
  }

  get attached(): boolean {
    return this.#attached;
  }

  /** Bytes received so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Stop reading from the tracer (TCP backpressure holds it) until resume(). */
  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    if (!this.#done) this.#socket.resume();
  }

  /** Close from the viewer's side (shutdown). */
  close(): void {
    this.#finish({ code: 'closed', message: 'the viewer closed', wasAttached: this.#attached });
  }

  #onData(b: Buffer): void {
    if (this.#done) return;
    this.#bytes += b.length;
    this.#reader.push(new Uint8Array(b.buffer, b.byteOffset, b.length));
    const e = this.#reader.error;
    if (e !== undefined && !this.#done) {
      this.#reply({ ok: false, code: e.code, message: e.message });
      this.#finish({
        code: e.code,
        message: e.detail,
        ...(e.offset !== undefined ? { offset: e.offset } : {}),
        wasAttached: this.#attached,
      });
    }
  }

  #onEnd(): void {
    if (this.#done) return;
    const e = this.#reader.finish();
    if (e !== undefined && e.code === 'TRUNCATED' && this.#attached) {
      // Cut mid-chunk: everything before it was delivered, as for a crashed file.
      this.#finish({
        code: 'closed',
        message: `the tracer's stream stopped inside a chunk (${e.detail}); every whole chunk was kept`,
        wasAttached: true,
      });
      return;
    }
    if (e !== undefined) {
      this.#finish({
        code: e.code,
        message: e.detail,
        ...(e.offset !== undefined ? { offset: e.offset } : {}),
        wasAttached: this.#attached,
      });
      return;
    }
    this.#finish({ code: 'closed', message: 'the tracer closed the stream', wasAttached: true });
  }

  #refuse(code: string, message: string): void {
    if (this.#done) return;
    this.#reply({ ok: false, code, message });
    this.#finish({ code, message, wasAttached: this.#attached });
  }

  #reply(v: { ok: false; code: string; message: string }): void {
    if (this.#socket.writable) this.#socket.write(`${JSON.stringify(v).slice(0, 1000)}\n`);
  }

  #clearTimer(): void {
    if (this.#handshakeTimer !== null) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = null;
  }

  #finish(end: TracerEnd): void {
    if (this.#done) return;
    this.#done = true;
    this.#clearTimer();
    this.#socket.end();
    // A peer that never reads its reply must not hold the socket open.
    setTimeout(() => this.#socket.destroy(), 1000).unref();
    this.#events.ended(end);
  }
}
