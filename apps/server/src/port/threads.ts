// Spawning worker threads whose entry is TypeScript.
//
// On Node 20 a worker does not inherit tsx's loader (neither from a parent
// started with tsx nor from vitest), and registering tsx inside each worker
// costs a loader thread per worker: measured here at 0.25 s per worker idle and
// 1 s or more on a loaded machine, against 0.05 s for a plain JS worker. So a
// .ts entry is bundled once per process with esbuild into one ES module (node
// builtins stay external) and every thread of that entry starts from the
// bundle. If esbuild cannot run (no binary for this platform), the entry starts
// through thread-boot.mjs, which registers tsx in the new thread instead.
//
// Keep imports in thread code static: a dynamic import makes esbuild wrap
// every module in lazy initialisers, which defeats the tree shaking that keeps a
// bundle small (pure-protocol below). A variable specifier is not bundled at all.
//
// Bundles carry no source state between runs: each process builds its own, in
// the OS temp directory, and removes them on exit. Inside a bundle,
// import.meta.url is the bundle's URL; entry code must not resolve files
// relative to itself.

import { build, type Plugin } from 'esbuild';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

const BOOT = new URL('./thread-boot.mjs', import.meta.url);
const bundles = new Map<string, Promise<URL | null>>();
const written: string[] = [];

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

async function bundleOf(entry: URL): Promise<URL | null> {
  const outfile = join(tmpdir(), `iocpscope-thread-${process.pid}-${bundles.size}.mjs`);
  try {
    await build({
      entryPoints: [fileURLToPath(entry)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'silent',
      plugins: [pureProtocol],
      // CommonJS dependencies bundled into an ES module still call require().
      banner: {
        js: "import { createRequire as __iocpscopeRequire } from 'node:module'; const require = __iocpscopeRequire(import.meta.url);",
      },
    });
    if (written.length === 0) process.once('exit', removeBundles);
    written.push(outfile);
    return pathToFileURL(outfile);
  } catch {
    return null;
  }
}

/**
 * @iocpscope/protocol is pure definitions; saying so lets esbuild drop the
 * modules a thread does not use (its zod schemas are most of a bundle's size
 * and parse time otherwise).
 */
const pureProtocol: Plugin = {
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

function removeBundles(): void {
  for (const f of written) rmSync(f, { force: true });
}
