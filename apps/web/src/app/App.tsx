// The app shell: top bar, then either the start screen or the debugger layout
// (step bar, timeline, panels below and beside it, every boundary a visible
// splitter, sizes remembered: app/layout.ts). Owns the global keyboard
// shortcuts, drag & drop of files, the hidden file input, the page URL (a
// deep link to the view: urlSync.ts) and the test hook. One store per <App>
// (through AppStoreProvider).

import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { AppStoreProvider, useActions, useAppStore, useAppStoreApi } from '../state/hooks.tsx';
import {
  selectBottomTab,
  selectConnection,
  selectEventCount,
  selectFindings,
  selectHasTrace,
  selectIsLive,
  selectLaneCount,
  selectLayout,
  selectPinnedSessions,
  selectRange,
  selectSelectedSession,
  selectRemote,
} from '../state/selectors.ts';
import type { AppStore, AppStoreOptions } from '../state/store.ts';
import { TimelineCanvas } from '../timeline/index.ts';
import { SessionsPanel } from '../panels/SessionsPanel.tsx';
import { RemoteSessionsPanel } from '../panels/RemoteSessionsPanel.tsx';
import { InspectorPanel } from '../panels/InspectorPanel.tsx';
import { EventDetailsPanel } from '../panels/EventDetailsPanel.tsx';
import { PortStatePanel } from '../panels/PortStatePanel.tsx';
import { AnomaliesPanel } from '../panels/AnomaliesPanel.tsx';
import { RangePanel } from '../panels/RangePanel.tsx';
import { LockPanel } from '../panels/LockPanel.tsx';
import { StepControls } from '../panels/StepControls.tsx';
import { LegendOverlay } from './LegendOverlay.tsx';
import { resolveLayout, SPLIT_PX, type ResolvedLayout } from './layout.ts';
import { syncUrl } from './urlSync.ts';
import type { PanelSizes } from '../state/store.ts';
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
import { liveOnLoad } from '../connection/liveStartup.ts';

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

/** The window's size in CSS px, kept current. */
function useWindowSize(): { w: number; h: number } {
  const [size, setSize] = useState(() => ({ w: window.innerWidth, h: window.innerHeight }));
  useEffect(() => {
    const on = () => setSize({ w: window.innerWidth, h: window.innerHeight });
    window.addEventListener('resize', on);
    return () => window.removeEventListener('resize', on);
  }, []);
  return size;
}

interface SplitterProps {
  /** 'x': a vertical bar dragged sideways; 'y': a horizontal bar dragged up and down. */
  axis: 'x' | 'y';
  /** The size it moves, and whether dragging right/down grows it (+1) or shrinks it (-1). */
  value: number;
  sign: 1 | -1;
  name: keyof PanelSizes;
  area?: string;
  className?: string;
  onDrag(name: keyof PanelSizes, px: number | null): void;
  onCommit(name: keyof PanelSizes, px: number | null): void;
}

/** A visible splitter: drag it to resize; a double-click gives the panel back its automatic size. */
function Splitter({ axis, value, sign, name, area, className, onDrag, onCommit }: SplitterProps) {
  const [dragging, setDragging] = useState(false);
  const onPointerDown = (e: React.PointerEvent) => {
    e.preventDefault();
    const start = axis === 'y' ? e.clientY : e.clientX;
    let last = value;
    setDragging(true);
    const move = (ev: PointerEvent) => {
      const d = (axis === 'y' ? ev.clientY : ev.clientX) - start;
      last = value + sign * d;
      onDrag(name, last);
    };
    const up = () => {
      setDragging(false);
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      onDrag(name, null);
      onCommit(name, last);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };
  return (
    <div
      className={`splitter ${axis === 'x' ? 'v' : 'h'}${dragging ? ' dragging' : ''} ${className ?? ''}`}
      style={area ? { gridArea: area } : undefined}
      onPointerDown={onPointerDown}
      onDoubleClick={() => onCommit(name, null)}
      role="separator"
      aria-orientation={axis === 'x' ? 'vertical' : 'horizontal'}
      title="Drag to resize; double-click for the automatic size"
      data-testid={`splitter-${name}`}
    >
      <span className="grip" />
    </div>
  );
}

/** The bottom-right panel: the anomalies, or the numbers of the selected range. */
function BottomRight() {
  const tab = useAppStore(selectBottomTab);
  const range = useAppStore(selectRange);
  const findings = useAppStore(selectFindings);
  const { setBottomTab } = useActions();
  const tabs: ReactNode = (
    <div className="tabs" role="tablist">
      <button
        role="tab"
        aria-selected={tab === 'anomalies'}
        className={`tab${tab === 'anomalies' ? ' on' : ''}`}
        onClick={() => setBottomTab('anomalies')}
        data-testid="tab-anomalies"
      >
        Anomalies{findings.length > 0 && tab !== 'anomalies' ? ` ${findings.length}` : ''}
      </button>
      <button
        role="tab"
        aria-selected={tab === 'range'}
        className={`tab${tab === 'range' ? ' on' : ''}`}
        onClick={() => setBottomTab('range')}
        data-testid="tab-range"
      >
        Range{range ? ' ●' : ''}
      </button>
      <button
        role="tab"
        aria-selected={tab === 'locks'}
        className={`tab${tab === 'locks' ? ' on' : ''}`}
        onClick={() => setBottomTab('locks')}
        data-testid="tab-locks"
        title="The lock view: each lock's holds, contention and waits, per thread"
      >
        Locks
      </button>
    </div>
  );
  if (tab === 'locks') {
    return (
      <ErrorBoundary area="the lock view" compact>
        <LockPanel tabs={tabs} />
      </ErrorBoundary>
    );
  }
  return tab === 'range' ? (
    <ErrorBoundary area="the range panel" compact>
      <RangePanel tabs={tabs} />
    </ErrorBoundary>
  ) : (
    <ErrorBoundary area="the anomalies panel" compact>
      <AnomaliesPanel tabs={tabs} />
    </ErrorBoundary>
  );
}

function Shell({ testHook, connectOnLoad }: { testHook: boolean; connectOnLoad: boolean }) {
  const store = useAppStoreApi();
  const hasTrace = useAppStore(selectHasTrace);
  const live = useAppStore(selectIsLive);
  const remote = useAppStore(selectRemote) !== null;
  const startup = useLiveStartup(connectOnLoad);
  const openers = useOpenActions();
  const fileInput = useRef<HTMLInputElement>(null);
  const [dragOver, setDragOver] = useState(false);
  const model = useMemo(() => timelineModelOf(store), [store]);

  const openFileDialog = useCallback(() => fileInput.current?.click(), []);

  useEffect(() => (testHook ? installTestHook(store) : undefined), [store, testHook]);
  useEffect(() => frameOpenedTraces(store), [store]);

  // A deep link (what "Copy link" and `iocpscope open FILE` give): `?recording=ID`
  // with its cursor, view and session, or `?live=1&session=…`. Then the URL follows the view.
  useEffect(() => {
    if (typeof location === 'undefined') return;
    const s = store.getState();
    if (s.source.kind === 'recording' || s.loading !== null) return;
    s.actions.openLink(location.search);
  }, [store]);
  useEffect(() => syncUrl(store), [store]);

  useEffect(() => {
    const focusSearch = () =>
      document.querySelector<HTMLInputElement>('[data-testid="search-input"]')?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || isTypingTarget(e.target)) return;
      if (handleShortcut(e, store.getState(), { openFileDialog, focusSearch })) e.preventDefault();
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

  const win = useWindowSize();
  const sizes = useAppStore(selectLayout);
  const lanes = useAppStore(selectLaneCount);
  const pinned = useAppStore(selectPinnedSessions);
  const selected = useAppStore(selectSelectedSession);
  const tracks = pinned.length + (selected !== null && !pinned.includes(selected) ? 1 : 0);
  // While a splitter is dragged its size is local (no storage write per move).
  const [dragSizes, setDragSizes] = useState<Partial<PanelSizes>>({});
  const layout: ResolvedLayout = resolveLayout(
    win.w,
    win.h,
    { ...sizes, ...dragSizes },
    { lanes, tracks },
  );
  const onDrag = useCallback((name: keyof PanelSizes, px: number | null) => {
    setDragSizes((d) => {
      const next = { ...d };
      if (px === null) delete next[name];
      else next[name] = px;
      return next;
    });
  }, []);
  const onCommit = useCallback(
    (name: keyof PanelSizes, px: number | null) =>
      store.getState().actions.setLayout({ [name]: px }),
    [store],
  );
  const split = { onDrag, onCommit };

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
      <LegendOverlay />
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
        ['--bottom-h' as string]: `${layout.bottomH}px`,
        ['--side-w' as string]: `${layout.sideW}px`,
        ['--sessions-w' as string]: `${layout.sessionsW}px`,
        ['--inspector-w' as string]: `${layout.inspectorW}px`,
        ['--details-h' as string]: `${layout.detailsH}px`,
        ['--split' as string]: `${SPLIT_PX}px`,
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
      <Splitter
        axis="y"
        value={layout.bottomH}
        sign={-1}
        name="bottomH"
        area="split-h"
        {...split}
      />
      <Splitter axis="x" value={layout.sideW} sign={-1} name="sideW" area="split-v" {...split} />
      <div className="bottom">
        <ErrorBoundary area="the sessions list" compact>
          {remote ? <RemoteSessionsPanel /> : <SessionsPanel />}
        </ErrorBoundary>
        <Splitter axis="x" value={layout.sessionsW} sign={1} name="sessionsW" {...split} />
        <ErrorBoundary area="the session inspector" compact>
          <InspectorPanel />
        </ErrorBoundary>
        <Splitter axis="x" value={layout.inspectorW} sign={1} name="inspectorW" {...split} />
        <BottomRight />
      </div>
      <aside className="side">
        <ErrorBoundary area="the event details" compact>
          <EventDetailsPanel />
        </ErrorBoundary>
        <Splitter axis="y" value={layout.detailsH} sign={1} name="detailsH" {...split} />
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
