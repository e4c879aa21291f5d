// Journey 1: open the dashboard while the server runs its demo load
// (`serve --demo`, see playwright.config.ts) and watch the live stream: the
// connection, the thread lanes drawn on the timeline, the growing event count,
// the sessions list and the gap counter.

import { expect, test } from '@playwright/test';
import {
  T,
  count,
  drawnText,
  getState,
  laneNames,
  openApp,
  recordCanvasText,
  screenshot,
  untilState,
} from '../support/app.ts';

test.beforeEach(async ({ page }) => {
  await recordCanvasText(page);
  await openApp(page);
  await page.getByTestId('start-connect-live').click();
});

test('the live dashboard shows the connection, the thread lanes and a growing stream', async ({
  page,
}, info) => {
  const badge = page.getByTestId('connection-state');
  await expect(badge).toHaveAttribute('data-state', 'open', { timeout: T.data });
  await expect(badge).toHaveText(/Connected/);
  await expect(page.getByTestId('source')).toContainText('LIVE');

  // The thread lanes: the accept thread, the kernel and every worker of the
  // port (2 by default), named in the trace and drawn in the timeline's gutter.
  const s = await untilState(page, (st) => {
    expect(st.source.kind).toBe('live');
    expect(st.events).toBeGreaterThan(100);
    expect(st.lanes).toBeGreaterThanOrEqual(4);
  });
  const names = await laneNames(page);
  expect(names).toContain('accept');
  expect(names.some((n) => /kernel/i.test(n))).toBe(true);
  expect(names.filter((n) => /^worker/.test(n)).length).toBeGreaterThanOrEqual(2);
  await expect
    .poll(
      async () => {
        const drawn = await drawnText(page);
        return names.filter((n) => !drawn.some((d) => d.startsWith(n.slice(0, 12))));
      },
      { timeout: T.ui, message: 'lane names not drawn on the timeline' },
    )
    .toEqual([]);

  // The event count in the top bar grows, and agrees with the hook.
  const shown1 = count(await page.getByTestId('event-count').textContent());
  expect(shown1).toBeGreaterThan(0);
  await expect
    .poll(async () => count(await page.getByTestId('event-count').textContent()), {
      timeout: T.data,
    })
    .toBeGreaterThan(shown1);
  await untilState(page, (st) => expect(st.events).toBeGreaterThan(s.events));

  // Following the head: the cursor stays on the newest events.
  const now = await getState(page);
  expect(now.paused).toBe(false);
  expect(now.cursor).toBeGreaterThan(s.cursor);

  // The gap counter is shown (a live view may start with one unknown-size gap).
  const gaps = page.getByTestId('gap-counter');
  await expect(gaps).toBeVisible();
  await expect(gaps).toHaveText(/^Gaps \d/);
  expect(Number(await gaps.getAttribute('data-gaps'))).toBeGreaterThanOrEqual(0);

  await screenshot(page, info, 'live');
});

test('the sessions list gains rows with their IOCount and packets while the load runs', async ({
  page,
}, info) => {
  await expect(page.getByTestId('connection-state')).toHaveAttribute('data-state', 'open', {
    timeout: T.data,
  });
  const sessionsCount = page.getByTestId('sessions-count');
  await expect
    .poll(async () => count(await sessionsCount.textContent()), { timeout: T.data })
    .toBeGreaterThan(0);
  const first = count(await sessionsCount.textContent());
  // The demo load opens ~16 sessions a second: the list grows.
  await expect
    .poll(async () => count(await sessionsCount.textContent()), { timeout: T.data })
    .toBeGreaterThan(first);
  await untilState(page, (st) => expect(st.sessions).toBeGreaterThan(first));

  const rows = page.getByTestId('sessions-list').getByTestId('session-row');
  await expect(rows.first()).toBeVisible();
  expect(await rows.count()).toBeGreaterThan(0);
  // Every visible row: a 0x… id, an IOCount (a number, or empty when unknown:
  // a session created before this view joined the stream) and a packet count.
  // At least one row shows both a number of IOCount and some packets.
  await expect
    .poll(
      async () => {
        const cells = await rows.evaluateAll((els) =>
          els.map((el) => [...el.children].map((c) => c.textContent ?? '')),
        );
        let complete = 0;
        for (const [id, , io, state, packets] of cells) {
          expect(id).toMatch(/^0x[0-9a-f]+$/);
          expect(io).toMatch(/^(-?\d+)?$/);
          expect(state).toMatch(/not yet|live|closing|released/);
          expect(packets).toMatch(/^[\d,]+$/);
          if (/^\d+$/.test(io!) && count(packets!) > 0) complete++;
        }
        return complete;
      },
      { timeout: T.data, message: 'no session row with an IOCount and packets' },
    )
    .toBeGreaterThan(0);

  // The port panel follows the head: queued packets and running vs concurrency.
  await expect(page.getByTestId('port-queued')).toContainText('packets queued');
  await expect(page.getByTestId('port-running')).toContainText(/running/);
  await expect(page.getByTestId('port-threads')).toContainText('worker');

  await screenshot(page, info, 'live-sessions');
});

test('the live controls offer load, recording, the port settings and every fault switch', async ({
  page,
}, info) => {
  await expect(page.getByTestId('connection-state')).toHaveAttribute('data-state', 'open', {
    timeout: T.data,
  });
  // The server's own settings: 2 workers, concurrency 2 (the CPU count here).
  await expect(page.getByTestId('port-menu')).toHaveText(/2 workers \/ (2|auto)/);
  await expect(page.getByTestId('record-toggle')).toBeEnabled();

  await page.getByTestId('load-menu').click();
  await expect(page.getByTestId('load-connections')).toHaveValue('50');
  await expect(page.getByTestId('load-start')).toBeEnabled();
  await screenshot(page, info, 'live-load-menu');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('load-start')).toBeHidden();

  // Every fault switch `serve --help` lists, each off on the demo server.
  await page.getByTestId('faults-menu').click();
  for (const name of [
    'iocount-double-decrement',
    'release-with-io-pending',
    'recv-not-reposted',
    'two-sends-in-flight',
    'no-decrement-on-failure',
    'too-few-exit-packets',
    'no-accept-hold',
    'zero-byte-recv-reposted',
    'lock-across-send',
    'release-without-atomic-flag',
  ]) {
    await expect(page.getByTestId(`fault-${name}`)).not.toBeChecked();
  }
  await screenshot(page, info, 'live-faults-menu');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('fault-recv-not-reposted')).toBeHidden();
});
