// Issue 19 §6, pointer and zoom correct everywhere:
// - wheel zoom keeps the point under the pointer, also after F, C and Home
//   (which could leave the view outside the trace, and then zooming drifted);
// - a click on empty space below the rows leaves the cursor where it was;
// - hovering a long span describes the span under the pointer, not the event
//   that started it;
// - live, dragging the timeline pans and pauses (the view no longer snaps back).

import { expect, test, type Page } from '@playwright/test';
import { T, openLive, parkMouse, pressKey, screenshot, untilState } from '../support/app.ts';
import {
  canvasOrigin,
  openExample,
  probe,
  probeUntil,
  state,
  tOf,
  until,
  type Probe,
} from '../support/instrument.ts';

/**
 * The frame drawn once it shows the store's view: a key that moves the view
 * (Home brings the cursor into view, C centres it) is drawn on a later frame,
 * and a probe taken before that frame measures a view the wheel no longer sees.
 */
async function drawnView(page: Page): Promise<Probe> {
  let p: Probe | null = null;
  await expect(async () => {
    const s = await state(page);
    p = await probe(page);
    expect(s.view[0]).toBeCloseTo(p.t0, -1);
    expect(s.view[1]).toBeCloseTo(p.t1, -1);
  }).toPass({ timeout: T.ui, intervals: [50, 100, 250] });
  return p!;
}

/** Wheel-zoom in a few notches at canvas x, checking the time under the pointer each time. */
async function zoomKeepsPointer(page: Page, fx: number, laneY: number): Promise<void> {
  const o = await canvasOrigin(page);
  let p: Probe = await drawnView(page);
  const x = p.x0 + (p.x1 - p.x0) * fx;
  await page.mouse.move(o.x + x, o.y + laneY);
  for (let k = 0; k < 6; k++) {
    const before = tOf(p, x);
    const nsPerPx = (p.t1 - p.t0) / (p.x1 - p.x0);
    await page.mouse.wheel(0, -240);
    p = await probeUntil(page, (q) =>
      expect(q.t1 - q.t0).toBeLessThan(nsPerPx * (q.x1 - q.x0) * 0.999),
    );
    // The same time under the pointer, to a pixel.
    const drift = Math.abs(tOf(p, x) - before) / ((p.t1 - p.t0) / (p.x1 - p.x0));
    expect(drift, `zoom step ${k} drifted ${drift.toFixed(1)} px`).toBeLessThanOrEqual(1);
    // And the store holds the window that is drawn.
    const s = await state(page);
    expect(s.view[0]).toBeCloseTo(p.t0, -1);
    expect(s.view[1]).toBeCloseTo(p.t1, -1);
  }
}

test('wheel zoom keeps the point under the pointer after Home, and after F then C', async ({
  page,
}) => {
  await openExample(page, 'iocount-double-decrement');
  const p0 = await probe(page);
  const laneY = (p0.lanes[2]!.y0 + p0.lanes[2]!.y1) / 2;
  await pressKey(page, 'Home');
  await until(page, (s) => expect(s.cursor).toBe(0));
  await zoomKeepsPointer(page, 0.3, laneY);
  // F (everything), then C centres the whole-trace window on a cursor at the start:
  // that used to leave the view half outside the trace.
  await pressKey(page, 'f');
  await pressKey(page, 'c');
  // (zoomKeepsPointer starts from the frame drawn once C has landed.)
  await zoomKeepsPointer(page, 0.7, laneY);
});

test('a click on empty space below the rows leaves the cursor where it was', async ({ page }) => {
  await openExample(page, 'iocount-double-decrement');
  await page.evaluate(() => window.__iocpscope!.setCursor(48));
  await until(page, (s) => expect(s.cursor).toBe(48));
  const p = await probe(page);
  expect(p.height - p.plotY1, 'some empty space under the rows').toBeGreaterThan(20);
  const o = await canvasOrigin(page);
  for (const f of [0.1, 0.5, 0.9]) {
    await page.mouse.click(o.x + p.x0 + (p.x1 - p.x0) * f, o.y + (p.plotY1 + p.height) / 2);
  }
  await page.waitForTimeout(200);
  expect((await state(page)).cursor).toBe(48);
  // A click on a lane still moves it there (to that thread's event or span).
  const lane = p.lanes.find((l) => l.name.startsWith('worker'))!;
  await page.mouse.click(o.x + p.x0 + (p.x1 - p.x0) * 0.5, o.y + (lane.y0 + lane.y1) / 2);
  const s = await until(page, (st) => expect(st.cursor).not.toBe(48));
  const tid = await page.evaluate(
    (i) => window.__iocpscope!.store.getState().trace!.words[i * 8]! >>> 16,
    s.cursor,
  );
  expect(tid).toBe(lane.tid);
});

test('hovering a long span describes that span, not the event that started it', async ({
  page,
}, info) => {
  await openExample(page, 'iocount-double-decrement');
  const p = await probe(page);
  // The longest state span in view on a worker lane, from the lane's own state entries.
  const span = await page.evaluate(
    ({ t0, t1 }) => {
      const t = window.__iocpscope!.store.getState().trace as unknown as {
        lanes: Array<{
          name: string;
          tid: number;
          states: { length: number; idx: { get(k: number): number } };
        }>;
        timeAt(i: number): number;
      };
      let best = { name: '', from: -1, to: -1, a: 0, b: 0 };
      for (const l of t.lanes) {
        if (!l.name.startsWith('worker')) continue;
        for (let k = 0; k + 1 < l.states.length; k++) {
          const from = l.states.idx.get(k);
          const to = l.states.idx.get(k + 1);
          const a = Math.max(t0, t.timeAt(from));
          const b = Math.min(t1, t.timeAt(to));
          if (b - a > best.b - best.a) best = { name: l.name, from, to, a, b };
        }
      }
      return best;
    },
    { t0: p.t0, t1: p.t1 },
  );
  expect(span.from).toBeGreaterThanOrEqual(0);
  const lane = p.lanes.find((l) => l.name === span.name)!;
  const o = await canvasOrigin(page);
  const x = p.x0 + ((span.a + span.b) / 2 - p.t0) / ((p.t1 - p.t0) / (p.x1 - p.x0));
  await page.mouse.move(o.x + x, o.y + lane.y0 + 6);
  const hovered = await probeUntil(page, (q) => expect(q.hover).not.toBe(''));
  const [line1, line2] = hovered.hover.split('\n');
  expect(line1).toMatch(new RegExp(`^${span.name} · (waiting in GQCS|running|blocked|waiting)`));
  expect(line2).toContain(`#${span.from} → #${span.to}`);
  // Not the old "worker 1 started" description of the span's first event.
  expect(line1).not.toMatch(/started/);
  // The details panel keeps the cursor's event: nothing is "hovered".
  // (its head numbers the cursor's event, without "hover ·").
  await expect(page.getByTestId('event-number')).not.toContainText('hover');
  await screenshot(page, info, 'pointer-span-hover');
  await parkMouse(page);
});

test('live: dragging the timeline pans and pauses, and the view stays where it was dragged', async ({
  page,
}) => {
  await openLive(page);
  await untilState(page, (s) => expect(s.events).toBeGreaterThan(200), T.data);
  expect((await state(page)).paused).toBe(false);
  const p = await probe(page);
  const o = await canvasOrigin(page);
  const y = o.y + (p.lanes[p.lanes.length - 1]!.y0 + p.lanes[p.lanes.length - 1]!.y1) / 2;
  const x = o.x + p.x0 + (p.x1 - p.x0) * 0.5;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + 120, y, { steps: 6 });
  await page.mouse.up();
  const s1 = await until(page, (s) => expect(s.paused).toBe(true));
  await expect(page.getByTestId('follow-live')).toBeVisible();
  // Events keep arriving; the view does not snap back to the live edge.
  await untilState(page, (s) => expect(s.events).toBeGreaterThan(s1.events), T.data);
  await page.waitForTimeout(500);
  const s2 = await state(page);
  expect(s2.view).toEqual(s1.view);
  // Follow live goes back to the edge.
  await page.getByTestId('follow-live').click();
  await until(page, (s) => {
    expect(s.paused).toBe(false);
    expect(s.view[1]).toBeGreaterThan(s1.view[1]);
  });
});
