import { describe, expect, it } from 'vitest';
import { FILE, harness } from '../storeHarness.test-util.ts';

describe('range selection (issue 19 §2)', () => {
  it('keeps a range ordered, switches the bottom panel to its numbers, and clears', async () => {
    const h = harness();
    await h.a().loadBytes(FILE);
    h.a().setRange({ startNs: 9000, endNs: 1000, tids: [3, 2, 3] });
    let s = h.store.getState();
    expect(s.range).toEqual({ startNs: 1000, endNs: 9000, tids: [2, 3] });
    expect(s.bottomTab).toBe('range');
    h.a().setRange({ startNs: 5, endNs: 5, tids: null });
    expect(h.store.getState().range).toEqual(s.range);
    h.a().setRange({ startNs: 0, endNs: 10, tids: [] });
    expect(h.store.getState().range!.tids).toBeNull();
    h.a().setRange(null);
    s = h.store.getState();
    expect(s.range).toBeNull();
    h.a().setRangeMode(true);
    expect(h.store.getState().rangeMode).toBe(true);
  });
});
