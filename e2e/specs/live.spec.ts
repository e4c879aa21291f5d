// Journey 1: open the dashboard while the server runs its demo load
// (`serve --demo`, see playwright.config.ts) and watch the live stream: the
// dashboard connects by itself, then the connection, the thread lanes drawn
// on the timeline, the growing event count, the sessions list and the gap
// counter. Also: the `?live=0` opt-out, and a server that does not answer.

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
  // As served: no click, the dashboard connects to its own server.
  await page.goto('/');
  await page.waitForFunction(() => window.__iocpscope?.version === 1, null, { timeout: T.ui });
});

test('the dashboard served by the server shows live lanes without any click', async ({ page }) => {
  await expect(page.getByTestId('connection-state')).toHaveAttribute('data-state', 'open', {
    timeout: T.data,
  });
  await expect(page.getByTestId('start-screen')).toHaveCount(0);
  const s = await untilState(page, (st) => {
    expect(st.source.kind).toBe('live');
    expect(st.events).toBeGreaterThan(50);
    expect(st.lanes).toBeGreaterThanOrEqual(4);
  });
  expect(s.source.name).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
  // One row per thread: the dashboard's own "history before the join" gap is
  // a gap marker, not a second, empty kernel lane.
  expect(s.laneNames.filter((n) => /kernel/i.test(n))).toHaveLength(1);
  await expect
    .poll(
      async () => {
        const drawn = await drawnText(page);
        return s.laneNames.filter((n) => !drawn.some((d) => d.startsWith(n.slice(0, 12))));
      },
      { timeout: T.ui, message: 'lane names not drawn on the timeline' },
    )
    .toEqual([]);
});

test('?live=0 opens the start screen, and "Connect live" connects from there', async ({ page }) => {
  await openApp(page);
  expect((await getState(page)).connection).toBe('idle');
  await page.getByTestId('start-connect-live').click();
  await untilState(page, (s) => {
    expect(s.connection).toBe('open');
    expect(s.events).toBeGreaterThan(0);
  });
  await expect(page.getByTestId('start-screen')).toHaveCount(0);
});

test('a server that does not answer: the start screen says so, retries on demand, and recovers', async ({
  page,
}, info) => {
  // Refuse every WebSocket to /ws, as a server that is not there would; until
  // `serverBack`, then pass them through to the real server.
  let serverBack = false;
  await page.routeWebSocket(/\/ws(\?.*)?$/, (ws) => {
    if (serverBack) ws.connectToServer();
    else ws.close({ code: 1006, reason: '' });
  });
  await page.goto('/');
  const note = page.getByTestId('live-note');
  await expect(note).toHaveAttribute('data-phase', 'trying', { timeout: T.ui });
  await expect(page.getByTestId('start-screen')).toBeVisible();
  await expect(note).toContainText(/Looking for the live server at 127\.0\.0\.1:\d+\/ws/);
  await expect(note).toContainText(/Trying again in \d+ s · attempt \d of 6/);
  await expect(page.getByTestId('connection-state')).toContainText('Not reachable');
  // The rest of the start screen works meanwhile.
  await expect(page.getByTestId('start-open-file')).toBeEnabled();
  await screenshot(page, info, 'live-unreachable');

  // The server is back: "Retry now" connects at once, and the live view opens.
  // Click while the next automatic attempt is seconds away (the backoff
  // doubles), so it is the button that connects and not a retry racing it.
  await expect(note).toContainText(/Trying again in [3-9] s/, { timeout: 20_000 });
  serverBack = true;
  await page.getByTestId('live-retry').click();
  await untilState(page, (s) => {
    expect(s.connection).toBe('open');
    expect(s.events).toBeGreaterThan(0);
  });
  await expect(page.getByTestId('start-screen')).toHaveCount(0);
  await expect(page.getByTestId('live-note')).toHaveCount(0);
});

test('"Stop" on the retry note stops asking and leaves the start screen', async ({ page }) => {
  await page.routeWebSocket(/\/ws(\?.*)?$/, (ws) => ws.close({ code: 1006, reason: '' }));
  await page.goto('/');
  await expect(page.getByTestId('live-note')).toBeVisible({ timeout: T.ui });
  await page.getByTestId('live-stop').click();
  await expect(page.getByTestId('live-note')).toHaveCount(0);
  await expect(page.getByTestId('start-screen')).toBeVisible();
  const s = await getState(page);
  expect(s.source.kind).toBe('none');
  expect(s.connection).toBe('idle');
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
  expect(names.filter((n) => /kernel/i.test(n))).toHaveLength(1);
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
