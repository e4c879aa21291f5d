// Child processes and /proc readings for the server benchmark: start a server
// command, wait until its echo port accepts, read its CPU time and RSS from
// /proc (all threads of the process, so worker threads are included), and
// stop it. Linux only, like the benchmark.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

const CLOCK_TICKS_PER_SEC = 100;

export interface ServerProcess {
  name: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** The child's stdout and stderr so far (kept short), for error messages. */
  output(): string;
}

/** A free TCP port on 127.0.0.1 (bind to 0, read, close; a small race is acceptable here). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Spawns `argv` and resolves once `port` accepts connections; rejects (with
 * the child's output) if it exits first or after `timeoutMs`.
 */
export async function startServer(
  name: string,
  argv: string[],
  port: number,
  timeoutMs = 30_000,
): Promise<ServerProcess> {
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: string | null = null;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
  });
  child.once('error', (e) => {
    exited = `failed to start: ${e.message}`;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${name}: ${argv.join(' ')} ${exited}\n${out}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      await stopServer({ name, port, pid: child.pid ?? -1, child, output: () => out });
      throw new Error(`${name}: port ${port} not accepting after ${timeoutMs} ms\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, port, pid: child.pid!, child, output: () => out };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopServer(p: ServerProcess, graceMs = 5000): Promise<void> {
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.stdin?.end();
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** User + system CPU seconds of a process, all its threads included. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds (user + system) of the process's main thread alone (/proc/pid/task/pid/stat). */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

/** utime + stime of a /proc stat file (a process's or one thread's), in seconds. */
function statCpuSeconds(file: string): number {
  const stat = readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of /proc/pid/stat (utime, stime) are 11 and 12 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Whole-machine CPU counters (jiffies) from /proc/stat: total, idle (+iowait) and steal. */
export function machineCpu(): { total: number; idle: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, idle: v[3]! + v[4]!, steal: v[7] ?? 0 };
}

/** The soft limit on open files of this process (inherited by the servers it spawns). */
export function openFileLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  if (!m) return NaN;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}
