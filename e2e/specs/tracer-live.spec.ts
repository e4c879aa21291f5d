// Journey: your own C++ IOCP server, live. The example course-style echo server
// (packages/tracer/examples/echo_server.cpp, traced with iocpscope.h) runs under
// Wine and streams to `iocpscope serve --ingest`, while `iocpscope load` drives
// it; the dashboard served by that ingest shows which process it is watching,
// its worker lanes and its sessions. Needs mingw-w64 and Wine (the README's test
// command installs both); skipped without them.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { T, untilState } from '../support/app.ts';
import { untilServing } from '../support/serve.ts';
import {
  CLI,
  ROOT,
  TSX,
  buildEchoServer,
  freePort,
  load,
  sleep,
  startEchoServer,
  type RunningServer,
} from '../../packages/tracer/test/harness.ts';
import { ensurePrefix, startWineserver, WINE } from '../../scripts/native/wine.mjs';

const HAVE_TOOLS =
  existsSync(WINE) && existsSync('/usr/bin/x86_64-w64-mingw32-g++') && process.platform === 'linux';

let ingest: ChildProcess | null = null;
let server: RunningServer | null = null;
let loadRun: Promise<unknown> | null = null;
let dashPort = 0;

test.describe('a traced C++ server, live through serve --ingest', () => {
  test.skip(!HAVE_TOOLS, 'needs Wine and mingw-w64 (bash scripts/test.sh installs them)');
  test.describe.configure({ timeout: 180_000 });

  test.beforeAll(async () => {
    buildEchoServer(true);
    ensurePrefix();
    startWineserver();
    const ingestPort = await freePort();
    dashPort = await freePort();
    ingest = spawn(
      TSX,
      [CLI, 'serve', '--ingest', `127.0.0.1:${ingestPort}`, '--port', String(dashPort)],
      { cwd: ROOT, stdio: 'ignore' },
    );
    // The dashboard answers before any tracer is attached.
    await untilServing(dashPort, ingest, 'serve --ingest');
    server = await startEchoServer('e2e-live', {
      traced: true,
      workers: 2,
      env: { IOCPSCOPE_CONNECT: `127.0.0.1:${ingestPort}`, IOCPSCOPE_RETRY_MS: '300' },
    });
    loadRun = load(server.port, ['-c', '6', '-s', '64', '-p', '1', '-d', '40s', '--no-progress']);
  });

  test.afterAll(async () => {
    const s = server;
    server = null;
    if (s) await s.stop();
    await loadRun;
    if (ingest) {
      const child = ingest;
      ingest = null;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
    }
  });

  test('the dashboard shows the C++ server: its process, worker lanes and sessions', async ({
    page,
  }, info) => {
    await page.goto(`http://127.0.0.1:${dashPort}/`);
    await page.waitForFunction(() => window.__iocpscope?.version === 1, null, { timeout: T.ui });
    const s = await untilState(
      page,
      (st) => {
        expect(st.source.kind).toBe('live');
        expect(st.connection).toBe('open');
        expect(st.events).toBeGreaterThan(100);
        expect(st.laneNames).toEqual(
          expect.arrayContaining(['main', 'accept', 'worker 1', 'worker 2']),
        );
        expect(st.sessions).toBeGreaterThan(0);
      },
      60_000,
    );
    await expect(page.getByTestId('process')).toContainText('echo_server_traced.exe');
    await expect(page.getByTestId('process')).toContainText('external');
    await expect(page.getByTestId('process')).toContainText('iocpscope.h');
    await page.screenshot({ path: info.outputPath('tracer-live.png') });
    expect(s.lanes).toBeGreaterThanOrEqual(4);
    expect(path.basename(String(s.source.name))).not.toBe('');
  });
});
