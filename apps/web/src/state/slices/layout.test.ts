import { describe, expect, it } from 'vitest';
import { harness } from '../storeHarness.test-util.ts';
import { LAYOUT_KEY, parseLayout } from './layout.ts';

function memoryStorage(init: Record<string, string> = {}) {
  const m = new Map(Object.entries(init));
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    map: m,
  };
}

describe('panel layout (issue 19 §7)', () => {
  it('remembers the sizes set by hand and restores them in the next store', () => {
    const storage = memoryStorage();
    const h = harness({ storage });
    expect(h.store.getState().layout).toEqual({
      bottomH: null,
      sideW: null,
      sessionsW: null,
      inspectorW: null,
      detailsH: null,
    });
    h.a().setLayout({ bottomH: 410.4, sideW: 380 });
    h.a().setLayout({ inspectorW: 420 });
    expect(JSON.parse(storage.map.get(LAYOUT_KEY)!)).toMatchObject({
      bottomH: 410,
      sideW: 380,
      inspectorW: 420,
    });
    const again = harness({ storage });
    expect(again.store.getState().layout).toMatchObject({
      bottomH: 410,
      sideW: 380,
      inspectorW: 420,
    });
    again.a().resetLayout();
    expect(harness({ storage }).store.getState().layout.bottomH).toBeNull();
  });

  it('reads back only sane numbers', () => {
    expect(
      parseLayout('{"bottomH": 300, "sideW": "wide", "detailsH": -5, "sessionsW": 1e9}'),
    ).toEqual({
      bottomH: 300,
      sideW: null,
      sessionsW: null,
      inspectorW: null,
      detailsH: null,
    });
    expect(parseLayout('not json').bottomH).toBeNull();
    expect(parseLayout(null).bottomH).toBeNull();
  });

  it('works without storage', () => {
    const h = harness({ storage: null });
    h.a().setLayout({ bottomH: 300 });
    expect(h.store.getState().layout.bottomH).toBe(300);
  });
});
