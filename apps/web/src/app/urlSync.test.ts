// The address bar follows the view without a replaceState per move: written
// once the view is still for SYNC_MS, and at least every MAX_WAIT_MS while it
// keeps moving (seeking, stepping, playing).

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppStore } from '../state/store.ts';
import { MAX_WAIT_MS, SYNC_MS, syncUrl } from './urlSync.ts';

interface FakeState {
  source: { kind: string };
  cursor: number;
  viewStartNs: number;
  viewEndNs: number;
  selectedSession: bigint | null;
  actions: { linkUrl(): string | null };
}

function fakeStore() {
  const source = { kind: 'recording' };
  let state: FakeState;
  const listeners = new Set<(s: FakeState, p: FakeState) => void>();
  const make = (cursor: number): FakeState => ({
    source,
    cursor,
    viewStartNs: 0,
    viewEndNs: 1,
    selectedSession: null,
    actions: { linkUrl: () => `http://test/?recording=r&event=${state.cursor}` },
  });
  state = make(0);
  return {
    store: {
      getState: () => state,
      subscribe: (f: (s: FakeState, p: FakeState) => void) => {
        listeners.add(f);
        return () => listeners.delete(f);
      },
    } as unknown as AppStore,
    moveTo(cursor: number) {
      const prev = state;
      state = make(cursor);
      for (const f of listeners) f(state, prev);
    },
  };
}

function fakeWindow() {
  const calls: string[] = [];
  const win = {
    location: { pathname: '/', search: '' },
    history: {
      state: null,
      replaceState: (_s: unknown, _t: string, url: string) => {
        calls.push(url);
        win.location.search = url.slice(1);
      },
    },
  };
  return { win: win as unknown as Window, calls };
}

describe('syncUrl', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('writes the link once the view has been still for SYNC_MS', () => {
    const { store, moveTo } = fakeStore();
    const { win, calls } = fakeWindow();
    const stop = syncUrl(store, win);
    moveTo(7);
    vi.advanceTimersByTime(SYNC_MS - 1);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(['/?recording=r&event=7']);
    stop();
  });

  it('writes at most every MAX_WAIT_MS while the view keeps moving, and the last place once it stops', () => {
    const { store, moveTo } = fakeStore();
    const { win, calls } = fakeWindow();
    const stop = syncUrl(store, win);
    // A seek every 60 ms for 6 s (100 seeks).
    for (let k = 1; k <= 100; k++) {
      moveTo(k);
      vi.advanceTimersByTime(60);
    }
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeLessThanOrEqual(Math.ceil(6000 / MAX_WAIT_MS));
    vi.advanceTimersByTime(SYNC_MS);
    expect(calls.at(-1)).toBe('/?recording=r&event=100');
    stop();
  });
});
