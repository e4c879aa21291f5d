import { describe, expect, it } from 'vitest';
import { computeTicks, formatTick, niceStep, unitFor } from './axis.ts';

describe('time axis', () => {
  it('picks 1-2-5 steps that keep ticks at least the minimum spacing apart', () => {
    for (const span of [37, 1_000, 12_345, 9.9e6, 3e9, 7.7e10]) {
      for (const width of [300, 1200]) {
        const step = niceStep(span, width, 90);
        const m = step / Math.pow(10, Math.floor(Math.log10(step)));
        expect([1, 2, 5]).toContain(Math.round(m));
        expect((step / span) * width).toBeGreaterThanOrEqual(90 - 1e-9);
        expect((step / 2 / span) * width).toBeLessThan(90 * 1.0001 * 2.5);
      }
    }
  });

  it('places ticks on multiples of the step inside the window', () => {
    const t = computeTicks(1_234_567, 9_876_543, 1000);
    expect(t.firstNs % t.stepNs).toBe(0);
    expect(t.firstNs).toBeGreaterThanOrEqual(1_234_567);
    expect(t.firstNs + (t.count - 1) * t.stepNs).toBeLessThanOrEqual(9_876_543);
    expect(t.firstNs + t.count * t.stepNs).toBeGreaterThan(9_876_543);
  });

  it('labels with the unit of the step: ns, µs, ms and s', () => {
    expect(unitFor(50).name).toBe('ns');
    expect(unitFor(2_000).name).toBe('µs');
    expect(unitFor(5e6).name).toBe('ms');
    expect(unitFor(2e9).name).toBe('s');
    const ms = computeTicks(0, 10e6, 1000);
    expect(formatTick(2e6, ms)).toBe('2 ms');
    const us = computeTicks(0, 40_000, 1000);
    expect(formatTick(5_000, us)).toBe('5 µs');
    const half = { stepNs: 500_000, firstNs: 0, count: 3, baseNs: null };
    expect(formatTick(1_500_000, half)).toBe('1.5 ms');
    const deep = computeTicks(386_200_000, 386_600_000, 1000);
    expect(formatTick(386_250_000, deep)).toBe('386.25 ms');
  });

  it('switches to a base plus offsets deep inside a long trace', () => {
    const t = computeTicks(3_200_012_345, 3_200_013_345, 1000);
    expect(t.baseNs).not.toBeNull();
    expect(t.baseNs!).toBeLessThanOrEqual(t.firstNs);
    expect(formatTick(t.firstNs, t)).toMatch(/^\+\d+(\.\d+)? (ns|µs)$/);
  });

  it('keeps offsets short: a unit up past four integer digits ("+90.7 s", never "+90700 ms")', () => {
    // A live ruler an hour into the run: its 100 ms window.
    const t = computeTicks(3_890_600_000_000, 3_890_700_000_000, 1000);
    expect(t.baseNs).not.toBeNull();
    for (let k = 0; k < t.count; k++) {
      const label = formatTick(t.firstNs + k * t.stepNs, t);
      expect(label).toMatch(/^\+\d{1,3}(\.\d+)? (ns|µs|ms|s)$/);
    }
    const ms = { stepNs: 100_000_000, firstNs: 0, count: 1, baseNs: 0 };
    expect(formatTick(90_700_000_000, ms)).toBe('+90.7 s');
  });
});
