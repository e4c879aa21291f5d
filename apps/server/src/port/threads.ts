// Spawning worker threads whose entry is TypeScript.
//
// On Node 20 a worker does not inherit tsx's loader (neither from a parent
// started with tsx nor from vitest), and registering tsx inside each worker
// costs a loader thread per worker: measured here at 0.25 s per worker idle and
// 1 s or more on a loaded machine, against 0.05 s for a plain JS worker. So a
// .ts entry is bundled with esbuild into one ES module (node builtins stay
// external) and every thread of that entry starts from the bundle. If esbuild
// cannot run (no binary for this platform), the entry starts through
// thread-boot.mjs, which registers tsx in the new thread instead.
//
// The installed package (`pnpm pack:cli`) ships every thread entry prebuilt as
// a .mjs bundle and has no esbuild: its .mjs entries start directly.
//
// Keep imports in thread code static: a dynamic import makes esbuild wrap
// every module in lazy initialisers, which defeats the tree shaking that keeps a
// bundle small (pure-protocol below). A variable specifier is not bundled at all.
//
// Bundles live in a per-user directory under the OS temp directory and are
// reused across processes while their input files are unchanged (size and
// mtime). Inside a bundle, import.meta.url is the bundle's URL; entry code must
// not resolve files relative to itself.

import type * as Esbuild from 'esbuild';
import type { Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

const BOOT = new URL('./thread-boot.mjs', import.meta.url);
const CACHE_DIR = join(tmpdir(), `iocpscope-threads-${process.getuid?.() ?? 'user'}`);
const bundles = new Map<string, Promise<URL | null>>();

/** Start a worker on `entry` (.ts, .js or .mjs); resolves once the Worker exists. */
export async function spawnThread(entry: URL, options: WorkerOptions = {}): Promise<Worker> {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  let bundle = bundles.get(entry.href);
  if (!bundle) {
    bundle = bundleOf(entry);
    bundles.set(entry.href, bundle);
  }
  const url = await bundle;
  if (url) return new Worker(url, options);
  return new Worker(BOOT, { ...options, argv: [entry.href, ...(options.argv ?? [])] });
}

interface CacheMeta {
  inputs: [path: string, mtimeMs: number, size: number][];
}

/**
 * The bundle of `entry`: reused from the cache directory while every input
 * file has the size and mtime recorded when it was built (so test files, each
 * in its own process, do not rebuild it), else built afresh.
 */
async function bundleOf(entry: URL): Promise<URL | null> {
  // Loaded only here: the installed package starts prebuilt bundles and has no esbuild.
  let esbuild: typeof Esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return null;
  }
  const { build, version: esbuildVersion } = esbuild;
  const key = createHash('sha1')
    .update(`${entry.href}\0${process.version}\0${esbuildVersion}`)
    .digest('hex')
    .slice(0, 16);
  const outfile = join(CACHE_DIR, `${key}.mjs`);
  const metafile = join(CACHE_DIR, `${key}.json`);
  if (isFresh(metafile)) return pathToFileURL(outfile);
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    const started = Date.now();
    const tmp = `${outfile}.${process.pid}.tmp`;
    const result = await build({
      entryPoints: [fileURLToPath(entry)],
      outfile: tmp,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'silent',
      metafile: true,
      plugins: [pureProtocol],
      // CommonJS dependencies bundled into an ES module still call require().
      banner: {
        js: "import { createRequire as __iocpscopeRequire } from 'node:module'; const require = __iocpscopeRequire(import.meta.url);",
      },
    });
    renameSync(tmp, outfile);
    const inputs: CacheMeta['inputs'] = [];
    let stable = true;
    for (const p of Object.keys(result.metafile.inputs)) {
      const st = statSync(resolve(p));
      if (st.mtimeMs >= started) stable = false; // edited while building: do not trust it
      inputs.push([resolve(p), st.mtimeMs, st.size]);
    }
    if (stable) {
      writeFileSync(
        `${metafile}.${process.pid}.tmp`,
        JSON.stringify({ inputs } satisfies CacheMeta),
      );
      renameSync(`${metafile}.${process.pid}.tmp`, metafile);
    }
    return pathToFileURL(outfile);
  } catch {
    return null;
  }
}

function isFresh(metafile: string): boolean {
  try {
    const meta = JSON.parse(readFileSync(metafile, 'utf8')) as CacheMeta;
    return meta.inputs.every(([p, mtimeMs, size]) => {
      const st = statSync(p);
      return st.mtimeMs === mtimeMs && st.size === size;
    });
  } catch {
    return false;
  }
}

/**
 * @iocpscope/protocol is pure definitions; saying so lets esbuild drop the
 * modules a thread does not use (its zod schemas are most of a bundle's size
 * and parse time otherwise).
 */
export const pureProtocol: Plugin = {
  name: 'pure-protocol',
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === SKIP) return undefined;
      const inProtocol =
        args.path === '@iocpscope/protocol' || args.importer.includes(PROTOCOL_SRC);
      if (!inProtocol) return undefined;
      const r = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: SKIP,
      });
      if (r.errors.length > 0 || !r.path.includes(PROTOCOL_SRC)) return undefined;
      return { path: r.path, sideEffects: false };
    });
  },
};
const SKIP = Symbol('skip');
const PROTOCOL_SRC = join('packages', 'protocol', 'src');
