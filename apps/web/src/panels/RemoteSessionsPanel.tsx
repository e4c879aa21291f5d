// The sessions list of a trace the server holds (issue 15): every session of
// the whole trace from the server's session index, in order of first
// appearance, fetched a page at a time as the list scrolls (virtualized like
// the local list). A row's phase is read against the cursor's place in the
// whole trace; its IOCount only where the window holds the cursor's state.
// Selecting a session whose events are all outside the window goes to its
// first event (its window is loaded), so the inspector and the timeline show it.

import { useEffect, useMemo, useRef, useState } from 'react';
import { useActions, useAppStore, useCursorState } from '../state/hooks.tsx';
import {
  selectGlobalCursor,
  selectRemote,
  selectSelectedSession,
  selectTrace,
  selectUnknownPeer,
} from '../state/selectors.ts';
import type { RemoteSession } from '../connection/traceApi.ts';
import { DerivedIoCountNote } from './SessionsPanel.tsx';
import { VirtualList } from './VirtualList.tsx';
import { formatCount, formatSessionId } from './format.ts';

const ROW_PX = 24;
const PAGE = 500;

function parseId(text: string): bigint | null {
  const t = text.trim();
  if (!/^(0x[0-9a-f]{1,16}|\d{1,20})$/i.test(t)) return null;
  try {
    const v = BigInt(t);
    return v <= 0xffffffffffffffffn ? v : null;
  } catch {
    return null;
  }
}

export function RemoteSessionsPanel() {
  const remote = useAppStore(selectRemote);
  const trace = useAppStore(selectTrace);
  const cursor = useAppStore(selectGlobalCursor);
  const selected = useAppStore(selectSelectedSession);
  const state = useCursorState();
  const unknownPeer = useAppStore(selectUnknownPeer);
  const { selectSession, seekEvent } = useActions();
  const [pages, setPages] = useState<Map<number, RemoteSession[]>>(new Map());
  const [total, setTotal] = useState(remote?.meta.sessions ?? 0);
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<RemoteSession | null | 'none'>(null);
  const asked = useRef(new Set<number>());

  useEffect(() => {
    setPages(new Map());
    asked.current = new Set();
    setTotal(remote?.meta.sessions ?? 0);
  }, [remote]);

  const want = (page: number): void => {
    if (!remote || asked.current.has(page)) return;
    asked.current.add(page);
    remote.api.sessions(page * PAGE, PAGE).then(
      (r) => {
        setTotal(r.total);
        setPages((m) => new Map(m).set(page, r.sessions));
      },
      () => asked.current.delete(page),
    );
  };

  const id = parseId(query);
  useEffect(() => {
    setFound(null);
    if (!remote || id === null) return;
    let gone = false;
    remote.api.session(id).then(
      (r) => !gone && setFound(r.session),
      () => !gone && setFound('none'),
    );
    return () => {
      gone = true;
    };
    // `id` is a bigint: compare by value.
  }, [remote, id === null ? '' : id.toString()]);

  const rowAt = (k: number): RemoteSession | undefined => {
    if (id !== null) return found && found !== 'none' ? found : undefined;
    const p = pages.get(Math.floor(k / PAGE));
    if (!p) want(Math.floor(k / PAGE));
    return p?.[k % PAGE];
  };
  const count = id !== null ? (found && found !== 'none' ? 1 : 0) : total;
  const selectedRow = useMemo(() => {
    if (selected === null) return -1;
    for (const [p, list] of pages) {
      const k = list.findIndex((s) => BigInt(s.id) === selected);
      if (k >= 0) return p * PAGE + k;
    }
    return -1;
  }, [pages, selected]);

  const choose = (s: RemoteSession): void => {
    const sid = BigInt(s.id);
    if (selected === sid) {
      selectSession(null);
      return;
    }
    selectSession(sid);
    const inWindow =
      trace !== null && trace.sessions.find(Number(sid & 0xffffffffn), Number(sid >> 32n)) >= 0;
    if (!inWindow) void seekEvent(s.firstEvent);
  };

  return (
    <section className="panel" data-testid="sessions-panel" data-remote="true">
      <header className="panel-head">
        <span className="panel-title">Sessions</span>
        <span className="count" data-testid="sessions-count">
          {formatCount(total)}
        </span>
        <div className="tools">
          <input
            className="input filter"
            placeholder="Go to session id (0x…)"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            data-testid="sessions-filter"
            aria-label="Find a session by id"
            title="The server lists this trace's sessions in order of appearance; type an id to find one"
          />
        </div>
      </header>
      <DerivedIoCountNote />
      <div className="list-head remote-sessions-grid" role="row">
        <span>Session</span>
        <span>Peer</span>
        <span className="num">IOCount</span>
        <span>State</span>
        <span className="num">Events</span>
      </div>
      {count === 0 ? (
        <div className="empty-note">
          <p>{id !== null && found === 'none' ? 'No session with that id.' : 'No sessions.'}</p>
        </div>
      ) : (
        <VirtualList
          count={count}
          rowPx={ROW_PX}
          revealIndex={id !== null ? -1 : selectedRow}
          data-testid="sessions-list"
          ariaLabel="Sessions"
          renderRow={(k) => {
            const s = rowAt(k);
            if (!s) {
              return (
                <div key={`p${k}`} className="list-row remote-sessions-grid">
                  <span className="mono" style={{ color: 'var(--text-faint)' }}>
                    …
                  </span>
                </div>
              );
            }
            const sid = BigInt(s.id);
            const isSel = sid === selected;
            const phase =
              cursor < s.firstEvent
                ? 'not yet'
                : s.releasedEvent >= 0 && s.releasedEvent <= cursor
                  ? 'released'
                  : 'live';
            const io = state?.sessions.get(sid)?.ioCount;
            return (
              <div
                key={s.id}
                className={`list-row remote-sessions-grid${isSel ? ' selected' : ''}`}
                role="option"
                aria-selected={isSel}
                data-testid="session-row"
                data-session={formatSessionId(sid)}
                data-first={s.firstEvent}
                data-last={s.lastEvent}
                data-events={s.events}
                onClick={() => choose(s)}
                title={`Events #${formatCount(s.firstEvent)}–#${formatCount(s.lastEvent)} of the whole trace`}
                style={phase === 'not yet' ? { opacity: 0.5 } : undefined}
              >
                <span className="mono">{formatSessionId(sid)}</span>
                <span
                  className="mono"
                  style={{ color: 'var(--text-muted)' }}
                  title={s.peer || unknownPeer}
                >
                  {s.peer || unknownPeer}
                </span>
                <span className={`num${io !== undefined && io < 0 ? ' tone-bad' : ''}`}>
                  {io === undefined ? '' : io}
                </span>
                <span>
                  <span className={`pill ${phase === 'live' ? 'ok' : 'muted'}`}>{phase}</span>
                </span>
                <span className="num">{formatCount(s.events)}</span>
              </div>
            );
          }}
        />
      )}
    </section>
  );
}
