// What a newcomer sees when there is no live stream to watch: the live
// server's state (not reachable yet, retrying; or given up), open or drop a
// file, or pick a recording (the server's examples first). Load progress and
// the last load failure (with the protocol error code and what was recovered)
// are shown here too, so a bad file never leaves a blank page.

import { useEffect } from 'react';
import { useActions, useAppStore } from '../state/hooks.tsx';
import {
  selectConnection,
  selectLoadFailure,
  selectLoading,
  selectServer,
  selectSource,
} from '../state/selectors.ts';
import { displayName, formatWhen, splitRecordings } from './recordings.ts';
import { formatBytes, formatCount } from '../panels/format.ts';
import type { RecordingInfo } from '@iocpscope/protocol';
import { LIVE_GIVE_UP_ATTEMPTS, liveUrlLabel } from '../connection/liveStartup.ts';
import { useOpenActions, type LiveStartup } from './liveStartup.ts';
import { useTick } from './useTick.ts';

export const ERROR_HELP: Record<string, string> = {
  BAD_MAGIC: 'This is not an .iocptrace file (its first bytes are wrong).',
  UNSUPPORTED_VERSION: 'The file was written by a newer iocpscope; update this dashboard.',
  CHECKSUM_MISMATCH: 'A chunk of the file is damaged (its CRC32 does not match).',
  TRUNCATED: 'The file ends in the middle of a chunk, as after a crash or an interrupted copy.',
  OVERSIZED: 'The file declares a chunk larger than the reader accepts.',
  BAD_RECORD: 'A record has an unknown event kind or an impossible timestamp.',
  BAD_FRAME: 'A chunk has an inconsistent structure.',
  BAD_STRING: 'The string table holds invalid UTF-8 or conflicting entries.',
  BAD_HEADER: "The file header's metadata is missing fields or malformed.",
  HTTP: 'The server could not send the recording.',
  NETWORK: 'The server could not be reached.',
  READ: 'The browser could not read the file.',
  TOO_LARGE: 'The file is larger than this dashboard loads.',
  EMPTY: 'The recording is valid but holds no events.',
};

function RecordingRows({
  list,
  onOpen,
}: {
  list: RecordingInfo[];
  onOpen: (r: RecordingInfo) => void;
}) {
  return (
    <>
      {list.map((r) => (
        <div
          key={r.id}
          className="rec-row"
          onClick={() => onOpen(r)}
          data-testid="start-recording"
          data-id={r.id}
          role="button"
          tabIndex={0}
          onKeyDown={(e) => e.key === 'Enter' && onOpen(r)}
        >
          <span className="name">
            {displayName(r)}
            {r.story !== undefined ? (
              <span className="story" data-testid="story">
                {r.story}
              </span>
            ) : null}
          </span>
          <span className="meta">
            {r.events !== undefined ? `${formatCount(r.events)} ev` : ''}
          </span>
          <span className="meta">{formatBytes(r.bytes)}</span>
          {/* An example says what it shows; its file date says nothing. */}
          <span className="meta">{r.story !== undefined ? '' : formatWhen(r.createdAt)}</span>
        </div>
      ))}
    </>
  );
}

/**
 * The live server's state when it is why we are on the start screen: still
 * trying (countdown, retry now, stop), or given up (try again).
 */
function LiveNote({ live }: { live: LiveStartup }) {
  const source = useAppStore(selectSource);
  const conn = useAppStore(selectConnection);
  const a = useActions();
  const st = conn.status;
  const trying = live.phase === 'unreachable' && source.kind === 'live';
  useTick(trying && st.state === 'waiting', 500);
  if (trying) {
    const where = liveUrlLabel(source.url);
    return (
      <div className="note-card warn" role="status" data-testid="live-note" data-phase="trying">
        <h3>
          Looking for the live server at <code>{where}</code>
        </h3>
        <p className="live-status">
          {st.state === 'waiting' ? (
            <>
              Not reachable ({st.lastError}). Trying again in{' '}
              {Math.max(0, Math.ceil((st.retryAt - Date.now()) / 1000))} s
            </>
          ) : (
            <>Trying again…</>
          )}
          {st.state === 'waiting' || st.state === 'connecting'
            ? ` · attempt ${st.attempt + 1} of ${LIVE_GIVE_UP_ATTEMPTS}`
            : ''}
          .
        </p>
        <p className="hint">
          The dashboard streams from the <span className="mono">iocpscope serve</span> that served
          this page. Meanwhile, open a recording below.
        </p>
        <div className="actions">
          <button className="btn small" onClick={a.retryLive} data-testid="live-retry">
            Retry now
          </button>
          <button className="btn small" onClick={a.closeSource} data-testid="live-stop">
            Stop
          </button>
        </div>
      </div>
    );
  }
  const g = live.giveUp;
  if (!g) return null;
  return (
    <div className="note-card" role="status" data-testid="live-note" data-phase="gave-up">
      <h3>
        No live server at <code>{liveUrlLabel(g.url)}</code>
      </h3>
      <p>
        No answer after {g.attempts} attempts{g.lastError ? ` (last: ${g.lastError})` : ''}, so the
        dashboard stopped asking. Start one with <span className="mono">pnpm iocpscope serve</span>{' '}
        and connect again, or open a recording.
      </p>
      <div className="actions">
        <button
          className="btn small primary"
          onClick={() => a.connectLive()}
          data-testid="live-connect-again"
        >
          Connect again
        </button>
        <button className="btn small" onClick={live.dismissGiveUp}>
          Dismiss
        </button>
      </div>
    </div>
  );
}

export function StartScreen({ onOpenFile, live }: { onOpenFile: () => void; live?: LiveStartup }) {
  const loading = useAppStore(selectLoading);
  const failure = useAppStore(selectLoadFailure);
  const server = useAppStore(selectServer);
  const a = useActions();
  const { openRecording } = useOpenActions();
  useEffect(() => {
    void a.refreshRecordings();
  }, [a]);
  const { examples, recordings } = splitRecordings(server.recordings);

  return (
    <main className="start" data-testid="start-screen">
      <div className="start-inner">
        <h1>Debug your IOCP server, one completion at a time.</h1>
        <p className="lede">
          iocpscope shows every worker thread, completion packet and session IOCount of an
          instrumented IOCP server on one timeline. Watch it live, record a run, then step through
          it event by event while the detectors point at the classic session-lifetime bugs.
        </p>

        {live ? <LiveNote live={live} /> : null}

        {loading ? (
          <div className="loading-card" data-testid="loading">
            <div className="row">
              <span>
                Opening <b>{loading.name}</b>
              </span>
              <span className="mono">
                {formatBytes(loading.loadedBytes)}
                {loading.totalBytes ? ` / ${formatBytes(loading.totalBytes)}` : ''} ·{' '}
                {formatCount(loading.events)} events
              </span>
            </div>
            <div className="progress">
              <div
                className="bar"
                style={{
                  width: loading.totalBytes
                    ? `${(100 * loading.loadedBytes) / loading.totalBytes}%`
                    : '30%',
                }}
              />
            </div>
            <div style={{ marginTop: 8, textAlign: 'right' }}>
              <button className="btn small" onClick={a.cancelLoad}>
                Cancel
              </button>
            </div>
          </div>
        ) : null}

        {failure ? (
          <div
            className="error-card"
            role="alert"
            data-testid="load-error"
            data-code={failure.code}
          >
            <h3>
              Could not open {failure.name || 'the recording'}: <code>{failure.code}</code>
            </h3>
            <p>{ERROR_HELP[failure.code] ?? 'The recording could not be read.'}</p>
            <p
              className="mono"
              style={{ color: 'var(--text-muted)' }}
              data-testid="load-error-message"
            >
              {failure.message}
            </p>
            <p data-testid="load-error-recovered">
              {failure.recoveredEvents > 0
                ? `Recovered ${formatCount(failure.recoveredEvents)} events from the valid prefix.`
                : 'No events could be recovered.'}
            </p>
            <button className="btn small" onClick={a.dismissLoadFailure}>
              Dismiss
            </button>
          </div>
        ) : null}

        <div className="cards">
          <section className="card">
            <h2>Live server</h2>
            <p>
              Connect to the server this page came from. The timeline follows the newest events;
              pause to step through them.
            </p>
            <div className="actions">
              <button
                className="btn primary"
                onClick={() => a.connectLive()}
                data-testid="start-connect-live"
              >
                Connect live
              </button>
            </div>
          </section>
          <section className="card dropzone" data-testid="start-dropzone">
            <h2>Open a recording</h2>
            <p>
              Open a <span className="mono">.iocptrace</span> file, or drop one anywhere on this
              page. Damaged files open up to the first bad chunk.
            </p>
            <div className="actions">
              <button className="btn" onClick={onOpenFile} data-testid="start-open-file">
                Choose a file…
              </button>
            </div>
          </section>
          <section className="card">
            <h2>Keyboard first</h2>
            <p>
              <kbd>←</kbd> <kbd>→</kbd> step events, <kbd>Shift</kbd> by thread, <kbd>Alt</kbd> by
              session, <kbd>[</kbd> <kbd>]</kbd> by anomaly, <kbd>P</kbd> plays. Press <kbd>?</kbd>{' '}
              for all of them.
            </p>
          </section>
        </div>

        {examples.length > 0 ? (
          <div className="rec-list" data-testid="examples">
            <div className="rec-list-head">
              <h3>Examples</h3>
              <span style={{ color: 'var(--text-muted)' }}>
                one clean run, and one run per fault switch: step through a real bug in a minute
              </span>
            </div>
            <RecordingRows list={examples} onOpen={(r) => void openRecording(r)} />
          </div>
        ) : null}
        <div className="rec-list" data-testid="recordings">
          <div className="rec-list-head">
            <h3>Recordings on the server</h3>
            <div className="grow" style={{ flex: 1 }} />
            <button className="btn small" onClick={() => void a.refreshRecordings()}>
              Refresh
            </button>
          </div>
          {server.recordings === null ? (
            <div className="empty-note">
              {server.recordingsError
                ? `The server's list is not available (${server.recordingsError}).`
                : 'Asking the server…'}
            </div>
          ) : recordings.length === 0 ? (
            <div className="empty-note">
              No recordings yet: connect live and press Record, or start the server with --record.
            </div>
          ) : (
            <RecordingRows list={recordings} onOpen={(r) => void openRecording(r)} />
          )}
        </div>
      </div>
    </main>
  );
}
