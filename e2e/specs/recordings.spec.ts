// Journey 3: open a recording three ways: a file from the open dialog, a file
// dropped on the page, and the server's recordings list (one recorded from the
// dashboard's own record control, and the committed examples). Some start on
// the start screen (`?live=0`, a user who only opens files), some from the
// live view the dashboard opens by default (opening leaves the stream).

import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import {
  GOOD_FIXTURE,
  T,
  count,
  firstEventInView,
  getState,
  openApp,
  openLive,
  pressKey,
  screenshot,
  untilState,
  waitForAnalysis,
} from '../support/app.ts';

const FIXTURE_EVENTS = 732;

/** A DataTransfer holding the fixture as a dropped file, built in the page. */
function fixtureTransfer(page: Page) {
  return page.evaluateHandle(
    ({ b64, name }) => {
      const bin = atob(b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const d = new DataTransfer();
      d.items.add(new File([bytes], name, { type: 'application/octet-stream' }));
      return d;
    },
    { b64: readFileSync(GOOD_FIXTURE).toString('base64'), name: 'echo-small.iocptrace' },
  );
}

/** The fixture is open as a file, whole, and the detectors found nothing in it. */
async function expectFixtureOpen(page: Page): Promise<void> {
  const s = await untilState(page, (st) => {
    expect(st.source).toEqual({ kind: 'file', name: 'echo-small.iocptrace' });
    expect(st.events).toBe(FIXTURE_EVENTS);
  });
  expect(s.loadFailure).toBeNull();
  expect(s.sessions).toBe(4);
  expect(s.lanes).toBeGreaterThanOrEqual(4);
  await expect(page.getByTestId('source-name')).toHaveText('echo-small.iocptrace');
  await expect(page.getByTestId('event-count')).toHaveText('732 events');
  await expect(page.getByTestId('source')).toContainText('emulated · 2 workers / 2');
  await expect(page.getByTestId('partial-badge')).toHaveCount(0);
  await waitForAnalysis(page);
  await expect(page.getByTestId('anomalies-none')).toBeVisible();
  await expect(page.getByTestId('sessions-count')).toHaveText('4');
}

test('a recording opens from the file chooser, and again with Ctrl+O', async ({ page }, info) => {
  await openApp(page);
  await expect(
    page.getByTestId('examples').or(page.getByTestId('recordings')).first(),
  ).toBeVisible();
  await screenshot(page, info, 'start-screen');
  const chooser = page.waitForEvent('filechooser', { timeout: T.ui });
  await page.getByTestId('start-open-file').click();
  await (await chooser).setFiles(GOOD_FIXTURE);
  await expectFixtureOpen(page);
  await screenshot(page, info, 'recording-file');

  // From the debugger view: close, then Ctrl+O opens the dialog again.
  await page.getByTestId('close-source').click();
  await expect(page.getByTestId('start-screen')).toBeVisible();
  const again = page.waitForEvent('filechooser', { timeout: T.ui });
  await pressKey(page, 'Control+o');
  await (await again).setFiles(GOOD_FIXTURE);
  await expectFixtureOpen(page);
});

test('a recording dropped on the live view opens, and the dashboard says it left the stream', async ({
  page,
}) => {
  await openLive(page);
  const dt = await fixtureTransfer(page);
  const zone = page.getByTestId('timeline');
  await zone.dispatchEvent('dragenter', { dataTransfer: dt });
  await expect(page.getByText('Drop a .iocptrace file to open it')).toBeVisible();
  await zone.dispatchEvent('dragover', { dataTransfer: dt });
  await zone.dispatchEvent('drop', { dataTransfer: dt });
  await expect(page.getByText('Drop a .iocptrace file to open it')).toBeHidden();
  await expectFixtureOpen(page);
  const left = page.getByTestId('toast').filter({ hasText: 'Left the live stream' });
  await expect(left).toBeVisible();
  await expect(left).toContainText('to open echo-small.iocptrace');
  expect((await getState(page)).connection).toBe('idle');
  // And back: "Connect live" in the top bar.
  await page.getByTestId('connect-live').click();
  await untilState(page, (s) => {
    expect(s.source.kind).toBe('live');
    expect(s.connection).toBe('open');
  });
});

test('a recording dropped on the start screen opens', async ({ page }) => {
  await openApp(page);
  const dt = await fixtureTransfer(page);
  const zone = page.getByTestId('start-dropzone');
  await zone.dispatchEvent('dragenter', { dataTransfer: dt });
  await zone.dispatchEvent('dragover', { dataTransfer: dt });
  await zone.dispatchEvent('drop', { dataTransfer: dt });
  await expectFixtureOpen(page);
  await expect(page.getByTestId('toast').filter({ hasText: 'Left the live stream' })).toHaveCount(
    0,
  );
});

test('a recording made with the record control opens from the recordings menu', async ({
  page,
}, info) => {
  await openLive(page);
  const record = page.getByTestId('record-toggle');
  await expect(record).toBeEnabled();
  await expect(record).toHaveText(/Record$/);
  await record.click();
  // The server's status reports the file growing (flushed every 250 ms).
  await expect(record).toHaveText(/Recording \d/, { timeout: T.data });
  const atStart = (await getState(page)).events;
  await untilState(page, (s) => expect(s.events).toBeGreaterThan(atStart + 300));
  await screenshot(page, info, 'live-recording');
  await record.click();
  const saved = page.getByTestId('toast').filter({ hasText: 'Recording saved' });
  await expect(saved).toBeVisible({ timeout: T.data });
  const detail = (await saved.textContent()) ?? '';
  const m = /(rec-[\w.-]+) \(([\d,]+) bytes\)/.exec(detail);
  expect(m, `saved toast: ${detail}`).not.toBeNull();
  const name = m![1]!;
  expect(count(m![2]!)).toBeGreaterThan(1000);
  await expect(record).toHaveText(/Record$/);

  await page.getByTestId('recordings-menu').click();
  const list = page.getByTestId('recordings-list');
  await expect(list).toBeVisible();
  await screenshot(page, info, 'recordings-menu');
  const item = list.getByTestId('recording-item').filter({ hasText: name });
  await expect(item).toHaveCount(1, { timeout: T.ui });
  await item.click();
  const s = await untilState(page, (st) => {
    expect(st.source.kind).toBe('recording');
    expect(st.source.name).toContain(name);
    expect(st.events).toBeGreaterThan(300);
  });
  expect(s.loadFailure).toBeNull();
  await expect(page.getByTestId('source')).toContainText('SERVER');
  await expect(page.getByTestId('source-name')).toContainText(name);
  // A recording opens framed on its events, the cursor on the first one in view.
  expect(s.cursor).toBe(await firstEventInView(page));
  expect(s.cursorTsNs!).toBeLessThanOrEqual(s.view[1]);
  await expect(page.getByTestId('partial-badge')).toHaveCount(0);
});

test('an example recording opens from the start screen and steps to its anomaly', async ({
  page,
}, info) => {
  const res = await page.request.get('/api/recordings');
  const { recordings } = (await res.json()) as { recordings: Array<{ id: string; name: string }> };
  const example = recordings.find(
    (r) => r.id.startsWith('example') && /recv-not-reposted/.test(r.name),
  );
  // The examples are committed: a missing one is a broken checkout, not a reason to skip.
  expect(
    example,
    'examples/recv-not-reposted.iocptrace must be listed by the server (run scripts/make-examples.ts)',
  ).toBeDefined();

  await openApp(page);
  const row = page
    .getByTestId('examples')
    .getByTestId('start-recording')
    .filter({ hasText: 'recv-not-reposted' });
  await expect(row).toBeVisible();
  await row.click();
  const opened = await untilState(page, (s) => {
    expect(s.source.kind).toBe('recording');
    expect(s.events).toBeGreaterThan(0);
  });
  // It opens framed on its activity (timeline/fit.ts, unit-tested there): the
  // cursor is on the first event in view, past the startup records.
  expect(opened.cursor).toBe(await firstEventInView(page));
  expect(opened.cursor).toBeGreaterThan(0);
  await waitForAnalysis(page);
  const first = page.getByTestId('finding').first();
  await expect(first).toHaveAttribute('data-rule', 'recv-reposted');
  const anchor = count(await first.locator('.where').textContent());
  expect((await getState(page)).cursor).toBeLessThan(anchor);
  await pressKey(page, ']');
  await untilState(page, (s) => expect(s.cursor).toBe(anchor), T.ui);
  // The current finding (several may share this anchor) is marked in the list.
  await expect(
    page.locator('[data-testid="finding"][aria-current="true"]').first().locator('.where'),
  ).toContainText(`#${anchor.toLocaleString('en-US')}`);
  await expect(page.getByTestId('event-details')).toContainText(
    `#${anchor.toLocaleString('en-US')}`,
  );
  await screenshot(page, info, 'example-anomaly');
});
