// Issue 19 §4, search: `/` puts the keyboard in the search box; an io id
// finds every record of that overlapped I/O (its post, packet, dequeue and
// IOCount changes), the count says how many and which one the cursor is on,
// Enter goes to the next and Shift+Enter to the previous; an error name finds
// the same events as its number.

import { expect, test, type Page } from '@playwright/test';
import { expectCursorEverywhere, parkMouse, pressKey, screenshot } from '../support/app.ts';
import { openExample, until } from '../support/instrument.ts';

/** Events whose io id (word 7) is `io`, for the kinds that carry one (FORMAT.md). */
async function withIo(page: Page, io: number): Promise<number[]> {
  return page.evaluate((io) => {
    const t = window.__iocpscope!.store.getState().trace!;
    const out = [];
    for (let i = 0; i < t.count; i++) {
      const o = i * 8;
      const kind = t.words[o]! & 0xff;
      const a = (t.words[o]! >>> 8) & 0xff;
      const carries = [6, 7, 8, 9, 10, 21, 22, 30].includes(kind) && !(kind === 6 && !(a & 0x20));
      if (carries && t.words[o + 7] === io) out.push(i);
    }
    return out;
  }, io);
}

test('search an io id: every record of that I/O, counted, and Enter / Shift+Enter walk them', async ({
  page,
}, info) => {
  await openExample(page, 'clean');
  // An io id the recording holds more than once (post, packet, dequeue, -1).
  const io = await page.evaluate(() => {
    const t = window.__iocpscope!.store.getState().trace!;
    for (let i = 0; i < t.count; i++)
      if ((t.words[i * 8]! & 0xff) === 6) return t.words[i * 8 + 7]!;
    return -1;
  });
  const want = await withIo(page, io);
  expect(want.length).toBeGreaterThan(2);

  await page.evaluate(() => window.__iocpscope!.setCursor(0));
  await pressKey(page, '/');
  const box = page.getByTestId('search-input');
  await expect(box).toBeFocused();
  await page.keyboard.type(`io:${io}`);
  await page.keyboard.press('Enter');
  const s = await until(page, (st) => {
    expect(st.search.matches).toBe(want.length);
    expect(st.cursor).toBe(want[0]);
  });
  expect(s.search.description).toBe(`io ${io}`);
  await expect(page.getByTestId('search-count')).toHaveText(`1/${want.length}`);
  await expectCursorEverywhere(page, want[0]!);
  await page.keyboard.press('Enter');
  await until(page, (st) => expect(st.cursor).toBe(want[1]));
  await expect(page.getByTestId('search-count')).toHaveText(`2/${want.length}`);
  await page.keyboard.press('Shift+Enter');
  await until(page, (st) => expect(st.cursor).toBe(want[0]));
  // Before the first, Shift+Enter wraps to the last.
  await page.keyboard.press('Shift+Enter');
  await until(page, (st) => expect(st.cursor).toBe(want.at(-1)));
  await parkMouse(page);
  await screenshot(page, info, 'search-io');

  // A bare number is an io id too; the next-match button does what Enter does.
  await box.fill(String(io));
  await until(page, (st) => expect(st.search.description).toBe(`io ${io}`));
  await page.evaluate(() => window.__iocpscope!.setCursor(0));
  await page.getByTestId('search-next').click();
  await until(page, (st) => expect(st.cursor).toBe(want[0]));
});

test('an error code by number and by name finds the same events; a bad query says why', async ({
  page,
}) => {
  await openExample(page, 'release-with-io-pending');
  const box = page.getByTestId('search-input');
  await box.fill('995');
  // A bare number is an io id: the error needs its field or its name.
  await box.fill('error:995');
  const byNumber = (await until(page, (s) => expect(s.search.error).toBeNull())).search;
  await box.fill('ERROR_OPERATION_ABORTED');
  const byName = (
    await until(page, (s) => expect(s.search.description).toBe('error 995 ERROR_OPERATION_ABORTED'))
  ).search;
  expect(byName.matches).toBe(byNumber.matches);
  await box.fill('op:fly');
  await until(page, (s) => expect(s.search.error).toBe('not an op: "op:fly"'));
  await expect(page.getByTestId('search-count')).toHaveText('?');
  await box.press('Escape');
  await expect(box).not.toBeFocused();
});
