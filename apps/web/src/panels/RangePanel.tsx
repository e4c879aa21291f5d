// The range panel (issue 19 §2): the numbers of the time range selected on
// the timeline (Shift+drag): what was posted, queued and dequeued per op and
// result, bytes, post→dequeue and GQCS-wait percentiles, each thread's time
// running / waiting / blocked, the deepest queue, and the sessions touched
// (each opens in the inspector). Computed by trace/rangeStats.ts in one pass.
//
// `data-events` and `data-compute-ms` on the panel say what was counted and
// how long it took (the e2e specs and bench/web.ts read them).

import { useMemo, type ReactNode } from 'react';
import { OP_NAMES, type Op } from '@iocpscope/protocol';
import { useActions, useAppStore } from '../state/hooks.tsx';
import { selectRange, selectTrace, selectTraceVersion } from '../state/selectors.ts';
import {
  computeRangeStats,
  type OpRow,
  type Percentiles,
  type RangeStats,
} from '../trace/index.ts';
import {
  formatBytes,
  formatCount,
  formatDurationNs,
  formatSessionId,
  formatTimeNs,
  formatWinError,
} from './format.ts';

const SESSIONS_SHOWN = 60;

const WHAT_LABEL: Record<OpRow['what'], string> = {
  posted: 'posted',
  queued: 'queued',
  dequeued: 'dequeued',
  empty: 'GQCS, nothing dequeued',
};

function resultText(r: OpRow['result']): string {
  if (r === 'ok') return 'ok';
  if (r === 'pending') return 'pending';
  if (r === 'done') return 'done at once';
  return `failed ${formatWinError(r)}`;
}

function Pct({ p, testid }: { p: Percentiles | null; testid: string }) {
  if (!p) return <div className="range-none">none in this range</div>;
  return (
    <div className="pct mono" data-testid={testid}>
      <span>
        <i>n</i> {formatCount(p.count)}
      </span>
      <span>
        <i>p50</i> {formatDurationNs(p.p50Ns)}
      </span>
      <span>
        <i>p90</i> {formatDurationNs(p.p90Ns)}
      </span>
      <span>
        <i>p99</i> {formatDurationNs(p.p99Ns)}
      </span>
      <span>
        <i>max</i> {formatDurationNs(p.maxNs)}
      </span>
    </div>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <>
      <div className="subhead">{title}</div>
      {children}
    </>
  );
}

export function RangePanel({ tabs }: { tabs: ReactNode }) {
  const trace = useAppStore(selectTrace);
  const range = useAppStore(selectRange);
  const version = useAppStore(selectTraceVersion);
  const { setRange, selectSession, setCursor } = useActions();
  // A live trace grows: recount only while the range reaches its newest events.
  const growing = trace !== null && range !== null && range.endNs >= trace.endNs ? version : 0;
  const computed = useMemo((): { stats: RangeStats; ms: number } | null => {
    if (!trace || !range) return null;
    const t0 = performance.now();
    const stats = computeRangeStats(trace, range);
    return { stats, ms: performance.now() - t0 };
  }, [trace, range, growing]);

  if (!trace || !range || !computed) {
    return (
      <section className="panel" data-testid="range-panel">
        <header className="panel-head">{tabs}</header>
        <div className="empty-note">
          <p>
            <kbd>Shift</kbd>+drag across the timeline to select a time range (start on a lane to
            take only the lanes you cover), or press <kbd>R</kbd> and drag.
          </p>
          <p style={{ color: 'var(--text-faint)' }}>
            Its numbers show here: operations and results, bytes, post→dequeue and GQCS-wait
            percentiles, thread times, the deepest queue, and the sessions touched.
          </p>
        </div>
      </section>
    );
  }
  const s = computed.stats;
  const dur = s.endNs - s.startNs;
  const byWhat = new Map<OpRow['what'], OpRow[]>();
  for (const r of s.ops) byWhat.set(r.what, [...(byWhat.get(r.what) ?? []), r]);
  const threadsOf =
    range.tids === null
      ? 'all threads'
      : `${range.tids.length} thread${range.tids.length === 1 ? '' : 's'}`;

  return (
    <section
      className="panel"
      data-testid="range-panel"
      data-events={s.events}
      data-compute-ms={computed.ms.toFixed(1)}
    >
      <header className="panel-head">
        {tabs}
        <div className="tools">
          <button
            className="icon-btn"
            onClick={() => setRange(null)}
            title="Clear the range (Esc)"
            aria-label="Clear the range"
            data-testid="range-clear"
          >
            ✕
          </button>
        </div>
      </header>
      <div className="panel-body pad range-body">
        <div className="range-summary" data-testid="range-summary">
          <b>{formatDurationNs(dur)}</b> · {formatCount(s.events)} events · {threadsOf}
          <div className="range-when mono">
            {formatTimeNs(s.startNs)} → {formatTimeNs(s.endNs)}
            {s.events > 0 ? (
              <>
                {' '}
                ·{' '}
                <button className="link-chip" onClick={() => setCursor(s.firstEvent)}>
                  #{formatCount(s.firstEvent)}
                </button>{' '}
                →{' '}
                <button className="link-chip" onClick={() => setCursor(s.endEvent - 1)}>
                  #{formatCount(s.endEvent - 1)}
                </button>
              </>
            ) : null}
          </div>
        </div>

        <Section title="Operations">
          {s.ops.length === 0 ? (
            <div className="range-none">no I/O in this range</div>
          ) : (
            <table className="range-table" data-testid="range-ops">
              <tbody>
                {[...byWhat].map(([what, rows]) =>
                  rows.map((r, k) => (
                    <tr
                      key={`${what}:${r.op}:${r.result}`}
                      data-what={what}
                      data-op={OP_NAMES[r.op as Op]}
                      data-result={String(r.result)}
                      className={typeof r.result === 'number' ? 'tone-warn' : ''}
                    >
                      <td className="what">{k === 0 ? WHAT_LABEL[what] : ''}</td>
                      <td className="mono">{r.what === 'empty' ? '' : OP_NAMES[r.op as Op]}</td>
                      <td title={resultText(r.result)}>{resultText(r.result)}</td>
                      <td className="num mono">{formatCount(r.count)}</td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          )}
        </Section>

        <Section title="Bytes completed">
          {s.bytesByOp.size === 0 ? (
            <div className="range-none">none</div>
          ) : (
            <div className="pct mono" data-testid="range-bytes">
              {[...s.bytesByOp].map(([op, b]) => (
                <span key={op} title={`${formatCount(b)} bytes`}>
                  <i>{OP_NAMES[op as Op]}</i> {formatBytes(b)}
                </span>
              ))}
            </div>
          )}
        </Section>

        <Section title="Post → dequeue latency">
          <Pct p={s.latency} testid="range-latency" />
        </Section>
        <Section title="GQCS wait">
          <Pct p={s.gqcsWait} testid="range-wait" />
        </Section>

        <Section title="Threads">
          <table className="range-table threads" data-testid="range-threads">
            <thead>
              <tr>
                <th />
                <th className="num">running</th>
                <th className="num">waiting</th>
                <th className="num">blocked</th>
              </tr>
            </thead>
            <tbody>
              {s.threads.map((t) => (
                <tr key={t.tid} data-thread={t.name}>
                  <td>{t.name}</td>
                  <td className="num mono">{formatDurationNs(t.runningNs)}</td>
                  <td className="num mono">{formatDurationNs(t.waitingNs)}</td>
                  <td className="num mono">{formatDurationNs(t.blockedNs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>

        <Section title="Port queue">
          <div data-testid="range-queue">
            at most <b className="mono">{formatCount(s.queueMax)}</b> packet
            {s.queueMax === 1 ? '' : 's'} queued ({formatCount(s.queueAtStart)} at the start; the
            whole port, whatever the lanes)
          </div>
        </Section>

        <Section title={`Sessions touched: ${formatCount(s.sessionCount)}`}>
          <div className="range-sessions" data-testid="range-sessions">
            {s.sessions.slice(0, SESSIONS_SHOWN).map((x) => (
              <button
                key={String(x.id)}
                className="link-chip"
                onClick={() => selectSession(x.id)}
                title={`Open ${formatSessionId(x.id)} in the inspector (${formatCount(x.events)} events in the range)`}
                data-testid="range-session"
                data-session={formatSessionId(x.id)}
              >
                {formatSessionId(x.id)} <span className="faint">{formatCount(x.events)}</span>
              </button>
            ))}
            {s.sessionCount > SESSIONS_SHOWN ? (
              <span className="faint">
                {' '}
                and {formatCount(s.sessionCount - SESSIONS_SHOWN)} more
              </span>
            ) : null}
          </div>
        </Section>
      </div>
    </section>
  );
}
