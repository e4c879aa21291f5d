// Options of the one-port server (dashboard files, /ws, /api), validated into
// a complete, frozen shape. Safe by default: loopback bind, bounded payloads,
// heartbeats, a client limit; binding anything but loopback needs a token.
// Every bad option is a StreamError with code BAD_OPTIONS or TOKEN_REQUIRED.

import { isIP } from 'node:net';
import path from 'node:path';
import { assetPath } from '../assets.ts';
import { StreamError } from '../hub/errors.ts';

export interface TransportOptions {
  /** Address to bind. Default 127.0.0.1. Anything but loopback requires `token`. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 7700. */
  port?: number;
  /** Shared secret every HTTP and WebSocket request must present (16..256 visible ASCII). */
  token?: string;
  /** Directory of the built dashboard. Default apps/web/dist. */
  webRoot?: string;
  /**
   * Extra origins allowed to open /ws besides the server's own (e.g. a Vite dev
   * server, "http://localhost:5173"). Exact `scheme://host[:port]` strings.
   */
  allowedOrigins?: string[];
  /** Largest message a client may send, bytes. Default 64 KiB. */
  maxPayload?: number;
  /** Ping period; a client that has not answered the previous ping is terminated. Default 30 s. */
  heartbeatMs?: number;
}

export interface ResolvedTransportOptions {
  host: string;
  port: number;
  token: string | undefined;
  webRoot: string;
  allowedOrigins: ReadonlySet<string>;
  maxPayload: number;
  heartbeatMs: number;
  /** True when bound to a loopback address. */
  loopback: boolean;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 7700;
/**
 * The WebSocket's hard cap on one client message: far above the control
 * channel's own limit (MAX_CONTROL_MESSAGE_CHARS, answered with a BAD_MESSAGE
 * reply on an open connection), for frames that are abuse, not mistakes: those
 * close the connection with 1009. Invalid UTF-8 in a text frame closes it with
 * 1007, as RFC 6455 requires.
 */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
export const DEFAULT_HEARTBEAT_MS = 30_000;
export const MIN_TOKEN_CHARS = 16;
const MAX_TOKEN_CHARS = 256;

/** The dashboard's built files: apps/web/dist, or web/ in the installed package. */
export const DEFAULT_WEB_ROOT = assetPath('apps/web/dist', 'web');

const bad = (message: string): StreamError => new StreamError('BAD_OPTIONS', message);

/** 127.0.0.0/8, ::1, IPv4-mapped loopback and "localhost". */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h.toLowerCase() === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    const lower = h.toLowerCase();
    return lower === '::1' || lower === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(lower);
  }
  return false;
}

function validOrigin(o: unknown): string {
  if (typeof o !== 'string') throw bad('allowedOrigins must be strings');
  let u: URL;
  try {
    u = new URL(o);
  } catch {
    throw bad(`allowedOrigins: "${o}" is not a URL`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== o) {
    throw bad(`allowedOrigins: "${o}" must be exactly scheme://host[:port]`);
  }
  return o;
}

export function resolveTransportOptions(o: TransportOptions = {}): ResolvedTransportOptions {
  const host = o.host ?? DEFAULT_HOST;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255 || /[\s/]/.test(host)) {
    throw bad(`host must be an address or host name, got ${JSON.stringify(host)}`);
  }
  const port = o.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw bad(`port must be an integer in [0, 65535], got ${port}`);
  }
  const token = o.token;
  if (token !== undefined) {
    if (
      typeof token !== 'string' ||
      token.length < MIN_TOKEN_CHARS ||
      token.length > MAX_TOKEN_CHARS ||
      !/^[\x21-\x7e]+$/.test(token)
    ) {
      throw bad(`token must be ${MIN_TOKEN_CHARS}..${MAX_TOKEN_CHARS} visible ASCII characters`);
    }
  }
  const loopback = isLoopbackHost(host);
  if (!loopback && token === undefined) {
    throw new StreamError(
      'TOKEN_REQUIRED',
      `binding ${host} exposes the server beyond this machine: pass a token (--token)`,
    );
  }
  const webRoot = o.webRoot ?? DEFAULT_WEB_ROOT;
  if (typeof webRoot !== 'string' || webRoot.length === 0) throw bad('webRoot must be a path');
  const origins = o.allowedOrigins ?? [];
  if (!Array.isArray(origins) || origins.length > 64) {
    throw bad('allowedOrigins must be an array of at most 64 origins');
  }
  const maxPayload = o.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  if (!Number.isInteger(maxPayload) || maxPayload < 1024 || maxPayload > 16 * 1024 * 1024) {
    throw bad(`maxPayload must be an integer in [1024, 16 MiB], got ${maxPayload}`);
  }
  const heartbeatMs = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 10 || heartbeatMs > 3_600_000) {
    throw bad(`heartbeatMs must be an integer in [10, 3600000], got ${heartbeatMs}`);
  }
  return Object.freeze({
    host,
    port,
    token,
    webRoot: path.resolve(webRoot),
    allowedOrigins: new Set(origins.map(validOrigin)),
    maxPayload,
    heartbeatMs,
    loopback,
  });
}
