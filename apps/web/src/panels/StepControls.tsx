// The step bar: move the cursor by event, thread, session or anomaly; play at a
// chosen speed; scrub through the whole trace; in live mode pause/follow.
// Every button has a keyboard shortcut (see app/shortcuts.ts and the '?' overlay).

import { useActions, useAppStore } from '../state/hooks.tsx';
import {
  selectCursor,
  selectEventCount,
  selectEventsSincePause,
  selectFindings,
  selectIsLive,
  selectPaused,
  selectPlaying,
  selectRangeMode,
  selectSelectedSession,
  selectSpeed,
  selectTrace,
  selectTotalEvents,
  selectGlobalCursor,
  selectFirstAvailable,
  selectRemote,
  selectSeeking,
  selectLiveTrim,
  selectSpool,
} from '../state/selectors.ts';
import { SPEEDS, sessionOfEvent } from '../state/store.ts';
import { formatCount, formatTimeNs } from './format.ts';
import { Icon } from './icons.tsx';
import { SearchBox } from './SearchBox.tsx';

export function StepControls() {
  const trace = useAppStore(selectTrace);
  const count = useAppStore(selectEventCount);
  const cursor = useAppStore(selectCursor);
  // Event numbers of the whole trace (a remote trace's window is part of it).
  const total = useAppStore(selectTotalEvents);
  const globalCursor = useAppStore(selectGlobalCursor);
  const firstAvailable = useAppStore(selectFirstAvailable);
  const remoteTrace = useAppStore(selectRemote);
  const remote = remoteTrace !== null;
  const trim = useAppStore(selectLiveTrim);
  const spool = useAppStore(selectSpool);
  const seeking = useAppStore(selectSeeking);
  const playing = useAppStore(selectPlaying);
  const speed = useAppStore(selectSpeed);
  const live = useAppStore(selectIsLive);
  const paused = useAppStore(selectPaused);
  const newEvents = useAppStore(selectEventsSincePause);
  const selected = useAppStore(selectSelectedSession);
  const findings = useAppStore(selectFindings);
  const rangeMode = useAppStore(selectRangeMode);
  const a = useActions();
  const has = count > 0;
  const hasSession =
    selected !== null || (trace !== null && sessionOfEvent(trace, cursor) !== null);

  return (
    <div className="stepbar" data-testid="step-controls">
      {live ? (
        <div className="step-group">
          {paused ? (
            <button
              className="btn small active"
              onClick={() => a.setPaused(false)}
              title="Follow the newest events again (L)"
              data-testid="follow-live"
            >
              <Icon name="play" size={10} /> Follow live
              {newEvents > 0 ? ` (+${formatCount(newEvents)})` : ''}
            </button>
          ) : (
            <button
              className="btn small"
              onClick={() => a.setPaused(true)}
              title="Freeze the view to step through it (Space)"
              data-testid="pause-live"
            >
              <Icon name="pause" size={10} /> Pause
            </button>
          )}
          {paused && !remote && spool !== 'none' && spool !== 'opening' ? (
            <button
              className="btn small"
              onClick={() => a.browseSpool()}
              title="Open the server's live spool under this view: step and scroll back to the oldest event it holds"
              data-testid="browse-spool"
            >
              <Icon name="first" size={10} /> Browse spool
            </button>
          ) : null}
          <SpoolStatus
            paused={paused}
            spool={spool}
            trim={trim}
            held={
              remoteTrace
                ? {
                    first: remoteTrace.firstAvailable,
                    last: remoteTrace.events - 1,
                    dropped: remoteTrace.meta.dropped ?? null,
                  }
                : null
            }
          />
        </div>
      ) : null}
      <div className="step-group">
        <span className="label">Event</span>
        <button
          className="icon-btn"
          onClick={a.jumpToStart}
          disabled={!has}
          title="First event (Home)"
          aria-label="First event"
          data-testid="first-event"
        >
          <Icon name="first" />
        </button>
        <button
          className="icon-btn"
          onClick={() => a.step('event', -1)}
          disabled={!has}
          title="Previous event (←)"
          aria-label="Previous event"
          data-testid="prev-event"
        >
          <Icon name="prev" />
        </button>
        <button
          className="icon-btn"
          onClick={() => a.step('event', 1)}
          disabled={!has}
          title="Next event (→)"
          aria-label="Next event"
          data-testid="next-event"
        >
          <Icon name="next" />
        </button>
        <button
          className="icon-btn"
          onClick={a.jumpToEnd}
          disabled={!has}
          title="Last event (End)"
          aria-label="Last event"
          data-testid="last-event"
        >
          <Icon name="last" />
        </button>
      </div>
      <div className="step-group">
        <span className="label">Thread</span>
        <button
          className="icon-btn"
          onClick={() => a.step('thread', -1)}
          disabled={!has || cursor < 0}
          title="Previous on this thread (Shift+←)"
          aria-label="Previous on this thread"
          data-testid="prev-thread"
        >
          <Icon name="prev" />
        </button>
        <button
          className="icon-btn"
          onClick={() => a.step('thread', 1)}
          disabled={!has || cursor < 0}
          title="Next on this thread (Shift+→)"
          aria-label="Next on this thread"
          data-testid="next-thread"
        >
          <Icon name="next" />
        </button>
      </div>
      <div className="step-group">
        <span className="label">Session</span>
        <button
          className="icon-btn"
          onClick={() => a.step('session', -1)}
          disabled={!hasSession}
          title="Previous for this session (Alt+← or ,)"
          aria-label="Previous for this session"
          data-testid="prev-session"
        >
          <Icon name="prev" />
        </button>
        <button
          className="icon-btn"
          onClick={() => a.step('session', 1)}
          disabled={!hasSession}
          title="Next for this session (Alt+→ or .)"
          aria-label="Next for this session"
          data-testid="next-session"
        >
          <Icon name="next" />
        </button>
      </div>
      <div className="step-group">
        <span className="label">Anomaly</span>
        <button
          className="icon-btn"
          onClick={() => a.step('anomaly', -1)}
          disabled={findings.length === 0}
          title="Previous anomaly ([)"
          aria-label="Previous anomaly"
          data-testid="step-prev-anomaly"
        >
          <Icon name="prev" />
        </button>
        <button
          className="icon-btn"
          onClick={() => a.step('anomaly', 1)}
          disabled={findings.length === 0}
          title="Next anomaly (])"
          aria-label="Next anomaly"
          data-testid="step-next-anomaly"
        >
          <Icon name="next" />
        </button>
      </div>
      <div className="step-group">
        <button
          className={`icon-btn${playing ? ' active' : ''}`}
          onClick={a.togglePlay}
          disabled={!has}
          title={playing ? 'Pause playback (P)' : 'Play from the cursor (P)'}
          aria-label={playing ? 'Pause playback' : 'Play'}
          data-testid="play"
        >
          <Icon name={playing ? 'pause' : 'play'} />
        </button>
        <select
          className="input"
          value={speed}
          onChange={(e) => a.setSpeed(Number(e.target.value))}
          title="Playback speed, events per second (+/-)"
          aria-label="Playback speed"
          data-testid="speed"
          style={{ height: 24 }}
        >
          {SPEEDS.map((s) => (
            <option key={s} value={s}>
              {s} ev/s
            </option>
          ))}
        </select>
      </div>
      <div className="step-group">
        <button
          className={`btn small${rangeMode ? ' active' : ''}`}
          onClick={() => a.setRangeMode(!rangeMode)}
          disabled={!has}
          title="Select a time range: Shift+drag on the timeline, or turn this on and drag (R)"
          aria-pressed={rangeMode}
          data-testid="range-mode"
        >
          Range
        </button>
      </div>
      <SearchBox />
      <div className="scrub">
        <input
          type="range"
          min={firstAvailable}
          max={Math.max(firstAvailable, total - 1)}
          value={Math.max(firstAvailable, globalCursor)}
          disabled={!has}
          onChange={(e) =>
            remote ? void a.seekEvent(Number(e.target.value)) : a.setCursor(Number(e.target.value))
          }
          aria-label="Scrub through the trace"
          data-testid="scrub"
        />
        <span
          className="cursor-readout"
          data-testid="cursor-readout"
          data-seeking={seeking !== null ? 'true' : undefined}
        >
          {seeking !== null ? (
            <>
              loading <b>#{formatCount(seeking)}</b>…
            </>
          ) : cursor >= 0 && trace ? (
            <>
              <b>#{formatCount(globalCursor)}</b>
              <span className="wide-only"> / {formatCount(total)}</span> ·{' '}
              <b>{formatTimeNs(trace.timeAt(cursor))}</b>
            </>
          ) : (
            `${formatCount(total)} events`
          )}
        </span>
      </div>
    </div>
  );
}

/**
 * Where a live view's events come from: the server's spool while paused (what
 * it still holds, what it deleted and why), or, following, whether older
 * events were set aside to stay within the memory budget.
 */
function SpoolStatus(p: {
  paused: boolean;
  spool: 'unknown' | 'opening' | 'none' | 'error';
  trim: { times: number; events: number; findings: number } | null;
  held: {
    first: number;
    last: number;
    dropped: { events: number; reason: string; limitBytes: number } | null;
  } | null;
}) {
  if (p.paused && p.held) {
    const d = p.held.dropped;
    return (
      <span
        className="pill info"
        data-testid="spool-status"
        data-state="open"
        data-first={p.held.first}
        title={
          `Browsing the server's live spool: events #${formatCount(p.held.first)} to ` +
          `#${formatCount(p.held.last)}` +
          (d && d.events > 0
            ? `. ${formatCount(d.events)} older events were deleted to keep the spool within ` +
              `${formatMiB(d.limitBytes)} (serve --spool-bytes).`
            : '.')
        }
      >
        Spool · #{formatCount(p.held.first)}–#{formatCount(p.held.last)}
        {d && d.events > 0 ? ` · ${formatCount(d.events)} older gone` : ''}
      </span>
    );
  }
  if (p.paused && p.spool !== 'unknown') {
    const text =
      p.spool === 'opening'
        ? 'Opening the spool…'
        : p.spool === 'none'
          ? 'No spool: this view only'
          : 'Spool unavailable';
    return (
      <span
        className={`pill ${p.spool === 'error' ? 'bad' : 'muted'}`}
        data-testid="spool-status"
        data-state={p.spool}
        title={
          p.spool === 'none'
            ? 'The server keeps no live spool (serve --spool-bytes 0): the paused view shows what this browser holds.'
            : undefined
        }
      >
        {text}
      </span>
    );
  }
  if (!p.paused && p.trim) {
    return (
      <span
        className="pill muted"
        data-testid="spool-status"
        data-state="trimmed"
        title={
          `To stay within the memory budget the live view keeps the newest events: ` +
          `${formatCount(p.trim.events)} earlier events (${formatCount(p.trim.findings)} findings) ` +
          `were set aside. Pause to scroll back through the server's spool.`
        }
      >
        Newest only
      </span>
    );
  }
  return null;
}

function formatMiB(bytes: number): string {
  return bytes >= 1 << 30
    ? `${(bytes / (1 << 30)).toFixed(1)} GiB`
    : `${Math.round(bytes / (1 << 20))} MiB`;
}
