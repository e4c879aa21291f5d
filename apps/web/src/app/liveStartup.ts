// The app's side of connection/liveStartup.ts: connect to the page's own
// server on load (unless `?live=0`), decide whether a live source that never
// reached its server shows the live layout or the start screen, give up after
// a few spaced attempts, and tell the user when opening a file or recording
// leaves the live stream.
//
// Everything here is derived from the store (source, connection.status,
// connection.everOpened); the only local state is the give-up note, which
// outlives the closed source so the start screen can say what happened.

import { useCallback, useEffect, useMemo, useState } from 'react';
import type { RecordingInfo } from '@iocpscope/protocol';
import { useAppStore, useAppStoreApi } from '../state/hooks.tsx';
import { selectConnection, selectSource } from '../state/selectors.ts';
import type { AppStore } from '../state/store.ts';
import {
  LIVE_GIVE_UP_ATTEMPTS,
  livePhase,
  liveUrlLabel,
  type LiveGiveUp,
  type LivePhase,
} from '../connection/liveStartup.ts';

export interface LiveStartup {
  /** The live source's phase, or null when the source is not live. */
  phase: LivePhase | null;
  /** Set after the app stopped looking for a server, until another source opens. */
  giveUp: LiveGiveUp | null;
  dismissGiveUp(): void;
}

/**
 * Connect once on mount when `connectOnLoad` (and nothing is open or loading),
 * and close a live source that never opened after LIVE_GIVE_UP_ATTEMPTS.
 */
export function useLiveStartup(connectOnLoad: boolean): LiveStartup {
  const store = useAppStoreApi();
  const source = useAppStore(selectSource);
  const conn = useAppStore(selectConnection);
  const [giveUp, setGiveUp] = useState<LiveGiveUp | null>(null);
  const phase = source.kind === 'live' ? livePhase(conn.status, conn.everOpened) : null;

  useEffect(() => {
    if (!connectOnLoad) return;
    const s = store.getState();
    // StrictMode runs this twice: the second run finds the live source already there.
    if (s.source.kind === 'none' && s.loading === null) s.actions.connectLive();
  }, [store, connectOnLoad]);

  useEffect(() => {
    if (phase !== 'give-up' || source.kind !== 'live') return;
    const st = conn.status;
    setGiveUp({
      url: source.url,
      attempts: st.state === 'waiting' ? st.attempt : LIVE_GIVE_UP_ATTEMPTS,
      lastError: st.state === 'waiting' ? st.lastError : st.state === 'closed' ? st.reason : '',
    });
    store.getState().actions.closeSource();
  }, [phase, source, conn.status, store]);

  // The note is about the start screen it fell back to: anything newly opened replaces it.
  useEffect(() => {
    if (source.kind !== 'none') setGiveUp(null);
  }, [source]);

  const dismissGiveUp = useCallback(() => setGiveUp(null), []);
  return { phase, giveUp, dismissGiveUp };
}

/**
 * Open a file or recording; when that leaves a live stream, say so once it is
 * done (opening replaces the live source: its socket is closed and its events
 * dropped), and how to get back.
 */
export async function openLeavingLive(
  store: AppStore,
  name: string,
  open: () => Promise<void>,
): Promise<void> {
  const s = store.getState();
  const leaving =
    s.source.kind === 'live' && s.connection.everOpened ? liveUrlLabel(s.source.url) : null;
  await open();
  const now = store.getState();
  if (leaving !== null && now.source.kind !== 'live') {
    now.actions.toast({
      tone: 'info',
      title: 'Left the live stream',
      detail: `Disconnected from ${leaving} to open ${name}. "Connect live" in the top bar goes back to it.`,
    });
  }
}

export interface OpenActions {
  openFile(file: File): Promise<void>;
  openRecording(rec: RecordingInfo): Promise<void>;
}

/** The store's open actions, telling the user when they leave the live stream. */
export function useOpenActions(): OpenActions {
  const store = useAppStoreApi();
  const openFile = useCallback(
    (file: File) =>
      openLeavingLive(store, file.name, () => store.getState().actions.openFile(file)),
    [store],
  );
  const openRecording = useCallback(
    (rec: RecordingInfo) =>
      openLeavingLive(store, rec.name, () => store.getState().actions.openRecording(rec)),
    [store],
  );
  return useMemo(() => ({ openFile, openRecording }), [openFile, openRecording]);
}
