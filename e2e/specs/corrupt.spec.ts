// Journey 5: open damaged files. Each must produce a clear error with the
// reader's code, which chunk is damaged and what was recovered from the valid
// prefix, never a blank page, and the app must open a good file right after.
// Most start on the start screen (`?live=0`); one from the live view.

import { expect, test, type Page } from '@playwright/test';
import { damagedCopies, type Damaged } from '../support/damage.ts';
import {
  GOOD_FIXTURE,
  T,
  getState,
  openApp,
  openLive,
  screenshot,
  untilState,
} from '../support/app.ts';

const files = damagedCopies(GOOD_FIXTURE);

async function openBytes(page: Page, d: { name: string; bytes: Buffer }): Promise<void> {
  await page.getByTestId('file-input').setInputFiles({
    name: d.name,
    mimeType: 'application/octet-stream',
    buffer: d.bytes,
  });
}

/** The good fixture opens whole after the failure: the app is still usable. */
async function expectGoodFileOpens(page: Page): Promise<void> {
  await openBytes(page, { name: 'echo-small.iocptrace', bytes: files.good });
  const s = await untilState(page, (st) => {
    expect(st.source).toEqual({ kind: 'file', name: 'echo-small.iocptrace' });
    expect(st.events).toBe(732);
  });
  expect(s.loadFailure).toBeNull();
  await expect(page.getByTestId('partial-badge')).toHaveCount(0);
  await expect(page.getByTestId('load-error')).toHaveCount(0);
  await expect(page.getByTestId('event-count')).toHaveText('732 events');
  // It opens on the first event in view (after the idle start-up); step on from there.
  await page.getByTestId('next-event').click();
  await untilState(page, (st) => expect(st.cursor).toBe(s.cursor + 1), T.ui);
}

/** A damaged file whose valid prefix holds events: it opens, marked as damaged. */
async function expectPartialOpen(page: Page, d: Damaged, code: string): Promise<void> {
  expect(d.code, 'what the reference reader says').toBe(code);
  expect(d.recoveredEvents).toBeGreaterThan(0);
  expect(d.recoveredEvents).toBeLessThan(732);
  await openBytes(page, d);
  const s = await untilState(page, (st) => {
    expect(st.source).toEqual({ kind: 'file', name: d.name });
    expect(st.loadFailure?.code).toBe(code);
  });
  expect(s.events).toBe(d.recoveredEvents);
  expect(s.loadFailure!.recoveredEvents).toBe(d.recoveredEvents);
  const n = d.recoveredEvents.toLocaleString('en-US');
  const badge = page.getByTestId('partial-badge');
  await expect(badge).toHaveAttribute('data-code', code);
  await expect(badge).toHaveText(`Damaged file · ${code} · showing ${n} events`);
  const toast = page.getByTestId('toast').filter({ hasText: `${d.name}: ${code}` });
  await expect(toast).toBeVisible();
  await expect(toast).toContainText(`Recovered ${n} events from the valid prefix.`);
  // The recovered prefix is a working trace: step through it.
  await page.getByTestId('last-event').click();
  await untilState(page, (st) => expect(st.cursor).toBe(d.recoveredEvents - 1), T.ui);
}

/** A damaged file with nothing to show: the start screen explains why. */
async function expectRefused(page: Page, d: Damaged, code: string, help: RegExp): Promise<void> {
  expect(d.code, 'what the reference reader says').toBe(code);
  expect(d.recoveredEvents).toBe(0);
  await openBytes(page, d);
  const card = page.getByTestId('load-error');
  await expect(card).toBeVisible({ timeout: T.data });
  await expect(card).toHaveAttribute('data-code', code);
  await expect(card).toContainText(`Could not open ${d.name}: ${code}`);
  await expect(card).toContainText(help);
  await expect(page.getByTestId('load-error-message')).not.toBeEmpty();
  await expect(page.getByTestId('load-error-recovered')).toHaveText(
    'No events could be recovered.',
  );
  await expect(page.getByTestId('start-screen')).toBeVisible();
  const s = await getState(page);
  expect(s.source.kind).toBe('none');
  expect(s.loadFailure).toMatchObject({ code, recoveredEvents: 0 });
}

test('a file cut short mid-chunk opens its complete chunks and reports TRUNCATED', async ({
  page,
}, info) => {
  await openApp(page);
  await expectPartialOpen(page, files.truncatedMidChunk, 'TRUNCATED');
  const n = files.truncatedMidChunk.recoveredEvents;
  expect((await getState(page)).loadFailure!.message).toMatch(
    new RegExp(
      `bytes into chunk \\d+, which declares \\d+ bytes; the \\d+ chunks before it, ${n} events, are intact`,
    ),
  );
  await screenshot(page, info, 'corrupt-truncated');
  await expectGoodFileOpens(page);
});

test('a file with flipped bits reports CHECKSUM_MISMATCH and keeps the chunks before the damage', async ({
  page,
}) => {
  await openApp(page);
  await expectPartialOpen(page, files.bitFlipLaterChunk, 'CHECKSUM_MISMATCH');
  await expect(page.getByTestId('toast').filter({ hasText: 'CHECKSUM_MISMATCH' })).toContainText(
    /chunk \d+ \(\d+ bytes\) fails its CRC32 check/,
  );
  await expectGoodFileOpens(page);
});

test('a file damaged in its first chunk is refused on the start screen with nothing recovered', async ({
  page,
}, info) => {
  await openApp(page);
  await expectRefused(
    page,
    files.bitFlipFirstChunk,
    'CHECKSUM_MISMATCH',
    /A chunk of the file is damaged/,
  );
  // Not just "chunk": which one, where, why, and what came before it.
  await expect(page.getByTestId('load-error-message')).toHaveText(
    /^CHECKSUM_MISMATCH at byte \d+: chunk 1 \(\d+ bytes\) fails its CRC32 check \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\); it is the first chunk, so no events precede it$/,
  );
  await screenshot(page, info, 'corrupt-first-chunk');
  await expectGoodFileOpens(page);
});

test('a damaged file opened from the live view: the error as a toast, and the live view stays', async ({
  page,
}) => {
  // Issue 19 §9: bad input never destroys open work.
  await openLive(page);
  const before = await getState(page);
  await openBytes(page, files.bitFlipFirstChunk);
  const toast = page
    .getByTestId('toast')
    .filter({ hasText: `Could not open ${files.bitFlipFirstChunk.name}: CHECKSUM_MISMATCH` });
  await expect(toast).toBeVisible({ timeout: T.data });
  await expect(toast).toContainText('What was open stays open.');
  await expect(page.getByTestId('start-screen')).toHaveCount(0);
  await expect(page.getByTestId('toast').filter({ hasText: 'Left the live stream' })).toHaveCount(
    0,
  );
  await untilState(page, (s) => {
    expect(s.source.kind).toBe('live');
    expect(s.connection).toBe('open');
    expect(s.events).toBeGreaterThan(before.events);
  });
});

test('a file that is not a trace is refused as BAD_MAGIC and the app stays usable', async ({
  page,
}, info) => {
  await openApp(page);
  await expectRefused(page, files.notATrace, 'BAD_MAGIC', /This is not an \.iocptrace file/);
  await screenshot(page, info, 'corrupt-not-a-trace');
  await page.getByTestId('load-error').getByRole('button', { name: 'Dismiss' }).click();
  await expect(page.getByTestId('load-error')).toHaveCount(0);
  await expectGoodFileOpens(page);
});
