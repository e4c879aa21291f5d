// The installed package, as a user gets it: `pnpm pack:cli`, then
// `npm install iocpscope-x.y.z.tgz` into an empty directory, then every
// command from there with plain node (no tsx, no esbuild, no workspace).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs helper shared with the e2e journey
import { installPackage } from '../../../../scripts/installed.mjs';

interface Installed {
  dir: string;
  pkg: string;
  bin: string;
  cleanup(): void;
}

let inst: Installed;
beforeAll(() => {
  inst = installPackage() as Installed;
}, 600_000);
afterAll(() => inst?.cleanup());

const EXAMPLE = (name: string): string => path.join(inst.pkg, 'examples', `${name}.iocptrace`);

function run(args: string[], timeoutMs = 60_000): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [inst.bin, ...args], {
    cwd: inst.dir,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Start a long-running command; resolves once `ready` matches its output. */
function start(args: string[], ready: RegExp) {
  const child = spawn(process.execPath, [inst.bin, ...args], {
    cwd: inst.dir,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let out = '';
  const onData = (b: Buffer): void => void (out += b.toString());
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const done = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const ok = new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (ready.test(out)) {
        clearInterval(t);
        resolve();
      }
    }, 20);
    void done.then(() => {
      clearInterval(t);
      reject(new Error(`exited before ready: ${out}`));
    });
  });
  return { child, ok, done, out: () => out };
}

describe('the installed iocpscope package', () => {
  it('holds compiled JavaScript, the dashboard, the examples and the win-x64 addon, and nothing to compile', () => {
    const pj = JSON.parse(readFileSync(path.join(inst.pkg, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      engines: { node: string };
      dependencies?: object;
    };
    expect(pj.bin).toEqual({ iocpscope: 'bin/iocpscope.mjs' });
    expect(pj.engines.node).toBe('>=20.19');
    expect(pj.dependencies).toBeUndefined();
    const dist = readdirSync(path.join(inst.pkg, 'dist'));
    expect(dist.some((f) => f.endsWith('.ts'))).toBe(false);
    expect(dist).toEqual(
      expect.arrayContaining(['cli.mjs', 'echo-worker-thread.mjs', 'trace-drainer-worker.mjs']),
    );
    expect(existsSync(path.join(inst.pkg, 'web', 'index.html'))).toBe(true);
    expect(existsSync(EXAMPLE('clean'))).toBe(true);
    const addon = readFileSync(path.join(inst.pkg, 'native', 'iocpscope.node'));
    expect(addon.subarray(0, 2).toString('latin1')).toBe('MZ'); // a Windows DLL
    expect(existsSync(path.join(inst.dir, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(path.join(inst.dir, 'node_modules', 'esbuild'))).toBe(false);
  });

  it(
    'checks: a clean example is clean (exit 0), a faulty one is not (exit 1)',
    { timeout: 60_000 },
    () => {
      const clean = run(['check', EXAMPLE('clean')]);
      expect(clean.out).toMatch(/clean: no findings/);
      expect(clean.code).toBe(0);
      const bad = run(['check', EXAMPLE('two-sends-in-flight')]);
      expect(bad.code).toBe(1);
      expect(bad.out).toMatch(/one-send-in-flight/);
    },
  );

  it('exports Chrome trace JSON', () => {
    const r = run(['export', EXAMPLE('clean'), '-o', 'clean.json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(readFileSync(path.join(inst.dir, 'clean.json'), 'utf8')) as {
      traceEvents: unknown[];
    };
    expect(json.traceEvents.length).toBeGreaterThan(100);
  });

  it('serves the reference server with its worker threads, and load drives it byte-exact', async () => {
    const srv = start(
      ['serve', '--port', '0', '--echo-port', '0', '--duration', '10m', '--workers', '2'],
      /iocpscope dashboard: http/,
    );
    await srv.ok;
    const echo = /echo server on 127\.0\.0\.1:(\d+)/.exec(srv.out())![1]!;
    const url = /iocpscope dashboard: (\S+)/.exec(srv.out())![1]!;
    expect((await fetch(url)).status).toBe(200);
    const load = run(['load', '-t', `127.0.0.1:${echo}`, '-c', '4', '-d', '1s', '--no-progress']);
    expect(load.out).toMatch(/result\s+OK/);
    expect(load.code).toBe(0);
    srv.child.kill('SIGTERM');
    expect(await srv.done).toBe(0);
    expect(srv.out()).toMatch(/sessions: 4 accepted, 4 released/);
    expect(srv.out()).toMatch(/workers: 2 joined after their exit packet/);
  }, 60_000);

  it('opens a recording: serves it and prints the URL that opens it', async () => {
    const o = start(['open', EXAMPLE('clean'), '--duration', '10m'], /iocpscope: http/);
    await o.ok;
    const url = /iocpscope: (\S+)/.exec(o.out())![1]!;
    const id = new URL(url).searchParams.get('recording')!;
    const res = await fetch(new URL(`api/recordings/${id}`, url));
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    o.child.kill('SIGTERM');
    expect(await o.done).toBe(0);
  }, 60_000);

  it('runs serve --ingest, waiting for a tracer', async () => {
    const s = start(
      ['serve', '--ingest', '127.0.0.1:0', '--port', '0', '--duration', '10m'],
      /waiting for a tracer/,
    );
    await s.ok;
    s.child.kill('SIGTERM');
    expect(await s.done).toBe(0);
  }, 60_000);
});
