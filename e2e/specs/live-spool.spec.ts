// Journey (issue 15 §3): live with a small spool. A server of its own, with a
// 2 MB spool of 1 MB parts, runs under `iocpscope load` long enough to delete
// old parts; the dashboard runs with an 8 MB memory budget, so following live
// trims its trace. Then: pause, "Browse spool". The load stops first (so the spool stops deleting while the
// test reads it back). Then: pause, scroll back into the spool (the oldest event it
// holds), step, see the "no longer available" boundary, and follow live again.
// Event numbers and records are checked against the spool's own API.

import { expect, test } from '@playwright/test';
import {
  T,
  cursorRecord,
  drawnText,
  recordCanvasText,
  screenshot,
  untilState,
} from '../support/app.ts';
import {
  spoolMeta as meta,
  spoolRecord as record,
  startServe,
  type OwnServe,
} from '../support/serve.ts';
import { load } from '../../packages/tracer/test/harness.ts';

let serve: OwnServe | null = null;
let port = 0;
let echo = 0;

interface SpoolMeta {
  events: number;
  startNs: number;
  available: { firstEvent: number; firstNs: number };
  dropped: { events: number; parts: number; limitBytes: number };
}

const spoolMeta = (): Promise<SpoolMeta> => meta<SpoolMeta>(port);
const spoolRecord = (g: number): Promise<number[]> => record(port, g);

test.describe('live with a small spool', () => {
  test.describe.configure({ timeout: 150_000 });

  test.beforeAll(async () => {
    serve = await startServe('spool-e2e', ['--spool-bytes', '2M', '--spool-part-bytes', '1M']);
    port = serve.port;
    echo = serve.echo;
  });

  test.afterAll(async () => {
    await serve?.stop();
    serve = null;
  });

  test('pause, scroll back into the spool, step, see what is no longer available, follow again', async ({
    page,
  }, info) => {
    await recordCanvasText(page);
    // (?overview=off: this journey is about trimming the followed trace; live-overview.spec.ts
    // follows a stream too fast for records.)
    await page.goto(`http://127.0.0.1:${port}/?budget=8M&overview=off`);
    await page.waitForFunction(() => window.__iocpscope?.version === 1, null, { timeout: T.ui });
    await untilState(page, (s) => expect(s.connection).toBe('open'));
    const loading = load(echo, ['-c', '8', '-s', '64', '-p', '2', '-d', '15s']);

    // Following under an 8 MB budget: the live trace is trimmed, never held whole.
    const trimmed = await untilState(
      page,
      (s) => {
        expect(s.source.kind).toBe('live');
        expect(s.liveTrim?.times ?? 0).toBeGreaterThanOrEqual(1);
      },
      90_000,
    );
    expect(trimmed.traceBytes).toBeLessThanOrEqual(2 * 2 * 2 ** 20);
    await expect(page.getByTestId('spool-status')).toHaveAttribute('data-state', 'trimmed');

    // The spool deletes its oldest part once it is past 2 MB.
    await expect
      .poll(async () => (await spoolMeta()).dropped.parts, { timeout: 90_000 })
      .toBeGreaterThanOrEqual(1);
    const done = await loading;
    expect(done.report?.mismatches.count ?? -1, done.output).toBe(0);

    // Pause, then browse the spool: the view opens it (windowed), the live source stays.
    await page.getByTestId('pause-live').click();
    await page.getByTestId('browse-spool').click();
    const paused = await untilState(page, (s) => {
      expect(s.source.kind).toBe('live');
      expect(s.paused).toBe(true);
      expect(s.remote?.live).toBe(true);
      expect(s.remote!.firstAvailable).toBeGreaterThan(0);
      expect(s.remote!.droppedEvents).toBeGreaterThan(0);
    });
    const first = paused.remote!.firstAvailable;
    await expect(page.getByTestId('spool-status')).toHaveAttribute('data-state', 'open');
    await expect(page.getByTestId('spool-status')).toContainText('older gone');

    // Scroll back to the oldest event the spool holds, and step from it.
    await page.keyboard.press('Home');
    await untilState(page, (s) => expect(s.remote!.globalCursor).toBe(first));
    expect(await cursorRecord(page)).toEqual(await spoolRecord(first));
    for (let k = 1; k <= 3; k++) {
      await page.keyboard.press('ArrowRight');
      await untilState(page, (s) => expect(s.remote!.globalCursor).toBe(first + k));
    }
    expect(await cursorRecord(page)).toEqual(await spoolRecord(first + 3));
    await expect(page.getByTestId('event-number')).toHaveText(
      `#${(first + 3).toLocaleString('en-US')}`,
    );
    // Stepping back past the oldest event stays on it.
    for (let k = 0; k < 5; k++) await page.keyboard.press('ArrowLeft');
    await untilState(page, (s) => expect(s.remote!.globalCursor).toBe(first));

    // The whole spool in view: what it no longer holds is shaded and labelled.
    await page.keyboard.press('c');
    await expect
      .poll(async () => (await drawnText(page)).some((t) => /no longer available/.test(t)), {
        timeout: T.ui,
        message: 'the "no longer available" boundary is not drawn',
      })
      .toBe(true);
    await screenshot(page, info, 'live-spool-paused');

    // Follow live again: the spool view goes, the newest events come back.
    await page.getByTestId('follow-live').click();
    await untilState(page, (s) => {
      expect(s.paused).toBe(false);
      expect(s.remote).toBeNull();
    });
    const more = load(echo, ['-c', '2', '-n', '50']);
    const after = await untilState(page, (s) => expect(s.events).toBeGreaterThan(100));
    expect(after.traceBytes).toBeLessThanOrEqual(2 * 2 * 2 ** 20);
    expect((await more).status).toBe(0);
  });
});
