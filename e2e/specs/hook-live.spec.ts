// Journey: an unmodified IOCP server, live, for each of the two servers the hook
// is tested on: the course's C++ echo server built without IOCPSCOPE_ENABLE (no
// tracer in it; accept() on its own thread, GQCS), and the AcceptEx echo server
// (AcceptEx posted from main, one OVERLAPPED per operation from a pool, GQCS-Ex
// batches). Each runs under Wine through `iocpscope run --connect`, which
// injects the hook DLL and streams to `iocpscope serve --ingest`, while
// `iocpscope load` drives it; the dashboard shows which process it watches and
// how (the hook DLL), its lanes (roles the hook worked out), its sessions (one
// per connection), that their IOCount is derived, and no finding. Needs
// mingw-w64 and Wine (the README's test command installs both); skipped without them.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { T, untilState } from '../support/app.ts';
import { untilServing } from '../support/serve.ts';
import { CLI, ROOT, TSX, freePort, load, sleep } from '../../packages/tracer/test/harness.ts';
import {
  HOOK_BUILD,
  buildHook,
  startServer,
  type RunningServer,
  type ServerKind,
} from '../../packages/hook/test/harness.ts';
import { ensurePrefix, startWineserver, WINE } from '../../scripts/native/wine.mjs';

const HAVE_TOOLS =
  existsSync(WINE) && existsSync('/usr/bin/x86_64-w64-mingw32-gcc') && process.platform === 'linux';

const SERVERS: { kind: ServerKind; exe: string; what: string; lanes: string[] }[] = [
  {
    kind: 'course',
    exe: 'echo_server_plain.exe',
    what: "the course's echo server (accept thread, GQCS)",
    lanes: ['main', 'accept', 'worker 1', 'worker 2'],
  },
  {
    kind: 'acceptex',
    exe: 'acceptex_echo.exe',
    what: 'the AcceptEx echo server (OVERLAPPED pool, GQCS-Ex)',
    // AcceptEx is posted from main and completes on the workers: no thread blocks in accept.
    lanes: ['main', 'worker 1', 'worker 2'],
  },
];

for (const srv of SERVERS) {
  let ingest: ChildProcess | null = null;
  let server: RunningServer | null = null;
  let loadRun: Promise<unknown> | null = null;
  let dashPort = 0;

  test.describe(`${srv.what}, unmodified, hooked, live through serve --ingest`, () => {
    test.skip(!HAVE_TOOLS, 'needs Wine and mingw-w64 (bash scripts/test.sh installs them)');
    test.describe.configure({ timeout: 180_000 });

    test.beforeAll(async () => {
      buildHook();
      ensurePrefix();
      startWineserver();
      const ingestPort = await freePort();
      dashPort = await freePort();
      ingest = spawn(
        TSX,
        [CLI, 'serve', '--ingest', `127.0.0.1:${ingestPort}`, '--port', String(dashPort)],
        { cwd: ROOT, stdio: 'ignore' },
      );
      await untilServing(dashPort, ingest, 'serve --ingest');
      const dir = join(HOOK_BUILD, 'runs', `e2e-hook-live-${srv.kind}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      server = await startServer(srv.kind, dir, {
        hooked: true,
        connect: `127.0.0.1:${ingestPort}`,
        args: ['--workers', '2'],
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

    test('the dashboard shows the hooked server: its process, the lanes the hook named, its sessions, a derived IOCount', async ({
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
          expect(st.laneNames).toEqual(expect.arrayContaining(srv.lanes));
          expect(st.sessions).toBeGreaterThanOrEqual(6);
        },
        60_000,
      );
      await expect(page.getByTestId('process')).toContainText(srv.exe);
      await expect(page.getByTestId('process')).toContainText('hook DLL');
      await expect(page.getByTestId('iocount-derived')).toContainText('derived (outstanding I/O)');
      await page.screenshot({ path: info.outputPath(`hook-live-${srv.kind}.png`) });
      // a correct server: the rules that apply to a derived IOCount find nothing
      expect(
        s.findings,
        `findings on a correct server (rules: ${s.findingRules.join(', ')}); see the screenshot`,
      ).toBe(0);
      // Followed from the spool (the overview, here forced by a low threshold; a
      // busy server gets there by itself), the sessions list is the server's, and
      // it says the IOCount is derived too (a CI run once found it missing there).
      await page.goto(`http://127.0.0.1:${dashPort}/?overview=200`);
      await page.waitForFunction(() => window.__iocpscope?.version === 1, null, { timeout: T.ui });
      await untilState(page, (st) => expect(st.overview?.state).toBe('following'), 60_000);
      await expect(page.getByTestId('sessions-panel')).toHaveAttribute('data-remote', 'true');
      await expect(page.getByTestId('iocount-derived')).toContainText('derived (outstanding I/O)');
    });
  });
}
