import { describe, expect, it } from 'vitest';
import { waitForStop } from './wait.ts';

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('waitForStop', () => {
  it('ends on the signal and leaves no timer behind to keep the process up', async () => {
    const before = timers();
    const ctl = new AbortController();
    const p = waitForStop(10 * 60_000, ctl.signal);
    expect(timers()).toBe(before + 1);
    ctl.abort();
    await p;
    expect(timers()).toBe(before);
  });

  it('ends after the duration without a signal', async () => {
    const t0 = Date.now();
    await waitForStop(30);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it('ends at once when the signal already fired, or when there is nothing to wait for', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await waitForStop(60_000, ctl.signal);
    await waitForStop(null);
  });
});
