import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { startPlainEcho } from '../load/plain-echo.ts';
import type { PlainEchoServer } from '../load/plain-echo.ts';
import { registerLoadCommand } from './load.ts';
import type { LoadCliIo } from './load.ts';

let server: PlainEchoServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** Runs `iocpscope load <args>` in-process; returns exit code and what was written. */
async function load(args: string[], tty = false) {
  const out: string[] = [];
  const err: string[] = [];
  let code = -1;
  const io: LoadCliIo = {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t), isTTY: tty, columns: 100 },
    setExitCode: (c) => (code = c),
  };
  const program = new Command('iocpscope').exitOverride();
  registerLoadCommand(program, io);
  await program.parseAsync(['load', ...args], { from: 'user' });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('iocpscope load', () => {
  it('verifies a run against an echo server, prints the report and exits 0', async () => {
    server = await startPlainEcho();
    const r = await load([
      '--target',
      `127.0.0.1:${server.port}`,
      '-c',
      '4',
      '-p',
      '4',
      '-n',
      '50',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/messages {2}200 verified/);
    expect(r.stdout).toMatch(/latency {3}p50 .* p99 /);
    expect(r.stdout).toMatch(/result {4}OK/);
  });

  it('prints plain progress lines when stderr is not a terminal, and a bar when it is', async () => {
    server = await startPlainEcho();
    const target = `127.0.0.1:${server.port}`;
    const plain = await load(['--target', target, '-d', '300ms']);
    expect(plain.stderr).toMatch(/^\[ +\d+\.\ds\] +\d+% +\d+\/1 conns/m);
    expect(plain.stderr).not.toContain('\r');
    const tty = await load(['--target', target, '-d', '300ms'], true);
    expect(tty.stderr).toContain('\r\x1b[K[');
    expect(tty.stderr).toMatch(/\[[#-]+\] +\d+%/);
    const quiet = await load(['--target', target, '-n', '5', '--no-progress']);
    expect(quiet.stderr).toBe('');
  });

  it('prints the report as JSON with --json', async () => {
    server = await startPlainEcho();
    const r = await load([
      '-t',
      `127.0.0.1:${server.port}`,
      '-n',
      '10',
      '-s',
      '0',
      '--json',
      '--no-progress',
    ]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      messages: number;
      options: { messageSize: number };
    };
    expect([report.ok, report.messages, report.options.messageSize]).toEqual([true, 10, 0]);
  });

  it('exits 1 when connections fail', async () => {
    const probe = await startPlainEcho();
    const port = probe.port;
    await probe.close();
    const r = await load(['--target', `127.0.0.1:${port}`, '-n', '1', '--no-progress']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAILED: 1 connection failure/);
    expect(r.stdout).toMatch(/ECONNREFUSED/);
  });

  it('exits 2 with the error code on bad options', async () => {
    const cases: [string[], RegExp][] = [
      [['--target', '127.0.0.1'], /BAD_TARGET: target/],
      [[], /BAD_TARGET: target: a target host:port is required/],
      [['--target', 'h:1', '--size', '9000'], /OUT_OF_RANGE: messageSize: 9000 is not in 0..8192/],
      [['--target', 'h:1', '--duration', 'soon'], /BAD_DURATION: durationMs/],
      [['--target', 'h:1', '-d', '1s', '-n', '5'], /CONFLICTING_OPTIONS: messages/],
      [['--target', 'h:1', '-c', 'many'], /BAD_NUMBER: connections/],
    ];
    for (const [args, message] of cases) {
      const r = await load(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });
});
