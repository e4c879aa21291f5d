// The completion port at the cursor: queued packets, running threads against
// the concurrency value (overcommit shown), and every thread's state, all from
// the replayed state after the cursor's event.

import { BlockReason, ThreadRole, ThreadStateValue, OP_NAMES, type Op } from '@iocpscope/protocol';
import type { ThreadState } from '@iocpscope/analysis';
import { useActions, useAppStore, useCursorState, useGlobalIndex } from '../state/hooks.tsx';
import { selectCursor, selectTrace } from '../state/selectors.ts';
import { BLOCK_REASON_NAMES } from './describe.ts';
import { formatCount, formatSessionId, formatWinError } from './format.ts';

const QUEUE_SHOWN = 12;

const STATE_CLASS: Record<number, string> = {
  [ThreadStateValue.Waiting]: 'waiting',
  [ThreadStateValue.Running]: 'running',
  [ThreadStateValue.Blocked]: 'blocked',
  [ThreadStateValue.Exited]: 'exited',
};

function threadStateText(t: ThreadState, afterGap: boolean): string {
  // After a gap the lost events may have changed it, and a view that joined a running
  // server may not have been told it: say which, rather than guess.
  if (!t.known) return afterGap ? 'unknown (after a gap)' : 'unknown (joined mid-run)';
  switch (t.state) {
    case ThreadStateValue.Waiting:
      return t.inGqcs ? 'waiting in GQCS' : 'waiting';
    case ThreadStateValue.Blocked:
      if (t.reason === BlockReason.Accept) return 'waiting in accept';
      return `blocked ${BLOCK_REASON_NAMES[t.reason] ?? ''}`.trim();
    case ThreadStateValue.Running: {
      const h = t.handling.at(-1);
      return h ? `running: ${OP_NAMES[h.op as Op]} ${formatSessionId(h.key)}` : 'running';
    }
    case ThreadStateValue.Exited:
      return 'exited';
    default:
      return `state ${t.state}`;
  }
}

const ROLE_ORDER: Record<number, number> = {
  [ThreadRole.Accept]: 0,
  [ThreadRole.Kernel]: 1,
  [ThreadRole.Worker]: 2,
  [ThreadRole.Other]: 3,
  [ThreadRole.Main]: 4,
};

export function PortStatePanel() {
  const trace = useAppStore(selectTrace);
  const cursor = useAppStore(selectCursor);
  const st = useCursorState();
  const { setCursor } = useActions();
  const num = useGlobalIndex();

  if (!trace || !st) {
    return (
      <section className="panel" data-testid="port-state">
        <header className="panel-head">
          <span className="panel-title">Port at cursor</span>
        </header>
        <div className="empty-note">
          <p>The port's state appears here once the cursor sits on an event.</p>
        </div>
      </section>
    );
  }
  const p = st.port;
  // Unknown because events were lost, or because the view joined a running server
  // whose snapshot could not say (a partial bracket: a hooked process's first view).
  const afterGap = st.gaps > 0;
  const queued = p.queue.size;
  const conc = p.concurrency || trace.concurrency;
  const over = conc > 0 && p.running > conc;
  const scale = Math.max(conc, p.running, 1);
  const waitingCount = p.waiting.length;
  const threads = [...st.threads.values()]
    .filter((t) => t.role !== ThreadRole.Kernel)
    .sort((a, b) => (ROLE_ORDER[a.role] ?? 3) - (ROLE_ORDER[b.role] ?? 3) || a.tid - b.tid);
  // LIFO: the thread that started waiting last gets the next packet.
  const nextWake = waitingCount > 0 ? p.waiting[waitingCount - 1] : -1;
  const cursorTid = cursor >= 0 ? trace.tidAt(cursor) : -1;
  const packets = [];
  for (let k = 0; k < Math.min(queued, QUEUE_SHOWN); k++) packets.push(p.queue.at(k)!);

  return (
    <section className="panel" data-testid="port-state">
      <header className="panel-head">
        <span className="panel-title">Port at cursor</span>
        <span className="count">after #{formatCount(num(cursor))}</span>
      </header>
      <div className="panel-body pad">
        <div className="stat-grid">
          <div
            className={`stat${p.queueKnown ? '' : ' unknown'}`}
            data-testid="port-queued"
            data-known={p.queueKnown ? 'true' : 'false'}
          >
            <div className="v">{p.queueKnown ? formatCount(queued) : '?'}</div>
            <div className="k">
              {p.queueKnown
                ? 'packets queued'
                : `queued: unknown ${afterGap ? 'after a gap' : '(joined mid-run)'}`}
            </div>
          </div>
          <div
            className={`stat${over ? ' over' : ''}${p.unknownThreads > 0 ? ' unknown' : ''}`}
            data-testid="port-running"
          >
            <div className="v">
              {p.unknownThreads > 0 ? '≥' : ''}
              {p.running}
              <span style={{ color: 'var(--text-faint)', fontSize: 13 }}> / {conc || '?'}</span>
            </div>
            <div className="k">
              {p.unknownThreads > 0
                ? `running; ${p.unknownThreads} thread${p.unknownThreads === 1 ? '' : 's'} unknown`
                : over
                  ? 'running — overcommit'
                  : 'running / concurrency'}
            </div>
          </div>
          <div className="stat">
            <div className="v">{waitingCount}</div>
            <div className="k">waiting in GQCS</div>
          </div>
        </div>
        <div className="meter" title={`${p.running} running, concurrency ${conc}`}>
          <div
            className={`fill${over ? ' over' : ''}`}
            style={{ width: `${(100 * p.running) / scale}%` }}
          />
          {conc > 0 ? (
            <div className="limit" style={{ left: `calc(${(100 * conc) / scale}% - 1px)` }} />
          ) : null}
        </div>

        <div className="subhead">Threads</div>
        <div data-testid="port-threads">
          {threads.map((t) => (
            <div
              key={t.tid}
              className={`thread-row${t.tid === cursorTid ? ' current' : ''}`}
              onClick={() => t.sinceIndex >= 0 && setCursor(t.sinceIndex)}
              title="Go to this thread's last state change"
            >
              <span
                className={`swatch ${
                  !t.known
                    ? 'unknown'
                    : t.state === ThreadStateValue.Blocked && t.reason === BlockReason.Accept
                      ? STATE_CLASS[ThreadStateValue.Waiting]
                      : (STATE_CLASS[t.state] ?? '')
                }`}
              />
              <span style={{ overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>
                <span style={{ color: 'var(--text-strong)' }}>
                  {trace.laneOfTid(t.tid)?.name ?? `thread ${t.tid}`}
                </span>{' '}
                <span style={{ color: 'var(--text-muted)' }}>{threadStateText(t, afterGap)}</span>
              </span>
              <span className="mono" style={{ color: 'var(--text-faint)', fontSize: 11 }}>
                {t.tid === nextWake && t.state === ThreadStateValue.Waiting
                  ? 'next to wake'
                  : t.locksHeld.length > 0
                    ? `holds ${t.locksHeld.length} lock${t.locksHeld.length === 1 ? '' : 's'}`
                    : ''}
              </span>
            </div>
          ))}
        </div>

        <div className="subhead">
          Queue {queued > QUEUE_SHOWN ? `(first ${QUEUE_SHOWN} of ${formatCount(queued)})` : ''}
        </div>
        {!p.queueKnown ? (
          <div style={{ color: 'var(--text-muted)' }} data-testid="port-queue-unknown">
            {afterGap
              ? 'Unknown: events were lost in a gap, so packets may be queued that the trace does not show'
              : 'Unknown: this view joined a running server whose snapshot could not say what was queued, so packets may be queued that the trace does not show'}
            {queued > 0 ? ` (${formatCount(queued)} seen since)` : ''}.
          </div>
        ) : null}
        {queued === 0 ? (
          p.queueKnown ? (
            <div style={{ color: 'var(--text-muted)' }}>
              Empty: every completion has been dequeued.
            </div>
          ) : null
        ) : (
          <div data-testid="port-queue">
            {packets.map((q) => (
              <div
                key={q.queuedIndex}
                className="packet-row"
                onClick={() => setCursor(q.queuedIndex)}
                style={{ cursor: 'pointer' }}
              >
                <span className={`op ${OP_NAMES[q.op as Op]}`}>
                  {q.posted ? 'pqcs' : OP_NAMES[q.op as Op]}
                </span>
                <span className="mono">{formatSessionId(q.key)}</span>
                <span
                  className="mono"
                  style={{ color: q.status ? 'var(--warn)' : 'var(--text-muted)' }}
                >
                  {q.status ? formatWinError(q.status) : `${formatCount(q.bytes)} B`}
                </span>
              </div>
            ))}
          </div>
        )}
      </div>
    </section>
  );
}
