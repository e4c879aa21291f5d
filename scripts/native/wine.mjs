// Running node.exe under Wine, bounded. A private prefix lives in the
// git-ignored .wine/ at the repository root (created on first use: ~10 s and
// ~700 MB, then set to Windows 10, which Node requires). Every invocation has
// a timeout; stdout and stderr go to a file (a pipe fails inside node.exe
// under Wine); results travel through files the test writes itself.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './deps.mjs';

export const WINE = process.env.IOCPSCOPE_WINE ?? '/usr/lib/wine/wine64';
export const WINESERVER = process.env.IOCPSCOPE_WINESERVER ?? '/usr/lib/wine/wineserver';
/** The project's private prefix; IOCPSCOPE_WINEPREFIX names another (the installed CLI's). */
export const PREFIX = process.env.IOCPSCOPE_WINEPREFIX || join(ROOT, '.wine', 'prefix');
const READY = join(PREFIX, '.iocpscope-win10');

class WineError extends Error {
  code = 'ERR_NATIVE_WINE';
}

export function wineEnv(extra = {}) {
  return { ...process.env, WINEPREFIX: PREFIX, WINEDEBUG: '-all', ...extra };
}

/** Z:\ path of a Linux path (Wine maps / to Z:). */
export const winPath = (p) => 'Z:' + p.replace(/\//g, '\\');

/** Creates the prefix in Windows 10 mode once. */
export function ensurePrefix() {
  if (!existsSync(WINE)) {
    throw new WineError(`${WINE} not found (apt-get install wine64)`);
  }
  if (existsSync(READY)) return false;
  mkdirSync(PREFIX, { recursive: true });
  const r = spawnSync(WINE, ['winecfg', '/v', 'win10'], {
    env: wineEnv(),
    stdio: 'ignore',
    timeout: 180_000,
  });
  if (r.status !== 0)
    throw new WineError(
      `winecfg /v win10 failed (status ${r.status}, ${r.error?.message ?? 'no error'})`,
    );
  writeFileSync(READY, 'win10\n');
  return true;
}

/** Keeps one wineserver up between invocations (each node.exe start is then ~1.5 s). */
export function startWineserver() {
  spawnSync(WINESERVER, ['-p', '120'], { env: wineEnv(), stdio: 'ignore', timeout: 30_000 });
}

/** wineserver -k: ends every Windows process of the prefix. */
export function stopWineserver() {
  spawnSync(WINESERVER, ['-k'], { env: wineEnv(), stdio: 'ignore', timeout: 30_000 });
}

/**
 * Runs `node.exe args` under Wine with `env` added, stdout+stderr into `logFile`
 * (in `cwd` when given: Wine makes its Z: path the Windows working directory).
 * Resolves { status, timedOut, ms } and never rejects; killed after timeoutMs.
 */
export function runNodeExe(nodeExe, args, { env = {}, timeoutMs, logFile, cwd }) {
  return runWine(nodeExe, args, { env, timeoutMs, logFile, cwd });
}

/** Runs any Windows program under Wine, as runNodeExe does. */
export function runWine(program, args, { env = {}, timeoutMs, logFile, cwd }) {
  const run = spawnWine(program, args, { env, logFile, cwd });
  const timer = setTimeout(() => run.kill('SIGKILL'), timeoutMs);
  return run.exited.then((r) => {
    clearTimeout(timer);
    return r;
  });
}

/**
 * Starts a Windows program under Wine in the background (its own process
 * group, stdout+stderr into `logFile`). Returns { pid, kill(signal), exited },
 * where `exited` resolves { status, timedOut, ms } and never rejects; timedOut
 * is true when kill() ended it.
 */
export function spawnWine(program, args, { env = {}, logFile, cwd }) {
  const t0 = Date.now();
  const fd = openSync(logFile, 'w');
  const child = spawn(WINE, [program, ...args], {
    ...(cwd !== undefined ? { cwd } : {}),
    env: wineEnv(env),
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  let killed = false;
  const kill = (signal = 'SIGTERM') => {
    killed = true;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  const exited = new Promise((resolve) => {
    child.on('exit', (status) => resolve({ status, timedOut: killed, ms: Date.now() - t0 }));
    child.on('error', (e) =>
      resolve({ status: -1, timedOut: false, ms: Date.now() - t0, error: e.message }),
    );
  });
  return { pid: child.pid, kill, exited };
}
