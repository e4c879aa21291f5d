// Small pieces the benchmark scripts share: percentiles, a free loopback port,
// and a page's JS memory after a forced GC (Chromium over CDP).

import type { Page } from 'playwright-core';

/** The p-th percentile of `a` (nearest rank), NaN when empty. */
export function pct(a: number[], p: number): number {
  if (a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export { freePort } from '../apps/server/bench/procs.ts';

/** The page's heap, embedder heap and backing stores after three forced GCs (bytes). */
export async function heapBytes(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  for (let k = 0; k < 3; k++) await cdp.send('HeapProfiler.collectGarbage');
  const u = (await cdp.send('Runtime.getHeapUsage')) as {
    usedSize: number;
    embedderHeapUsedSize?: number;
    backingStorageSize?: number;
  };
  await cdp.detach();
  return u.usedSize + (u.embedderHeapUsedSize ?? 0) + (u.backingStorageSize ?? 0);
}
