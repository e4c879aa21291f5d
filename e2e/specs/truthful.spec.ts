// Issue 19 §8 and §9, truthful states and open work kept:
// - the ledger's badges say what holds over the whole trace: a healthy -1 is
//   never a red "orphan" because the cursor has not reached its +1 (future
//   rows are dimmed instead), and the real orphan stays one wherever the
//   cursor is;
// - a damaged file's anomalies say they are partial (chunks and bytes read),
//   never a green "no bugs found";
// - a text file opened over an open recording keeps the recording, and says
//   why in a toast with its code.

import { expect, test, type Page } from '@playwright/test';
import { damagedCopies } from '../support/damage.ts';
import { GOOD_FIXTURE, T, openApp, parkMouse, screenshot, untilState } from '../support/app.ts';
import { openExample, state, until } from '../support/instrument.ts';

/** The ledger's pair badges, by event index, as shown (the ledger is virtualized: scroll it). */
async function badges(page: Page): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const list = page.getByTestId('inspector-ledger');
  await list.evaluate((e) => (e.scrollTop = 0));
  for (let pass = 0; pass < 40; pass++) {
    // The rows of the last scroll are drawn on a later frame: read them then
    // (CI once read the page before the last one and stopped at the bottom).
    await page.evaluate(
      () => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))),
    );
    const rows = await page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="ledger-row"]')].map((r) => ({
        index: Number(/^#(\d+):/.exec(r.getAttribute('title') ?? '')?.[1] ?? -1),
        badge: r.querySelector('[data-testid="pair-badge"]')?.textContent ?? '',
        future: r.classList.contains('future'),
      })),
    );
    for (const r of rows) if (r.badge) out.set(r.index, `${r.badge}${r.future ? ' (future)' : ''}`);
    const done = await list.evaluate((e) => {
      if (e.scrollTop + e.clientHeight >= e.scrollHeight - 1) return true;
      e.scrollTop += e.clientHeight - 40;
      return false;
    });
    if (done) break;
  }
  return out;
}

test('a ledger badge says what holds over the whole trace: no orphan for a healthy -1 before the cursor gets there', async ({
  page,
}, info) => {
  await openExample(page, 'iocount-double-decrement');
  await page.getByTestId('session-row').first().click();
  await until(page, (s) => expect(s.selectedSession).not.toBeNull());
  // The cursor before the session begins: every row is in the future.
  await page.evaluate(() => window.__iocpscope!.setCursor(0));
  await parkMouse(page);
  const before = await badges(page);
  // And at the end of the trace.
  const last = (await state(page)).events - 1;
  await page.evaluate((i) => window.__iocpscope!.setCursor(i), last);
  const after = await badges(page);
  const strip = (m: Map<number, string>) =>
    new Map([...m].map(([k, v]) => [k, v.replace(' (future)', '')]));
  expect(strip(before)).toEqual(strip(after));
  expect([...before.values()].every((v) => v.endsWith('(future)'))).toBe(true);
  // Balanced -1s show what balances them; only the extra decrements are orphans.
  const orphans = [...after].filter(([, v]) => v === 'orphan').map(([k]) => k);
  expect(orphans.length).toBeGreaterThan(0);
  expect(orphans.length).toBeLessThan(after.size / 2);
  expect([...after.values()].filter((v) => v.startsWith('⇄')).length).toBeGreaterThan(0);
  await screenshot(page, info, 'truthful-ledger');
});

test('a damaged file that recovered a few events says its findings are partial, not "no bugs found"', async ({
  page,
}, info) => {
  const d = damagedCopies(GOOD_FIXTURE).truncatedMidChunk;
  await openApp(page);
  await page.getByTestId('file-input').setInputFiles({
    name: d.name,
    mimeType: 'application/octet-stream',
    buffer: d.bytes,
  });
  await untilState(page, (s) => expect(s.loadFailure?.code).toBe('TRUNCATED'));
  await page.waitForFunction(
    () => window.__iocpscope!.store.getState().analysisProgress === 1,
    null,
    { timeout: T.data },
  );
  const partial = page.getByTestId('anomalies-partial');
  await expect(partial).toBeVisible();
  await expect(partial).toContainText(
    /Partial: \d+ chunks? read \([\d.]+ (B|KiB) of [\d.]+ (B|KiB)\), then TRUNCATED/,
  );
  await expect(partial).toContainText(
    `The findings cover only those ${d.recoveredEvents.toLocaleString('en-US')} events.`,
  );
  await expect(page.locator('.ok-banner')).toHaveCount(0);
  await screenshot(page, info, 'truthful-partial');
});

test('a text file opened over an open recording keeps the recording and says why in a toast with its code', async ({
  page,
}) => {
  await openExample(page, 'clean');
  await page.evaluate(() => window.__iocpscope!.setCursor(30));
  const before = await state(page);
  await page.getByTestId('file-input').setInputFiles({
    name: 'notes.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('these are my notes, not a trace\n'),
  });
  const toast = page
    .getByTestId('toast')
    .filter({ hasText: 'Could not open notes.txt: BAD_MAGIC' });
  await expect(toast).toBeVisible({ timeout: T.data });
  await expect(toast).toContainText('What was open stays open.');
  const s = await state(page);
  expect(s.source).toEqual(before.source);
  expect(s.events).toBe(before.events);
  expect(s.cursor).toBe(30);
  expect(s.loadFailure).toBeNull();
  await expect(page.getByTestId('start-screen')).toHaveCount(0);
  await expect(page.getByTestId('timeline')).toBeVisible();
  await expect(page.getByTestId('partial-badge')).toHaveCount(0);
});
