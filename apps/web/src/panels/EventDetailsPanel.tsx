// Event details: the event under the mouse, else the one at the cursor,
// decoded into a sentence and its fields, with links to its session and flow.

import { useActions, useAppStore, useGlobalIndex } from '../state/hooks.tsx';
import {
  selectCursor,
  selectFocusEvent,
  selectTrace,
  selectTraceVersion,
} from '../state/selectors.ts';
import { sessionOfEvent } from '../state/store.ts';
import { describeEvent } from './describe.ts';
import { traceContext } from './context.ts';
import { formatCount, formatSessionId } from './format.ts';

export function EventDetailsPanel() {
  const trace = useAppStore(selectTrace);
  useAppStore(selectTraceVersion);
  const focus = useAppStore(selectFocusEvent);
  const cursor = useAppStore(selectCursor);
  const { setCursor, selectSession } = useActions();
  // Event numbers of the whole trace (a remote trace's window is part of it).
  const num = useGlobalIndex();

  const valid = trace !== null && focus >= 0 && focus < trace.count;
  const d = valid
    ? describeEvent(trace.words, focus, { ...traceContext(trace), eventNumber: num })
    : null;
  const session = valid ? sessionOfEvent(trace, focus) : null;
  const flow = valid ? trace.flowOfEvent(focus) : -1;
  const flowEnds: Array<[string, number]> = [];
  if (trace && flow >= 0) {
    const posted = trace.postedOf(flow);
    const queued = trace.queuedOf(flow);
    const ret = trace.returns.idx.get(flow);
    if (posted !== 0xffffffff) flowEnds.push(['posted', posted]);
    if (queued !== 0xffffffff) flowEnds.push(['queued', queued]);
    flowEnds.push(['dequeued', ret]);
  }

  return (
    <section className="panel" data-testid="event-details">
      <header className="panel-head">
        <span className="panel-title">Event</span>
        {valid ? (
          <span className="count" data-testid="event-number">
            {focus !== cursor ? 'hover · ' : ''}#{formatCount(num(focus))}
          </span>
        ) : null}
      </header>
      <div className="panel-body pad">
        {!d ? (
          <div className="empty-note" style={{ padding: 0 }}>
            <p>No event at the cursor.</p>
            <p>
              Click the timeline or press <kbd>→</kbd> to step.
            </p>
          </div>
        ) : (
          <>
            <h3 className="event-title" data-testid="event-title">
              <span className={d.tone === 'neutral' ? '' : `tone-${d.tone}`}>{d.title}</span>
              <span className="kind">{d.kind}</span>
            </h3>
            <p className="sentence" data-testid="event-sentence">
              {d.sentence}
            </p>
            <dl className="kv">
              {d.fields.map(([k, v]) => (
                <div key={k} style={{ display: 'contents' }}>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
            </dl>
            {session !== null || flowEnds.length > 0 ? (
              <div style={{ display: 'flex', flexWrap: 'wrap', gap: 6, marginTop: 12 }}>
                {session !== null ? (
                  <button
                    className="btn small"
                    onClick={() => selectSession(session)}
                    data-testid="event-select-session"
                  >
                    Inspect session {formatSessionId(session)}
                  </button>
                ) : null}
                {flowEnds
                  .filter(([, i]) => i !== focus)
                  .map(([label, i]) => (
                    <button
                      key={label}
                      className="btn small"
                      onClick={() => setCursor(i)}
                      title={`Go to event #${num(i)}`}
                    >
                      → {label} #{num(i)}
                    </button>
                  ))}
              </div>
            ) : null}
          </>
        )}
      </div>
    </section>
  );
}
