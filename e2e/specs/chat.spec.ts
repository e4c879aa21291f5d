// Journey (issue 18): the chat server's examples. Open the clean chat example
// from the start screen (its story says what it shows): each room has a
// job-queue track under the lanes; a flush is a slice on its worker's lane,
// linked to the room; selecting one puts the cursor on it; its broadcast fans
// out to the members' send completions, and the inspector shows the
// broadcast's SendBuffer life, whose links lead to a recipient's completion.
// Then the lock fault's example: the lock view lists the room's lock with its
// contention, and hovering it highlights its holds and waits on the lanes.

import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import {
  E2E_DIR,
  T,
  canvasPixels,
  getState,
  openApp,
  parkMouse,
  screenshot,
  untilState,
  waitForAnalysis,
} from '../support/app.ts';

interface ChatProbe {
  queues: Array<{
    room: number;
    y0: number;
    y1: number;
    flushes: number;
    inView: Array<{ begin: number; x0: number; x1: number; tid: number }>;
  }>;
  pool: { y0: number; y1: number; max: number } | null;
  fanOut: { broadcasts: number[]; completions: number };
}

interface Probe {
  t0: number;
  t1: number;
  lanes: Array<{ name: string; tid: number; y0: number; y1: number }>;
  chat?: ChatProbe;
  hover: string;
}

/** What this journey uses of window.__iocpscope beyond support/app.ts's Hook. */
interface ChatHook {
  timeline(): Probe | null;
  setView(startNs: number, endNs: number): void;
  setCursor(i: number): void;
  getState(): { bottomTab: string; highlightLock: number | null; cursor: number };
  store: {
    getState(): {
      trace: { count: number; kindAt(i: number): number; timeAt(i: number): number } | null;
    };
  };
}

const probe = (page: Page): Promise<Probe> =>
  page.evaluate(() => (window as unknown as { __iocpscope: ChatHook }).__iocpscope.timeline()!);

/** The probe once `check` holds: the timeline draws a new view on its next frame, late on a busy box. */
async function probeUntil(page: Page, check: (p: Probe) => void): Promise<Probe> {
  let p: Probe | null = null;
  await expect(async () => {
    p = await probe(page);
    check(p);
  }).toPass({ timeout: T.ui, intervals: [50, 100, 250] });
  return p!;
}

/** Poll the hook's state until `check` passes. */
async function untilChat(
  page: Page,
  check: (s: ReturnType<ChatHook['getState']>) => void,
): Promise<void> {
  await expect
    .poll(
      async () => {
        const s = await page.evaluate(() =>
          (window as unknown as { __iocpscope: ChatHook }).__iocpscope.getState(),
        );
        try {
          check(s);
          return true;
        } catch {
          return false;
        }
      },
      { timeout: T.ui },
    )
    .toBe(true);
}

/** Open an example from the start screen, by its exact name. */
async function openExampleFromStart(page: Page, name: string): Promise<void> {
  await openApp(page);
  const row = page
    .getByTestId('examples')
    .getByTestId('start-recording')
    .filter({ has: page.locator('.name', { hasText: new RegExp(`^${name}`) }) })
    .first();
  await expect(row, `examples/${name}.iocptrace on the start screen`).toBeVisible();
  // Its one-line story (examples/stories.json) says what it shows.
  await expect(row.getByTestId('story')).not.toBeEmpty();
  await row.click();
  await untilState(page, (s) => {
    expect(s.source.kind).toBe('recording');
    expect(s.events).toBeGreaterThan(0);
  });
  await waitForAnalysis(page);
  await parkMouse(page);
}

/** The canvas's position, to turn probe coordinates into page coordinates. */
async function canvasBox(page: Page): Promise<{ x: number; y: number }> {
  const box = await page.locator('[data-testid="timeline"] canvas').boundingBox();
  expect(box).not.toBeNull();
  return { x: box!.x, y: box!.y };
}

test("the chat example: a room's job-queue track, a flush selected on its worker's lane, a broadcast followed to its recipients", async ({
  page,
}, info) => {
  await openExampleFromStart(page, 'chat');
  expect((await getState(page)).findings).toBe(0);

  // One job-queue track per room, and the SendBuffer pool gauge.
  let p = await probe(page);
  expect(p.chat, 'the timeline draws the chat views').toBeDefined();
  expect(p.chat!.queues.map((q) => q.room)).toEqual([0, 1]);
  expect(p.chat!.queues.every((q) => q.flushes > 0)).toBe(true);
  expect(p.chat!.pool).not.toBeNull();
  await screenshot(page, info, 'chat-example');

  // The first flush of room 0 that broadcasts a chat (JobFlush begin .. Broadcast .. end on one thread).
  const begin = await page.evaluate(() => {
    const t = (window as unknown as { __iocpscope: ChatHook }).__iocpscope.store.getState().trace!;
    const w = (t as unknown as { words: Uint32Array }).words;
    for (let i = 0; i < t.count; i++) {
      if (t.kindAt(i) !== 28 || w[i * 8 + 1] !== 0 || ((w[i * 8]! >>> 8) & 0xff) !== 0) continue;
      const tid = w[i * 8]! >>> 16;
      for (let j = i + 1; j < t.count; j++) {
        if (w[j * 8]! >>> 16 !== tid) continue;
        if (t.kindAt(j) === 31) return i;
        if (t.kindAt(j) === 28 && ((w[j * 8]! >>> 8) & 0xff) === 1) break;
      }
    }
    return -1;
  });
  expect(begin, 'a flush of room 0 that broadcasts').toBeGreaterThan(0);
  // Zoom onto it so its slice is wide enough to click.
  const tsOf = (i: number): Promise<number> =>
    page.evaluate(
      (k) =>
        (window as unknown as { __iocpscope: ChatHook }).__iocpscope.store
          .getState()
          .trace!.timeAt(k),
      i,
    );
  // Its end: the JobFlush end with the same flush id on the same thread.
  const end = await page.evaluate((i) => {
    const t = (window as unknown as { __iocpscope: ChatHook }).__iocpscope.store.getState().trace!;
    const w = (t as unknown as { words: Uint32Array }).words;
    for (let j = i + 1; j < t.count; j++) {
      if (
        t.kindAt(j) === 28 &&
        w[j * 8 + 7] === w[i * 8 + 7] &&
        w[j * 8]! >>> 16 === w[i * 8]! >>> 16
      )
        return j;
    }
    return -1;
  }, begin);
  expect(end).toBeGreaterThan(begin);
  const t0 = await tsOf(begin);
  const t1 = await tsOf(end);
  const pad = Math.max(20_000, (t1 - t0) * 0.25);
  await page.evaluate(
    ([a, b]) => (window as unknown as { __iocpscope: ChatHook }).__iocpscope.setView(a!, b!),
    [t0 - pad, t1 + pad],
  );
  await untilState(page, (s) => expect(s.view[0]).toBeCloseTo(t0 - pad, -2), T.ui);
  // The timeline draws the new view on its next frame: wait for that frame.
  p = await probeUntil(page, (q) => {
    const f = q.chat?.queues[0]?.inView.find((x) => x.begin === begin);
    expect(f ? f.x1 - f.x0 : 0).toBeGreaterThan(8);
  });
  const room0 = p.chat!.queues[0]!;
  const flush = room0.inView.find((f) => f.begin === begin)!;
  expect(flush.x1 - flush.x0).toBeGreaterThan(8);
  const lane = p.lanes.find((l) => l.tid === flush.tid)!;
  expect(lane, 'the flushing worker has a lane').toBeDefined();

  // Hovering the room's track names the flush and its thread; hovering the lane's slice too.
  const c = await canvasBox(page);
  const mid = (flush.x0 + flush.x1) / 2;
  await page.mouse.move(c.x + mid, c.y + room0.y1 - 5);
  await expect
    .poll(async () => (await probe(page)).hover, { timeout: T.ui })
    .toMatch(new RegExp(`flush of room 0 by ${lane.name}`));
  // Select the flush: a click on its slice, near the top of the worker's lane bar.
  await page.mouse.click(c.x + mid, c.y + lane.y0 + 4);
  const sel = await untilState(page, (s) => expect(s.cursor).toBe(begin), T.ui);
  expect(sel.cursor).toBe(begin);
  await expect(page.getByTestId('event-details')).toContainText(/flush/i);

  // The flush's broadcast fans out to its recipients' send completions (drawn on
  // the frame after the selection: a CI run probed the frame before it).
  p = await probeUntil(page, (q) => {
    expect(q.chat!.fanOut.broadcasts.length).toBeGreaterThan(0);
    expect(q.chat!.fanOut.completions).toBeGreaterThan(0);
  });
  await screenshot(page, info, 'chat-flush-fanout');

  // On the broadcast itself, the inspector shows its SendBuffer's life...
  const broadcast = p.chat!.fanOut.broadcasts[0]!;
  await page.evaluate(
    (k) => (window as unknown as { __iocpscope: ChatHook }).__iocpscope.setCursor(k),
    broadcast,
  );
  const life = page.getByTestId('buffer-life');
  await expect(life).toBeVisible();
  await expect(page.getByTestId('buffer-life-summary')).toContainText(/shared by [1-9]\d* sends?/);
  await expect(page.getByTestId('buffer-life-summary')).toContainText('returned');
  const rows = page.getByTestId('buffer-life-row');
  await expect(rows.filter({ hasText: 'acquired from the pool' })).toHaveCount(1);
  await expect(rows.filter({ hasText: 'back in the pool' })).toHaveCount(1);
  // ...and following one release's link lands on that recipient's send completion.
  const link = life.locator('.link-chip').first();
  await expect(link).toBeVisible();
  await link.click();
  const at = await getState(page);
  expect(at.cursor).not.toBe(broadcast);
  await expect(page.getByTestId('event-details')).toContainText(/GQCS|completion|dequeued/i);
  const kind = await page.evaluate(
    (k) =>
      (window as unknown as { __iocpscope: ChatHook }).__iocpscope.store
        .getState()
        .trace!.kindAt(k),
    at.cursor,
  );
  expect(kind).toBe(6); // GqcsReturn
});

test('the lock view on the broadcast-under-room-lock example: the room lock, its contention, highlighted on the lanes', async ({
  page,
}, info) => {
  await openExampleFromStart(page, 'broadcast-under-room-lock');
  expect((await getState(page)).findingRules).toContain('lock-across-send');
  await page.getByTestId('tab-locks').click();
  await untilChat(page, (s) => expect(s.bottomTab).toBe('locks'));
  const view = page.getByTestId('lock-view');
  await expect(view).toBeVisible();
  const room = view.locator('[data-testid="lock-row"][data-lock="100"]');
  await expect(room).toBeVisible();
  await expect(room).toContainText('room 0');
  const contended = Number(
    ((await room.getByTestId('lock-contended').textContent()) ?? '').replace(/\D+/g, ''),
  );
  expect(contended).toBeGreaterThan(0);
  await expect(room.getByTestId('lock-strip')).toBeVisible();

  // Hovering the lock highlights its holds (amber while someone waited) and waits (red) on the lanes.
  const amber: [number, number, number] = [0xf5, 0x9e, 0x0b];
  const p = await probe(page);
  const band: [number, number] = [p.lanes[0]!.y0, p.lanes[p.lanes.length - 1]!.y1];
  // Zoom onto the lock's first contended hold so it is wide on the lanes.
  const firstWait = await page.evaluate(() => {
    const t = (window as unknown as { __iocpscope: ChatHook }).__iocpscope.store.getState().trace!;
    for (let i = 0; i < t.count; i++) if (t.kindAt(i) === 16) return t.timeAt(i);
    return -1;
  });
  expect(firstWait).toBeGreaterThan(0);
  await page.evaluate(
    ([a, b]) => (window as unknown as { __iocpscope: ChatHook }).__iocpscope.setView(a!, b!),
    [firstWait - 200_000, firstWait + 800_000],
  );
  const shown = (await getState(page)).view;
  await probeUntil(page, (q) => expect(q.t0).toBeCloseTo(shown[0], -2));
  await parkMouse(page);
  const before = await canvasPixels(page, amber, band);
  await room.hover();
  await untilChat(page, (s) => expect(s.highlightLock).toBe(100));
  await expect
    .poll(async () => (await canvasPixels(page, amber, band)).length, { timeout: T.ui })
    .toBeGreaterThan(before.length + 20);
  // (screenshot() parks the mouse, which would take the highlight off: shoot while hovering.)
  const shot = path.join(E2E_DIR, 'test-results', 'screens', 'chat-lock-view.png');
  await page.screenshot({ path: shot });
  await info.attach('chat-lock-view', { path: shot, contentType: 'image/png' });
  // Leaving the view takes the highlight off.
  await page.getByTestId('timeline').hover();
  await untilChat(page, (s) => expect(s.highlightLock).toBeNull());
});
