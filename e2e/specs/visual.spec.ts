// Issue 19 §10, one visual language:
// - the legend explains every mark the timeline draws;
// - lanes in a stable order: accept, kernel, then workers by number;
// - one formatter for times: the cursor flag on the axis reads as the step
//   bar's readout; one for session ids: the tooltip's `0x10001`, not
//   `0x0000000000010001`;
// - threads named one way: a finding's footer names the thread as its lanes do.

import { expect, test } from '@playwright/test';
import { drawnText, parkMouse, recordCanvasText, screenshot } from '../support/app.ts';
import {
  canvasOrigin,
  openExample,
  probe,
  probeUntil,
  state,
  timesOf,
  xOf,
} from '../support/instrument.ts';

test('the legend explains every mark the timeline draws', async ({ page }, info) => {
  await openExample(page, 'iocount-double-decrement');
  await page.getByTestId('legend-button').click();
  const legend = page.getByTestId('legend');
  await expect(legend).toBeVisible();
  const marks = await legend
    .locator('[data-mark]')
    .evaluateAll((els) => els.map((e) => e.getAttribute('data-mark')));
  for (const m of [
    'waiting',
    'running',
    'blocked',
    'kernel',
    'recv',
    'send',
    'post',
    'fail',
    'empty',
    'flow',
    'flow-selected',
    'session-box',
    'cursor-box',
    'search',
    'evidence',
    'finding',
    'gap',
    'marker',
    'range',
    'queue',
    'running-track',
    'iocount',
    'italic-session',
  ]) {
    expect(marks, `the legend explains "${m}"`).toContain(m);
  }
  await screenshot(page, info, 'legend');
  await page.keyboard.press('Escape');
  await expect(legend).toHaveCount(0);
});

test('lanes read accept, kernel, then workers by number; times and session ids read one way everywhere', async ({
  page,
}) => {
  await recordCanvasText(page);
  await openExample(page, 'iocount-double-decrement');
  const s = await state(page);
  const names = s.laneNames;
  expect(names[0]).toBe('accept');
  expect(names[1]).toBe('kernel');
  const workers = names.slice(2);
  expect(workers.every((n) => /^worker \d+$/.test(n))).toBe(true);
  const nums = workers.map((n) => Number(n.split(' ')[1]));
  expect(nums).toEqual([...nums].sort((a, b) => a - b));

  // The cursor's time on the axis flag and in the step bar: the same text.
  await page.evaluate(() => window.__iocpscope!.setCursor(67));
  await parkMouse(page);
  const readout = (await page.getByTestId('cursor-readout').textContent()) ?? '';
  const time = /· (.+)$/.exec(readout)![1]!.trim();
  await expect.poll(async () => (await drawnText(page)).includes(time)).toBe(true);
  expect(time).toMatch(/^\d+\.\d{3}( \d{3})* (ns|µs|ms|s)$/);
  await expect(page.getByTestId('event-details')).toContainText(time);

  // Hover the event: the tooltip names its session as every panel does.
  const p = await probe(page);
  const [t] = await timesOf(page, [67]);
  const tid = await page.evaluate(
    () => window.__iocpscope!.store.getState().trace!.words[67 * 8]! >>> 16,
  );
  const lane = p.lanes.find((l) => l.tid === tid)!;
  const o = await canvasOrigin(page);
  await page.mouse.move(o.x + xOf(p, t!), o.y + lane.y0 + 8);
  const hovered = await probeUntil(page, (q) => expect(q.hover).toMatch(/session 0x[0-9a-f]+/));
  const id = /session (0x[0-9a-f]+)/.exec(hovered.hover)![1]!;
  expect(id).not.toMatch(/^0x0/);
  await expect(page.getByTestId('event-details')).toContainText(id);
  await parkMouse(page);

  // A finding's footer names its thread the way the lanes do (no bare "thread 2").
  const footers = await page.getByTestId('finding').locator('.where').allTextContents();
  for (const f of footers) expect(f).not.toMatch(/· thread \d+/);
});
