// What the tracer's tests and benchmark share: building with mingw-w64, running
// Windows programs under Wine (scripts/native/wine.mjs: a private prefix, output
// to files), free loopback ports, the `iocpscope load` and `check` commands as a
// user runs them, and a tiny test registry whose report ends in the
// `native: N passed, N failed` contract of scripts/native/test.mjs.
//
// Every wait is bounded; servers are stopped with their stop file, then SIGTERM,
// then SIGKILL.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ensurePrefix,
  spawnWine,
  startWineserver,
  stopWineserver,
  winPath,
} from '../../../scripts/native/wine.mjs';

export const TRACER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(TRACER_DIR, '..', '..');
export const BUILD = join(TRACER_DIR, 'build');
export const INCLUDE = join(TRACER_DIR, 'include');
export const HEADER = join(INCLUDE, 'iocpscope.h');
export const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
export const CLI = join(ROOT, 'apps', 'server', 'src', 'cli', 'main.ts');

export const CC = 'x86_64-w64-mingw32-gcc';
export const CXX = 'x86_64-w64-mingw32-g++';
export const NM = 'x86_64-w64-mingw32-nm';
export const WARNINGS = ['-Wall', '-Wextra', '-Werror'];

export { winPath };

export class HarnessError extends Error {
  readonly code = 'ERR_TRACER_HARNESS';
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fresh directory under build/ for one test's files. */
export function workDir(name: string): string {
  const dir = join(BUILD, 'runs', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

// ---- compiling ---------------------------------------------------------------

export interface CompileResult {
  ok: boolean;
  output: string;
}

export function run(cmd: string, args: string[], timeoutMs = 120_000): CompileResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim();
  return { ok: r.status === 0, output };
}

/** Builds `out` from `sources` unless it is newer than them and the header. */
export function buildExe(
  out: string,
  sources: string[],
  opts: { cxx?: boolean; defines?: string[]; extra?: string[] } = {},
): string {
  mkdirSync(dirname(out), { recursive: true });
  const newest = Math.max(...[HEADER, ...sources].map((f) => statSync(f).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs >= newest) return out;
  const args = [
    ...(opts.cxx ? ['-std=c++11', '-static-libgcc', '-static-libstdc++'] : ['-std=c99']),
    '-O2',
    ...WARNINGS,
    `-I${INCLUDE}`,
    ...(opts.defines ?? []).map((d) => `-D${d}`),
    ...sources,
    '-o',
    out,
    ...(opts.extra ?? []),
    '-lws2_32',
  ];
  const r = run(opts.cxx ? CXX : CC, args);
  if (!r.ok) throw new HarnessError(`building ${out} failed:\n${r.output}`);
  return out;
}

export const echoServerSource = (): string => join(TRACER_DIR, 'examples', 'echo_server.cpp');

/** The example server, traced (IOCPSCOPE_ENABLE) or not. */
export function buildEchoServer(traced: boolean): string {
  return buildExe(
    join(BUILD, traced ? 'echo_server_traced.exe' : 'echo_server_plain.exe'),
    [echoServerSource()],
    { cxx: true, defines: traced ? ['IOCPSCOPE_ENABLE'] : [] },
  );
}

// ---- Wine ----------------------------------------------------------------------

export interface WineRun {
  status: number | null;
  timedOut: boolean;
  ms: number;
  log: string;
}

/** Runs a Windows program to its end (bounded), returning its log. */
export async function runExe(
  exe: string,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs: number; logFile: string },
): Promise<WineRun> {
  const p = spawnWine(exe, args, { env: opts.env ?? {}, logFile: opts.logFile });
  const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs);
  const r = await p.exited;
  clearTimeout(timer);
  return { ...r, log: readText(opts.logFile) };
}

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** A free TCP port on 127.0.0.1 (Wine shares Linux's network namespace). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

export interface EchoServerOptions {
  traced: boolean;
  workers?: number;
  faults?: string[];
  joinMs?: number;
  env?: Record<string, string>;
  /** The trace file (traced only). */
  output?: string;
}

export interface RunningServer {
  port: number;
  dir: string;
  /** The Linux pid of the Windows process (Wine runs it in the process it spawned). */
  pid: number | undefined;
  /** Asks it to shut down (stop file), then waits; SIGTERM/SIGKILL if it hangs. */
  stop(timeoutMs?: number): Promise<WineRun & { stats: EchoStats | null }>;
}

export interface EchoStats {
  accepted: number;
  released: number;
  live: number;
  refused: number;
  /** accept() calls that failed while the server ran (a client reset before its accept). */
  acceptsFailed: number;
  recvPosts: number;
  sendPosts: number;
  failedPosts: number;
  recvCompletions: number;
  sendCompletions: number;
  failedCompletions: number;
  zeroRecvs: number;
  staleCompletions: number;
  recvBytes: number;
  sendBytes: number;
  drained: boolean;
  joined: boolean;
  disconnects: number[];
  trace: { records: number; lost: number; written: number; dropped: number };
}

/** Starts the example server under Wine on a free port and waits until it listens. */
export async function startEchoServer(name: string, o: EchoServerOptions): Promise<RunningServer> {
  const dir = workDir(name);
  const exe = buildEchoServer(o.traced);
  const stopFile = join(dir, 'stop');
  const readyFile = join(dir, 'ready');
  const statsFile = join(dir, 'stats.json');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--workers',
    String(o.workers ?? 2),
    '--stop-file',
    winPath(stopFile),
    '--ready-file',
    winPath(readyFile),
    '--stats',
    winPath(statsFile),
    ...(o.joinMs ? ['--join-ms', String(o.joinMs)] : []),
    ...(o.faults ?? []).flatMap((f) => ['--fault', f]),
  ];
  const env: Record<string, string> = { IOCPSCOPE_LOG: '1', ...(o.env ?? {}) };
  if (o.output) env.IOCPSCOPE_OUTPUT = winPath(o.output);
  const p = spawnWine(exe, args, { env, logFile });
  let exited: WineRun | null = null;
  void p.exited.then((r) => {
    exited = { ...r, log: '' };
  });
  const t0 = Date.now();
  while (!existsSync(readyFile)) {
    if (exited !== null || Date.now() - t0 > 30_000) {
      p.kill('SIGKILL');
      throw new HarnessError(
        `the echo server did not start (${exited ? 'it exited' : 'timeout'}): ${readText(logFile)}`,
      );
    }
    await sleep(50);
  }
  return {
    port,
    dir,
    pid: p.pid,
    async stop(timeoutMs = 20_000) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(stopFile, 'stop\n');
      const term = setTimeout(() => p.kill('SIGTERM'), timeoutMs);
      const kill = setTimeout(() => p.kill('SIGKILL'), timeoutMs + 5_000);
      const r = await p.exited;
      clearTimeout(term);
      clearTimeout(kill);
      let stats: EchoStats | null;
      try {
        stats = JSON.parse(readFileSync(statsFile, 'utf8')) as EchoStats;
      } catch {
        stats = null;
      }
      return { ...r, log: readText(logFile), stats };
    },
  };
}

// ---- the iocpscope CLI ------------------------------------------------------------

export interface LoadReport {
  messages: number;
  sentMessages: number;
  sentBytes: number;
  receivedBytes: number;
  messagesPerSec: number;
  connections: { opened: number; resets: number; failed: number };
  mismatches: { count: number };
  failures: { count: number; samples: unknown[] };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `iocpscope <args>` (the CLI as a user runs it), bounded. */
export function cli(args: string[], timeoutMs: number): Promise<CliResult> {
  return new Promise((resolveRun) => {
    const child = spawn(TSX, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolveRun({ status, stdout, stderr });
    });
  });
}

/** `iocpscope load --json` against 127.0.0.1:port. */
export async function load(
  port: number,
  args: string[],
  timeoutMs = 120_000,
): Promise<{ status: number | null; report: LoadReport | null; output: string }> {
  const r = await cli(
    ['load', '-t', `127.0.0.1:${port}`, '--json', '--no-progress', ...args],
    timeoutMs,
  );
  let report: LoadReport | null;
  try {
    report = JSON.parse(r.stdout) as LoadReport;
  } catch {
    report = null;
  }
  return { status: r.status, report, output: `${r.stdout}\n${r.stderr}`.trim() };
}

/**
 * A client that has traded one packet with the echo server (the server took the connection
 * and read from it) and now sits idle, the server's next WSARecv pending (bounded: 5 s).
 */
export function idleClient(port: number, what: string): Promise<Socket> {
  const packet = Buffer.from([4, 0, 1, 0, 0x69, 0x64, 0x6c, 0x65]); // 4-byte payload, type 1
  return new Promise<Socket>((done, fail) => {
    const c = connect(port, '127.0.0.1', () => c.write(packet));
    let got = 0;
    const t = setTimeout(() => {
      c.destroy();
      fail(new HarnessError(`${what}: no echo within 5 s`));
    }, 5000);
    c.on('error', () => undefined);
    c.on('data', (d: Buffer) => {
      got += d.length;
      if (got < packet.length) return;
      clearTimeout(t);
      done(c);
    });
  });
}

/**
 * n idle clients, one after another, that each reset (RST) after `idleMs`: the server's
 * pending recv completes FALSE (64 on Windows and under Wine).
 */
export async function idleResetClients(port: number, n: number, idleMs = 20): Promise<void> {
  for (let i = 0; i < n; i++) {
    const c = await idleClient(port, `idle-reset client ${i + 1}/${n}`);
    await new Promise((r) => setTimeout(r, idleMs));
    c.resetAndDestroy();
  }
}

export interface CheckReport {
  exitCode: number;
  verdict: string;
  events: number;
  summary: { total: number; byRule: { rule: string; count: number }[]; line: string };
  findings: { rule: string; check: string; message: string }[];
}

/** `iocpscope check --json FILE --all`. */
export async function check(
  file: string,
): Promise<{ status: number | null; report: CheckReport | null; output: string }> {
  const r = await cli(['check', '--json', '--all', '--no-progress', file], 180_000);
  let report: CheckReport | null;
  try {
    report = JSON.parse(r.stdout) as CheckReport;
  } catch {
    report = null;
  }
  return { status: r.status, report, output: `${r.stdout.slice(0, 2000)}\n${r.stderr}`.trim() };
}

// ---- a tiny test registry ------------------------------------------------------------

export interface TestOutcome {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export class Suite {
  readonly outcomes: TestOutcome[] = [];
  private readonly t0 = Date.now();

  /** `label` names the stage in every line (the hook's suite shares this registry). */
  constructor(
    private readonly only: string | null,
    private readonly label = 'tracer',
  ) {}

  say(s: string): void {
    console.log(`[${this.label} ${((Date.now() - this.t0) / 1000).toFixed(1)}s] ${s}`);
  }

  /** A test that cannot run here (a missing tool): said, and counted neither way. */
  skip(name: string, why: string): void {
    if (this.only !== null && !name.includes(this.only)) return;
    console.log(`  ${'skip'.padEnd(22)} ${this.label} :: ${name} (${why})`);
  }

  /** Runs one test; a thrown error (or a failed expectation) fails it. */
  async test(name: string, body: () => Promise<void> | void): Promise<boolean> {
    if (this.only !== null && !name.includes(this.only)) return true;
    const t0 = Date.now();
    let error: string | undefined;
    try {
      await body();
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const ok = error === undefined;
    const ms = Date.now() - t0;
    this.outcomes.push({ name, ok, ms, ...(error !== undefined ? { error } : {}) });
    console.log(`  ${(ok ? 'pass' : 'FAIL').padEnd(22)} ${this.label} :: ${name} (${ms} ms)`);
    if (!ok)
      for (const l of error!.split('\n').slice(0, 12)) console.log(`      ${l.slice(0, 300)}`);
    return ok;
  }
}

/** A failed expectation, with what was expected and what was found. */
export function expect(cond: unknown, message: string): asserts cond {
  if (!cond) throw new HarnessError(message);
}

/**
 * Run a native suite on its own when its file is the script node was started
 * with (`tsx <suite>.ts [--only substring]`): a Wine prefix and server around
 * it, the summary line test.mjs prints, exit 0 / 1 (a failure) / 2 (a crash).
 */
export function runIfMain(
  metaUrl: string,
  run: (o: { only: string | null }) => Promise<{ passed: number; failed: number }>,
): void {
  if (!process.argv[1] || fileURLToPath(metaUrl) !== resolve(process.argv[1])) return;
  const args = process.argv.slice(2);
  const only = args.includes('--only') ? (args[args.indexOf('--only') + 1] ?? null) : null;
  ensurePrefix();
  startWineserver();
  run({ only })
    .then(({ passed, failed }) => {
      console.log(`native: ${passed} passed, ${failed} failed`);
      stopWineserver();
      process.exit(failed === 0 ? 0 : 1);
    })
    .catch((e: unknown) => {
      console.error(e);
      stopWineserver();
      process.exit(2);
    });
}
