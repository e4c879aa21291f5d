// Static files of the built dashboard (apps/web/dist). A request path is
// decoded, normalised and resolved inside the root, then the real path of the
// file found is checked to still be inside the real root (no `..`, no
// encoded separators, no NUL, no symlink escapes). Paths without an extension
// that match no file get index.html (client-side routes); missing files with
// an extension are 404. Hashed files under assets/ are cached for good,
// index.html never.

import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.webmanifest': 'application/manifest+json',
  '.iocptrace': 'application/octet-stream',
};

export type StaticResult =
  | { kind: 'file'; file: string; size: number; type: string; immutable: boolean }
  | { kind: 'missing' }
  | { kind: 'bad'; reason: string };

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function fileAt(root: string, realRoot: string, rel: string): Promise<StaticResult> {
  const abs = path.join(root, rel);
  if (!inside(root, abs)) return { kind: 'bad', reason: 'outside the web root' };
  let real: string;
  try {
    real = await realpath(abs);
  } catch {
    return { kind: 'missing' };
  }
  if (!inside(realRoot, real)) return { kind: 'bad', reason: 'outside the web root' };
  const st = await stat(real).catch(() => undefined);
  if (st === undefined || !st.isFile()) return { kind: 'missing' };
  const ext = path.extname(real).toLowerCase();
  return {
    kind: 'file',
    file: real,
    size: st.size,
    type: MIME_TYPES[ext] ?? 'application/octet-stream',
    immutable: rel.startsWith('assets/'),
  };
}

/** Resolve a URL pathname to a file of the web root, safely. */
export async function resolveStatic(root: string, pathname: string): Promise<StaticResult> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return { kind: 'bad', reason: 'bad percent-encoding' };
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return { kind: 'bad', reason: 'bad path' };
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..')) return { kind: 'bad', reason: 'bad path' };
  const rel = path.posix.normalize(decoded).replace(/^\/+/, '');
  const realRoot = await realpath(root).catch(() => undefined);
  if (realRoot === undefined) return { kind: 'missing' };
  const wanted = rel === '' || rel.endsWith('/') ? `${rel}index.html` : rel;
  const found = await fileAt(root, realRoot, wanted);
  if (found.kind !== 'missing') return found;
  // Client-side routes (no extension) fall back to the app.
  if (path.posix.extname(rel) === '') return fileAt(root, realRoot, 'index.html');
  return found;
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>iocpscope</title>
<body style="font:16px system-ui;margin:3em">
<h1>iocpscope</h1><p>The dashboard is not built. Run <code>pnpm --filter @iocpscope/web build</code>
and reload. The event stream (<code>/ws</code>) and the recordings API (<code>/api/recordings</code>)
are running.</p></body>`;

/** Serve a GET/HEAD for a static path; answers 404/400 itself. */
export async function serveStatic(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  pathname: string,
): Promise<void> {
  const r = await resolveStatic(root, pathname);
  if (r.kind === 'bad') {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(`${r.reason}\n`);
    return;
  }
  if (r.kind === 'missing') {
    const rootHasIndex = (await resolveStatic(root, '/')).kind === 'file';
    if (!rootHasIndex && path.posix.extname(pathname) === '') {
      res.writeHead(503, { 'content-type': 'text/html; charset=utf-8' }).end(NOT_BUILT);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
    return;
  }
  res.writeHead(200, {
    'content-type': r.type,
    'content-length': r.size,
    'cache-control': r.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(r.file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
