// `pnpm pack:cli`: builds the installable `iocpscope` npm package and prints
// the tarball's path as its last line.
//
// The package needs no TypeScript loader and no esbuild at run time:
//   bin/iocpscope.mjs     the command; loads only the bundle of the command it runs
//   dist/*.mjs            esbuild bundles (ES modules, code split into shared chunks):
//                         cli.mjs (every command), cmd-<name>.mjs (one command each),
//                         and every worker-thread entry, all in this one directory
//   web/                  the dashboard's built files (apps/web/dist)
//   examples/             the example recordings and their stories
//   native/iocpscope.node the Win32 addon (win-x64), cross-built with mingw-w64
//   native/iocpscope-hook.dll, iocpscope-inject.exe  the hook DLL and its injector
//                         (`iocpscope run`/`attach`), cross-built the same way
//
// Thread entries are found, not listed: every `new URL('./x.ts', import.meta.url)`
// in the server's sources names a worker-thread entry. Each becomes a bundle of
// its own, and the URL is rewritten to that bundle's name, so the sources stay
// as they are. assets.ts resolves the web build, examples and addon from the
// package once __IOCPSCOPE_PACKAGED__ is defined.
//
// Options: --skip-web (reuse apps/web/dist), --skip-addon (no native addon:
// for a quick local try; the package then has no native backend), --skip-hook
// (no hook DLL: `iocpscope run` then says the package has none), --out DIR
// (build there instead of .pack/, so that two packs at once do not share a
// directory; DIR is emptied first, and must be empty or hold an earlier pack).

import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Esbuild from 'esbuild';
import { pureProtocol } from '../apps/server/src/port/threads.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER = join(ROOT, 'apps', 'server');
const SRC = join(SERVER, 'src');
const argv = process.argv.slice(2);
const args = new Set(argv);
/** --out DIR: where the pack is built (emptied first; default .pack/). */
const outArg = argv.includes('--out') ? (argv[argv.indexOf('--out') + 1] ?? '') : null;
if (outArg !== null && (outArg === '' || outArg.startsWith('--'))) {
  throw new Error('--out needs a directory');
}
const OUT = outArg !== null ? resolve(outArg) : join(ROOT, '.pack');
const PKG = join(OUT, 'package');
const say = (s: string): void => console.error(`[pack] ${s}`);

const requireFromServer = createRequire(join(SERVER, 'package.json'));
const esbuild = requireFromServer('esbuild') as typeof Esbuild;

/** Commands that get a bundle of their own, so `iocpscope check` loads only check. */
const COMMANDS: Record<string, string> = {
  serve: 'registerServeCommand',
  load: 'registerLoadCommand',
  check: 'registerCheckCommand',
  export: 'registerExportCommand',
  open: 'registerOpenCommand',
};

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (
      e.name.endsWith('.ts') &&
      !/\.test\.ts$|\.test-(util|worker)\.ts$|testing\.ts$/.test(e.name)
    )
      out.push(p);
  }
  return out;
}

const THREAD_URL = /new URL\((['"])(\.{1,2}\/[^'"]+?\.ts)\1,\s*import\.meta\.url\)/g;

/** Worker-thread entries (absolute .ts path -> bundle name), found in the sources. */
function threadEntries(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of walk(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(THREAD_URL)) {
      // not one a comment quotes (session/app.ts names the pattern in its doc comment)
      const line = text.slice(text.lastIndexOf('\n', m.index) + 1, m.index);
      if (/^\s*(\/\/|\*|\/\*)/.test(line)) continue;
      const abs = resolve(dirname(file), m[2]!);
      if (!existsSync(abs)) throw new Error(`${relative(ROOT, file)}: ${m[2]} does not exist`);
      const name = relative(SRC, abs).replace(/\.ts$/, '').split(sep).join('-');
      found.set(abs, name);
    }
  }
  return found;
}

function run(cmd: string, argv: string[], cwd = ROOT): void {
  const r = spawnSync(cmd, argv, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (status ${r.status})`);
}

async function buildBundles(threads: Map<string, string>): Promise<void> {
  const entryPoints: Record<string, string> = { cli: join(SRC, 'cli', 'main.ts') };
  for (const [abs, name] of threads) entryPoints[name] = abs;
  for (const cmd of Object.keys(COMMANDS)) entryPoints[`cmd-${cmd}`] = `iocpscope-cmd:${cmd}`;
  const rewriteThreadUrls: Esbuild.Plugin = {
    name: 'thread-urls',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (a) => {
        if (!a.path.startsWith(SRC + sep)) return undefined;
        const text = readFileSync(a.path, 'utf8');
        if (!THREAD_URL.test(text)) return undefined;
        THREAD_URL.lastIndex = 0;
        const contents = text.replace(THREAD_URL, (_all, _q: string, rel: string) => {
          const name = threads.get(resolve(dirname(a.path), rel))!;
          return `new URL('./${name}.mjs', import.meta.url)`;
        });
        return { contents, loader: 'ts' };
      });
    },
  };
  const commandEntries: Esbuild.Plugin = {
    name: 'command-entries',
    setup(b) {
      b.onResolve({ filter: /^iocpscope-cmd:/ }, (a) => ({
        path: a.path.slice('iocpscope-cmd:'.length),
        namespace: 'iocpscope-cmd',
      }));
      b.onLoad({ filter: /.*/, namespace: 'iocpscope-cmd' }, (a) => {
        const fn = COMMANDS[a.path]!;
        const file = join(SRC, 'cli', `${a.path}.ts`).split(sep).join('/');
        return {
          resolveDir: join(SRC, 'cli'),
          loader: 'ts',
          contents:
            `import { Command } from 'commander';\n` +
            `import { ${fn} } from ${JSON.stringify(file)};\n` +
            `export function buildProgram() {\n` +
            `  const p = new Command().name('iocpscope').showHelpAfterError();\n` +
            `  ${fn}(p);\n  return p;\n}\n`,
        };
      });
    },
  };
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints,
    outdir: join(PKG, 'dist'),
    entryNames: '[name]',
    // Chunks beside the entries: every bundle sits one level below the package root.
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    define: { __IOCPSCOPE_PACKAGED__: 'true' },
    // ws loads these native speedups when they are installed; without them it uses JS.
    external: ['bufferutil', 'utf-8-validate', 'esbuild', 'tsx', 'tsx/*'],
    plugins: [commandEntries, rewriteThreadUrls, pureProtocol],
    banner: {
      js: "import { createRequire as __iocpscopeRequire } from 'node:module'; const require = __iocpscopeRequire(import.meta.url);",
    },
  });
  writeFileSync(join(OUT, 'meta.json'), JSON.stringify(result.metafile));
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  say(
    `bundles: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1024).toFixed(0)} KiB`,
  );
}

function buildAddon(): string | null {
  if (args.has('--skip-addon')) {
    say('skipping the native addon (--skip-addon): the package will run emulated only');
    return null;
  }
  const deps = join(ROOT, 'scripts', 'native', 'deps.mjs');
  const out = execFileSync(process.execPath, [deps], { encoding: 'utf8', timeout: 600_000 });
  const { headersDir } = JSON.parse(out) as { headersDir: string };
  run('sh', [join(SERVER, 'native', 'build-mingw.sh'), headersDir]);
  return join(SERVER, 'native', 'build', 'Release', 'iocpscope.node');
}

/** The hook DLL and its injector, built into a directory of the pack's own. */
function buildHook(): string[] {
  if (args.has('--skip-hook')) {
    say('skipping the hook DLL (--skip-hook): iocpscope run/attach will not work');
    return [];
  }
  const out = join(OUT, 'hook');
  run('sh', [join(ROOT, 'packages', 'hook', 'build.sh'), out]);
  return [join(out, 'iocpscope-hook.dll'), join(out, 'iocpscope-inject.exe')];
}

const BIN = `#!/usr/bin/env node
// iocpscope: a visual debugger for IOCP (Windows I/O completion port) servers.
// Loads only the bundle of the command it runs (start-up is most of a check).
const bundles = { serve: 'cmd-serve', load: 'cmd-load', check: 'cmd-check', export: 'cmd-export', open: 'cmd-open' };
const single = bundles[process.argv[2]];
const { buildProgram } = await import(single ? \`../dist/\${single}.mjs\` : '../dist/cli.mjs');
await buildProgram().parseAsync(process.argv);
`;

const README = `# iocpscope

A visual debugger for IOCP (Windows I/O completion port) servers: worker threads
in GetQueuedCompletionStatus, every completion packet and every session's IOCount
on a timeline in the browser, recordings you can step through, and detectors for
the classic session-lifetime bugs.

    npx iocpscope serve --demo          # the reference echo server under a demo load
    npx iocpscope open run.iocptrace    # a recording in the dashboard
    npx iocpscope check run.iocptrace   # the detectors, in a terminal (exit 1 on findings)
    npx iocpscope serve --ingest 7702   # your own server, traced by iocpscope.h or the hook DLL

\`iocpscope <command> --help\` lists every option. Node.js >= 20.19.
`;

/** True when `dir` is missing, empty, or holds only what a pack writes. */
function isPackDir(dir: string): boolean {
  if (!existsSync(dir)) return true;
  return readdirSync(dir).every(
    (f) => f === 'package' || f === 'hook' || f === 'meta.json' || f.endsWith('.tgz'),
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  const serverPkg = JSON.parse(readFileSync(join(SERVER, 'package.json'), 'utf8')) as {
    version: string;
  };
  if (!isPackDir(OUT)) {
    throw new Error(`${OUT} is not empty and holds no earlier pack: not emptying it`);
  }
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(join(PKG, 'bin'), { recursive: true });

  if (!args.has('--skip-web')) {
    say('building the dashboard');
    run('pnpm', ['--silent', '--filter', '@iocpscope/web', 'build']);
  }
  const web = join(ROOT, 'apps', 'web', 'dist');
  if (!existsSync(join(web, 'index.html'))) throw new Error('apps/web/dist has no index.html');
  cpSync(web, join(PKG, 'web'), { recursive: true });

  const threads = threadEntries();
  say(`thread entries: ${[...threads.values()].join(', ')}`);
  await buildBundles(threads);

  mkdirSync(join(PKG, 'examples'));
  for (const f of readdirSync(join(ROOT, 'examples'))) {
    if (f.endsWith('.iocptrace') || f === 'stories.json' || f === 'README.md') {
      cpSync(join(ROOT, 'examples', f), join(PKG, 'examples', f));
    }
  }
  const addon = buildAddon();
  if (addon !== null) {
    mkdirSync(join(PKG, 'native'));
    cpSync(addon, join(PKG, 'native', 'iocpscope.node'));
  }
  for (const f of buildHook()) {
    mkdirSync(join(PKG, 'native'), { recursive: true });
    cpSync(f, join(PKG, 'native', f.slice(f.lastIndexOf('/') + 1)));
  }
  writeFileSync(join(PKG, 'bin', 'iocpscope.mjs'), BIN);
  chmodSync(join(PKG, 'bin', 'iocpscope.mjs'), 0o755);
  writeFileSync(join(PKG, 'README.md'), README);
  writeFileSync(
    join(PKG, 'package.json'),
    JSON.stringify(
      {
        name: 'iocpscope',
        version: serverPkg.version,
        description: 'A visual debugger for IOCP (Windows I/O completion port) servers',
        type: 'module',
        bin: { iocpscope: 'bin/iocpscope.mjs' },
        engines: { node: '>=20.19' },
        files: ['bin', 'dist', 'web', 'examples', 'native', 'README.md'],
        keywords: ['iocp', 'debugger', 'windows', 'completion-port', 'trace'],
      },
      null,
      2,
    ) + '\n',
  );
  const tgzName = execFileSync('npm', ['pack', '--silent', '--pack-destination', OUT], {
    cwd: PKG,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop()!;
  const tgz = join(OUT, tgzName);
  say(
    `${tgzName}: ${(statSync(tgz).size / 1024 / 1024).toFixed(1)} MiB in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(tgz);
}

await main();
