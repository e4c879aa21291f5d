import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveStatic } from './static.ts';

let base: string;
let root: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'iocpscope-static-'));
  root = path.join(base, 'dist');
  await mkdir(path.join(root, 'assets'), { recursive: true });
  await writeFile(path.join(root, 'index.html'), '<!doctype html>');
  await writeFile(path.join(root, 'assets', 'app-1234.js'), 'x');
  await writeFile(path.join(root, 'assets', 'app.css'), 'x');
  await writeFile(path.join(root, 'logo.svg'), '<svg/>');
  await writeFile(path.join(base, 'secret.txt'), 'secret');
  await symlink(path.join(base, 'secret.txt'), path.join(root, 'link.txt'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('resolveStatic', () => {
  it('serves files with their MIME type, hashed assets as immutable', async () => {
    expect(await resolveStatic(root, '/')).toMatchObject({
      kind: 'file',
      type: 'text/html; charset=utf-8',
      immutable: false,
    });
    expect(await resolveStatic(root, '/assets/app-1234.js')).toMatchObject({
      kind: 'file',
      type: 'text/javascript; charset=utf-8',
      immutable: true,
    });
    expect(await resolveStatic(root, '/assets/app.css')).toMatchObject({
      type: 'text/css; charset=utf-8',
    });
    expect(await resolveStatic(root, '/logo.svg')).toMatchObject({ type: 'image/svg+xml' });
  });

  it('falls back to index.html for client routes, but not for missing files', async () => {
    const r = await resolveStatic(root, '/session/42');
    expect(r.kind === 'file' && path.basename(r.file)).toBe('index.html');
    expect((await resolveStatic(root, '/missing.js')).kind).toBe('missing');
  });

  it('never leaves the web root', async () => {
    for (const p of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/..\\secret.txt',
      '/a%00b',
      '/%E0%A4%A',
      '/link.txt',
    ]) {
      const r = await resolveStatic(root, p);
      expect(r.kind === 'file' ? r.file : r.kind, p).not.toMatch(/secret/);
      expect(r.kind, p).not.toBe('file');
    }
  });
});
