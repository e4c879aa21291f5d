// Issue 19 §1, frame the evidence: going to a finding (a click in the
// anomalies panel, or `]`) moves the cursor AND puts its evidence on screen:
// the two decrements of the double-decrement example, ~33 µs apart in a
// recording that spans a second and a half, must be two marks well apart on
// the session's IOCount track without any manual zoom. A second click zooms
// out to the context: the session's whole life.

import { expect, test, type Page } from '@playwright/test';
import { count, parkMouse, pressKey, screenshot } from '../support/app.ts';
import { openExample, probeUntil, state, timesOf, until, xOf } from '../support/instrument.ts';

/** The IoCount decrements among a finding's evidence (record kind 10, delta -1). */
async function decrementsOf(page: Page, k: number): Promise<number[]> {
  return page.evaluate((k) => {
    const s = window.__iocpscope!.store.getState() as unknown as {
      findings: Array<{ events: number[] }>;
      trace: { words: Uint32Array };
    };
    const w = s.trace.words;
    return s.findings[k]!.events.filter(
      (e) => (w[e * 8]! & 0xff) === 10 && (w[e * 8 + 6]! | 0) < 0,
    );
  }, k);
}

test('going to a finding frames its evidence: two decrements 33 µs apart are two marks far apart', async ({
  page,
}, info) => {
  await openExample(page, 'iocount-double-decrement');
  const s0 = await state(page);
  // It opens on the whole activity: far too wide to tell the decrements apart.
  const finding = page.getByTestId('finding').filter({ hasText: 'decremented twice' }).first();
  const where = (await finding.locator('.where').textContent()) ?? '';
  const anchor = count(where);
  const k = await page.evaluate(
    (a) =>
      (
        window.__iocpscope!.store.getState() as unknown as { findings: Array<{ anchor: number }> }
      ).findings.findIndex((f) => f.anchor === a),
    anchor,
  );
  const decs = await decrementsOf(page, k);
  expect(decs.length, 'the finding names its two decrements').toBeGreaterThanOrEqual(2);
  const [ta, tb] = await timesOf(page, decs.slice(-2));
  expect(Math.abs(tb! - ta!)).toBeLessThan(100_000);
  expect(s0.view[1] - s0.view[0]).toBeGreaterThan(100 * Math.abs(tb! - ta!));

  await finding.click();
  await parkMouse(page);
  const s1 = await until(page, (s) => {
    expect(s.cursor).toBe(anchor);
    expect(s.framed?.mode).toBe('evidence');
  });
  expect(s1.selectedSession).toMatch(/^0x[0-9a-f]+$/);
  // The selected session's IOCount track is drawn, and the two decrements on it are
  // at least 40 px apart (each ▼ is 8 px wide): two marks, not one.
  const p1 = await probeUntil(page, (p) => {
    expect(p.t0).toBeCloseTo(s1.view[0], -1);
    expect(p.tracks.map((t) => t.session)).toContain(s1.selectedSession);
  });
  const xa = xOf(p1, ta!);
  const xb = xOf(p1, tb!);
  expect(xa).toBeGreaterThanOrEqual(p1.x0);
  expect(xb).toBeLessThanOrEqual(p1.x1);
  expect(Math.abs(xb - xa)).toBeGreaterThanOrEqual(40);
  await screenshot(page, info, 'frame-finding-evidence');

  // A second press: the context, the session's whole life around the evidence.
  await finding.click();
  await parkMouse(page);
  const s2 = await until(page, (s) => expect(s.framed?.mode).toBe('context'));
  expect(s2.view[1] - s2.view[0]).toBeGreaterThan(5 * (s1.view[1] - s1.view[0]));
  const life = await page.evaluate((hex) => {
    const t = (
      window.__iocpscope!.store.getState() as unknown as {
        trace: { sessionEvents(id: bigint): Uint32Array; timeAt(i: number): number };
      }
    ).trace;
    const l = t.sessionEvents(BigInt(hex));
    return [t.timeAt(l[0]!), t.timeAt(l[l.length - 1]!)];
  }, s2.selectedSession!);
  expect(life[0]).toBeGreaterThanOrEqual(s2.view[0]);
  expect(life[1]).toBeLessThanOrEqual(s2.view[1]);
  await screenshot(page, info, 'frame-finding-context');

  // Z goes back to the evidence.
  await pressKey(page, 'z');
  await until(page, (s) => expect(s.framed?.mode).toBe('evidence'));
});

test('] from the start frames the first finding the same way', async ({ page }) => {
  await openExample(page, 'iocount-double-decrement');
  await pressKey(page, 'f');
  await pressKey(page, 'Home');
  await until(page, (s) => expect(s.cursor).toBe(0));
  const whole = (await state(page)).view;
  await pressKey(page, ']');
  const s = await until(page, (st) => {
    expect(st.cursor).toBeGreaterThan(0);
    expect(st.framed?.mode).toBe('evidence');
  });
  expect(s.view[1] - s.view[0]).toBeLessThan((whole[1] - whole[0]) / 20);
  expect(s.cursorTsNs!).toBeGreaterThanOrEqual(s.view[0]);
  expect(s.cursorTsNs!).toBeLessThanOrEqual(s.view[1]);
  expect(s.selectedSession).not.toBeNull();
});
