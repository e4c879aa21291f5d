import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { RequestGuard, hostnameOf } from './guard.ts';
import { resolveTransportOptions } from './options.ts';

const TOKEN = 'correct-horse-battery-staple';

function req(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}
const url = (p: string): URL => new URL(p, 'http://localhost');

describe('RequestGuard', () => {
  it('without a token, accepts only loopback Host names (no DNS rebinding)', () => {
    const g = new RequestGuard(resolveTransportOptions());
    for (const host of ['localhost:7700', '127.0.0.1:7700', '[::1]:7700', 'localhost']) {
      expect(g.checkAccess(req({ host }), url('/'))).toBeNull();
    }
    for (const host of ['evil.example:7700', '10.0.0.1:7700', 'localhost.evil.example']) {
      expect(g.checkAccess(req({ host }), url('/'))?.status).toBe(421);
    }
  });

  it('with a token, accepts it from a header, bearer, query or the session cookie, and nothing else', () => {
    const g = new RequestGuard(resolveTransportOptions({ host: '0.0.0.0', token: TOKEN }));
    const host = '192.168.1.5:7700';
    expect(g.checkAccess(req({ host }), url('/'))?.status).toBe(401);
    expect(g.checkAccess(req({ host, authorization: `Bearer ${TOKEN}` }), url('/'))).toBeNull();
    expect(g.checkAccess(req({ host, 'x-iocpscope-token': TOKEN }), url('/'))).toBeNull();
    expect(g.checkAccess(req({ host }), url(`/?token=${TOKEN}`))).toBeNull();
    expect(g.checkAccess(req({ host, 'x-iocpscope-token': `${TOKEN}x` }), url('/'))?.status).toBe(
      401,
    );
    expect(g.checkAccess(req({ host }), url('/?token=correct-horse'))?.status).toBe(401);
    const cookie = g.sessionCookie(url(`/?token=${TOKEN}`))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(TOKEN);
    const value = cookie.split(';')[0]!;
    expect(g.checkAccess(req({ host, cookie: `other=1; ${value}` }), url('/'))).toBeNull();
    expect(g.checkAccess(req({ host, cookie: `${g.cookieName}=${TOKEN}` }), url('/'))?.status).toBe(
      401,
    );
    expect(g.sessionCookie(url('/'))).toBeUndefined();
  });

  it('refuses cross-site origins and allows same-origin, no origin and listed origins', () => {
    const g = new RequestGuard(
      resolveTransportOptions({ allowedOrigins: ['http://localhost:5173'] }),
    );
    const host = 'localhost:7700';
    expect(g.checkOrigin(req({ host }))).toBeNull();
    expect(g.checkOrigin(req({ host, origin: 'http://localhost:7700' }))).toBeNull();
    expect(g.checkOrigin(req({ host, origin: 'http://localhost:5173' }))).toBeNull();
    for (const origin of [
      'https://evil.example',
      'null',
      'http://localhost:7701',
      'file://',
      'garbage',
    ]) {
      expect(g.checkOrigin(req({ host, origin }))?.status, origin).toBe(403);
    }
  });

  it('splits Host headers into host names', () => {
    expect(hostnameOf('[::1]:7700')).toBe('[::1]');
    expect(hostnameOf('a.b:1')).toBe('a.b');
    expect(hostnameOf('a.b')).toBe('a.b');
  });

  it('names its session cookie after the port, so two servers on one host keep their own', () => {
    const a = new RequestGuard(
      resolveTransportOptions({ host: '0.0.0.0', port: 7700, token: TOKEN }),
    );
    const b = new RequestGuard(
      resolveTransportOptions({ host: '0.0.0.0', port: 7800, token: TOKEN }),
    );
    expect(a.cookieName).toBe('iocpscope_session_7700');
    expect(b.cookieName).toBe('iocpscope_session_7800');
    const bCookie = b.sessionCookie(url(`/?token=${TOKEN}`))!.split(';')[0]!;
    // b's cookie is not a's: a still wants its own.
    expect(a.checkAccess(req({ host: 'x:7700', cookie: bCookie }), url('/'))?.status).toBe(401);
    const zero = new RequestGuard(resolveTransportOptions({ port: 0, token: TOKEN }));
    zero.bindPort(41234);
    expect(zero.cookieName).toBe('iocpscope_session_41234');
  });
});
