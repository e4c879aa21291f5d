// Helpers for the issue-19 journeys (frame a finding, range, tracks, search,
// deep links, pointer and zoom, layout, badges, bad input, the legend): the
// test hook's newer members (apps/web/src/app/testHook.ts) and the timeline's
// probe (what it drew last: its window, plot extent, rows and tracks in CSS
// px relative to the canvas, and the tooltip's text), so the specs assert
// what the user sees without scraping pixels.

import { expect, type Page } from '@playwright/test';
import { T, openLive, parkMouse, untilState, waitForAnalysis, type StateSummary } from './app.ts';

/** hook.timeline(): what the timeline drew last. */
export interface Probe {
  t0: number;
  t1: number;
  x0: number;
  x1: number;
  queue: [number, number];
  running: [number, number];
  lanes: Array<{ name: string; tid: number; y0: number; y1: number }>;
  lanesY: [number, number];
  tracks: Array<{
    session: string;
    y0: number;
    y1: number;
    changes: number;
    min: number;
    max: number;
  }>;
  plotY1: number;
  height: number;
  hover: string;
}

/** The summary with the fields issue 19 added. */
export interface Summary extends StateSummary {
  range: { startNs: number; endNs: number; tids: number[] | null } | null;
  rangeMode: boolean;
  pinnedSessions: string[];
  search: { text: string; description: string; error: string | null; matches: number };
  framed: { key: string; mode: 'evidence' | 'context' } | null;
  bottomTab: string;
  link: string | null;
  toasts: Array<{ tone: string; title: string; detail: string }>;
}

/** The hook's members these specs use (the rest: support/app.ts). */
export interface Hook19 {
  getState(): Summary;
  timeline(): Probe | null;
  setRange(startNs: number, endNs: number, tids?: number[] | null): void;
  search(text: string): void;
  pinSession(hex: string): void;
  goToFinding(k: number): void;
  setCursor(i: number): void;
  setView(s: number, e: number): void;
  selectSession(hex: string | null): void;
}

export function state(page: Page): Promise<Summary> {
  return page.evaluate(() => (window as unknown as { __iocpscope: Hook19 }).__iocpscope.getState());
}

/** Poll the summary until `check` passes. */
export async function until(
  page: Page,
  check: (s: Summary) => void,
  timeout: number = T.ui,
): Promise<Summary> {
  return (await untilState(page, (s) => check(s as Summary), timeout)) as Summary;
}

/** What the timeline drew last, once it has drawn a trace. */
export async function probe(page: Page): Promise<Probe> {
  let p: Probe | null = null;
  await expect(async () => {
    p = await page.evaluate(() =>
      (window as unknown as { __iocpscope: Hook19 }).__iocpscope.timeline(),
    );
    expect(p).not.toBeNull();
  }).toPass({ timeout: T.ui, intervals: [50, 100, 250] });
  return p!;
}

/** The probe once `check` holds (the timeline draws on the next frame after a change). */
export async function probeUntil(page: Page, check: (p: Probe) => void): Promise<Probe> {
  let p: Probe | null = null;
  await expect(async () => {
    p = await page.evaluate(() =>
      (window as unknown as { __iocpscope: Hook19 }).__iocpscope.timeline(),
    );
    expect(p).not.toBeNull();
    check(p!);
  }).toPass({ timeout: T.ui, intervals: [50, 100, 250] });
  return p!;
}

/** Canvas-relative x of a trace time in a probe. */
export function xOf(p: Probe, ns: number): number {
  return p.x0 + ((ns - p.t0) / (p.t1 - p.t0)) * (p.x1 - p.x0);
}

/** Trace time under a canvas-relative x in a probe. */
export function tOf(p: Probe, x: number): number {
  return p.t0 + ((x - p.x0) / (p.x1 - p.x0)) * (p.t1 - p.t0);
}

/** The canvas's top-left on the page (the probe's coordinates are relative to it). */
export async function canvasOrigin(page: Page): Promise<{ x: number; y: number }> {
  const box = await page.locator('[data-testid="timeline"] canvas').boundingBox();
  expect(box).not.toBeNull();
  return { x: box!.x, y: box!.y };
}

/** Times of events (by index), read from the open trace. */
export async function timesOf(page: Page, events: number[]): Promise<number[]> {
  return page.evaluate((ev) => {
    const t = (
      window as unknown as {
        __iocpscope: { store: { getState(): { trace: { timeAt(i: number): number } } } };
      }
    ).__iocpscope.store.getState().trace;
    return ev.map((i) => t.timeAt(i));
  }, events);
}

/**
 * Open an example from the Recordings menu (the server lists examples/), as
 * a user coming from the live view would, and wait for its analysis.
 */
export async function openExample(page: Page, name: string): Promise<void> {
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

/** Open a server recording straight from its URL (a deep link, or `iocpscope open`). */
export async function openRecordingUrl(page: Page, search: string): Promise<void> {
  await page.goto(`/${search}`);
  await page.waitForFunction(() => window.__iocpscope?.version === 1, null, { timeout: T.ui });
  await untilState(page, (s) => {
    expect(s.source.kind).toBe('recording');
    expect(s.events).toBeGreaterThan(0);
  });
  await waitForAnalysis(page);
}
