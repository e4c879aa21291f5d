// Issue 19 §3, counter tracks: the selected session's IOCount is a step track
// under the lanes, in the space that was empty; "Pin track" keeps it there
// while another session is selected, several at once; a ▼ on the track is
// the ledger's -1 (a click puts the cursor, and the ledger's highlight, on
// it); ✕ beside a track's name unpins it.

import { expect, test, type Page } from '@playwright/test';
import { parkMouse, recordCanvasText, drawnText, screenshot } from '../support/app.ts';
import {
  canvasOrigin,
  openExample,
  probe,
  probeUntil,
  state,
  until,
  xOf,
} from '../support/instrument.ts';

/** A session's IoCount events (record kind 10) and their deltas, by a scan of the records. */
async function ioCounts(
  page: Page,
  hex: string,
): Promise<Array<{ i: number; t: number; d: number }>> {
  return page.evaluate((hex) => {
    const t = window.__iocpscope!.store.getState().trace as unknown as {
      count: number;
      words: Uint32Array;
      timeAt(i: number): number;
    };
    const id = BigInt(hex);
    const out = [];
    for (let i = 0; i < t.count; i++) {
      const o = i * 8;
      if ((t.words[o]! & 0xff) !== 10) continue;
      if (((BigInt(t.words[o + 5]!) << 32n) | BigInt(t.words[o + 4]!)) !== id) continue;
      out.push({ i, t: t.timeAt(i), d: t.words[o + 6]! | 0 });
    }
    return out;
  }, hex);
}

test('pin two sessions as IOCount tracks, click a -1 on one, unpin it', async ({ page }, info) => {
  await recordCanvasText(page);
  await openExample(page, 'iocount-double-decrement');
  const empty = await probe(page);
  expect(empty.tracks).toEqual([]);
  const rows = page.getByTestId('session-row');
  const first = (await rows.nth(0).getAttribute('data-session'))!;
  const second = (await rows.nth(1).getAttribute('data-session'))!;

  // Selecting a session draws its track under the lanes, in the space below them.
  await rows.nth(0).click();
  const p1 = await probeUntil(page, (p) => expect(p.tracks.map((t) => t.session)).toEqual([first]));
  const counts1 = await ioCounts(page, first);
  expect(p1.tracks[0]!.changes).toBe(counts1.length);
  expect(p1.tracks[0]!.y0).toBeGreaterThanOrEqual(empty.lanesY[1]);
  expect(p1.tracks[0]!.y1).toBeLessThanOrEqual(p1.height);
  expect(await drawnText(page)).toContain('IOCount');

  // Pin it, select another, pin that too: two tracks, in pinning order.
  await page.getByTestId('inspector-pin').click();
  await until(page, (s) => expect(s.pinnedSessions).toEqual([first]));
  await rows.nth(1).click();
  await page.getByTestId('inspector-pin').click();
  await until(page, (s) => expect(s.pinnedSessions).toEqual([first, second]));
  const p2 = await probeUntil(page, (p) =>
    expect(p.tracks.map((t) => t.session)).toEqual([first, second]),
  );
  await screenshot(page, info, 'tracks-pinned');

  // Click the first -1 of the first track: the cursor goes to it, and the ledger
  // (the first session's, once selected) highlights that row.
  const dec = counts1.find((c) => c.d < 0 && c.t >= p2.t0 && c.t <= p2.t1)!;
  expect(dec, 'a -1 in view').toBeDefined();
  const o = await canvasOrigin(page);
  const tr = p2.tracks[0]!;
  await page.mouse.click(o.x + xOf(p2, dec.t), o.y + (tr.y0 + tr.y1) / 2);
  await until(page, (s) => expect(s.cursor).toBe(dec.i));
  await parkMouse(page);
  await page
    .getByTestId('session-row')
    .filter({ has: page.locator(`text=${first}`) })
    .first()
    .click();
  await until(page, (s) => expect(s.selectedSession).toBe(first));
  const atCursor = page.locator('[data-testid="ledger-row"].at-cursor');
  await expect(atCursor).toHaveAttribute('title', new RegExp(`^#${dec.i}: `));
  await expect(atCursor.locator('.delta')).toHaveText('-1');

  // ✕ beside the second track's name unpins it.
  const p3 = await probe(page);
  const t2 = p3.tracks.find((t) => t.session === second)!;
  await page.mouse.click(o.x + p3.x0 - 11, o.y + t2.y0 + 25);
  await until(page, (s) => expect(s.pinnedSessions).toEqual([first]));
  await probeUntil(page, (p) => expect(p.tracks.map((t) => t.session)).toEqual([first]));
  expect((await state(page)).pinnedSessions).toEqual([first]);
});
