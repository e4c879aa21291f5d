// Journey 6: open an example recorded with a fault switch (examples/, served
// by the server's recordings list): the anomalies panel lists the detectors'
// findings, next/previous anomaly walk the cursor through them, clicking one
// selects its session, and the timeline marks each one.

import { expect, test, type Page } from '@playwright/test';
import {
  T,
  canvasPixels,
  count,
  getState,
  openLive,
  parkMouse,
  pressKey,
  screenshot,
  untilState,
  waitForAnalysis,
} from '../support/app.ts';

/** COLORS.finding in apps/web/src/timeline/theme.ts: the diamonds on the time axis. */
const FINDING_RED: [number, number, number] = [0xff, 0x6b, 0x6b];
/** COLORS.running: thread lanes in the running state. */
const RUNNING_GREEN: [number, number, number] = [0x3f, 0xb2, 0x7f];
/** The axis band of the timeline (layout.ts: overview 44 px, then the 26 px axis). */
const AXIS_BAND: [number, number] = [44, 70];

/** From the live view the dashboard opens on, pick an example in the Recordings menu. */
async function openExample(page: Page, name: string): Promise<void> {
  await openLive(page);
  await page.getByTestId('recordings-menu').click();
  const item = page
    .getByTestId('recordings-list')
    .getByTestId('recording-item')
    .filter({ has: page.locator('span', { hasText: new RegExp(`^${name}$`) }) });
  await expect(item, `examples/${name}.iocptrace in the Recordings menu`).toBeVisible({
    timeout: T.ui,
  });
  await item.click();
  await untilState(page, (s) => {
    expect(s.source.kind).toBe('recording');
    expect(s.events).toBeGreaterThan(0);
  });
  await waitForAnalysis(page);
  await parkMouse(page);
}

interface ListedFinding {
  rule: string;
  anchor: number;
  session: string | null;
  message: string;
}

async function listedFindings(page: Page): Promise<ListedFinding[]> {
  const items = page.getByTestId('finding');
  const out: ListedFinding[] = [];
  for (let k = 0; k < (await items.count()); k++) {
    const f = items.nth(k);
    const where = (await f.locator('.where').textContent()) ?? '';
    out.push({
      rule: (await f.getAttribute('data-rule')) ?? '',
      anchor: count(where),
      session: /session (0x[0-9a-f]+)/.exec(where)?.[1] ?? null,
      message: (await f.locator('.msg').textContent()) ?? '',
    });
  }
  return out;
}

test('the anomalies panel lists the findings and next/previous anomaly visit each in turn', async ({
  page,
}, info) => {
  await openExample(page, 'iocount-double-decrement');
  const s = await getState(page);
  expect(s.findingRules).toContain('iocount-balance');
  const findings = await listedFindings(page);
  expect(findings.length).toBe(s.findings);
  await expect(page.getByTestId('anomalies-count')).toHaveText(String(s.findings));
  const balance = findings.find((f) => f.rule === 'iocount-balance')!;
  expect(balance.message).toMatch(/IOCount was decremented twice/);
  expect(balance.session).toMatch(/^0x[0-9a-f]+$/);

  // In trace order; "next anomaly" visits each distinct anchor once.
  const anchors = [...new Set(findings.map((f) => f.anchor))];
  expect(anchors).toEqual([...anchors].sort((a, b) => a - b));
  expect(s.cursor).toBeLessThan(anchors[0]!);
  const visited: number[] = [];
  for (let k = 0; k < anchors.length; k++) {
    const prev = (await getState(page)).cursor;
    if (k % 3 === 0) await page.getByTestId('step-next-anomaly').click();
    else if (k % 3 === 1) await pressKey(page, ']');
    else await page.getByTestId('next-anomaly').click();
    visited.push(
      (await untilState(page, (st) => expect(st.cursor).toBeGreaterThan(prev), T.ui)).cursor,
    );
    // The finding at the cursor is the current one in the list.
    await expect(
      page.locator('[data-testid="finding"][aria-current="true"]').first(),
    ).toContainText(`#${visited.at(-1)!.toLocaleString('en-US')}`);
  }
  expect(visited).toEqual(anchors);
  // Past the last one, next stays put; previous walks back.
  await pressKey(page, ']');
  await untilState(page, (st) => expect(st.cursor).toBe(anchors.at(-1)), T.ui);
  if (anchors.length > 1) {
    await pressKey(page, '[');
    await untilState(page, (st) => expect(st.cursor).toBe(anchors.at(-2)), T.ui);
    await page.getByTestId('prev-anomaly').click();
    await untilState(page, (st) => expect(st.cursor).toBe(anchors.at(-3) ?? anchors.at(-2)), T.ui);
  }
  await screenshot(page, info, 'anomalies');
});

test('clicking a finding moves the cursor to it and selects its session', async ({ page }) => {
  await openExample(page, 'iocount-double-decrement');
  const findings = await listedFindings(page);
  const target = findings.find((f) => f.rule === 'iocount-balance')!;
  await page.getByTestId('finding').filter({ hasText: target.message }).first().click();
  await untilState(
    page,
    (s) => {
      expect(s.cursor).toBe(target.anchor);
      expect(s.selectedSession).toBe(target.session);
    },
    T.ui,
  );
  await expect(page.getByTestId('inspector').locator('.panel-head .count')).toHaveText(
    target.session!,
  );
  await expect(page.getByTestId('event-details')).toContainText(
    `#${target.anchor.toLocaleString('en-US')}`,
  );
});

test('the timeline marks every finding with a diamond on its time axis', async ({ page }, info) => {
  await openExample(page, 'iocount-double-decrement');
  const findings = await listedFindings(page);
  // The whole trace in view (F), the cursor on the first event, away from the
  // findings (its time label would cover the diamonds at the cursor).
  await pressKey(page, 'f');
  await pressKey(page, 'Home');
  await untilState(page, (s) => expect(s.cursor).toBe(0), T.ui);
  const expectedX = await page.evaluate(() => {
    const st = window.__iocpscope!.store.getState() as unknown as {
      trace: { timeAt(i: number): number };
      findings: Array<{ events: number[] }>;
      viewStartNs: number;
      viewEndNs: number;
    };
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="timeline"] canvas')!;
    const w = canvas.clientWidth;
    const x0 = Math.min(176, Math.floor(w / 3));
    const nsPerPx = (st.viewEndNs - st.viewStartNs) / (w - x0);
    return st.findings.map((f) => x0 + (st.trace.timeAt(f.events[0]!) - st.viewStartNs) / nsPerPx);
  });
  expect(expectedX.length).toBe(findings.length);
  await screenshot(page, info, 'anomalies-marked');
  await expect
    .poll(
      async () => {
        const xs = await canvasPixels(page, FINDING_RED, AXIS_BAND);
        return expectedX.filter((x) => !xs.some((px) => Math.abs(px - x) <= 6)).length;
      },
      { timeout: 5_000, message: 'findings without a mark on the time axis' },
    )
    .toBe(0);
});

test('a clean example has no findings and no marks on its timeline', async ({ page }) => {
  await openExample(page, 'clean');
  await expect(page.getByTestId('anomalies-none')).toBeVisible();
  await expect(page.getByTestId('anomalies-count')).toHaveText('0');
  expect((await getState(page)).findings).toBe(0);
  await expect(page.getByTestId('step-next-anomaly')).toBeDisabled();
  // Once the timeline has drawn (running threads in green), no red diamond is on its axis.
  await expect
    .poll(async () => (await canvasPixels(page, RUNNING_GREEN)).length, { timeout: T.ui })
    .toBeGreaterThan(0);
  expect(await canvasPixels(page, FINDING_RED, AXIS_BAND)).toEqual([]);
});
