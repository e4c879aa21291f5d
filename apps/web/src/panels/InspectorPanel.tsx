// The inspector: on a pooled SendBuffer's event, that buffer's life
// (BufferLifePanel.tsx); otherwise the session inspector, the selected session's lifecycle (created, posts,
// completions, every IOCount change tied to its cause, release) as a
// virtualized list, with its state at the cursor above. Entries after the
// cursor are dimmed; the entry at the cursor is highlighted; clicking an entry
// moves the cursor there. "Pin track" keeps its IOCount drawn under the
// timeline's lanes (issue 19 §3). A narrow inspector (a 1280-px window) gives
// each entry two lines, so its text is read, not cut (issue 19 §7).

import { useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useActions, useAppStore, useCursorState, useGlobalIndex } from '../state/hooks.tsx';
import {
  selectCursor,
  selectIsLive,
  selectPinnedSessions,
  selectSelectedSession,
  selectTrace,
  selectTraceVersion,
} from '../state/selectors.ts';
import { NONE } from '../trace/index.ts';
import { VirtualList } from './VirtualList.tsx';
import { BufferLifePanel, useBufferLife } from './BufferLifePanel.tsx';
import { sessionHistory } from '@iocpscope/analysis';
import { applyPairings, buildLedger, pairBadge, type LedgerEntry } from './ledger.ts';
import { traceContext } from './context.ts';
import { formatCount, formatSessionId, formatTimeNs } from './format.ts';

const ROW_PX = 22;
const ROW_PX_TWO_LINES = 38;
/**
 * Below this width an entry's text goes on a line of its own, the whole
 * width (its links and badge stay on the first line): on one line beside the
 * time and the count, a post's text would be cut at any inspector narrower.
 */
const TWO_LINES_BELOW_PX = 760;

/** The element's width, kept current (0 until measured). */
function useWidth(): [React.RefObject<HTMLElement | null>, number] {
  const ref = useRef<HTMLElement>(null);
  const [w, setW] = useState(0);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setW(el.clientWidth);
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => setW(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, w];
}

/** Position of the last entry at or before the cursor, or -1. */
function entryAtCursor(entries: readonly LedgerEntry[], cursor: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.index <= cursor) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

export function InspectorPanel() {
  const trace = useAppStore(selectTrace);
  const version = useAppStore(selectTraceVersion);
  const cursor = useAppStore(selectCursor);
  // On a pooled SendBuffer's event (chat server): the inspector shows that buffer's life.
  const life = useBufferLife(trace, cursor, version);
  if (trace && life) return <BufferLifePanel trace={trace} life={life} cursor={cursor} />;
  return <SessionInspector />;
}

function SessionInspector() {
  const trace = useAppStore(selectTrace);
  const version = useAppStore(selectTraceVersion);
  const session = useAppStore(selectSelectedSession);
  const cursor = useAppStore(selectCursor);
  const live = useAppStore(selectIsLive);
  const st = useCursorState();
  const pinned = useAppStore(selectPinnedSessions);
  const { setCursor, selectSession, togglePin } = useActions();
  const num = useGlobalIndex();
  const [ref, width] = useWidth();
  const twoLines = width > 0 && width < TWO_LINES_BELOW_PX;

  const entries = useMemo(() => {
    if (!trace || session === null) return [];
    const list = trace.sessionEvents(session);
    const out = buildLedger(trace.words, list, list.length, traceContext(trace));
    if (list.length > 0) {
      // The analysis ledger pairs every +1 with the -1 that balances it.
      const h = sessionHistory({ words: trace.words, length: trace.count }, session, {
        from: list[0]!,
      });
      applyPairings(out, h.ledger);
    }
    return out;
    // `version`: the live trace grew, so the session may have new events.
  }, [trace, session, version]);

  if (!trace || session === null) {
    return (
      <section className="panel" data-testid="inspector" ref={ref}>
        <header className="panel-head">
          <span className="panel-title">Session inspector</span>
        </header>
        <div className="empty-note">
          <p>
            Select a session in the list (or press <kbd>S</kbd> on an event that has one) to see its
            lifecycle:
          </p>
          <p style={{ color: 'var(--text-faint)' }}>
            created → posts → completions → every IOCount ±1 and its cause → release.
          </p>
        </div>
      </section>
    );
  }

  const t = trace.sessions;
  const row = t.find(Number(session & 0xffffffffn), Number(session >> 32n));
  const s = st?.sessions.get(session);
  const atCursor = entryAtCursor(entries, cursor);
  const created = row >= 0 ? t.createdIdx.data[row]! : NONE;
  const released = row >= 0 ? t.releasedIdx.data[row]! : NONE;
  const peerStr = row >= 0 ? t.peerStr.data[row]! : 0;
  const outstanding = s
    ? s.ops.filter(
        (o) =>
          o.dequeueIndex < 0 && o.postResult !== -1 && (o.postResult === 0 || o.postResult === 997),
      ).length
    : 0;
  const lifecycle = s
    ? s.lifecycle === 'released'
      ? 'released (not settled)'
      : s.lifecycle
    : released !== NONE && released <= cursor
      ? 'released'
      : created !== NONE && created > cursor
        ? 'not created yet'
        : 'live';

  const items: Array<[string, string, string?]> = [
    ['session', formatSessionId(session)],
    ['peer', (peerStr && trace.string(peerStr)) || '—'],
    [
      'IOCount now',
      s ? String(s.ioCount) : lifecycle === 'released' ? '0' : '—',
      s && s.ioCount < 0 ? 'tone-bad' : undefined,
    ],
    ['state', lifecycle, s?.lifecycle === 'released' ? 'tone-bad' : undefined],
    ['I/O pending', s ? String(outstanding) : '—'],
    [
      'completions',
      s ? formatCount(s.completions) : row >= 0 ? formatCount(t.completions.data[row]!) : '—',
    ],
    ['events', formatCount(entries.length)],
  ];

  const isPinned = pinned.includes(session);
  return (
    <section className="panel" data-testid="inspector" ref={ref}>
      <header className="panel-head">
        <span className="panel-title">{twoLines ? 'Inspector' : 'Session inspector'}</span>
        {/* It gives way to the buttons when narrow (the summary below has it in full). */}
        <span className="count mono shrink" title={formatSessionId(session)}>
          {formatSessionId(session)}
        </span>
        <div className="tools">
          <button
            className={`btn small${isPinned ? ' active' : ''}`}
            onClick={() => togglePin(session)}
            title={
              isPinned
                ? 'Unpin its IOCount track from the timeline (T)'
                : 'Keep its IOCount track on the timeline, under the lanes, after the selection moves on (T)'
            }
            aria-pressed={isPinned}
            data-testid="inspector-pin"
          >
            {isPinned ? 'Pinned' : 'Pin track'}
          </button>
          {created !== NONE ? (
            <button
              className="btn small"
              onClick={() => setCursor(created)}
              title="Go to its creation"
            >
              created
            </button>
          ) : null}
          {released !== NONE ? (
            <button
              className="btn small"
              onClick={() => setCursor(released)}
              title="Go to its release"
            >
              released
            </button>
          ) : null}
          <button
            className="icon-btn"
            onClick={() => selectSession(null)}
            title="Clear the selection"
            aria-label="Clear the selection"
          >
            ✕
          </button>
        </div>
      </header>
      <div className="inspector-summary" data-testid="inspector-summary">
        {items.map(([k, v, cls]) => (
          <div className="item" key={k}>
            <div className="k">{k}</div>
            <div
              className={`v ${cls ?? ''}`}
              data-testid={`inspector-${k.replace(/\s+/g, '-').toLowerCase()}`}
            >
              {v}
            </div>
          </div>
        ))}
      </div>
      <VirtualList
        count={entries.length}
        rowPx={twoLines ? ROW_PX_TWO_LINES : ROW_PX}
        revealIndex={atCursor}
        data-testid="inspector-ledger"
        ariaLabel="Session lifecycle"
        renderRow={(k) => {
          const e = entries[k]!;
          const cls = `ledger-row${twoLines ? ' two-line' : ''}${k === atCursor ? ' at-cursor' : ''}${e.index > cursor ? ' future' : ''}`;
          return (
            <div
              key={e.index}
              className={cls}
              onClick={() => setCursor(e.index)}
              data-testid="ledger-row"
              title={`#${num(e.index)}: ${e.text}`}
            >
              <span className="mono" style={{ color: 'var(--text-muted)' }}>
                {formatTimeNs(e.tsNs)}
              </span>
              <span
                className={`mono delta ${e.kind === 'count' ? (e.delta > 0 ? 'up' : 'down') : 'other'}`}
              >
                {e.kind === 'count' ? (e.delta > 0 ? `+${e.delta}` : e.delta) : kindGlyph(e.kind)}
              </span>
              <span
                className={`mono ${e.tone === 'bad' ? 'tone-bad' : ''}`}
                style={{ textAlign: 'right' }}
              >
                {e.kind === 'count' ? e.value : ''}
              </span>
              <span className="ledger-text">
                <span
                  className={`t ${e.tone === 'bad' ? 'tone-bad' : e.tone === 'warn' ? 'tone-warn' : ''}`}
                >
                  {e.text}
                </span>
                {e.site !== undefined ? (
                  <span className="site mono" title={`Recorded at ${e.site}`}>
                    {e.site}
                  </span>
                ) : null}
              </span>
              <span className="ledger-chips">
                {e.link >= 0 ? (
                  <button
                    className="link-chip"
                    onClick={(ev) => {
                      ev.stopPropagation();
                      setCursor(e.link);
                    }}
                    title={`Go to the ${e.kind === 'count' ? 'cause' : 'matching event'} #${num(e.link)}`}
                  >
                    →{num(e.link)}
                  </button>
                ) : null}
                {e.kind === 'count' ? <PairBadge e={e} live={live} onGo={setCursor} /> : null}
              </span>
            </div>
          );
        }}
      />
    </section>
  );
}

function kindGlyph(k: LedgerEntry['kind']): string {
  switch (k) {
    case 'lifecycle':
      return '●';
    case 'post':
      return '↗';
    case 'queue':
      return '⇢';
    case 'dequeue':
      return '↘';
    default:
      return '·';
  }
}

/** What is true of a ±1 over the whole trace (ledger.ts pairBadge); its row is dimmed when in the future. */
function PairBadge({
  e,
  live,
  onGo,
}: {
  e: LedgerEntry;
  live: boolean;
  onGo: (i: number) => void;
}) {
  const b = pairBadge(e, live);
  if (!b) return null;
  return (
    <span
      className={`pill ${b.tone}`}
      style={b.goTo >= 0 ? { cursor: 'pointer' } : { marginLeft: 6 }}
      title={b.title}
      data-testid="pair-badge"
      onClick={
        b.goTo >= 0
          ? (ev) => {
              ev.stopPropagation();
              onGo(b.goTo);
            }
          : undefined
      }
    >
      {b.text}
    </span>
  );
}
