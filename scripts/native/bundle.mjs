// Bundles test suites into plain ES modules that node.exe can run under Wine
// without vitest, tsx or esbuild (none of which has its Windows binary here).
//
// - A suite is a list of vitest-style test files. Its bundle imports them in
//   order, each preceded by a tiny module that tells the shim which file is
//   loading, and ends with run-main.mjs. 'vitest' is aliased to
//   apps/server/test/native/wine/vitest-shim.mjs (assertions from @vitest/expect).
// - Thread entries: every `new URL('./x.ts', import.meta.url)` in a bundled
//   source is rewritten to point at a separately bundled `x` module in the same
//   output directory, so spawnThread() (port/threads.ts) starts a plain JS
//   worker and never needs esbuild at run time. trace/spawn.ts starts workers
//   through boot.mjs (tsx); the output directory gets a boot.mjs that imports
//   the already bundled entry instead.
// - 'esbuild' stays external: port/threads.ts imports it, but with every thread
//   entry pre-bundled nothing calls it. Bundles must therefore be written inside
//   the repository (apps/server/native/build/...), where node resolves it.
//
// Usage: import { bundleSuites } from './bundle.mjs'; await bundleSuites(outDir, suites)

import { mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './deps.mjs';

// esbuild is the server package's dependency (it bundles thread entries there).
const { build } = createRequire(join(ROOT, 'apps/server/package.json'))('esbuild');

const SHIM = join(ROOT, 'apps/server/test/native/wine/vitest-shim.mjs');
const RUN_MAIN = join(ROOT, 'apps/server/test/native/wine/run-main.mjs');
const URL_RE = /new URL\(\s*(['"])(\.{1,2}\/[^'"]+\.ts)\1\s*,\s*import\.meta\.url\s*\)/g;

/** '@vitest/expect' as vitest itself resolves it (it is not a direct dependency). */
function vitestExpectPath() {
  const vitestPkg = realpathSync(join(ROOT, 'node_modules/vitest/package.json'));
  return createRequire(vitestPkg).resolve('@vitest/expect');
}

const bundleName = (abs) =>
  relative(ROOT, abs)
    .replace(/\.ts$/, '')
    .replace(/[\\/]/g, '--')
    .replace(/[^A-Za-z0-9_.-]/g, '_') + '.mjs';

const BANNER =
  "import { createRequire as __iocpscopeRequire } from 'node:module'; const require = __iocpscopeRequire(import.meta.url);";

function commonOptions(threadEntries) {
  const expectPath = vitestExpectPath();
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    banner: { js: BANNER },
    alias: { vitest: SHIM, '@vitest/expect': expectPath },
    // Imported by port/threads.ts but never called from a bundle (no .ts entry is
    // left); node.exe resolves it from the bundle's directory, inside the repo.
    external: ['esbuild'],
    plugins: [
      {
        name: 'iocpscope-wine',
        setup(b) {
          b.onResolve({ filter: /^setfile:/ }, (a) => ({ path: a.path, namespace: 'setfile' }));
          b.onLoad({ filter: /.*/, namespace: 'setfile' }, (a) => ({
            contents: `import { __setFile } from 'vitest'; __setFile(${JSON.stringify(a.path.slice(8))});`,
            loader: 'js',
            resolveDir: ROOT,
          }));
          b.onLoad({ filter: /\.ts$/ }, (a) => {
            const src = readFileSync(a.path, 'utf8');
            if (!URL_RE.test(src)) return undefined;
            URL_RE.lastIndex = 0;
            const contents = src.replace(URL_RE, (_m, _q, rel) => {
              const target = resolve(dirname(a.path), rel);
              threadEntries.add(target);
              return `new URL(${JSON.stringify('./' + bundleName(target))}, import.meta.url)`;
            });
            return { contents, loader: 'ts' };
          });
        },
      },
    ],
  };
}

/**
 * suites: { name, files: absolute paths of vitest-style test files } or
 *         { name, entry: absolute path of a plain script }.
 * Writes <outDir>/<name>.mjs per suite plus every thread entry; returns the paths.
 */
export async function bundleSuites(outDir, suites) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const threadEntries = new Set();
  const opts = commonOptions(threadEntries);
  const out = {};
  for (const s of suites) {
    const outfile = join(outDir, `${s.name}.mjs`);
    if (s.files) {
      const lines = ["import { runRegistered } from 'vitest';"];
      for (const f of s.files) {
        lines.push(`import ${JSON.stringify('setfile:' + basename(f))};`);
        lines.push(`import ${JSON.stringify(f)};`);
      }
      lines.push(`import { runMain } from ${JSON.stringify(RUN_MAIN)};`);
      lines.push('await runMain(runRegistered);');
      await build({
        ...opts,
        stdin: { contents: lines.join('\n'), resolveDir: ROOT, sourcefile: `${s.name}-entry.mjs` },
        outfile,
      });
    } else {
      await build({ ...opts, entryPoints: [s.entry], outfile });
    }
    out[s.name] = outfile;
  }
  // Thread entries may name further thread entries: build until none is new.
  const built = new Set();
  for (;;) {
    const todo = [...threadEntries].filter((e) => !built.has(e));
    if (todo.length === 0) break;
    for (const e of todo) {
      built.add(e);
      await build({ ...opts, entryPoints: [e], outfile: join(outDir, bundleName(e)) });
    }
  }
  // trace/spawn.ts boots every thread through boot.mjs next to it (tsx there).
  writeFileSync(
    join(outDir, 'boot.mjs'),
    "import { workerData } from 'node:worker_threads';\nawait import(workerData.entry);\n",
  );
  return out;
}
