import { describe, expect, it } from 'vitest';
import { clampView, transformFromView, viewFromTransform, zoomAround } from './panZoom.ts';

const domain = { fullStartNs: -1_000, fullEndNs: 99_000, x0Px: 176, x1Px: 1376 };

describe('zoom wrapper math', () => {
  it('maps the identity transform to the full domain', () => {
    const v = viewFromTransform({ k: 1, x: 0 }, domain);
    expect(v.startNs).toBeCloseTo(-1_000, 6);
    expect(v.endNs).toBeCloseTo(99_000, 6);
  });

  it('round-trips windows through transforms, deep zooms included', () => {
    for (const [s, e] of [
      [0, 50_000],
      [12_345, 12_445],
      [98_000, 99_000],
      [-1_000, 99_000],
    ] as const) {
      const t = transformFromView(s, e, domain);
      const v = viewFromTransform(t, domain);
      expect(v.startNs).toBeCloseTo(s, 6);
      expect(v.endNs).toBeCloseTo(e, 6);
    }
  });

  it('zooms around an anchor that stays at the same place on screen', () => {
    const v = zoomAround(1_000, 2_000, 1_250, 2);
    expect(v).toEqual({ startNs: 1_125, endNs: 1_625 });
    expect((1_250 - v.startNs) / (v.endNs - v.startNs)).toBeCloseTo(0.25, 12);
  });

  it('clamps windows into the domain, to a minimum width, and to at most the domain', () => {
    expect(clampView(-5_000, 5_000, 0, 100_000, 100)).toEqual({ startNs: 0, endNs: 10_000 });
    expect(clampView(99_000, 101_000, 0, 100_000, 100)).toEqual({
      startNs: 98_000,
      endNs: 100_000,
    });
    expect(clampView(500, 510, 0, 100_000, 100)).toEqual({ startNs: 455, endNs: 555 });
    expect(clampView(-1e9, 1e9, 0, 100_000, 100)).toEqual({ startNs: 0, endNs: 100_000 });
  });
});
