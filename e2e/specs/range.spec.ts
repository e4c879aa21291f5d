// Issue 19 §2, select a range and read its numbers: Shift+drag across some
// lanes of the timeline selects that time range on those threads, and the
// Range panel counts exactly what a scan of the records finds there (posts,
// completions, bytes), lists the threads covered with their times, and opens
// a touched session in the inspector.

import { expect, test, type Page } from '@playwright/test';
import { T, count, parkMouse, pressKey, screenshot } from '../support/app.ts';
import { canvasOrigin, openExample, probe, state, tOf, until } from '../support/instrument.ts';

/** Naive counts over the records in [a, b] on threads `tids` (FORMAT.md record layout). */
async function scan(page: Page, a: number, b: number, tids: number[] | null) {
  return page.evaluate(
    ({ a, b, tids }) => {
      const t = window.__iocpscope!.store.getState().trace as unknown as {
        count: number;
        words: Uint32Array;
        timeAt(i: number): number;
      };
      const w = t.words;
      let events = 0;
      let recvOk = 0;
      let recvBytes = 0;
      let posted = 0;
      const sessions = new Set<string>();
      for (let i = 0; i < t.count; i++) {
        const ts = t.timeAt(i);
        if (ts < a || ts > b) continue;
        const o = i * 8;
        if (tids !== null && !tids.includes(w[o]! >>> 16)) continue;
        events++;
        const kind = w[o]! & 0xff;
        const aa = (w[o]! >>> 8) & 0xff;
        if (kind === 6 && aa & 0x20 && aa & 0x10 && (aa & 7) === 1) {
          recvOk++;
          recvBytes += w[o + 1]!;
        }
        if (kind === 9) posted++;
        const sessKinds = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 23, 27, 30, 33];
        if (sessKinds.includes(kind) && (w[o + 4]! | w[o + 5]!) !== 0) {
          sessions.add(`0x${((BigInt(w[o + 5]!) << 32n) | BigInt(w[o + 4]!)).toString(16)}`);
        }
      }
      return { events, recvOk, recvBytes, posted, sessions: sessions.size };
    },
    { a, b, tids },
  );
}

test('Shift+drag over two worker lanes selects that range on those threads, and the Range panel counts it', async ({
  page,
}, info) => {
  await openExample(page, 'iocount-double-decrement');
  const p = await probe(page);
  const workers = p.lanes.filter((l) => l.name.startsWith('worker'));
  expect(workers.length).toBeGreaterThanOrEqual(2);
  const o = await canvasOrigin(page);
  const xa = p.x0 + (p.x1 - p.x0) * 0.2;
  const xb = p.x0 + (p.x1 - p.x0) * 0.95;
  await page.keyboard.down('Shift');
  await page.mouse.move(o.x + xa, o.y + workers[0]!.y0 + 5);
  await page.mouse.down();
  await page.mouse.move(o.x + xb, o.y + workers[1]!.y1 - 5, { steps: 10 });
  await page.mouse.up();
  await page.keyboard.up('Shift');
  await parkMouse(page);

  const s = await until(page, (st) => expect(st.range).not.toBeNull());
  const r = s.range!;
  expect(r.tids).toEqual(
    workers
      .slice(0, 2)
      .map((l) => l.tid)
      .sort((x, y) => x - y),
  );
  expect(r.startNs).toBeCloseTo(tOf(p, xa), -2);
  expect(r.endNs).toBeCloseTo(tOf(p, xb), -2);
  // The drag selected; it did not pan, and it did not move the cursor.
  expect(s.view).toEqual((await state(page)).view);
  expect(s.bottomTab).toBe('range');

  const want = await scan(page, r.startNs, r.endNs, r.tids!);
  expect(want.events).toBeGreaterThan(10);
  const panel = page.getByTestId('range-panel');
  await expect(panel).toHaveAttribute('data-events', String(want.events));
  await expect(page.getByTestId('range-summary')).toContainText(
    `${want.events.toLocaleString('en-US')} events · 2 threads`,
  );
  const recv = page.locator(
    '[data-testid="range-ops"] tr[data-what="dequeued"][data-op="recv"][data-result="ok"] td.num',
  );
  if (want.recvOk > 0) expect(count(await recv.textContent())).toBe(want.recvOk);
  const postedRows = page.locator('[data-testid="range-ops"] tr[data-what="posted"] td.num');
  let posted = 0;
  for (const t of await postedRows.allTextContents()) posted += count(t);
  expect(posted).toBe(want.posted);
  // The threads covered, by name, with their times.
  await expect(page.getByTestId('range-threads').locator('tbody tr')).toHaveCount(2);
  for (const l of workers.slice(0, 2)) {
    await expect(
      page.locator(`[data-testid="range-threads"] tr[data-thread="${l.name}"]`),
    ).toBeVisible();
  }
  await expect(page.getByTestId('range-latency')).toContainText('p50');
  await expect(page.getByTestId('range-wait')).toContainText('p99');
  await expect(page.getByTestId('range-sessions')).toBeVisible();
  const sessions = page.getByTestId('range-session');
  await expect(sessions).toHaveCount(Math.min(60, want.sessions));
  await screenshot(page, info, 'range-selected');

  // A touched session opens in the inspector.
  const hex = (await sessions.first().getAttribute('data-session'))!;
  await sessions.first().click();
  await until(page, (st) => expect(st.selectedSession).toBe(hex));
  await expect(page.getByTestId('inspector').locator('.panel-head .count')).toHaveText(hex);

  // Esc clears the range (the selection stays until the next Esc).
  await pressKey(page, 'Escape');
  await until(page, (st) => {
    expect(st.range).toBeNull();
    expect(st.selectedSession).toBe(hex);
  });
});

test('R turns range mode on: a plain drag selects across every thread', async ({ page }) => {
  await openExample(page, 'clean');
  await pressKey(page, 'r');
  await until(page, (s) => expect(s.rangeMode).toBe(true));
  const p = await probe(page);
  const o = await canvasOrigin(page);
  // Start on the queue track: all threads.
  const y = o.y + (p.queue[0] + p.queue[1]) / 2;
  await page.mouse.move(o.x + p.x0 + 20, y);
  await page.mouse.down();
  await page.mouse.move(o.x + p.x1 - 20, y, { steps: 8 });
  await page.mouse.up();
  const s = await until(page, (st) => expect(st.range).not.toBeNull());
  expect(s.range!.tids).toBeNull();
  const want = await scan(page, s.range!.startNs, s.range!.endNs, null);
  await expect(page.getByTestId('range-panel')).toHaveAttribute(
    'data-events',
    String(want.events),
    {
      timeout: T.ui,
    },
  );
  await expect(page.getByTestId('range-summary')).toContainText('all threads');
  await pressKey(page, 'Escape');
  await until(page, (st) => expect(st.rangeMode).toBe(false));
});
