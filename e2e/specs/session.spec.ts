// Journey 4: select a session and follow it through a recording: the
// inspector's lifecycle (created, posts, completions, the IOCount ledger,
// release), its highlight on the timeline, and next/previous for this session,
// checked step by step against a naive scan of the raw records.

import { expect, test, type Page } from '@playwright/test';
import {
  GOOD_FIXTURE,
  SESSION_KEY_KINDS,
  T,
  canvasPixels,
  expectCursorEverywhere,
  getState,
  openApp,
  parkMouse,
  pressKey,
  rawEvents,
  screenshot,
  untilState,
  waitForAnalysis,
} from '../support/app.ts';

/** COLORS.session in apps/web/src/timeline/theme.ts: the selected session's marks and boxes. */
const SESSION_CYAN: [number, number, number] = [0x22, 0xd3, 0xee];

async function openFixture(page: Page): Promise<void> {
  await openApp(page);
  await page.getByTestId('file-input').setInputFiles(GOOD_FIXTURE);
  await untilState(page, (s) => {
    expect(s.source.kind).toBe('file');
    expect(s.events).toBe(732);
  });
  await waitForAnalysis(page);
  await parkMouse(page);
}

interface LedgerStop {
  cursor: number;
  /** The ledger row at the cursor: "#index: text". */
  title: string;
  delta: string;
  value: string;
  ioCountNow: string;
}

/**
 * Step "next for this session" in the page until the release (or `max` steps),
 * reading the inspector after each step once React has drawn the new cursor.
 * One round trip for the whole walk; the keys and buttons are exercised by
 * the next test.
 */
async function walkLedger(page: Page, max: number): Promise<LedgerStop[]> {
  return page.evaluate(async (maxSteps) => {
    const hook = window.__iocpscope!;
    const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    const read = async (): Promise<LedgerStop> => {
      const cursor = hook.getState().cursor;
      for (let k = 0; k < 300; k++) {
        const at = document.querySelector('[data-testid="inspector-ledger"] .ledger-row.at-cursor');
        const title = at?.getAttribute('title') ?? '';
        if (title.startsWith(`#${cursor}:`)) {
          return {
            cursor,
            title,
            delta: at!.querySelector('.delta')?.textContent ?? '',
            value: at!.children[2]?.textContent ?? '',
            ioCountNow:
              document.querySelector('[data-testid="inspector-iocount-now"]')?.textContent ?? '',
          };
        }
        await frame();
      }
      throw new Error(`the inspector never showed event #${cursor} at the cursor`);
    };
    const out: LedgerStop[] = [await read()];
    for (let k = 0; k < maxSteps && !/: released by /.test(out.at(-1)!.title); k++) {
      hook.step('session', 1);
      out.push(await read());
    }
    return out;
  }, max);
}

test('selecting a session shows its lifecycle and IOCount ledger, and highlights it on the timeline', async ({
  page,
}, info) => {
  await openFixture(page);
  await expect(page.getByTestId('inspector')).toContainText('Select a session in the list');
  const before = (await canvasPixels(page, SESSION_CYAN)).length;

  const row = page.getByTestId('session-row').first();
  const id = (await row.getAttribute('data-session'))!;
  expect(id).toMatch(/^0x[0-9a-f]+$/);
  await row.click();
  await expect(row).toHaveAttribute('aria-selected', 'true');
  await untilState(page, (s) => expect(s.selectedSession).toBe(id), T.ui);
  const inspector = page.getByTestId('inspector');
  await expect(inspector.locator('.panel-head .count')).toHaveText(id);
  await expect(page.getByTestId('inspector-session')).toHaveText(id);
  await expect(page.getByTestId('inspector-peer')).toHaveText(/^127\.0\.0\.1:\d+$/);

  // Its events are drawn highlighted (the session colour appears on the canvas).
  await expect
    .poll(async () => (await canvasPixels(page, SESSION_CYAN)).length, {
      timeout: T.ui,
      message: 'selected session highlighted on the timeline',
    })
    .toBeGreaterThan(before + 20);

  // Created: the ledger's row at the cursor is the creation; IOCount starts at 0.
  await inspector.getByRole('button', { name: 'created', exact: true }).click();
  await untilState(page, (s) => expect(s.cursor).toBeGreaterThan(0), T.ui);
  const created = (await getState(page)).cursor;
  const [first] = await walkLedger(page, 0);
  expect(first!.title).toMatch(/^#\d+: created for 127\.0\.0\.1:\d+ \(slot \d+\)$/);
  await expect(page.getByTestId('inspector-state')).toHaveText('live');
  const events = await rawEvents(page, created, created);
  expect(events[0]!.kind).toBe(11); // SessionCreated
  expect(events[0]!.key).toBe(id);

  // Walk its ledger up to the release with next-for-this-session and collect what it says.
  const stops = await walkLedger(page, 400);
  const seen = stops.map((st) => st.title.replace(/^#\d+: /, ''));
  let lastCount: number | null = null;
  for (const st of stops) {
    if (!/^[+-]\d+$/.test(st.delta)) continue;
    lastCount = Number(st.value);
    // IOCount now (the replayed state) agrees with the ledger's running value.
    expect(st.ioCountNow, `IOCount now at #${st.cursor}`).toBe(String(lastCount));
  }
  // Every stop is an event of this session (the raw records say so).
  const raw = await rawEvents(page, created, stops.at(-1)!.cursor);
  const ofSession = raw.filter((e) => e.key === id && SESSION_KEY_KINDS.has(e.kind));
  expect(stops.map((st) => st.cursor)).toEqual(ofSession.map((e) => e.index));
  const has = (re: RegExp) => seen.some((t) => re.test(t));
  expect(has(/^accepted by accept/), seen.join('\n')).toBe(true);
  expect(has(/^recv posted by /)).toBe(true);
  expect(has(/^send posted by /)).toBe(true);
  expect(has(/^recv completion dequeued by worker-\d: \d+ B/)).toBe(true);
  expect(has(/^send completion dequeued by worker-\d/)).toBe(true);
  expect(has(/^recv completion dequeued by worker-\d: 0 B \(peer closed\)/)).toBe(true);
  expect(seen.at(-1)).toMatch(/^released by worker-\d with IOCount 0$/);
  expect(lastCount).toBe(0);
  await expect(page.getByTestId('inspector-state')).toHaveText(/released/);
  await expect(page.getByTestId('inspector-iocount-now')).toHaveText('0');
  await screenshot(page, info, 'session-inspector');

  // The inspector's "released" button goes to the same event.
  const releasedAt = (await getState(page)).cursor;
  await inspector.getByRole('button', { name: 'created', exact: true }).click();
  await untilState(page, (s) => expect(s.cursor).toBe(created), T.ui);
  await inspector.getByRole('button', { name: 'released', exact: true }).click();
  await untilState(page, (s) => expect(s.cursor).toBe(releasedAt), T.ui);

  // Clearing the selection removes the highlight.
  await pressKey(page, 'Escape');
  await untilState(page, (s) => expect(s.selectedSession).toBeNull(), T.ui);
  await expect(inspector).toContainText('Select a session in the list');
});

test('next and previous for the selected session visit exactly its events', async ({ page }) => {
  await openFixture(page);
  // Select with S on an event of the session (the second session's creation).
  const all = await rawEvents(page, 0, 731);
  const creations = all.filter((e) => e.kind === 11);
  expect(creations.length).toBe(4);
  const target = creations[1]!;
  const session = target.key!;
  const expected = all.filter((e) => e.key === session && SESSION_KEY_KINDS.has(e.kind));
  expect(expected.length).toBeGreaterThan(20);

  await page.evaluate((i) => window.__iocpscope!.setCursor(i), target.index);
  await expectCursorEverywhere(page, target.index);
  await pressKey(page, 's');
  await untilState(page, (s) => expect(s.selectedSession).toBe(session), T.ui);
  await expect(
    page.getByTestId('session-row').filter({ has: page.locator(`[title="${session}"]`) }),
  ).toHaveAttribute('aria-selected', 'true');

  // From before the session existed, "next for this session" visits its events
  // in order: the first few with the button and both keys, the rest through the
  // hook's step (the same action), to keep the run short.
  await page.getByTestId('first-event').click();
  await untilState(page, (s) => expect(s.cursor).toBe(0), T.ui);
  const visited: number[] = [];
  for (let k = 0; k < 6; k++) {
    const prev = (await getState(page)).cursor;
    if (k % 3 === 0) await page.getByTestId('next-session').click();
    else await pressKey(page, k % 3 === 1 ? '.' : 'Alt+ArrowRight');
    const s = await untilState(page, (st) => expect(st.cursor).toBeGreaterThan(prev), T.ui);
    visited.push(s.cursor);
  }
  visited.push(
    ...(await page.evaluate((n) => {
      const hook = window.__iocpscope!;
      const out: number[] = [];
      for (let k = 0; k < n; k++) {
        hook.step('session', 1);
        out.push(hook.getState().cursor);
      }
      return out;
    }, expected.length - 6)),
  );
  expect(visited).toEqual(expected.map((e) => e.index));
  await expectCursorEverywhere(page, visited.at(-1)!);
  // At its last event, "next" stays put.
  await pressKey(page, '.');
  await expectCursorEverywhere(page, visited.at(-1)!);

  // And back: previous for this session retraces them.
  const back: number[] = [];
  for (let k = 0; k < 5; k++) {
    const prev = (await getState(page)).cursor;
    if (k % 2 === 0) await pressKey(page, ',');
    else await page.getByTestId('prev-session').click();
    back.push((await untilState(page, (st) => expect(st.cursor).toBeLessThan(prev), T.ui)).cursor);
  }
  expect(back).toEqual(
    expected
      .slice(-6, -1)
      .reverse()
      .map((e) => e.index),
  );
  // The selection stays on the session throughout.
  expect((await getState(page)).selectedSession).toBe(session);
});
