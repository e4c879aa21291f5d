import { describe, expect, it } from 'vitest';
import { rowWindow, scrollToRow } from './virtualList.ts';

// Naive model: test every row for intersection with the viewport.
function naiveVisible(count: number, rowPx: number, top: number, h: number): number[] {
  if (h <= 0) return [];
  const maxTop = Math.max(0, count * rowPx - h);
  const t = Math.min(Math.max(0, top), maxTop);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const a = i * rowPx;
    const b = a + rowPx;
    if (b > t && a < t + h) out.push(i);
  }
  return out;
}

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('rowWindow', () => {
  it('renders nothing for an empty list', () => {
    expect(rowWindow(0, 22, 0, 500)).toEqual({ first: 0, end: 0, offsetPx: 0, totalPx: 0 });
  });

  it('renders only the rows of the first page plus overscan at the top', () => {
    const w = rowWindow(10_000, 20, 0, 200, 3);
    expect(w).toEqual({ first: 0, end: 13, offsetPx: 0, totalPx: 200_000 });
  });

  it('keeps the last page when the scroll position is past the content', () => {
    const w = rowWindow(50, 20, 99_999, 200, 0);
    expect(w.first).toBe(40);
    expect(w.end).toBe(50);
  });

  it('covers every visible row and never more than the viewport plus overscan, for random inputs', () => {
    const rnd = mulberry32(6);
    for (let k = 0; k < 2000; k++) {
      const count = Math.floor(rnd() * 300);
      const rowPx = 1 + Math.floor(rnd() * 40);
      const h = Math.floor(rnd() * 900);
      const top = Math.floor(rnd() * (count * rowPx + 200)) - 50;
      const overscan = Math.floor(rnd() * 5);
      const w = rowWindow(count, rowPx, top, h, overscan);
      const vis = naiveVisible(count, rowPx, top, h);
      const ok =
        w.first >= 0 &&
        w.end <= count &&
        w.first <= w.end &&
        vis.every((i) => i >= w.first && i < w.end) &&
        w.end - w.first <= vis.length + 2 * overscan + 1;
      if (!ok) expect({ count, rowPx, top, h, overscan, w, vis }).toBe('a covering window');
      expect(w.offsetPx).toBe(w.first * rowPx);
    }
  });

  it('rejects a non-positive row height', () => {
    expect(() => rowWindow(10, 0, 0, 100)).toThrow(RangeError);
  });
});

describe('scrollToRow', () => {
  it('leaves a fully visible row alone', () => {
    expect(scrollToRow(5, 20, 60, 200)).toBe(60);
  });
  it('scrolls up to a row above the viewport', () => {
    expect(scrollToRow(2, 20, 100, 200)).toBe(40);
  });
  it('scrolls down just enough to show a row below the viewport', () => {
    expect(scrollToRow(20, 20, 0, 200)).toBe(220);
  });
});
