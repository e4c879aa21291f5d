import { describe, expect, it } from 'vitest';
import { isLoopbackHost, resolveTransportOptions } from './options.ts';

const TOKEN = 'correct-horse-battery-staple';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('resolveTransportOptions', () => {
  it('is safe by default: loopback, port 7700, bounded payloads and a heartbeat', () => {
    const o = resolveTransportOptions();
    expect(o).toMatchObject({ host: '127.0.0.1', port: 7700, loopback: true, token: undefined });
    expect(o.maxPayload).toBe(1024 * 1024);
    expect(o.heartbeatMs).toBe(30_000);
    expect(o.webRoot.endsWith('apps/web/dist')).toBe(true);
  });

  it('requires a token to bind anything but loopback', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'example.com']) {
      expect(codeOf(() => resolveTransportOptions({ host }))).toBe('TOKEN_REQUIRED');
      expect(resolveTransportOptions({ host, token: TOKEN }).loopback).toBe(false);
    }
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost', '[::1]']) {
      expect(resolveTransportOptions({ host }).loopback).toBe(true);
    }
  });

  it('rejects bad options with BAD_OPTIONS', () => {
    const bad = [
      { port: -1 },
      { port: 70000 },
      { port: 1.5 },
      { host: '' },
      { host: 'a b' },
      { token: 'short' },
      { token: 'has a space in it somewhere' },
      { maxPayload: 10 },
      { heartbeatMs: 0 },
      { allowedOrigins: ['localhost:5173'] },
      { allowedOrigins: ['http://localhost:5173/path'] },
    ];
    for (const o of bad)
      expect(
        codeOf(() => resolveTransportOptions(o)),
        JSON.stringify(o),
      ).toBe('BAD_OPTIONS');
  });

  it('knows loopback names and addresses', () => {
    expect(isLoopbackHost('127.9.9.9')).toBe(true);
    expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackHost('LOCALHOST')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    expect(isLoopbackHost('localhost.evil.example')).toBe(false);
  });
});
