// Shared helpers for the e2e specs: the dashboard's test hook
// (window.__iocpscope, apps/web/README.md) seen from Node, waits on app state
// (never fixed sleeps), raw event reads for checking navigation against a
// naive scan of the records, canvas probes, and screenshots.
//
// The specs read state through hook.getState() and the stable data-testids.
// Two things the summary does not carry are read from `hook.store`, read-only:
// the analysis progress (the README's documented way to wait for findings)
// and the raw record words of an event, which let a spec check where a step
// landed against the record layout in packages/protocol (FORMAT.md) instead of
// trusting the app's own indexes.

import { expect, type Locator, type Page, type TestInfo } from '@playwright/test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = path.join(E2E_DIR, 'fixtures');
/** A real `iocpscope serve --record` run: 732 events, 7 chunks, 4 sessions (make-fixture.ts). */
export const GOOD_FIXTURE = path.join(FIXTURES, 'echo-small.iocptrace');

/** The plain-JSON summary of hook.getState() (apps/web/src/app/testHook.ts). */
export interface StateSummary {
  source: { kind: string; name: string | null };
  events: number;
  cursor: number;
  cursorTsNs: number | null;
  view: [number, number];
  playing: boolean;
  speed: number;
  paused: boolean;
  selectedSession: string | null;
  sessions: number;
  /** The timeline's rows and their names (the no-thread lane of gap markers gets none). */
  lanes: number;
  laneNames: string[];
  findings: number;
  findingRules: string[];
  connection: string;
  gaps: number;
  lostEvents: number;
  /** Live: following the server's summaries (a fast stream), or null; what the hub held back meanwhile. */
  overview: { state: string; reason: string; rate: number } | null;
  skippedEvents: number;
  loading: boolean;
  loadFailure: { code: string; message: string; recoveredEvents: number } | null;
  traceBytes: number;
  /** A trace the server holds, seen through a window (a big recording, the live spool), or null. */
  remote: {
    events: number;
    globalCursor: number;
    /** Events per window, and a window being fetched (its global event), or null. */
    windowEvents: number;
    seeking: number | null;
    firstAvailable: number;
    droppedEvents: number;
    live: boolean;
    availableFromNs: number | null;
  } | null;
  /** Live: the spool as the view knows it, and what trimming the followed trace set aside. */
  spool: string;
  liveTrim: { times: number; events: number; findings: number } | null;
}

/** What the specs use of window.__iocpscope. */
interface Hook {
  version: number;
  getState(): StateSummary;
  setCursor(i: number): void;
  step(kind: 'event' | 'thread' | 'session' | 'anomaly', dir: 1 | -1): void;
  selectSession(hex: string | null): void;
  /** The raw record (8 words) under the cursor, or []. */
  cursorRecord(): number[];
  store: {
    getState(): {
      analysisProgress: number;
      trace: {
        count: number;
        words: Uint32Array;
        lanes: ReadonlyArray<{ name: string; tid: number; role: number }>;
      } | null;
    };
  };
}

declare global {
  interface Window {
    __iocpscope?: Hook;
    /** Every string the page drew with fillText (installed by recordCanvasText). */
    __drawnText?: Set<string>;
  }
}

/** Timeouts sized for a loaded 2-core machine: generous, but bounded. */
export const T = { ui: 15_000, data: 30_000 } as const;

/**
 * Record every string drawn on a 2D canvas, so a spec can check that the
 * timeline painted its lane labels (canvas text is not in the DOM). Call
 * before page.goto.
 */
export async function recordCanvasText(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const drawn = new Set<string>();
    window.__drawnText = drawn;
    const proto = CanvasRenderingContext2D.prototype;
    const fillText = proto.fillText;
    proto.fillText = function (this: CanvasRenderingContext2D, text: string, ...rest) {
      if (drawn.size < 20_000) drawn.add(String(text));
      return fillText.call(this, text, ...(rest as [number, number, number?]));
    };
  });
}

export async function drawnText(page: Page): Promise<string[]> {
  return page.evaluate(() => [...(window.__drawnText ?? [])]);
}

/**
 * Open the dashboard on its start screen, the way a user who only wants to
 * open files does: with the `?live=0` opt-out (by default it connects live).
 */
export async function openApp(page: Page): Promise<void> {
  await page.goto('/?live=0');
  await page.waitForFunction(() => window.__iocpscope?.version === 1, null, { timeout: T.ui });
  await expect(page.getByTestId('start-screen')).toBeVisible();
  expect((await getState(page)).source.kind).toBe('none');
}

/**
 * Open the dashboard as served, with no click: it connects to its server's
 * live stream by itself. Waits until the stream is open and has events.
 */
export async function openLive(page: Page): Promise<void> {
  await page.goto('/');
  await page.waitForFunction(() => window.__iocpscope?.version === 1, null, { timeout: T.ui });
  await untilState(page, (s) => {
    expect(s.source.kind).toBe('live');
    expect(s.connection).toBe('open');
    expect(s.events).toBeGreaterThan(0);
  });
  await expect(page.getByTestId('start-screen')).toHaveCount(0);
}

/** The record words of the event under the cursor (the loaded trace or window). */
export function cursorRecord(page: Page): Promise<number[]> {
  return page.evaluate(() => window.__iocpscope!.cursorRecord());
}

export function getState(page: Page): Promise<StateSummary> {
  return page.evaluate(() => window.__iocpscope!.getState());
}

/** Poll the state summary until `check` passes (it should use expect). */
export async function untilState(
  page: Page,
  check: (s: StateSummary) => void,
  timeout: number = T.data,
): Promise<StateSummary> {
  let last: StateSummary | undefined;
  await expect(async () => {
    last = await getState(page);
    check(last);
  }).toPass({ timeout, intervals: [100, 250, 500] });
  return last!;
}

/** Wait until the detectors have walked the whole trace. */
export async function waitForAnalysis(page: Page): Promise<void> {
  await page.waitForFunction(
    () => window.__iocpscope!.store.getState().analysisProgress === 1,
    null,
    { timeout: T.data },
  );
}

/** Fields of one record (FORMAT.md record layout) read from the open trace. */
export interface RawEvent {
  index: number;
  kind: number;
  tid: number;
  /** words 4-5 as a 0x… hex string, or null when 0. */
  key: string | null;
}

export async function rawEvents(page: Page, from: number, to: number): Promise<RawEvent[]> {
  return page.evaluate(
    ([a, b]) => {
      const t = window.__iocpscope!.store.getState().trace!;
      const out = [];
      for (let i = Math.max(0, a); i <= Math.min(b, t.count - 1); i++) {
        const o = i * 8;
        const lo = t.words[o + 4]!;
        const hi = t.words[o + 5]!;
        const key = (BigInt(hi) << 32n) | BigInt(lo);
        out.push({
          index: i,
          kind: t.words[o]! & 0xff,
          tid: t.words[o]! >>> 16,
          key: key === 0n ? null : `0x${key.toString(16)}`,
        });
      }
      return out;
    },
    [from, to] as const,
  );
}

/** The names of the timeline's rows, in display order. */
export async function laneNames(page: Page): Promise<string[]> {
  return (await getState(page)).laneNames;
}

/** Index of the first event at or after the view's start (the first event the user sees). */
export async function firstEventInView(page: Page): Promise<number> {
  return page.evaluate(() => {
    const st = window.__iocpscope!.getState();
    const t = window.__iocpscope!.store.getState().trace as unknown as {
      count: number;
      timeAt(i: number): number;
    };
    let i = 0;
    while (i < t.count && t.timeAt(i) < st.view[0]) i++;
    return i;
  });
}

/**
 * Kinds whose words 4-5 hold a SessionID or completion key (FORMAT.md: GqcsReturn..Marker, and
 * v2's IoDetail, SessionRings, JobPush, SendBuffer, CompletionModes; the server writes IoDetail).
 */
export const SESSION_KEY_KINDS = new Set([
  6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 23, 27, 30, 33,
]);

/** Parse "1,234" (formatCount) into 1234. */
export function count(text: string | null): number {
  const m = /-?[\d,]+/.exec(text ?? '');
  if (!m) throw new Error(`no number in ${JSON.stringify(text)}`);
  return Number(m[0].replace(/,/g, ''));
}

/** What the panels that follow the cursor show, read in one round trip. */
export interface Panels {
  cursor: number;
  readout: string;
  portAfter: string;
  /** Event details: label -> value, plus the kind tag. */
  details: Record<string, string>;
  kind: string;
  queued: number;
  queueRows: string[];
  running: number;
  threadRows: string[];
}

export async function readPanels(page: Page): Promise<Panels> {
  return page.evaluate(() => {
    const q = (id: string) => document.querySelector(`[data-testid="${id}"]`);
    const num = (t: string | null | undefined) => Number((t ?? '').replace(/[^\d-]/g, '') || NaN);
    const details: Record<string, string> = {};
    const dts = document.querySelectorAll('[data-testid="event-details"] dl.kv dt');
    for (const dt of dts) details[dt.textContent ?? ''] = dt.nextElementSibling?.textContent ?? '';
    const texts = (sel: string) =>
      [...document.querySelectorAll(sel)].map((e) => e.textContent ?? '');
    return {
      cursor: window.__iocpscope!.getState().cursor,
      readout: q('cursor-readout')?.textContent ?? '',
      portAfter: q('port-state')?.querySelector('.panel-head .count')?.textContent ?? '',
      details,
      kind: q('event-title')?.querySelector('.kind')?.textContent ?? '',
      queued: num(q('port-queued')?.querySelector('.v')?.textContent),
      queueRows: texts('[data-testid="port-queue"] .packet-row'),
      running: num(q('port-running')?.querySelector('.v')?.firstChild?.textContent),
      threadRows: texts('[data-testid="port-threads"] .thread-row'),
    };
  });
}

/**
 * Assert the cursor sits at `i` and every panel that follows the cursor says
 * so: the hook, the step bar's readout, the details panel and the port panel.
 * Returns what the panels show.
 */
export async function expectCursorEverywhere(page: Page, i: number): Promise<Panels> {
  const n = i.toLocaleString('en-US');
  let p: Panels | undefined;
  await expect(async () => {
    p = await readPanels(page);
    expect(p.cursor).toBe(i);
    expect(p.readout).toContain(`#${n} /`);
    expect(p.portAfter).toBe(`after #${n}`);
    expect(p.details['event']).toBe(`#${n}`);
  }).toPass({ timeout: T.ui, intervals: [50, 100, 250] });
  return p!;
}

/** Move the mouse off the timeline so hover does not change the details panel. */
export async function parkMouse(page: Page): Promise<void> {
  await page.mouse.move(2, 2);
}

/** Press keys with nothing focused (focus on a button would eat Space/Enter). */
export async function pressKey(page: Page, key: string): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur?.());
  await page.keyboard.press(key);
}

/**
 * Pixels of the timeline canvas whose colour is within `tol` of `rgb`, in a
 * band of CSS rows [y0, y1) (whole height when omitted). Returns their x
 * positions in CSS px.
 */
export async function canvasPixels(
  page: Page,
  rgb: [number, number, number],
  band?: [number, number],
  tol = 14,
): Promise<number[]> {
  return page.evaluate(
    ([c, b, tl]) => {
      const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="timeline"] canvas');
      if (!canvas) return [];
      const ctx = canvas.getContext('2d');
      if (!ctx) return [];
      const dpr = canvas.width / Math.max(1, canvas.clientWidth);
      const y0 = Math.max(0, Math.floor((b ? b[0] : 0) * dpr));
      const y1 = Math.min(canvas.height, Math.ceil((b ? b[1] : canvas.clientHeight) * dpr));
      if (y1 <= y0) return [];
      const img = ctx.getImageData(0, y0, canvas.width, y1 - y0).data;
      const xs: number[] = [];
      for (let p = 0; p < img.length; p += 4) {
        if (
          Math.abs(img[p]! - c[0]) <= tl &&
          Math.abs(img[p + 1]! - c[1]) <= tl &&
          Math.abs(img[p + 2]! - c[2]) <= tl
        ) {
          xs.push(((p / 4) % canvas.width) / dpr);
        }
      }
      return xs;
    },
    [rgb, band ?? null, tol] as const,
  );
}

/** Screenshots for review go under test-results/screens/ (never committed). */
export async function screenshot(page: Page, info: TestInfo, name: string): Promise<string> {
  const file = path.join(E2E_DIR, 'test-results', 'screens', `${name}.png`);
  await parkMouse(page);
  await page.screenshot({ path: file, fullPage: false });
  await info.attach(name, { path: file, contentType: 'image/png' });
  return file;
}

/** The first visible element among several (a virtualized list row, a menu item). */
export function byText(list: Locator, text: string | RegExp): Locator {
  return list.filter({ hasText: text }).first();
}
