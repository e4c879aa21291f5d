// The sessions list: every session of the trace, virtualized (fixed row
// height, only visible rows in the DOM), with its state at the cursor.
// Sorted live by activity (open sessions first, newest first) and a recording
// in order of appearance, until the user clicks a column header (again to
// reverse). Clicking a row selects the session (inspector, timeline
// highlight); arrow keys move the selection.

import { useMemo, useState } from 'react';
import { useActions, useAppStore, useCursorState } from '../state/hooks.tsx';
import {
  selectCursor,
  selectIsLive,
  selectSelectedSession,
  selectTrace,
  selectTraceVersion,
  selectIoCountSource,
  selectUnknownPeer,
} from '../state/selectors.ts';
import { VirtualList } from './VirtualList.tsx';
import {
  defaultSessionSort,
  filterSessionRows,
  nextSessionSort,
  sessionRowAt,
  sortSessionRows,
  type RowPhase,
  type SessionSort,
  type SessionSortKey,
} from './sessionRows.ts';
import { formatCount, formatSessionId } from './format.ts';

const ROW_PX = 24;

const PHASE_LABEL: Record<RowPhase, [string, string]> = {
  future: ['not yet', 'muted'],
  live: ['live', 'ok'],
  disconnecting: ['closing', 'warn'],
  released: ['released', 'muted'],
  leaked: ['released!', 'bad'],
};

const COLUMNS: Array<{
  label: string;
  /** The label in a narrow panel. */
  short: string;
  key: SessionSortKey;
  num?: boolean;
  title: string;
}> = [
  { label: 'Session', short: 'Session', key: 'seen', title: 'Sort by first appearance' },
  { label: 'Peer', short: 'Peer', key: 'peer', title: 'Sort by peer address' },
  {
    label: 'IOCount',
    short: 'IOC',
    key: 'iocount',
    num: true,
    title: 'Sort by IOCount at the cursor',
  },
  {
    label: 'State',
    short: 'State',
    key: 'state',
    title: 'Sort open sessions first (newest first)',
  },
  {
    label: 'Packets',
    short: 'Pkts',
    key: 'packets',
    num: true,
    title: 'Sort by completions at the cursor',
  },
];

function SortHeader({
  sort,
  onSort,
}: {
  sort: SessionSort;
  onSort: (key: SessionSortKey) => void;
}) {
  return (
    <div className="list-head sessions-grid" role="row">
      {COLUMNS.map((c) => {
        const active = sort.key === c.key;
        // Numbers sort highest first by default, the rest ascending.
        const ascending = (c.key !== 'iocount' && c.key !== 'packets') !== sort.desc;
        const arrow = active ? (ascending ? ' ▲' : ' ▼') : '';
        return (
          <button
            key={c.label}
            type="button"
            className={`sort-head${c.num ? ' num' : ''}${active ? ' active' : ''}`}
            title={c.title}
            aria-sort={active ? (ascending ? 'ascending' : 'descending') : undefined}
            onClick={() => onSort(c.key)}
            data-testid={`sessions-sort-${c.label.toLowerCase()}`}
          >
            <span className="long">{c.label}</span>
            <span className="short">{c.short}</span>
            {arrow}
          </button>
        );
      })}
    </div>
  );
}

/**
 * A trace of the hook DLL has no IOCount of the application's: its sessions'
 * count is derived (their outstanding overlapped operations). Both sessions
 * lists say so, the local one and the server's (a live view that pages).
 */
export function DerivedIoCountNote() {
  const derived = useAppStore(selectIoCountSource) === 'derived';
  if (!derived) return null;
  return (
    <div
      data-testid="iocount-derived"
      style={{ padding: '2px 8px', fontSize: 12, color: 'var(--text-muted)' }}
      title="Traced by the hook DLL: a session is a socket, and its IOCount is the number of its overlapped operations whose completion was not dequeued yet, not the server's own count"
    >
      IOCount: derived (outstanding I/O)
    </div>
  );
}

export function SessionsPanel() {
  const trace = useAppStore(selectTrace);
  const version = useAppStore(selectTraceVersion);
  const cursor = useAppStore(selectCursor);
  const selected = useAppStore(selectSelectedSession);
  const state = useCursorState();
  const { selectSession } = useActions();
  const [query, setQuery] = useState('');
  const [hideReleased, setHideReleased] = useState(false);
  const live = useAppStore(selectIsLive);
  const unknownPeer = useAppStore(selectUnknownPeer);
  const [chosenSort, setSort] = useState<SessionSort | null>(null);
  const sort = chosenSort ?? defaultSessionSort(live);
  // Orders that depend on the cursor are recomputed as it moves; the others are not.
  const atCursor = sort.key === 'iocount' || sort.key === 'packets';
  const sortCursor = sort.key === 'state' || atCursor ? cursor : -1;
  const sortState = atCursor ? state : null;

  const filtered = useMemo(
    () => (trace ? filterSessionRows(trace, query, hideReleased) : new Uint32Array(0)),
    [trace, version, query, hideReleased],
  );
  const rows = useMemo(
    () => (trace ? sortSessionRows(trace, filtered, sort, sortCursor, sortState) : filtered),
    // `sort` is a fresh object when it is the default: depend on its fields.
    [trace, filtered, sort.key, sort.desc, sortCursor, sortState],
  );
  const selectedRow = useMemo(() => {
    if (!trace || selected === null) return -1;
    const r = trace.sessions.find(Number(selected & 0xffffffffn), Number(selected >> 32n));
    return r < 0 ? -1 : rows.indexOf(r);
  }, [trace, selected, rows]);

  const total = trace?.sessions.count ?? 0;

  const onKeyDown = (e: React.KeyboardEvent<HTMLDivElement>) => {
    if (!trace || rows.length === 0) return;
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    e.stopPropagation();
    const at =
      selectedRow < 0
        ? e.key === 'ArrowDown'
          ? 0
          : rows.length - 1
        : selectedRow + (e.key === 'ArrowDown' ? 1 : -1);
    const k = Math.max(0, Math.min(rows.length - 1, at));
    selectSession(trace.sessions.id(rows[k]!));
  };

  return (
    <section className="panel" data-testid="sessions-panel">
      <header className="panel-head">
        <span className="panel-title">Sessions</span>
        <span className="count" data-testid="sessions-count">
          {rows.length === total
            ? formatCount(total)
            : `${formatCount(rows.length)} / ${formatCount(total)}`}
        </span>
        <div className="tools">
          <label
            className="check"
            style={{ padding: '0 4px', alignItems: 'center' }}
            title="Hide sessions released by the end of the trace"
          >
            <input
              type="checkbox"
              checked={hideReleased}
              onChange={(e) => setHideReleased(e.target.checked)}
              style={{ accentColor: 'var(--accent)', margin: 0 }}
            />
            <span style={{ fontSize: 12, color: 'var(--text-muted)' }}>open only</span>
          </label>
          <input
            className="input filter"
            placeholder="Filter id or peer"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            data-testid="sessions-filter"
            aria-label="Filter sessions"
          />
        </div>
      </header>
      <SortHeader sort={sort} onSort={(key) => setSort(nextSessionSort(sort, key))} />
      <DerivedIoCountNote />
      {total === 0 ? (
        <div className="empty-note">
          <p>No sessions in this trace yet.</p>
        </div>
      ) : (
        <VirtualList
          count={rows.length}
          rowPx={ROW_PX}
          revealIndex={selectedRow}
          data-testid="sessions-list"
          ariaLabel="Sessions"
          onKeyDown={onKeyDown}
          renderRow={(k) => {
            const v = sessionRowAt(trace!, rows[k]!, cursor, state);
            const [label, tone] = PHASE_LABEL[v.phase];
            const isSel = k === selectedRow;
            return (
              <div
                key={v.row}
                className={`list-row sessions-grid${isSel ? ' selected' : ''}`}
                role="option"
                aria-selected={isSel}
                data-testid="session-row"
                data-session={formatSessionId(v.id)}
                onClick={() => selectSession(isSel ? null : v.id)}
                style={v.phase === 'future' ? { opacity: 0.5 } : undefined}
              >
                <span
                  className="mono"
                  style={
                    v.partial ? { color: 'var(--text-muted)', fontStyle: 'italic' } : undefined
                  }
                  title={
                    v.partial
                      ? `${formatSessionId(v.id)}: created before this view began (joined live or after a gap), so its early history is unknown`
                      : formatSessionId(v.id)
                  }
                >
                  {formatSessionId(v.id)}
                </span>
                <span
                  className="mono"
                  style={{ color: 'var(--text-muted)' }}
                  title={
                    v.peer || (v.partial ? 'unknown: created before this view began' : unknownPeer)
                  }
                >
                  {v.peer || (v.partial ? '—' : unknownPeer)}
                </span>
                <span
                  className={`num${v.ioCount !== null && v.ioCount < 0 && !v.partial ? ' tone-bad' : ''}`}
                >
                  {v.ioCount === null ? '' : v.ioCount}
                </span>
                <span>
                  <span className={`pill ${tone}`}>{label}</span>
                </span>
                <span className="num">{formatCount(v.packets)}</span>
              </div>
            );
          }}
        />
      )}
    </section>
  );
}
