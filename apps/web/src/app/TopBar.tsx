// The top bar: what is open (live stream or file), the connection state and
// gap counter, open-file and recordings, and the live server controls.

import { useActions, useAppStore } from '../state/hooks.tsx';
import {
  selectConnection,
  selectEventCount,
  selectRemote,
  selectBudget,
  selectHeader,
  selectLiveSource,
  selectLoadFailure,
  selectLoading,
  selectOverview,
  selectPaused,
  selectServer,
  selectSource,
} from '../state/selectors.ts';
import type { ConnectionInfo, LiveOverview } from '../state/store.ts';
import { formatBytes as formatBudget } from '../state/remote.ts';
import { Logo } from './Logo.tsx';
import { MenuButton } from './Menu.tsx';
import { LiveControls } from './LiveControls.tsx';
import { displayName, formatWhen, splitRecordings } from './recordings.ts';
import { formatBytes, formatCount } from '../panels/format.ts';
import { useTick } from './useTick.ts';
import { useOpenActions } from './liveStartup.ts';

function ConnectionBadge({ c, onRetry }: { c: ConnectionInfo; onRetry: () => void }) {
  const s = c.status;
  useTick(s.state === 'waiting', 500);
  switch (s.state) {
    case 'open':
      return (
        <span className="badge ok" data-testid="connection-state" data-state="open">
          <span className="dot" /> Connected
        </span>
      );
    case 'connecting':
      return (
        <span className="badge warn" data-testid="connection-state" data-state="connecting">
          <span className="dot" /> Connecting{s.attempt > 0 ? ` (try ${s.attempt + 1})` : '…'}
        </span>
      );
    case 'waiting': {
      const secs = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
      return (
        <span
          className="badge bad"
          data-testid="connection-state"
          data-state="waiting"
          title={s.lastError}
        >
          <span className="dot" /> {c.everOpened ? 'Disconnected' : 'Not reachable'} · retry in{' '}
          {secs}s
          <button className="btn small" style={{ height: 18, marginLeft: 4 }} onClick={onRetry}>
            Retry now
          </button>
        </span>
      );
    }
    case 'closed':
      return (
        <span className="badge" data-testid="connection-state" data-state="closed">
          <span className="dot" /> Closed
        </span>
      );
    default:
      return null;
  }
}

function GapBadge({ c }: { c: ConnectionInfo }) {
  const title =
    c.gaps === 0
      ? 'No events were lost'
      : `${c.gaps} gap${c.gaps === 1 ? '' : 's'}: ${formatCount(c.lostEvents)} events reported lost` +
        (c.unknownGaps
          ? `, plus ${c.unknownGaps} gap${c.unknownGaps === 1 ? '' : 's'} of unknown size (reconnects, missing frames)`
          : '') +
        ' from the live stream (the server sends less than it traced when this view falls behind). ' +
        "The server's live spool keeps them unless it runs with --spool-bytes 0: pause to step through them.";
  return (
    <span
      key={c.gaps}
      className={`badge${c.gaps > 0 ? ' bad gap-flash' : ''}`}
      title={title}
      data-testid="gap-counter"
      data-gaps={c.gaps}
    >
      Gaps {formatCount(c.gaps)}
      {c.lostEvents > 0 ? ` · ${formatCount(c.lostEvents)} lost` : ''}
    </span>
  );
}

/** Following the server's summaries instead of every record (a fast stream, issue 19 §11). */
function OverviewBadge({
  o,
  paused,
  skipped,
}: {
  o: LiveOverview;
  paused: boolean;
  skipped: number;
}) {
  const rate = `${formatCount(Math.round(o.rate))} events/s`;
  const why =
    o.reason === 'gap'
      ? 'The server could not send this view every record'
      : `The server traces ${rate}, more than this view takes record by record`;
  const title =
    `${why}: the timeline draws the server's summaries at screen resolution, following the head, ` +
    `and the panels show the newest records every two seconds. ` +
    (paused
      ? 'Paused: the records around the cursor are fetched from the live spool as you step and seek.'
      : 'Pause (Space) to fetch the records at the head and step through them.') +
    ` Once the stream slows down the view follows every record again.` +
    (skipped > 0
      ? ` ${formatCount(skipped)} events were sent as summaries only so far: they are in the spool, not lost.`
      : '');
  return (
    <span
      className="badge warn"
      title={title}
      data-testid="overview-badge"
      data-state={o.state}
      data-reason={o.reason}
    >
      <span className="dot" /> Overview
      {o.state === 'opening' ? '…' : <span className="wide-only"> · {rate}</span>}
    </span>
  );
}

export function RecordingsMenu() {
  const server = useAppStore(selectServer);
  const { refreshRecordings } = useActions();
  const { openRecording } = useOpenActions();
  const { examples, recordings } = splitRecordings(server.recordings);
  return (
    <MenuButton
      label="Recordings"
      title="Recordings on the server"
      onOpen={() => void refreshRecordings()}
      data-testid="recordings-menu"
      align="right"
    >
      {(close) => (
        <div style={{ width: 380 }} data-testid="recordings-list">
          {server.recordings === null ? (
            <div className="menu-empty">
              {server.recordingsError
                ? `Could not list recordings: ${server.recordingsError}`
                : 'Loading the list…'}
            </div>
          ) : null}
          {examples.length > 0 ? <h4>Examples</h4> : null}
          {examples.map((r) => (
            <button
              key={r.id}
              className="menu-item"
              onClick={() => {
                close();
                void openRecording(r);
              }}
              data-testid="recording-item"
              data-id={r.id}
            >
              <span>{displayName(r)}</span>
              <span className="meta">{formatBytes(r.bytes)}</span>
            </button>
          ))}
          {server.recordings !== null ? <h4>Recordings</h4> : null}
          {server.recordings !== null && recordings.length === 0 ? (
            <div className="menu-empty">No recordings yet. Connect live and press Record.</div>
          ) : null}
          {recordings.map((r) => (
            <button
              key={r.id}
              className="menu-item"
              onClick={() => {
                close();
                void openRecording(r);
              }}
              data-testid="recording-item"
              data-id={r.id}
            >
              <span>{r.name}</span>
              <span className="meta">
                {formatWhen(r.createdAt)} · {formatBytes(r.bytes)}
              </span>
            </button>
          ))}
        </div>
      )}
    </MenuButton>
  );
}

const TRACER_NAMES: Record<string, string> = {
  header: 'iocpscope.h',
  hook: 'hook DLL',
  reference: 'reference server',
};

/** Which process a trace shows: name, pid and how it was traced (foreign traces). */
function ProcessBadge({
  process,
  tracer,
  backend,
  ioCount,
}: {
  process: { pid: number; name: string } | undefined;
  tracer: string | undefined;
  backend: string;
  ioCount: string | undefined;
}) {
  if (process === undefined && backend !== 'external') return null;
  const how = tracer !== undefined ? (TRACER_NAMES[tracer] ?? tracer) : undefined;
  return (
    <span
      className="badge mono"
      data-testid="process"
      title={
        `Traced process${process ? ` ${process.name}, pid ${process.pid}` : ''}; backend ${backend}` +
        (how ? `, traced by ${how}` : '') +
        (ioCount === 'derived' ? '; IOCount derived (outstanding I/O)' : '')
      }
    >
      {process ? `${process.name} · pid ${process.pid}` : 'foreign process'} · {backend}
      {how ? ` (${how})` : ''}
    </span>
  );
}

export function TopBar({ onOpenFile }: { onOpenFile: () => void }) {
  const source = useAppStore(selectSource);
  const conn = useAppStore(selectConnection);
  const count = useAppStore(selectEventCount);
  const remote = useAppStore(selectRemote);
  const budget = useAppStore(selectBudget);
  const header = useAppStore(selectHeader);
  const failure = useAppStore(selectLoadFailure);
  const liveSource = useAppStore(selectLiveSource);
  const loading = useAppStore(selectLoading);
  const overview = useAppStore(selectOverview);
  const paused = useAppStore(selectPaused);
  const a = useActions();
  const linkable = source.kind === 'recording' || source.kind === 'live';
  // Until the socket first opens there is nothing to count or control yet.
  const joined = source.kind === 'live' && conn.everOpened;

  return (
    <header className="topbar" data-testid="topbar">
      <div className="brand">
        <Logo />
        <span className="brand-name">iocpscope</span>
      </div>
      {source.kind !== 'none' ? (
        <>
          <div className="sep" />
          <div className="source" data-testid="source">
            {source.kind === 'live' ? (
              <>
                <span className="badge live">LIVE</span>
                <span className="source-name mono wide-only" title={source.url}>
                  {source.url.replace(/^wss?:\/\//, '').replace(/\?.*$/, '')}
                </span>
                {liveSource?.kind === 'ingest' && liveSource.attached !== true ? (
                  <span className="badge warn" data-testid="process">
                    {liveSource.traceId ? 'tracer detached' : 'waiting for a tracer'} on{' '}
                    {liveSource.listen ?? '?'}
                  </span>
                ) : liveSource?.kind === 'ingest' ? (
                  <ProcessBadge
                    process={liveSource.process}
                    tracer={liveSource.tracer}
                    backend="external"
                    ioCount={liveSource.ioCount}
                  />
                ) : null}
              </>
            ) : (
              <>
                <span className="badge">{source.kind === 'file' ? 'FILE' : 'SERVER'}</span>
                <span className="source-name" title={source.name} data-testid="source-name">
                  {source.name}
                </span>
                <span className="mono source-meta" style={{ fontSize: 12 }}>
                  {formatBytes(source.bytes)}
                </span>
                {header ? (
                  <ProcessBadge
                    process={header.process}
                    tracer={header.tracer}
                    backend={header.backend}
                    ioCount={header.ioCount}
                  />
                ) : null}
                {header ? (
                  <span className="source-meta" style={{ fontSize: 12 }} title="Recorded with">
                    {header.backend} · {header.portConfig.workers} workers /{' '}
                    {header.portConfig.concurrency || 'auto'}
                  </span>
                ) : null}
              </>
            )}
            {source.kind !== 'live' || joined ? (
              <span
                className="badge mono"
                data-testid="event-count"
                title={
                  remote
                    ? `The server holds the trace; this browser holds a window of ${formatCount(count)} events around the cursor (memory budget ${formatBudget(budget)})`
                    : undefined
                }
              >
                {formatCount(remote ? remote.events : count)} events
                {remote ? <span className="wide-only"> · windowed</span> : null}
              </span>
            ) : null}
            {failure && source.kind !== 'live' ? (
              <span
                className="badge bad"
                data-testid="partial-badge"
                data-code={failure.code}
                title={`${failure.message}. Only the valid prefix is shown: ${formatCount(failure.recoveredEvents)} events (${formatBytes(failure.validBytes)} of ${formatBytes(failure.totalBytes)}).`}
              >
                <span className="dot" /> Damaged file · {failure.code} · showing{' '}
                {formatCount(failure.recoveredEvents)} events
              </span>
            ) : null}
          </div>
          {source.kind === 'live' ? (
            <>
              <ConnectionBadge c={conn} onRetry={a.retryLive} />
              {joined ? <GapBadge c={conn} /> : null}
              {joined && overview ? (
                <OverviewBadge o={overview} paused={paused} skipped={conn.skipped} />
              ) : null}
            </>
          ) : null}
        </>
      ) : null}
      {loading && source.kind !== 'none' ? (
        <span
          className="badge warn"
          data-testid="loading-badge"
          title="The open trace stays until this one is read"
        >
          Opening {loading.name}
          {loading.totalBytes > 0
            ? ` · ${Math.floor((100 * loading.loadedBytes) / loading.totalBytes)}%`
            : '…'}
          <button
            className="icon-btn"
            style={{ width: 18, height: 18 }}
            onClick={a.cancelLoad}
            aria-label="Cancel opening"
          >
            ✕
          </button>
        </span>
      ) : null}
      <div className="grow" />
      {joined ? (
        <>
          <LiveControls />
          <div className="sep" />
        </>
      ) : null}
      <button
        className="btn"
        onClick={onOpenFile}
        title="Open a .iocptrace file (Ctrl+O)"
        data-testid="open-file"
      >
        Open<span className="wide-only"> file</span>
      </button>
      <RecordingsMenu />
      {source.kind !== 'none' ? (
        <button
          className="btn"
          onClick={() => void a.copyLink()}
          disabled={!linkable}
          title={
            linkable
              ? 'Copy a link to this view: the recording (or live), the cursor, the visible range and the selected session'
              : "A local file has no link: open it from the server's recordings to share one"
          }
          data-testid="copy-link"
        >
          <span className="wide-only">Copy </span>link
        </button>
      ) : null}
      {source.kind !== 'live' ? (
        <button
          className="btn"
          onClick={() => a.connectLive()}
          title="Connect to the live stream of this server"
          data-testid="connect-live"
        >
          Connect live
        </button>
      ) : null}
      {source.kind !== 'none' ? (
        <button
          className="icon-btn"
          onClick={a.closeSource}
          title="Close and go back to the start screen"
          aria-label="Close"
          data-testid="close-source"
        >
          ✕
        </button>
      ) : null}
      {source.kind !== 'none' ? (
        <button
          className="btn"
          onClick={() => a.setLegendOpen(true)}
          title="What every mark on the timeline means"
          data-testid="legend-button"
        >
          Legend
        </button>
      ) : null}
      <button
        className="icon-btn"
        onClick={() => a.setHelpOpen(true)}
        title="Keyboard shortcuts (?)"
        aria-label="Keyboard shortcuts"
        data-testid="help-button"
      >
        ?
      </button>
    </header>
  );
}
