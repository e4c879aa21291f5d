// Security by default, over real sockets: cross-site upgrades are refused,
// off-loopback binds need the token on every HTTP and WebSocket request,
// Host names that are not loopback are refused (DNS rebinding), recordings
// are served by id only, and dead clients are cut by the heartbeat.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStreamServer, type StreamServer } from '../../src/transport/server.ts';
import { TestClient, upgradeStatus, waitFor } from './helpers.ts';

const TOKEN = 'test-token-0123456789abcdef';
let server: StreamServer | undefined;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-refuse-'));
  await mkdir(path.join(dir, 'web', 'assets'), { recursive: true });
  await writeFile(path.join(dir, 'web', 'index.html'), '<!doctype html><title>iocpscope</title>');
  await writeFile(path.join(dir, 'web', 'assets', 'app.js'), 'console.log(1)');
  await mkdir(path.join(dir, 'recordings'));
  await writeFile(path.join(dir, 'recordings', 'run.iocptrace'), 'RECORDING');
  await writeFile(path.join(dir, 'outside.iocptrace'), 'SECRET');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, pathname: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: pathname, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const start = (extra: Parameters<typeof startStreamServer>[0] = {}): Promise<StreamServer> =>
  startStreamServer({
    port: 0,
    webRoot: path.join(dir, 'web'),
    recordingsDir: path.join(dir, 'recordings'),
    examplesDir: path.join(dir, 'no-examples'),
    ...extra,
  });

describe('refusals', () => {
  it('refuses a WebSocket upgrade from a foreign Origin, allows same-origin and no Origin', async () => {
    server = await start();
    const url = server.wsUrl;
    const host = `127.0.0.1:${server.port}`;
    expect(await upgradeStatus(url, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(url, { origin: 'null' })).toBe(403);
    expect(await upgradeStatus(url, { origin: `http://127.0.0.1:${server.port + 1}` })).toBe(403);
    expect(await upgradeStatus(url, { origin: `http://${host}` })).toBe(101);
    expect(await upgradeStatus(url)).toBe(101);
    // The same rule guards the API against cross-site reads.
    expect(
      (await get(server.port, '/api/recordings', { origin: 'https://evil.example' })).status,
    ).toBe(403);
  });

  it('refuses requests whose Host is not a loopback name (DNS rebinding)', async () => {
    server = await start();
    expect((await get(server.port, '/', { host: 'evil.example' })).status).toBe(421);
    expect(await upgradeStatus(server.wsUrl, { host: `evil.example:${server.port}` })).toBe(421);
    expect((await get(server.port, '/', { host: `localhost:${server.port}` })).status).toBe(200);
  });

  it('off loopback, refuses every request without the token and accepts it with the token', async () => {
    await expect(start({ host: '0.0.0.0' })).rejects.toMatchObject({ code: 'TOKEN_REQUIRED' });
    server = await start({ host: '0.0.0.0', token: TOKEN });
    const port = server.port;
    for (const p of ['/', '/assets/app.js', '/api/recordings', '/api/status', '/ws']) {
      expect((await get(port, p)).status, p).toBe(401);
      expect(
        (await get(port, p, { 'x-iocpscope-token': 'wrong-token-0123456789' })).status,
        p,
      ).toBe(401);
    }
    expect(await upgradeStatus(server.wsUrl)).toBe(401);
    expect(await upgradeStatus(`${server.wsUrl}?token=${TOKEN}x`)).toBe(401);
    expect(await upgradeStatus(`${server.wsUrl}?token=${TOKEN}`)).toBe(101);
    expect(await upgradeStatus(server.wsUrl, { authorization: `Bearer ${TOKEN}` })).toBe(101);
    // A browser opens /?token=..., then its assets and /ws carry the session cookie.
    const page = await get(port, `/?token=${TOKEN}`);
    expect(page.status).toBe(200);
    const cookie = String(page.headers['set-cookie']).split(';')[0]!;
    expect((await get(port, '/assets/app.js', { cookie })).status).toBe(200);
    expect(await upgradeStatus(server.wsUrl, { cookie })).toBe(101);
    expect((await get(port, '/api/recordings', { 'x-iocpscope-token': TOKEN })).status).toBe(200);
  });

  it('serves the dashboard files with MIME types and never a path outside the web root', async () => {
    server = await start();
    const port = server.port;
    const index = await get(port, '/');
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    expect((await get(port, '/assets/app.js')).headers['content-type']).toBe(
      'text/javascript; charset=utf-8',
    );
    expect((await get(port, '/sessions/12')).body).toContain('<title>iocpscope</title>');
    for (const p of [
      '/../outside.iocptrace',
      '/%2e%2e/outside.iocptrace',
      '/..%2foutside.iocptrace',
    ]) {
      const r = await get(port, p);
      expect(r.body, p).not.toContain('SECRET');
      expect([400, 404], p).toContain(r.status);
    }
    expect((await get(port, '/missing.js')).status).toBe(404);
  });

  it('lists recordings and serves them by id only', async () => {
    server = await start();
    const port = server.port;
    const list = JSON.parse((await get(port, '/api/recordings')).body) as {
      recordings: Array<{ id: string }>;
    };
    expect(list.recordings.map((r) => r.id)).toEqual(['run']);
    const file = await get(port, '/api/recordings/run');
    expect(file.status).toBe(200);
    expect(file.body).toBe('RECORDING');
    expect(file.headers['content-type']).toBe('application/octet-stream');
    for (const id of [
      '..%2Foutside',
      '..',
      '%2E%2E%2Foutside',
      'outside',
      'run.iocptrace',
      '%E0%A4%A',
    ]) {
      const r = await get(port, `/api/recordings/${id}`);
      expect(r.body, id).not.toContain('SECRET');
      expect([400, 404], id).toContain(r.status);
    }
  });

  it('terminates a client that stops answering pings', async () => {
    server = await start({ heartbeatMs: 50 });
    const dead = await TestClient.open(server.wsUrl, { autoPong: false });
    const alive = await TestClient.open(server.wsUrl);
    await waitFor('the dead client cut', () => dead.closed !== undefined, 5000);
    expect(alive.closed).toBeUndefined();
    expect(server.hub.clientCount).toBe(1);
    await alive.close();
  });

  it('refuses clients beyond the limit with 503', async () => {
    server = await start({ hub: { maxClients: 1 } });
    const one = await TestClient.open(server.wsUrl);
    expect(await upgradeStatus(server.wsUrl)).toBe(503);
    await one.close();
  });
});
