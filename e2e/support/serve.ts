// A server of a spec's own: `iocpscope serve` with the reference echo server on
// free ports, its files in a temporary directory, bounded by --duration, and
// stopped with SIGTERM (a background process ignores SIGINT). Also the live
// spool's records as its trace API gives them (FORMAT.md §12), for checking
// what the page shows against the server.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from '@playwright/test';
import { decodeFrame } from '@iocpscope/protocol';
import { CLI, ROOT, TSX, freePort, sleep } from '../../packages/tracer/test/harness.ts';

export interface OwnServe {
  /** The dashboard's port (http://127.0.0.1:port/). */
  port: number;
  /** The echo server's port (for `iocpscope load`). */
  echo: number;
  dir: string;
  stop(): Promise<void>;
}

/** Wait until the dashboard on `port` answers (a minute at most, or until `child` exits). */
export async function untilServing(
  port: number,
  child: ChildProcess,
  what = 'serve',
): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (Date.now() - t0 > 60_000) throw new Error(`${what} did not start`);
    await sleep(250);
  }
}

/** Start `serve` with `args` added; resolves once the dashboard answers. */
export async function startServe(prefix: string, args: string[] = []): Promise<OwnServe> {
  const dir = mkdtempSync(path.join(tmpdir(), `iocpscope-${prefix}-`));
  const port = await freePort();
  const echo = await freePort();
  const child: ChildProcess = spawn(
    TSX,
    [
      CLI,
      'serve',
      '--port',
      String(port),
      '--echo-port',
      String(echo),
      '--recordings-dir',
      path.join(dir, 'rec'),
      '--duration',
      '10m',
      ...args,
    ],
    { cwd: ROOT, stdio: 'ignore' },
  );
  await untilServing(port, child);
  let stopped = false;
  return {
    port,
    echo,
    dir,
    async stop() {
      if (!stopped) {
        stopped = true;
        const exited = new Promise((r) => child.once('exit', r));
        if (child.exitCode === null) child.kill('SIGTERM');
        await Promise.race([exited, sleep(10_000)]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The live spool's meta (GET /api/traces/live). */
export async function spoolMeta<T = Record<string, unknown>>(port: number): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${port}/api/traces/live`);
  expect(r.status).toBe(200);
  return (await r.json()) as T;
}

/**
 * The record of spool event g, as the API gives it (§12: /records, a frame).
 * Not /window: a window that would start inside a Snapshot bracket starts at
 * the bracket's begin record instead, so /window?from=g&count=8 need not reach
 * g when g is in a bracket (a live head often is: the spool's rotation and
 * LateJoin snapshots write brackets at the head).
 */
export async function spoolRecord(port: number, g: number): Promise<number[]> {
  const r = await fetch(`http://127.0.0.1:${port}/api/traces/live/records?from=${g}&count=1`);
  expect(r.status).toBe(200);
  expect(Number(r.headers.get('x-first-event'))).toBe(g);
  const f = decodeFrame(new Uint8Array(await r.arrayBuffer()));
  expect(f.records.length).toBe(8);
  return Array.from(f.records);
}
