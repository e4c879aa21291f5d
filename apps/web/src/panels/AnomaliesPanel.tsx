// Anomalies: the detectors' findings for the loaded trace, in trace order.
// Clicking one moves the cursor to where the rule was broken, selects its
// session and frames its evidence on the timeline; clicking it again zooms
// out to its context (issue 19 §1). The finding at or before the cursor is
// highlighted, and the previous/next buttons (also [ and ]) walk through them.

import { useEffect, useRef, type ReactNode } from 'react';
import { useActions, useAppStore, useLocalIndex } from '../state/hooks.tsx';
import {
  selectAnalysisProgress,
  selectConnection,
  selectFindings,
  selectGlobalCursor,
  selectRemote,
  selectRemoteVersion,
  selectFramed,
  selectHasTrace,
  selectIsLive,
  selectLoadFailure,
  selectTrace,
} from '../state/selectors.ts';
import type { Finding } from '../state/analysis.ts';
import { findingKey } from '../state/slices/findings.ts';
import { formatBytes, formatCallSite, formatCount, formatSessionId } from './format.ts';
import { Icon } from './icons.tsx';

/** Position of the last finding anchored at or before the cursor, or -1 (findings sorted by anchor). */
export function currentFinding(findings: readonly Finding[], cursor: number): number {
  let lo = 0;
  let hi = findings.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (findings[mid]!.anchor <= cursor) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Where the evidence was recorded in the traced server's code (foreign servers' call sites). */
function FindingSites({ events }: { events: readonly number[] }) {
  const trace = useAppStore(selectTrace);
  const local = useLocalIndex();
  if (!trace || trace.siteDefs.size === 0) return null;
  const sites: string[] = [];
  for (const i of events) {
    // Findings name events of the whole trace; a window knows the sites of those it holds.
    const l = local(i);
    if (l < 0) continue;
    const s = trace.callSiteOf(l);
    if (s === null) continue;
    const text = `#${formatCount(i)} ${formatCallSite(s)}`;
    if (!sites.includes(text)) sites.push(text);
  }
  if (sites.length === 0) return null;
  return (
    <div className="where sites" data-testid="finding-sites">
      {sites.slice(0, 4).join(' · ')}
      {sites.length > 4 ? ` · +${sites.length - 4} more` : ''}
    </div>
  );
}

/**
 * What the findings cover when the trace is not whole: a damaged file's valid
 * prefix, or a live stream that lost events. Null for a whole trace.
 */
function Coverage() {
  const failure = useAppStore(selectLoadFailure);
  const live = useAppStore(selectIsLive);
  const conn = useAppStore(selectConnection);
  const spoolView = useAppStore(selectRemote) !== null;
  if (failure && failure.recoveredEvents > 0 && !live) {
    return (
      <div className="partial-banner" data-testid="anomalies-partial">
        <b>Partial:</b> {formatCount(failure.chunksRead)} chunk
        {failure.chunksRead === 1 ? '' : 's'} read ({formatBytes(failure.validBytes)} of{' '}
        {formatBytes(failure.totalBytes)}), then {failure.code}. The findings cover only those{' '}
        {formatCount(failure.recoveredEvents)} events.
      </div>
    );
  }
  // Paused on the spool, the findings are the server's over every event it holds.
  if (live && conn.gaps > 0 && !spoolView) {
    return (
      <div className="partial-banner" data-testid="anomalies-partial">
        <b>Partial:</b> the stream has {formatCount(conn.gaps)} gap{conn.gaps === 1 ? '' : 's'}
        {conn.lostEvents > 0 ? ` (${formatCount(conn.lostEvents)} events lost)` : ''}. The findings
        cover only what arrived; sessions that span a gap are not judged.
      </div>
    );
  }
  return null;
}

export function AnomaliesPanel({ tabs }: { tabs?: ReactNode }) {
  const findings = useAppStore(selectFindings);
  const framed = useAppStore(selectFramed);
  const trace = useAppStore(selectTrace);
  // Findings are numbered in the whole trace (a remote trace's window is part of it).
  const cursor = useAppStore(selectGlobalCursor);
  const remote = useAppStore(selectRemote);
  useAppStore(selectRemoteVersion);
  const hasTrace = useAppStore(selectHasTrace);
  const progress = useAppStore(selectAnalysisProgress);
  const analysing = progress < 1;
  const failure = useAppStore(selectLoadFailure);
  const live = useAppStore(selectIsLive);
  const conn = useAppStore(selectConnection);
  const partial = live ? conn.gaps > 0 : failure !== null && failure.recoveredEvents > 0;
  const { goToFinding, step } = useActions();
  const cur = currentFinding(findings, cursor);
  const listRef = useRef<HTMLDivElement>(null);
  // Keep the current finding in view as the cursor moves through the trace.
  useEffect(() => {
    const el = listRef.current?.querySelector<HTMLElement>(`[data-index="${cur}"]`);
    el?.scrollIntoView?.({ block: 'nearest' });
  }, [cur]);
  const onCurrent = cur >= 0 && findings[cur]!.anchor === cursor;

  const open = (f: Finding) => goToFinding(f);

  return (
    <section className="panel" data-testid="anomalies">
      <header className="panel-head">
        {tabs ?? <span className="panel-title">Anomalies</span>}
        <span
          className={`count${findings.length > 0 ? ' tone-bad' : ''}`}
          data-testid="anomalies-count"
        >
          {formatCount(findings.length)}
        </span>
        <div className="tools">
          <button
            className="icon-btn"
            onClick={() => step('anomaly', -1)}
            disabled={findings.length === 0}
            title="Previous anomaly ( [ )"
            aria-label="Previous anomaly"
            data-testid="prev-anomaly"
          >
            <Icon name="prev" />
          </button>
          <button
            className="icon-btn"
            onClick={() => step('anomaly', 1)}
            disabled={findings.length === 0}
            title="Next anomaly ( ] )"
            aria-label="Next anomaly"
            data-testid="next-anomaly"
          >
            <Icon name="next" />
          </button>
        </div>
      </header>
      <div className="panel-body" data-testid="anomalies-list" ref={listRef}>
        {analysing ? (
          <div className="empty-note" data-testid="anomalies-progress">
            <p>
              {remote ? 'The server is checking the whole trace' : 'Checking the trace'} for the
              classic bugs… {Math.floor(progress * 100)}%
            </p>
            <div className="progress">
              <div className="bar" style={{ width: `${progress * 100}%` }} />
            </div>
          </div>
        ) : null}
        {hasTrace ? <Coverage /> : null}
        {remote && remote.findingsState !== 'running' && remote.findingsState !== 'done' ? (
          <div className="partial-banner" data-testid="anomalies-partial">
            <b>No findings:</b> the server{' '}
            {remote.findingsState === 'unavailable'
              ? 'does not run the detectors over traces it serves'
              : 'could not finish checking this trace'}
            . Run <code>iocpscope check</code> on the file.
          </div>
        ) : null}
        {!hasTrace ||
        (remote &&
          remote.findingsState !== 'running' &&
          remote.findingsState !== 'done') ? null : findings.length === 0 && !analysing ? (
          partial ? (
            <div className="empty-note" data-testid="anomalies-none">
              <p>No classic session-lifetime bugs found in the part that was read.</p>
            </div>
          ) : (
            <div className="ok-banner" data-testid="anomalies-none">
              <span>✓</span>
              <span>No classic session-lifetime bugs found in this trace.</span>
            </div>
          )
        ) : (
          findings.map((f, k) => (
            <div
              key={`${f.rule}:${f.anchor}:${k}`}
              className={`finding${k === cur ? ' current' : ''}`}
              onClick={() => open(f)}
              data-testid="finding"
              data-rule={f.rule}
              data-index={k}
              aria-current={k === cur && onCurrent ? 'true' : undefined}
              data-framed={framed?.key === findingKey(f) ? framed.mode : undefined}
              title={
                framed?.key === findingKey(f) && framed.mode === 'evidence'
                  ? 'Click again to see its context (Z)'
                  : 'Go to it: the cursor, its session, its evidence framed'
              }
            >
              <div className="rule">
                <span>⚠</span>
                <span>{f.label}</span>
              </div>
              <div className="msg">{f.message}</div>
              <FindingSites events={f.events} />
              <div className="where">
                #{formatCount(f.anchor)}
                {f.session !== null ? ` · session ${formatSessionId(f.session)}` : ''}
                {f.tid !== null ? ` · ${trace?.laneOfTid(f.tid)?.name ?? `thread ${f.tid}`}` : ''}
                {f.events.length > 1 ? ` · ${f.events.length} events` : ''}
              </div>
            </div>
          ))
        )}
      </div>
    </section>
  );
}
