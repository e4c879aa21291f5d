// What the hook's tests and benchmark share: building the DLL, the injector, the
// AcceptEx echo server and the test programs with mingw-w64; running a server
// through `iocpscope run` (the launcher as a user runs it, under Wine) or plain;
// stopping it with its stop file. The tracer's harness (Wine, the CLI, `load`,
// `check`, the test registry) is reused as it is.

import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CC,
  CLI,
  HarnessError,
  INCLUDE,
  ROOT,
  TSX,
  WARNINGS,
  freePort,
  readText,
  run,
  sleep,
  winPath,
  buildEchoServer,
} from '../../tracer/test/harness.ts';
import { spawnWine } from '../../../scripts/native/wine.mjs';

export const HOOK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const HOOK_BUILD = join(HOOK_DIR, 'build');
const SRC = join(HOOK_DIR, 'src');

/** A fresh directory under build/runs/ for one test's files. */
export function workDir(name: string): string {
  const dir = join(HOOK_BUILD, 'runs', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
const C99 = ['-std=c99', '-O2', ...WARNINGS, '-static-libgcc'];

function newest(files: string[]): number {
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

function build(
  out: string,
  sources: string[],
  o: { flags?: string[]; libs?: string[]; deps?: string[] } = {},
): string {
  mkdirSync(dirname(out), { recursive: true });
  if (existsSync(out) && statSync(out).mtimeMs >= newest([...sources, ...(o.deps ?? [])]))
    return out;
  const r = run(CC, [...C99, ...(o.flags ?? []), ...sources, '-o', out, ...(o.libs ?? [])]);
  if (!r.ok) throw new HarnessError(`building ${out} failed:\n${r.output}`);
  return out;
}

const DLL_DEPS = [join(SRC, 'iat.h'), join(INCLUDE, 'iocpscope.h')];

/**
 * iocpscope-hook.dll and iocpscope-inject.exe into `dir` (default build/); `fault` builds
 * a deliberately broken DLL (hook.c's IOCPSCOPE_HOOK_TEST_FAULT); `selftime` one that
 * times its hooks outside the real calls (IOCPSCOPE_HOOK_SELFTIME, for bench:hook).
 */
export function buildHook(o: { dir?: string; fault?: number; selftime?: boolean } = {}): {
  dll: string;
  injector: string;
} {
  const dir = o.dir ?? HOOK_BUILD;
  const dll = build(join(dir, 'iocpscope-hook.dll'), [join(SRC, 'hook.c'), join(SRC, 'iat.c')], {
    flags: [
      '-shared',
      `-I${INCLUDE}`,
      ...(o.fault ? [`-DIOCPSCOPE_HOOK_TEST_FAULT=${o.fault}`] : []),
      ...(o.selftime ? ['-DIOCPSCOPE_HOOK_SELFTIME'] : []),
    ],
    libs: ['-lws2_32'],
    deps: DLL_DEPS,
  });
  const injector = build(join(dir, 'iocpscope-inject.exe'), [join(SRC, 'inject.c')], {
    flags: ['-municode'],
  });
  return { dll, injector };
}

export function buildAcceptexEcho(): string {
  return build(
    join(HOOK_BUILD, 'acceptex_echo.exe'),
    [join(HOOK_DIR, 'examples', 'acceptex_echo.c')],
    { libs: ['-lws2_32', '-lmswsock'] },
  );
}

export function buildProbe(): { probe: string; late: string } {
  const probe = build(
    join(HOOK_BUILD, 'probe.exe'),
    [join(HOOK_DIR, 'test', 'native', 'probe.c')],
    { libs: ['-lws2_32', '-lmswsock'] },
  );
  const late = build(join(HOOK_BUILD, 'late.dll'), [join(HOOK_DIR, 'test', 'native', 'late.c')], {
    flags: ['-shared'],
    libs: ['-lws2_32'],
  });
  return { probe, late };
}

/** count_aba.exe: hook.c compiled in with its test hooks (the derived IOCount's order). */
export function buildCountAba(): string {
  return build(
    join(HOOK_BUILD, 'count_aba.exe'),
    [join(HOOK_DIR, 'test', 'native', 'count_aba.c')],
    {
      flags: [`-I${INCLUDE}`],
      libs: ['-lws2_32'],
      deps: [join(SRC, 'hook.c'), join(SRC, 'iat.c'), ...DLL_DEPS],
    },
  );
}

/** post_claim.exe: hook.c compiled in with its test hooks (a post published when its call returns). */
export function buildPostClaim(): string {
  return build(
    join(HOOK_BUILD, 'post_claim.exe'),
    [join(HOOK_DIR, 'test', 'native', 'post_claim.c')],
    {
      flags: [`-I${INCLUDE}`],
      libs: ['-lws2_32'],
      deps: [join(SRC, 'hook.c'), join(SRC, 'iat.c'), ...DLL_DEPS],
    },
  );
}

/** The two servers the hook is tested on: the course's (built untraced) and the AcceptEx one. */
export type ServerKind = 'course' | 'acceptex';

export function serverExe(kind: ServerKind): string {
  return kind === 'course' ? buildEchoServer(false) : buildAcceptexEcho();
}

export interface HookedRun {
  status: number | null;
  log: string;
  stats: Record<string, unknown> | null;
}

export interface RunningServer {
  port: number;
  dir: string;
  stop(timeoutMs?: number): Promise<HookedRun>;
}

/**
 * Starts `kind` on a free port, through `iocpscope run` (hooked: trace to `record` and/or
 * `connect`) or plain under Wine, and waits until it listens.
 */
export async function startServer(
  kind: ServerKind,
  dir: string,
  o: {
    hooked: boolean;
    record?: string;
    connect?: string;
    args?: string[];
    env?: Record<string, string>;
  },
): Promise<RunningServer> {
  const exe = serverExe(kind);
  const port = await freePort();
  const stopFile = join(dir, 'stop');
  const readyFile = join(dir, 'ready');
  const statsFile = join(dir, 'stats.json');
  const logFile = join(dir, 'server.log');
  const serverArgs = [
    '--port',
    String(port),
    '--stop-file',
    winPath(stopFile),
    '--ready-file',
    winPath(readyFile),
    '--stats',
    winPath(statsFile),
    ...(o.args ?? []),
  ];
  let exited: Promise<{ status: number | null }>;
  let kill: (sig: NodeJS.Signals) => void;
  if (o.hooked) {
    const fd = openSync(logFile, 'w');
    const child = spawn(
      TSX,
      [
        CLI,
        'run',
        ...(o.record ? ['--record', o.record] : []),
        ...(o.connect ? ['--connect', o.connect] : []),
        '--',
        exe,
        ...serverArgs,
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ...(o.env ?? {}) },
        detached: true,
      },
    );
    closeSync(fd);
    exited = new Promise((r) => child.on('exit', (status) => r({ status })));
    kill = (sig) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        child.kill(sig);
      }
    };
  } else {
    const p = spawnWine(exe, serverArgs, { env: o.env ?? {}, logFile });
    exited = p.exited;
    kill = (sig) => p.kill(sig);
  }
  let done = false;
  void exited.then(() => (done = true));
  const t0 = Date.now();
  while (!existsSync(readyFile)) {
    if (done || Date.now() - t0 > 60_000) {
      kill('SIGKILL');
      throw new HarnessError(
        `${kind} did not start (${done ? 'it exited' : 'timeout'}): ${readText(logFile)}`,
      );
    }
    await sleep(50);
  }
  return {
    port,
    dir,
    async stop(timeoutMs = 30_000) {
      writeFileSync(stopFile, 'stop\n');
      const term = setTimeout(() => kill('SIGTERM'), timeoutMs);
      const hard = setTimeout(() => kill('SIGKILL'), timeoutMs + 5_000);
      const r = await exited;
      clearTimeout(term);
      clearTimeout(hard);
      let stats: Record<string, unknown> | null;
      try {
        stats = JSON.parse(readFileSync(statsFile, 'utf8')) as Record<string, unknown>;
      } catch {
        stats = null;
      }
      return { status: r.status, log: readText(logFile), stats };
    },
  };
}

/** Runs `iocpscope <args>` with stdout and stderr into `logFile`; resolves its exit code. */
export function cliToFile(
  args: string[],
  logFile: string,
  env: Record<string, string> = {},
): { exited: Promise<number | null>; kill(sig: NodeJS.Signals): void } {
  const fd = openSync(logFile, 'w');
  const child = spawn(TSX, [CLI, ...args], {
    cwd: ROOT,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
    detached: true,
  });
  closeSync(fd);
  return {
    exited: new Promise((r) => child.on('exit', (status) => r(status))),
    kill(sig) {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        child.kill(sig);
      }
    },
  };
}
