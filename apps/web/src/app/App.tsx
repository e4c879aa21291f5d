// The app shell: top bar, then either the start screen or the debugger layout
// (step bar, timeline, panels below and beside it, resizable). Owns the
// global keyboard shortcuts, drag & drop of files, the hidden file input and
// the test hook. One store per <App> (through AppStoreProvider).

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { AppStoreProvider, useAppStore, useAppStoreApi } from '../state/hooks.tsx';
import {
  selectConnection,
  selectEventCount,
  selectHasTrace,
  selectIsLive,
} from '../state/selectors.ts';
import type { AppStore, AppStoreOptions } from '../state/store.ts';
import { TimelineCanvas } from '../timeline/index.ts';
import { SessionsPanel } from '../panels/SessionsPanel.tsx';
import { InspectorPanel } from '../panels/InspectorPanel.tsx';
import { EventDetailsPanel } from '../panels/EventDetailsPanel.tsx';
import { PortStatePanel } from '../panels/PortStatePanel.tsx';
import { AnomaliesPanel } from '../panels/AnomaliesPanel.tsx';
import { StepControls } from '../panels/StepControls.tsx';
import { TopBar } from './TopBar.tsx';
import { StartScreen } from './StartScreen.tsx';
import { HelpOverlay } from './HelpOverlay.tsx';
import { Toasts } from './Toasts.tsx';
import { ErrorBoundary } from './ErrorBoundary.tsx';
import { handleShortcut, isTypingTarget } from './shortcuts.ts';
import { timelineModelOf } from './timelineModel.ts';
import { installTestHook } from './testHook.ts';
import { useLiveStartup, useOpenActions } from './liveStartup.ts';
import { frameOpenedTraces } from './framing.ts';
import { liveOnLoad, recordingOnLoad } from '../connection/liveStartup.ts';

export interface AppProps {
  store?: AppStore;
  options?: AppStoreOptions;
  /** Install window.__iocpscope (default true). */
  testHook?: boolean;
  /**
   * Connect to the live stream of the page's server on mount. Default: yes,
   * unless the page URL says `?live=0` (connection/liveStartup.ts).
   */
  connectOnLoad?: boolean;
}

export function App({ store, options, testHook = true, connectOnLoad }: AppProps) {
  const connect =
    connectOnLoad ?? (typeof location !== 'undefined' ? liveOnLoad(location.search) : false);
  return (
    <ErrorBoundary area="iocpscope">
      <AppStoreProvider store={store} options={options}>
        <Shell testHook={testHook} connectOnLoad={connect} />
      </AppStoreProvider>
    </ErrorBoundary>
  );
}

function useSplitter(initial: number, min: number, max: () => number, axis: 'x' | 'y') {
  const [size, setSize] = useState(initial);
  const [dragging, setDragging] = useState(false);
  const onPointerDown = (e: React.PointerEvent) => {
    e.preventDefault();
    const start = axis === 'y' ? e.clientY : e.clientX;
    const from = size;
    setDragging(true);
    const move = (ev: PointerEvent) => {
      const d = (axis === 'y' ? ev.clientY : ev.clientX) - start;
      // Dragging up/left grows the bottom/side area.
      setSize(Math.max(min, Math.min(max(), from - d)));
    };
    const up = () => {
      setDragging(false);
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };
  return { size, dragging, onPointerDown };
}

function Shell({ testHook, connectOnLoad }: { testHook: boolean; connectOnLoad: boolean }) {
  const store = useAppStoreApi();
  const hasTrace = useAppStore(selectHasTrace);
  const live = useAppStore(selectIsLive);
  const startup = useLiveStartup(connectOnLoad);
  const openers = useOpenActions();
  const fileInput = useRef<HTMLInputElement>(null);
  const [dragOver, setDragOver] = useState(false);
  const model = useMemo(() => timelineModelOf(store), [store]);

  const openFileDialog = useCallback(() => fileInput.current?.click(), []);

  useEffect(() => (testHook ? installTestHook(store) : undefined), [store, testHook]);
  useEffect(() => frameOpenedTraces(store), [store]);

  // `?recording=ID` (what `iocpscope open FILE` prints): open that server recording.
  useEffect(() => {
    const id = typeof location !== 'undefined' ? recordingOnLoad(location.search) : null;
    const s = store.getState();
    if (id === null || s.source.kind !== 'none' || s.loading !== null) return;
    void s.actions.openRecording({ id, name: id, bytes: 0, createdAt: 0 });
  }, [store]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || isTypingTarget(e.target)) return;
      if (handleShortcut(e, store.getState(), { openFileDialog })) e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [store, openFileDialog]);

  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth++;
      setDragOver(true);
    };
    const over = (e: DragEvent) => {
      if (hasFiles(e)) e.preventDefault();
    };
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragOver(false);
    };
    const drop = (e: DragEvent) => {
      e.preventDefault();
      depth = 0;
      setDragOver(false);
      const f = e.dataTransfer?.files?.[0];
      if (f) void openers.openFile(f);
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragover', over);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragover', over);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, [openers]);

  const bottom = useSplitter(320, 140, () => window.innerHeight - 240, 'y');
  const side = useSplitter(360, 260, () => window.innerWidth * 0.5, 'x');

  const input = (
    <input
      ref={fileInput}
      type="file"
      accept=".iocptrace,application/octet-stream"
      style={{ display: 'none' }}
      data-testid="file-input"
      onChange={(e) => {
        const f = e.target.files?.[0];
        e.target.value = '';
        if (f) void openers.openFile(f);
      }}
    />
  );

  const overlays = (
    <>
      {input}
      <HelpOverlay />
      <Toasts />
      {dragOver ? <div className="drop-overlay">Drop a .iocptrace file to open it</div> : null}
    </>
  );

  // A live source that has not reached its server yet shows the start screen
  // (with the retry note) once its first attempt failed: nothing to watch there.
  if (!hasTrace || startup.phase === 'unreachable') {
    return (
      <div className="app empty" data-testid="app">
        <TopBar onOpenFile={openFileDialog} />
        <StartScreen onOpenFile={openFileDialog} live={startup} />
        {overlays}
      </div>
    );
  }

  return (
    <div
      className="app"
      data-testid="app"
      style={{
        ['--bottom-h' as string]: `${bottom.size}px`,
        ['--side-w' as string]: `${side.size}px`,
      }}
    >
      <TopBar onOpenFile={openFileDialog} />
      <StepControls />
      <div className="timeline-area">
        <ErrorBoundary area="the timeline" compact>
          <TimelineCanvas model={model} />
        </ErrorBoundary>
        {live ? <LiveEmptyNote /> : null}
      </div>
      <div
        className={`splitter h${bottom.dragging ? ' dragging' : ''}`}
        onPointerDown={bottom.onPointerDown}
        role="separator"
        aria-orientation="horizontal"
      />
      <div
        className={`splitter v${side.dragging ? ' dragging' : ''}`}
        onPointerDown={side.onPointerDown}
        role="separator"
        aria-orientation="vertical"
      />
      <div className="bottom">
        <ErrorBoundary area="the sessions list" compact>
          <SessionsPanel />
        </ErrorBoundary>
        <ErrorBoundary area="the session inspector" compact>
          <InspectorPanel />
        </ErrorBoundary>
        <ErrorBoundary area="the anomalies panel" compact>
          <AnomaliesPanel />
        </ErrorBoundary>
      </div>
      <aside className="side">
        <ErrorBoundary area="the event details" compact>
          <EventDetailsPanel />
        </ErrorBoundary>
        <ErrorBoundary area="the port state" compact>
          <PortStatePanel />
        </ErrorBoundary>
      </aside>
      {overlays}
    </div>
  );
}

/** Over the empty live timeline: what we are waiting for. */
function LiveEmptyNote() {
  const count = useAppStore(selectEventCount);
  const conn = useAppStore(selectConnection);
  if (count > 0) return null;
  const text =
    conn.status.state === 'open'
      ? 'Connected. Waiting for events — start some load from the Load menu.'
      : conn.status.state === 'waiting'
        ? `Lost the connection to the server (${conn.status.lastError}). Reconnecting…`
        : 'Connecting to the server…';
  return (
    <div
      style={{
        position: 'absolute',
        inset: 0,
        display: 'grid',
        placeItems: 'center',
        pointerEvents: 'none',
        color: 'var(--text-muted)',
      }}
      data-testid="live-empty"
    >
      {text}
    </div>
  );
}
