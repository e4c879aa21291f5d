// Journey: the package a user installs. `pnpm pack:cli`, `npm install` the
// tarball into an empty directory, start its `iocpscope serve --demo` with
// plain node, and use the dashboard it serves: live lanes, events and sessions,
// then a recording opened with the installed `iocpscope open`.

import { spawn, type ChildProcess } from 'node:child_process';
import { expect, test } from '@playwright/test';
import { T, untilState } from '../support/app.ts';
// @ts-expect-error: a plain .mjs helper shared with the vitest test of the package
import { installPackage } from '../../scripts/installed.mjs';

interface Installed {
  dir: string;
  pkg: string;
  bin: string;
  cleanup(): void;
}

let inst: Installed;
const children: ChildProcess[] = [];

function start(args: string[], ready: RegExp): Promise<string> {
  const child = spawn(process.execPath, [inst.bin, ...args], {
    cwd: inst.dir,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (b: Buffer): void => {
      out += b.toString();
      const m = ready.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (c) => reject(new Error(`exited (${c}) before it was ready: ${out}`)));
  });
}

test.beforeAll(async () => {
  test.setTimeout(600_000);
  inst = installPackage() as Installed;
});

test.afterAll(() => {
  for (const c of children) c.kill('SIGTERM');
  inst?.cleanup();
});

test('the installed package serves a live dashboard and opens recordings', async ({ page }) => {
  const url = await start(
    ['serve', '--port', '0', '--echo-port', '0', '--demo', '--duration', '10m'],
    /iocpscope dashboard: (\S+)/,
  );
  await page.goto(url);
  await page.waitForFunction(() => window.__iocpscope?.version === 1, null, { timeout: T.ui });
  await expect(page.getByTestId('connection-state')).toHaveAttribute('data-state', 'open', {
    timeout: T.data,
  });
  await untilState(page, (s) => {
    expect(s.source.kind).toBe('live');
    expect(s.events).toBeGreaterThan(50);
    expect(s.laneNames).toEqual(expect.arrayContaining([expect.stringMatching(/worker/)]));
    expect(s.sessions).toBeGreaterThan(0);
  });

  const opened = await start(
    ['open', '--example', 'two-sends-in-flight', '--duration', '10m'],
    /iocpscope: (\S+)/,
  );
  await page.goto(opened);
  await untilState(page, (s) => {
    expect(s.source.kind).toBe('recording');
    expect(s.events).toBeGreaterThan(100);
  });
  await expect(page.getByTestId('finding').first()).toBeVisible({ timeout: T.data });
  await expect(page.getByTestId('finding').first()).toHaveAttribute(
    'data-rule',
    'one-send-in-flight',
  );
});
