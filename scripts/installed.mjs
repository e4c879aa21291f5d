// Pack the `iocpscope` package (scripts/pack-cli.ts, reusing the built
// dashboard) and install it from the tarball into an empty directory, as a user
// would with `npm i iocpscope-x.y.z.tgz`. Shared by the tests of the installed
// package (apps/server/test/pack, e2e/specs/installed.spec.ts) so they test
// exactly what a user gets.
//
//   const { dir, bin } = installPackage();   // bin: the installed command's entry
//   spawn(process.execPath, [bin, 'check', file], { cwd: dir })

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Pack (about 10 s when the dashboard is built) and return the tarball's path.
 * `out`: pack-cli's --out (default .pack/); `buildWeb`: build the dashboard
 * when apps/web/dist is missing instead of failing (it is reused when built).
 */
export function packTarball({ out, buildWeb = false } = {}) {
  const built = existsSync(join(ROOT, 'apps', 'web', 'dist', 'index.html'));
  if (!built && !buildWeb) {
    throw new Error('the dashboard is not built: run `pnpm --filter @iocpscope/web build` first');
  }
  const stdout = execFileSync(
    join(ROOT, 'node_modules', '.bin', 'tsx'),
    [
      join(ROOT, 'scripts', 'pack-cli.ts'),
      ...(built ? ['--skip-web'] : []),
      ...(out ? ['--out', out] : []),
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return stdout.trim().split('\n').pop();
}

/** Install the package into a fresh temporary directory; `cleanup()` removes it. */
export function installPackage(tarball = packTarball()) {
  const dir = mkdtempSync(join(tmpdir(), 'iocpscope-installed-'));
  writeFileSync(join(dir, 'package.json'), '{"name":"try-iocpscope","private":true}\n');
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--silent', tarball], {
    cwd: dir,
    timeout: 300_000,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const pkg = join(dir, 'node_modules', 'iocpscope');
  return {
    dir,
    pkg,
    bin: join(pkg, 'bin', 'iocpscope.mjs'),
    tarball,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
