// React access to the app store: one store per <AppStoreProvider>, hooks that
// throw outside it, selectors defined at module scope (stable identities, so
// zustand's useStore does not re-subscribe or loop). Panels and the app read
// the store only through this module; it is the only zustand importer besides
// store.ts.

import {
  createContext,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from 'react';
import type { ReplayState } from '@iocpscope/analysis';
import { useStore } from 'zustand';
import { selectAnalysis, selectCursor, selectTraceVersion } from './selectors.ts';
import {
  createAppStore,
  type AppActions,
  type AppState,
  type AppStore,
  type AppStoreOptions,
} from './store.ts';

const StoreContext = createContext<AppStore | null>(null);

export interface AppStoreProviderProps {
  children: ReactNode;
  /** Use this store instead of creating one (tests, the test hook's owner). */
  store?: AppStore;
  options?: AppStoreOptions;
}

/**
 * Creates the store once per mount (unless one is given) and disposes it on
 * unmount. The dispose is deferred one task: React's StrictMode unmounts and
 * remounts every effect once in development, and the remount cancels it.
 */
export function AppStoreProvider({ children, store, options }: AppStoreProviderProps) {
  const [own] = useState(() => store ?? createAppStore(options));
  const disposeTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    if (store) return;
    if (disposeTimer.current !== null) {
      clearTimeout(disposeTimer.current);
      disposeTimer.current = null;
    }
    return () => {
      disposeTimer.current = setTimeout(() => own.getState().actions.dispose(), 0);
    };
  }, [own, store]);
  return <StoreContext.Provider value={own}>{children}</StoreContext.Provider>;
}

/** The store itself (for imperative reads in event handlers and the canvas model). */
export function useAppStoreApi(): AppStore {
  const s = useContext(StoreContext);
  if (!s) throw new Error('useAppStore* must be used inside <AppStoreProvider>');
  return s;
}

/** Subscribe to a slice. Pass a selector defined at module scope, returning a stable value. */
export function useAppStore<T>(selector: (s: AppState) => T): T {
  return useStore(useAppStoreApi(), selector);
}

const selectActions = (s: AppState): AppActions => s.actions;
export function useActions(): AppActions {
  return useAppStore(selectActions);
}

/**
 * The replayed state after the cursor's event (null when nothing is loaded).
 * The analysis memoizes the last answer, so several panels share one replay.
 */
export function useCursorState(): ReplayState | null {
  const analysis = useAppStore(selectAnalysis);
  const cursor = useAppStore(selectCursor);
  const version = useAppStore(selectTraceVersion);
  return useMemo(
    () => (analysis && cursor >= 0 ? analysis.stateAt(cursor) : null),
    // `version` changes when a live trace grows and the head state moves on.
    [analysis, cursor, version],
  );
}

const selectIsRemote = (s: AppState): boolean => s.remote !== null;
const selectFrom = (s: AppState): number => s.windowFrom;
const selectBracket = (s: AppState): number => s.windowBracket;

/**
 * Local index -> event number of the whole trace: the identity, except for a
 * window of a trace the server holds (issue 15), whose events are numbered
 * from the window's place in the trace.
 */
export function useGlobalIndex(): (i: number) => number {
  const remote = useAppStore(selectIsRemote);
  const from = useAppStore(selectFrom);
  const bracket = useAppStore(selectBracket);
  return useMemo(
    () => (i: number) => (!remote || i < 0 ? i : from + Math.max(0, i - bracket)),
    [remote, from, bracket],
  );
}

const selectWindowCount = (s: AppState): number => s.trace?.count ?? 0;

/** Event number of the whole trace -> local index of the loaded trace (-1 when not held). */
export function useLocalIndex(): (g: number) => number {
  const remote = useAppStore(selectIsRemote);
  const from = useAppStore(selectFrom);
  const bracket = useAppStore(selectBracket);
  const n = useAppStore(selectWindowCount);
  return useMemo(
    () => (g: number) => {
      if (!remote) return g;
      const i = g - from + bracket;
      return g >= from && i < n ? i : -1;
    },
    [remote, from, bracket, n],
  );
}
