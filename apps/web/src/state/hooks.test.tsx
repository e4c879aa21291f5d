import { afterEach, describe, expect, it } from 'vitest';
import { StrictMode } from 'react';
import { act, cleanup, render, renderHook } from '@testing-library/react';
import { AppStoreProvider, useAppStore, useAppStoreApi } from './hooks.tsx';
import { selectCursor } from './selectors.ts';
import type { AppStore } from './store.ts';
import { syntheticTraceFile } from './synthetic.test-util.ts';

afterEach(() => cleanup());

describe('AppStoreProvider and hooks', () => {
  it('throw a clear error outside the provider', () => {
    const err = console.error;
    console.error = () => undefined;
    try {
      expect(() => renderHook(() => useAppStore(selectCursor))).toThrow(
        /inside <AppStoreProvider>/,
      );
    } finally {
      console.error = err;
    }
  });

  it('give each provider its own store', () => {
    const seen: AppStore[] = [];
    const Probe = () => {
      seen.push(useAppStoreApi());
      return null;
    };
    render(
      <>
        <AppStoreProvider>
          <Probe />
        </AppStoreProvider>
        <AppStoreProvider>
          <Probe />
        </AppStoreProvider>
      </>,
    );
    expect(seen[0]).not.toBe(seen.at(-1));
  });

  it('keep the store alive through StrictMode remounts and dispose it after a real unmount', async () => {
    let api: AppStore | null = null;
    const Probe = () => {
      api = useAppStoreApi();
      return null;
    };
    const { unmount } = render(
      <StrictMode>
        <AppStoreProvider
          options={{
            location: { protocol: 'http:', host: 'h:1', search: '' },
            runTask: () => undefined,
          }}
        >
          <Probe />
        </AppStoreProvider>
      </StrictMode>,
    );
    await act(async () => {
      await new Promise((r) => setTimeout(r, 5));
    });
    const store = api!;
    await act(async () => {
      await store
        .getState()
        .actions.loadBytes(syntheticTraceFile({ sessions: 3, workers: 2, rounds: 1 }));
    });
    // Playback runs on the store's timer: it only advances in a store that was not disposed.
    store.getState().actions.setSpeed(1000);
    store.getState().actions.setPlaying(true);
    await new Promise((r) => setTimeout(r, 60));
    const moved = store.getState().cursor;
    expect(moved).toBeGreaterThan(3);
    unmount();
    await new Promise((r) => setTimeout(r, 60));
    const after = store.getState().cursor;
    await new Promise((r) => setTimeout(r, 60));
    expect(store.getState().cursor).toBe(after);
  });
});
