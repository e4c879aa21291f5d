// `iocpscope run -- server.exe [args]` and `iocpscope attach PID|NAME`: trace an
// unmodified IOCP server with the hook DLL (packages/hook). Both hand the work
// to iocpscope-inject.exe, a small Windows program next to the DLL: `run`
// starts the server suspended, injects the DLL before the server's main and
// resumes it; `attach` loads the DLL into a running process and, when told to
// (Ctrl-C, --duration, --stop-file), detaches it again: the imports are
// restored, the trace ends (TraceEnd Detached) and the process runs on.
//
// The trace goes to a file (--record) and/or live to `iocpscope serve --ingest`
// (--connect); the DLL reads both from a block the injector leaves for it.
//
// On Windows the injector runs natively. Elsewhere it runs under Wine, with
// the same Wine and private prefix as the native tests (scripts/native/wine.mjs:
// the repository's .wine/prefix, or ~/.cache/iocpscope/wine-prefix for the
// installed CLI; IOCPSCOPE_WINEPREFIX names another), created on first use.
// Linux paths (the server, --record, --stop-file) become Wine paths (Z:\...).
// The exit code is the server's (`run`), or 0/1 (`attach`).

import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { assetPath, PACKAGED } from '../assets.ts';

export class RunOptionError extends Error {
  readonly code = 'ERR_RUN_OPTIONS';
}

export const HOOK_DLL = 'iocpscope-hook.dll';
export const INJECTOR = 'iocpscope-inject.exe';

const HOOK_SOURCES = [
  'packages/hook/src/hook.c',
  'packages/hook/src/iat.c',
  'packages/hook/src/iat.h',
  'packages/hook/src/inject.c',
  'packages/hook/build.sh',
  'packages/tracer/include/iocpscope.h',
];

/**
 * The DLL and the injector: the package's native/ directory, or packages/hook/build/
 * (built if stale). IOCPSCOPE_HOOK_DLL names another DLL (one built with MSVC, or a
 * test's deliberately broken build).
 */
export function hookBinaries(): { dll: string; injector: string } {
  const other = process.env.IOCPSCOPE_HOOK_DLL;
  if (other) {
    const injector = path.join(path.dirname(other), INJECTOR);
    if (!existsSync(other) || !existsSync(injector))
      throw new RunOptionError(
        `IOCPSCOPE_HOOK_DLL: ${other} (with ${INJECTOR} beside it) not found`,
      );
    return { dll: other, injector };
  }
  const dll = assetPath(`packages/hook/build/${HOOK_DLL}`, `native/${HOOK_DLL}`);
  const injector = assetPath(`packages/hook/build/${INJECTOR}`, `native/${INJECTOR}`);
  if (PACKAGED) {
    if (!existsSync(dll) || !existsSync(injector))
      throw new RunOptionError(`this package has no hook DLL (${dll}): it was packed without it`);
    return { dll, injector };
  }
  const newest = Math.max(
    ...HOOK_SOURCES.map((f) => {
      const p = assetPath(f, f);
      return existsSync(p) ? statSync(p).mtimeMs : 0;
    }),
  );
  const stale = (f: string): boolean => !existsSync(f) || statSync(f).mtimeMs < newest;
  if (stale(dll) || stale(injector)) {
    const script = assetPath('packages/hook/build.sh', 'packages/hook/build.sh');
    const r = spawnSync('sh', [script], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0)
      throw new RunOptionError(
        `building the hook DLL failed (sh packages/hook/build.sh; it needs mingw-w64):\n` +
          `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`.trim(),
      );
  }
  return { dll, injector };
}

interface WineHost {
  wine: string;
  env: NodeJS.ProcessEnv;
  toWin: (p: string) => string;
}

/** Wine, its prefix (created once, Windows 10) and its environment; null on Windows. */
async function wineHost(): Promise<WineHost | null> {
  if (process.platform === 'win32') return null;
  if (PACKAGED && !process.env.IOCPSCOPE_WINEPREFIX) {
    process.env.IOCPSCOPE_WINEPREFIX = path.join(homedir(), '.cache', 'iocpscope', 'wine-prefix');
  }
  const w = await import('../../../../scripts/native/wine.mjs');
  if (!existsSync(w.WINE))
    throw new RunOptionError(
      `${w.WINE} not found: the server runs under Wine here (apt-get install wine64)`,
    );
  if (w.ensurePrefix()) process.stderr.write(`[iocpscope] created the Wine prefix ${w.PREFIX}\n`);
  return { wine: w.WINE, env: w.wineEnv(), toWin: w.winPath };
}

/** A path the injector (a Windows program) understands. */
function hostPath(host: WineHost | null, p: string): string {
  const abs = path.resolve(p);
  return host ? host.toWin(abs) : abs;
}

/** The server: a Linux path that exists becomes a Wine path; anything else is passed on. */
function programPath(host: WineHost | null, p: string): string {
  if (host && existsSync(p)) return host.toWin(path.resolve(p));
  return p;
}

export interface TraceTargetFlags {
  record?: string;
  connect?: string;
  token?: string;
  app?: string;
  name?: string;
  quiet?: boolean;
}

function configArgs(host: WineHost | null, f: TraceTargetFlags): string[] {
  const out: string[] = [];
  if (f.record) out.push('--output', hostPath(host, f.record));
  if (f.connect) {
    if (!/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(f.connect))
      throw new RunOptionError(`--connect: expected host:port, got ${JSON.stringify(f.connect)}`);
    out.push('--connect', f.connect);
  }
  if (f.token) out.push('--token', f.token);
  if (f.app) out.push('--app', f.app);
  if (f.name) out.push('--name', f.name);
  if (f.quiet) out.push('--quiet');
  if (!f.record && !f.connect)
    process.stderr.write(
      '[iocpscope] neither --record nor --connect: the server runs hooked, but nothing is kept\n',
    );
  return out;
}

/**
 * Wine 8 under glibc: a Wine process sometimes fails glibc's check of its
 * loaded libraries while it exits (another of Wine's threads still loading or
 * unloading one), and the loader ends it with 127 and this line on stderr. Seen
 * once in CI, after the injector had detached and said so. The detach is done
 * by then (the DLL has ended the trace in the server), so `attach` and
 * `detach` report their own outcome and name the crash instead of failing.
 */
export const WINE_EXIT_CRASH = /Inconsistency detected by ld\.so: dl-fini\.c/;

/** The exit code of an attach or detach whose injector died of WINE_EXIT_CRASH after it finished. */
export function injectorOutcome(
  code: number,
  output: string,
): { code: number; note: string | null } {
  if (code !== 127 || !WINE_EXIT_CRASH.test(output)) return { code, note: null };
  if (!/\[iocpscope-inject\] detached from process \d+/.test(output)) return { code, note: null };
  return {
    code: 0,
    note:
      "[iocpscope] the injector detached, then crashed in Wine's loader as its process exited " +
      '(glibc: "Inconsistency detected by ld.so: dl-fini.c", exit 127): a Wine exit race, ' +
      'after its work was done; reported as success\n',
  };
}

/** Output kept for injectorOutcome (its last lines are what it looks at). */
const KEEP_OUTPUT = 64 * 1024;

/**
 * Runs the injector with `args` and resolves its exit code. Its output goes to
 * this process's as it comes; `attach` and `detach` (`judged`) also keep it, to
 * tell a finished detach from a failed one (injectorOutcome).
 */
function runInjector(
  host: WineHost | null,
  injector: string,
  args: string[],
  judged = false,
): Promise<number> {
  const stdio: StdioOptions = judged ? ['inherit', 'pipe', 'pipe'] : 'inherit';
  const child = host
    ? spawn(host.wine, [injector, ...args], { env: host.env, stdio })
    : spawn(injector, args, { stdio });
  let output = '';
  const keep = (to: NodeJS.WriteStream) => (b: Buffer) => {
    to.write(b);
    output = (output + b.toString('utf8')).slice(-KEEP_OUTPUT);
  };
  child.stdout?.on('data', keep(process.stdout));
  child.stderr?.on('data', keep(process.stderr));
  const forward = (sig: NodeJS.Signals) => () => {
    child.kill(sig);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(
        `[iocpscope] cannot start ${host ? host.wine : injector}: ${e.message}\n`,
      );
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      const status = code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : 1);
      if (!judged) {
        resolve(status);
        return;
      }
      // The rest of its output, then judge: at most 500 ms (a wineserver that
      // the injector's Wine started holds the pipes open after it exits).
      let settled = false;
      const judge = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(late);
        // (Pipes a wineserver still holds would keep this process running.)
        child.stdout?.destroy();
        child.stderr?.destroy();
        const r = injectorOutcome(status, output);
        if (r.note !== null) process.stderr.write(r.note);
        resolve(r.code);
      };
      const late = setTimeout(judge, 500);
      child.once('close', judge);
    });
  });
}

/** `iocpscope run`: resolves the server's exit code. */
export async function runHooked(
  program: string,
  args: readonly string[],
  flags: TraceTargetFlags,
): Promise<number> {
  const { dll, injector } = hookBinaries();
  const host = await wineHost();
  const cmd = [
    'run',
    '--dll',
    hostPath(host, dll),
    ...configArgs(host, flags),
    '--',
    programPath(host, program),
    ...args,
  ];
  return runInjector(host, host ? hostPath(host, injector) : injector, cmd);
}

export interface AttachFlags extends TraceTargetFlags {
  /** Detach after this long (a duration: 30s, 2m). */
  duration?: string;
  stopFile?: string;
  /** Leave it attached (no wait, no detach). */
  stay?: boolean;
  /** Only detach (the DLL was attached before, with --stay). */
  detach?: boolean;
}

function seconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!m)
    throw new RunOptionError(
      `--duration: expected a number and a unit (500ms, 30s, 2m), got ${JSON.stringify(text)}`,
    );
  const v = Number(m[1]) * (m[2] === 'ms' ? 0.001 : m[2] === 'm' ? 60 : 1);
  return Math.max(1, Math.ceil(v));
}

/** `iocpscope attach`: resolves 0 when attached (and detached) as asked. */
export async function attachHooked(target: string, flags: AttachFlags): Promise<number> {
  const { dll, injector } = hookBinaries();
  const host = await wineHost();
  const who = /^\d+$/.test(target) ? ['--pid', target] : ['--exe', target];
  const cmd = flags.detach
    ? ['detach', '--dll', hostPath(host, dll), ...who]
    : [
        'attach',
        '--dll',
        hostPath(host, dll),
        ...who,
        ...configArgs(host, flags),
        ...(flags.duration ? ['--seconds', String(seconds(flags.duration))] : []),
        ...(flags.stopFile ? ['--stop-file', hostPath(host, flags.stopFile)] : []),
        ...(flags.stay ? ['--stay'] : []),
      ];
  return runInjector(host, host ? hostPath(host, injector) : injector, cmd, true);
}

function targetOptions(c: Command): Command {
  return c
    .option('--record <file>', 'write the trace to this .iocptrace file')
    .option('--connect <host:port>', 'stream it live to `iocpscope serve --ingest` at host:port')
    .option('--token <token>', "the viewer's token, when it asks for one")
    .option('--app <name>', "the server's name in the trace (default: the exe's name)")
    .option('--name <text>', "the recording's name")
    .option('--quiet', 'no [iocpscope] lines from the DLL on the server’s stderr');
}

function fail(e: unknown): number {
  if (e instanceof RunOptionError) {
    process.stderr.write(`iocpscope: ${e.message}\n`);
    return 2;
  }
  throw e;
}

export function registerRunCommand(program: Command): void {
  targetOptions(
    program
      .command('run')
      .description(
        'run an unmodified IOCP server with the hook DLL injected (under Wine when not on ' +
          'Windows) and trace it to a file and/or a running `serve --ingest`',
      )
      .usage('[--record FILE] [--connect HOST:PORT] -- server.exe [args...]')
      .argument('<program>', 'the server (.exe)')
      .argument('[args...]', "the server's own arguments (after --)"),
  ).action(async (prog: string, args: string[], flags: TraceTargetFlags) => {
    try {
      process.exitCode = await runHooked(prog, args, flags);
    } catch (e) {
      process.exitCode = fail(e);
    }
  });

  targetOptions(
    program
      .command('attach')
      .description(
        'load the hook DLL into a running IOCP server (Windows process id or exe name), ' +
          'trace it until Ctrl-C, --duration or --stop-file, then detach: the imports are ' +
          'restored, the trace ends and the server runs on',
      )
      .argument('<process>', 'the Windows process id, or the exe name (one process of that name)'),
  )
    .option('--duration <time>', 'detach after this long (30s, 2m)')
    .option('--stop-file <path>', 'detach when this file appears')
    .option('--stay', 'leave the DLL attached and return at once (detach later with --detach)')
    .option('--detach', 'only detach: restore the imports and end the trace')
    .action(async (target: string, flags: AttachFlags) => {
      try {
        process.exitCode = await attachHooked(target, flags);
      } catch (e) {
        process.exitCode = fail(e);
      }
    });
}
