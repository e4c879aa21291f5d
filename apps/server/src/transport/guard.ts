// Who may talk to the server. Every HTTP request and WebSocket upgrade passes
// checkAccess (Host, then token); upgrades and /api requests also pass
// checkOrigin.
//
// - Token (when configured): from `Authorization: Bearer <t>`, the
//   `X-Iocpscope-Token` header, the `token` query parameter, or the session
//   cookie the server sets when a page is opened with ?token= (so the
//   dashboard's own asset and WebSocket requests carry it). Compared in
//   constant time on SHA-256 digests, so neither content nor length leaks.
//   The cookie holds a value derived from the token, not the token itself,
//   and is named after the server's port: browsers scope cookies by host, not
//   port, so two servers on one host must not overwrite each other's.
// - Host (without a token, on loopback): the Host header must name a loopback
//   address, which defeats DNS rebinding (evil.example resolving to 127.0.0.1
//   would otherwise be "same origin" with this server).
// - Origin: absent (CLI tools, other processes) or same as the Host the
//   request was sent to, or listed in allowedOrigins. Anything else is a
//   cross-site request, refused (cross-site WebSocket hijacking).

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost, type ResolvedTransportOptions } from './options.ts';

export interface Refusal {
  status: 400 | 401 | 403 | 421;
  reason: string;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Hostname part of a Host header value ("[::1]:7700" → "[::1]", "a:1" → "a"). */
export function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) {
    const end = hostHeader.indexOf(']');
    return end < 0 ? hostHeader : hostHeader.slice(0, end + 1);
  }
  const colon = hostHeader.indexOf(':');
  return colon < 0 ? hostHeader : hostHeader.slice(0, colon);
}

export class RequestGuard {
  readonly #opts: ResolvedTransportOptions;
  readonly #tokenDigest: Buffer | undefined;
  readonly #cookieValue: string | undefined;
  readonly #cookieDigest: Buffer | undefined;
  #cookieName: string;

  constructor(opts: ResolvedTransportOptions) {
    this.#opts = opts;
    this.#cookieName = `iocpscope_session_${opts.port}`;
    if (opts.token !== undefined) {
      this.#tokenDigest = sha256(opts.token);
      this.#cookieValue = createHash('sha256')
        .update('iocpscope-cookie\0')
        .update(opts.token)
        .digest('base64url');
      this.#cookieDigest = sha256(this.#cookieValue);
    }
  }

  /** The session cookie's name: per port (see the header). */
  get cookieName(): string {
    return this.#cookieName;
  }

  /** The port the server really listens on (after listen, when it asked for port 0). */
  bindPort(port: number): void {
    this.#cookieName = `iocpscope_session_${port}`;
  }

  get tokenRequired(): boolean {
    return this.#tokenDigest !== undefined;
  }

  /** Host and token checks, for every request. */
  checkAccess(req: IncomingMessage, url: URL): Refusal | null {
    const host = header(req, 'host');
    if (this.#tokenDigest === undefined) {
      // No token: only loopback binds get here (options enforce it), so only
      // loopback names may address us.
      if (host !== undefined && !isLoopbackHost(hostnameOf(host))) {
        return { status: 421, reason: `host ${JSON.stringify(host)} is not a loopback name` };
      }
      return null;
    }
    return this.#hasToken(req, url) ? null : { status: 401, reason: 'missing or wrong token' };
  }

  /** Same-origin, no Origin, or an allowed origin. */
  checkOrigin(req: IncomingMessage): Refusal | null {
    const origin = header(req, 'origin');
    if (origin === undefined) return null;
    if (this.#opts.allowedOrigins.has(origin)) return null;
    const host = header(req, 'host');
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (
      parsed !== undefined &&
      host !== undefined &&
      (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
      parsed.host === host.toLowerCase()
    ) {
      return null;
    }
    return { status: 403, reason: `origin ${JSON.stringify(origin).slice(0, 200)} is not allowed` };
  }

  /**
   * A Set-Cookie value when the request authenticated with ?token=, so that
   * the page's later requests (assets, /ws) are authenticated too.
   */
  sessionCookie(url: URL): string | undefined {
    if (this.#cookieValue === undefined || !url.searchParams.has('token')) return undefined;
    return `${this.cookieName}=${this.#cookieValue}; Path=/; HttpOnly; SameSite=Strict`;
  }

  #hasToken(req: IncomingMessage, url: URL): boolean {
    const expected = this.#tokenDigest!;
    const auth = header(req, 'authorization');
    if (
      auth !== undefined &&
      /^Bearer /i.test(auth) &&
      this.#equal(auth.slice(7).trim(), expected)
    ) {
      return true;
    }
    const h = header(req, 'x-iocpscope-token');
    if (h !== undefined && this.#equal(h, expected)) return true;
    const q = url.searchParams.get('token');
    if (q !== null && this.#equal(q, expected)) return true;
    const cookie = this.#cookie(req);
    return cookie !== undefined && this.#equal(cookie, this.#cookieDigest!);
  }

  #equal(given: string, expectedDigest: Buffer): boolean {
    return timingSafeEqual(sha256(given), expectedDigest);
  }

  #cookie(req: IncomingMessage): string | undefined {
    const raw = header(req, 'cookie');
    if (raw === undefined) return undefined;
    for (const part of raw.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === this.cookieName) return part.slice(eq + 1).trim();
    }
    return undefined;
  }
}
