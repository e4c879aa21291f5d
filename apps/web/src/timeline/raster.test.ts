import { describe, expect, it } from 'vitest';
import { Raster } from './raster.ts';
import { rng } from '../trace/randomTrace.test-util.ts';

type Op = [kind: number, x0: number, y0: number, x1: number, y1: number, color: number];

function paint(r: Raster, ops: Op[]): void {
  for (const [kind, x0, y0, x1, y1, color] of ops) {
    if (kind === 0) r.fillRect(x0, y0, x1, y1, color);
    else if (kind === 1) r.fillColumn(x0, y0, y1, color);
    else r.hatchColumn(x0, y0, y1, color, color ^ 0xffffff);
  }
}

describe('Raster bands', () => {
  it('draws each band exactly as the same rows of one full-height bitmap', () => {
    const r0 = rng(3);
    const W = 37;
    const H = 90;
    const ops: Op[] = [];
    for (let k = 0; k < 400; k++) {
      const x0 = Math.floor(r0() * (W + 10)) - 5;
      const y0 = Math.floor(r0() * (H + 20)) - 10;
      ops.push([
        Math.floor(r0() * 3),
        x0,
        y0,
        x0 + Math.floor(r0() * 12),
        y0 + Math.floor(r0() * 30),
        (Math.floor(r0() * 0xffffff) | 0xff000000) >>> 0,
      ]);
    }
    const full = new Raster();
    full.resize(W, H);
    full.clear(7);
    paint(full, ops);
    const bands = new Raster();
    for (const [y0, y1] of [
      [0, 13],
      [13, 40],
      [40, 41],
      [41, 90],
    ] as const) {
      bands.band(W, y0, y1, 7);
      paint(bands, ops);
      expect(bands.originY).toBe(y0);
      expect(Array.from(bands.pix.subarray(0, W * (y1 - y0)))).toEqual(
        Array.from(full.pix.subarray(W * y0, W * y1)),
      );
    }
  });

  it('keeps one buffer as tall as the tallest band', () => {
    const r = new Raster();
    r.band(100, 0, 40, 0);
    const buf = r.pix.buffer;
    r.band(100, 40, 60, 0);
    r.band(100, 200, 240, 0);
    expect(r.pix.buffer).toBe(buf);
    expect(r.pix.length).toBe(100 * 40);
    expect(r.imageData().height).toBe(40);
  });
});
