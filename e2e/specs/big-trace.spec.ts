// Journey (issue 15): a 5 M-event recording opened with the browser's memory
// budget set small enough (32 MB) that the dashboard must page: the server
// indexes the file and the browser holds a window of it. Stepping from the
// first event to the last crosses window edges, an anomaly far away is one
// click, and a session whose events span several windows is followed from
// end to end. Every view is checked against a naive scan of the file's
// records, read here in the test.
//
// The recording is a seeded synthetic echo server (bench/big-gen.ts, the same
// generator as pnpm bench:big) with one fault switched on in every copy
// (two sends in flight), so there are findings all along the trace.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { EVENT_KIND_NAMES, type EventKind, TraceFileReader } from '@iocpscope/protocol';
import { E2E_DIR, SESSION_KEY_KINDS, pressKey, screenshot } from '../support/app.ts';

const EVENTS = 5_000_000;
const FILE = path.join(E2E_DIR, '.recordings', 'big-5m.iocptrace');
const BUDGET = '32M';
/** The index and checkpoints of 5 M events are built on the first request. */
const OPEN_MS = 240_000;

interface Remote {
  events: number;
  windowFrom: number;
  windowBracket: number;
  windowEvents: number;
  globalCursor: number;
  seeking: number | null;
  findingsState: string;
  heldBytes: number;
}
interface Summary {
  events: number;
  cursorTsNs: number | null;
  selectedSession: string | null;
  findings: number;
  remote: Remote | null;
  budgetBytes: number;
  toasts: Array<{ title: string; detail: string }>;
}
interface Hook {
  getState(): Summary;
  seekEvent(g: number): Promise<Summary>;
  step(kind: string, dir: 1 | -1): void;
  goToFinding(k: number): void;
  store: { getState(): { findings: Array<{ anchor: number; events: number[]; rule: string }> } };
}

let words: Uint32Array;

const fmt = (n: number): string => n.toLocaleString('en-US');
const kindAt = (g: number): number => words[g * 8]! & 0xff;
const tsAt = (g: number): number => words[g * 8 + 2]! + (words[g * 8 + 3]! & 0x1fffff) * 2 ** 32;

test.describe.configure({ mode: 'serial' });
test.setTimeout(OPEN_MS + 120_000);

test.beforeAll(() => {
  if (!existsSync(FILE)) {
    mkdirSync(path.dirname(FILE), { recursive: true });
    execFileSync(
      'npx',
      [
        'tsx',
        'bench/big-gen.ts',
        FILE,
        String(EVENTS),
        '--faults',
        'two-sends-in-flight',
        '--seed',
        '3',
      ],
      { cwd: path.resolve(E2E_DIR, '..'), stdio: 'inherit' },
    );
  }
  const r = new TraceFileReader();
  r.push(readFileSync(FILE));
  const res = r.finish();
  expect(res.error).toBeUndefined();
  expect(res.store.length).toBe(EVENTS);
  words = res.store.words.subarray(0, EVENTS * 8);
});

function summary(page: Page): Promise<Summary> {
  return page.evaluate(() => (window as unknown as { __iocpscope: Hook }).__iocpscope.getState());
}

async function open(page: Page): Promise<Remote> {
  await page.goto(`/?recording=big-5m&budget=${BUDGET}`);
  await page.waitForFunction(
    (n) => {
      const h = (window as unknown as { __iocpscope?: Hook }).__iocpscope;
      return h?.getState().remote?.events === n;
    },
    EVENTS,
    { timeout: OPEN_MS },
  );
  const s = await summary(page);
  expect(s.budgetBytes).toBe(32 * 1024 * 1024);
  await expect(page.getByTestId('event-count')).toContainText(`${fmt(EVENTS)} events`);
  return s.remote!;
}

/** The cursor is on event g of the whole trace, and every panel says so like the records do. */
async function expectAt(page: Page, g: number): Promise<Remote> {
  let last: Summary | null = null;
  try {
    await expect
      .poll(async () => {
        last = await summary(page);
        const r = last.remote;
        return r && r.seeking === null ? r.globalCursor : -1;
      })
      .toBe(g);
  } catch (e) {
    throw new Error(
      `the cursor never reached #${g}; the state last seen: ${JSON.stringify(last)}`,
      {
        cause: e,
      },
    );
  }
  const s = await summary(page);
  expect(s.cursorTsNs).toBe(tsAt(g));
  await expect(page.getByTestId('cursor-readout')).toContainText(`#${fmt(g)}`);
  await expect(page.getByTestId('event-number')).toHaveText(`#${fmt(g)}`);
  await expect(page.getByTestId('event-title').locator('.kind')).toHaveText(
    EVENT_KIND_NAMES[kindAt(g) as EventKind],
  );
  return s.remote!;
}

test('a 5 M-event recording over the budget is paged: step across windows, first to last', async ({
  page,
}, info) => {
  const r0 = await open(page);
  // Paging: the browser holds a small window, never the whole trace.
  expect(r0.windowEvents).toBeLessThanOrEqual(32_768);
  expect((await summary(page)).events).toBeLessThan(EVENTS / 50);
  await pressKey(page, 'Home');
  let r = await expectAt(page, 0);
  await screenshot(page, info, 'big-first');

  // Forward across the window's end, one event at a time.
  const held = (await summary(page)).events - r.windowBracket;
  const last = r.windowFrom + held - 1;
  await page.evaluate(
    (g) => (window as unknown as { __iocpscope: Hook }).__iocpscope.seekEvent(g),
    last - 2,
  );
  r = await expectAt(page, last - 2);
  const before = r.windowFrom;
  for (let g = last - 1; g <= last + 3; g++) {
    await pressKey(page, 'ArrowRight');
    r = await expectAt(page, g);
  }
  expect(r.windowFrom).toBeGreaterThan(before);

  // And back across the new window's start.
  const start = r.windowFrom;
  await page.evaluate(
    (g) => (window as unknown as { __iocpscope: Hook }).__iocpscope.seekEvent(g),
    start + 1,
  );
  await expectAt(page, start + 1);
  for (let g = start; g >= start - 3; g--) {
    await pressKey(page, 'ArrowLeft');
    r = await expectAt(page, g);
  }
  expect(r.windowFrom).toBeLessThan(start);

  // Far away, in the middle and at the end.
  await page.evaluate(
    (g) => (window as unknown as { __iocpscope: Hook }).__iocpscope.seekEvent(g),
    2_500_017,
  );
  await expectAt(page, 2_500_017);
  await pressKey(page, 'End');
  await expectAt(page, EVENTS - 1);
  await screenshot(page, info, 'big-last');
  // The browser's memory stays within the budget wherever it went.
  const s = await summary(page);
  expect(s.remote!.heldBytes).toBeLessThan(s.budgetBytes);
});

test('an anomaly far away is one click, and its evidence is the records’', async ({
  page,
}, info) => {
  await open(page);
  await pressKey(page, 'End');
  await expectAt(page, EVENTS - 1);
  // The server's detector pass over the whole trace.
  await expect
    .poll(async () => (await summary(page)).findings, { timeout: OPEN_MS })
    .toBeGreaterThan(0);
  const fs = await page.evaluate(() =>
    (window as unknown as { __iocpscope: Hook }).__iocpscope.store
      .getState()
      .findings.map((f) => ({ anchor: f.anchor, events: f.events, rule: f.rule })),
  );
  // The first finding: millions of events from the cursor.
  const f = fs[0]!;
  expect(EVENTS - 1 - f.anchor).toBeGreaterThan(1_000_000);
  expect(f.rule).toBe('one-send-in-flight');
  await page.getByTestId('finding').first().click();
  await expectAt(page, f.anchor);
  // Two sends in flight: the evidence is the two sends' records of one session, ending at the anchor.
  expect(f.events.length).toBeGreaterThanOrEqual(2);
  expect(new Set(f.events.map((e) => `${words[e * 8 + 4]}:${words[e * 8 + 5]}`)).size).toBe(1);
  expect(f.events[f.events.length - 1]).toBe(f.anchor);
  expect(await page.getByTestId('event-title').locator('.kind').textContent()).toBe(
    EVENT_KIND_NAMES[kindAt(f.anchor) as EventKind],
  );
  await screenshot(page, info, 'big-anomaly');
});

test('a session whose events span several windows is followed from end to end', async ({
  page,
}) => {
  const r0 = await open(page);
  const w = r0.windowEvents;
  // Naive: every session (words 4-5 of the session kinds), its events in order.
  const lists = new Map<string, number[]>();
  for (let g = 0; g < EVENTS; g++) {
    if (!SESSION_KEY_KINDS.has(kindAt(g))) continue;
    const lo = words[g * 8 + 4]!;
    const hi = words[g * 8 + 5]!;
    if ((lo | hi) === 0) continue;
    const id = `0x${((BigInt(hi) << 32n) | BigInt(lo)).toString(16)}`;
    let l = lists.get(id);
    if (!l) lists.set(id, (l = []));
    l.push(g);
  }
  await expect(page.getByTestId('sessions-count')).toHaveText(fmt(lists.size));
  // A session that spans at least three windows, a million events in.
  let pick: [string, number[]] | null = null;
  for (const [id, l] of lists) {
    if (l[l.length - 1]! - l[0]! > 3 * w && l[0]! > 1_000_000) {
      pick = [id, l];
      break;
    }
  }
  expect(pick).not.toBeNull();
  const [id, list] = pick!;
  await page.getByTestId('sessions-filter').fill(id);
  const row = page.getByTestId('session-row');
  await expect(row).toHaveCount(1);
  await expect(row).toHaveAttribute('data-session', id);
  await expect(row).toHaveAttribute('data-first', String(list[0]));
  await expect(row).toHaveAttribute('data-last', String(list[list.length - 1]));
  await expect(row).toHaveAttribute('data-events', String(list.length));
  await row.click();
  let r = await expectAt(page, list[0]!);
  expect((await summary(page)).selectedSession).toBe(id);
  const windows = new Set([r.windowFrom]);
  // Step by session: every event of it, in order, across the windows.
  for (let k = 1; k < list.length && windows.size < 4; k++) {
    await pressKey(page, '.');
    r = await expectAt(page, list[k]!);
    windows.add(r.windowFrom);
  }
  expect(windows.size).toBeGreaterThanOrEqual(3);
  // And back again across the last edge.
  const at = r.globalCursor;
  const k = list.indexOf(at);
  await pressKey(page, ',');
  await expectAt(page, list[k - 1]!);
});
