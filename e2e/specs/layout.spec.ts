// Issue 19 §7, a layout that works at 1280×720: the session inspector and the
// event details are legible (no clipped buttons, no ledger text cut to "ac…",
// no details running off the bottom); every panel boundary is a visible
// splitter; a size set by dragging is remembered on the next visit. And at
// 1600×1000 a short trace leaves no tall empty timeline beside a 9-row ledger.

import { expect, test, type Locator, type Page } from '@playwright/test';
import { parkMouse, screenshot } from '../support/app.ts';
import { openExample, probe, until } from '../support/instrument.ts';

const SPLITTERS = ['bottomH', 'sideW', 'sessionsW', 'inspectorW', 'detailsH'];

async function box(l: Locator) {
  const b = await l.boundingBox();
  expect(b).not.toBeNull();
  return b!;
}

/** Elements matching `sel` inside `root` whose text overflows their box. */
async function clipped(page: Page, root: string, sel: string): Promise<string[]> {
  return page.evaluate(
    ({ root, sel }) =>
      [...document.querySelectorAll<HTMLElement>(`${root} ${sel}`)]
        .filter((e) => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
        .map((e) => e.textContent ?? ''),
    { root, sel },
  );
}

test.describe('at 1280×720', () => {
  test.use({ viewport: { width: 1280, height: 720 } });

  test('the inspector and the event details are legible, with splitters between every panel', async ({
    page,
  }, info) => {
    await openExample(page, 'iocount-double-decrement');
    await page.getByTestId('session-row').first().click();
    await until(page, (s) => expect(s.selectedSession).not.toBeNull());
    await page.evaluate(() => window.__iocpscope!.setCursor(67));
    await parkMouse(page);

    const inspector = page.getByTestId('inspector');
    const ib = await box(inspector);
    expect(ib.width).toBeGreaterThanOrEqual(300);
    // Every button of its header inside the panel, none clipped.
    for (const b of await inspector.locator('.panel-head button').all()) {
      const bb = await box(b);
      expect(bb.x + bb.width).toBeLessThanOrEqual(ib.x + ib.width + 0.5);
      expect(bb.x).toBeGreaterThanOrEqual(ib.x - 0.5);
    }
    expect(await clipped(page, '[data-testid="inspector"]', '.panel-head button')).toEqual([]);
    // The ledger's entries read whole (a narrow inspector gives them a line of their own).
    await expect(page.getByTestId('ledger-row').first()).toBeVisible();
    expect(await clipped(page, '[data-testid="inspector"]', '.ledger-text .t')).toEqual([]);
    // The event details fit their panel: nothing runs off the bottom.
    const details = page.getByTestId('event-details');
    await expect(details.locator('dl.kv dt').first()).toBeVisible();
    const overflow = await details
      .locator('.panel-body')
      .evaluate((e) => e.scrollHeight - e.clientHeight);
    expect(overflow).toBeLessThanOrEqual(0);
    // The timeline keeps room for its rows.
    const p = await probe(page);
    expect(p.plotY1).toBeLessThanOrEqual(p.height);
    for (const name of SPLITTERS) await expect(page.getByTestId(`splitter-${name}`)).toBeVisible();
    await screenshot(page, info, 'layout-1280x720');
  });

  test('a splitter dragged is remembered on the next visit; a double-click gives the automatic size back', async ({
    page,
  }) => {
    await openExample(page, 'clean');
    const inspector = page.getByTestId('inspector');
    const w0 = (await box(inspector)).width;
    const s = await box(page.getByTestId('splitter-inspectorW'));
    await page.mouse.move(s.x + s.width / 2, s.y + s.height / 2);
    await page.mouse.down();
    await page.mouse.move(s.x + s.width / 2 - 70, s.y + s.height / 2, { steps: 5 });
    await page.mouse.up();
    await expect.poll(async () => (await box(inspector)).width).toBeLessThan(w0 - 60);
    const w1 = (await box(inspector)).width;

    await page.reload();
    await page.waitForFunction(() => window.__iocpscope?.version === 1);
    await openExample(page, 'clean');
    await expect
      .poll(async () => Math.round((await box(page.getByTestId('inspector'))).width))
      .toBe(Math.round(w1));
    await page.getByTestId('splitter-inspectorW').dblclick();
    await expect
      .poll(async () => Math.round((await box(page.getByTestId('inspector'))).width))
      .toBe(Math.round(w0));
  });
});

test.describe('at 1600×1000', () => {
  test.use({ viewport: { width: 1600, height: 1000 } });

  test('a short trace leaves no tall empty timeline: the bottom row takes the room', async ({
    page,
  }, info) => {
    await openExample(page, 'iocount-double-decrement');
    await page.getByTestId('session-row').first().click();
    const p = await probe(page);
    // Four lanes and a track: little empty space under them.
    expect(p.height - p.plotY1).toBeLessThan(120);
    // The ledger shows well over 9 rows.
    const ledger = await box(page.getByTestId('inspector-ledger'));
    expect(ledger.height / 38).toBeGreaterThan(9);
    await parkMouse(page);
    await screenshot(page, info, 'layout-1600x1000');
  });
});
