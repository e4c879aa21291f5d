// Issue 19 §5, deep links: the URL carries the source (a server recording),
// the cursor, the view range and the selected session; "Copy link" puts it on
// the clipboard; opening it restores that view; the address bar follows the
// view as it moves; a link to a recording that is gone says so.

import { expect, test } from '@playwright/test';
import { T, getState, parkMouse, screenshot, untilState } from '../support/app.ts';
import { openExample, openRecordingUrl, state, until } from '../support/instrument.ts';

test('Copy link, then open it in a new tab: the same recording, cursor, view and session', async ({
  page,
  context,
}, info) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await openExample(page, 'iocount-double-decrement');
  // Somewhere particular: a session selected, the cursor on its event, zoomed in.
  await page.getByTestId('session-row').nth(1).click();
  const s0 = await state(page);
  const target = await page.evaluate((hex) => {
    const t = window.__iocpscope!.store.getState().trace as unknown as {
      sessionEvents(id: bigint): Uint32Array;
      timeAt(i: number): number;
    };
    const l = t.sessionEvents(BigInt(hex));
    const i = l[Math.floor(l.length / 2)]!;
    return { i, t: t.timeAt(i) };
  }, s0.selectedSession!);
  await page.evaluate(({ i, t }) => {
    const h = window.__iocpscope as unknown as {
      setView(s: number, e: number): void;
      setCursor(i: number): void;
    };
    h.setView(t - 40_000, t + 60_000);
    h.setCursor(i);
  }, target);
  const s1 = await until(page, (s) => expect(s.cursor).toBe(target.i));
  expect(s1.link).toMatch(
    /\?recording=example\.iocount-double-decrement&cursor=\d+&from=-?\d+&to=\d+&session=0x[0-9a-f]+$/,
  );

  await page.getByTestId('copy-link').click();
  await expect(page.getByTestId('toast').filter({ hasText: 'Link copied' })).toBeVisible();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(s1.link);
  // The address bar follows the view too (replaced, not a history entry per step).
  await expect.poll(() => page.url(), { timeout: T.ui }).toBe(s1.link);

  const other = await context.newPage();
  await openRecordingUrl(other, new URL(copied).search);
  const s2 = await until(other, (s) => {
    expect(s.cursor).toBe(target.i);
    expect(s.selectedSession).toBe(s1.selectedSession);
  });
  expect(s2.source.kind).toBe('recording');
  expect(s2.link).toBe(s1.link);
  expect(Math.abs(s2.view[0] - s1.view[0])).toBeLessThanOrEqual(1);
  expect(Math.abs(s2.view[1] - s1.view[1])).toBeLessThanOrEqual(1);
  await expect(other.getByTestId('inspector').locator('.panel-head .count')).toHaveText(
    s1.selectedSession!,
  );
  await expect(other.getByTestId('event-details')).toContainText(
    `#${target.i.toLocaleString('en-US')}`,
  );
  await parkMouse(other);
  await screenshot(other, info, 'deep-link-restored');
});

test('a link to a recording that is gone says it is not on this server', async ({ page }) => {
  await page.goto('/?recording=no-such-recording&cursor=12&session=0x10001');
  await page.waitForFunction(() => window.__iocpscope?.version === 1, null, { timeout: T.ui });
  const card = page.getByTestId('load-error');
  await expect(card).toBeVisible({ timeout: T.data });
  await expect(card).toHaveAttribute('data-code', 'NOT_FOUND');
  await expect(page.getByTestId('load-error-message')).toContainText('is not on this server');
  expect((await getState(page)).source.kind).toBe('none');
});

test('a live link selects its session once connected', async ({ page }) => {
  await page.goto('/?live=1&session=0x10001');
  await page.waitForFunction(() => window.__iocpscope?.version === 1, null, { timeout: T.ui });
  await untilState(page, (s) => {
    expect(s.source.kind).toBe('live');
    expect(s.connection).toBe('open');
    expect(s.selectedSession).toBe('0x10001');
  });
  expect((await state(page)).link).toMatch(/\?live=1&session=0x10001$/);
});
