// Control-channel UI for a live server: load generator, recording, worker
// count and concurrency, fault switches. Each sends one validated client
// message; the server's `status` reply is the source of truth for what is on.

import { useState } from 'react';
import { APP_FAULT_NAMES, MAX_LOAD_MESSAGE_BYTES, type FaultName } from '@iocpscope/protocol';
import { useActions, useAppStore } from '../state/hooks.tsx';
import { selectConnection, selectServer } from '../state/selectors.ts';
import { MenuButton } from './Menu.tsx';
import { formatBytes, formatCount } from '../panels/format.ts';

export const FAULT_HELP: Record<FaultName, string> = {
  'iocount-double-decrement': 'a completion drops IOCount twice (it goes below zero)',
  'release-with-io-pending': 'the session is released while a recv or send is still pending',
  'recv-not-reposted':
    'after a recv completes, no new recv is posted: the session runs out of I/O and is released',
  'two-sends-in-flight': 'a second WSASend is posted while one is still in flight',
  'no-decrement-on-failure': 'a failed completion keeps its IOCount (a zombie session)',
  'too-few-exit-packets': 'shutdown posts fewer exit packets than there are workers',
  'no-accept-hold': 'accept posts the first recv without holding an IOCount',
  'zero-byte-recv-reposted': 'a 0-byte recv (peer closed) posts another recv',
  'lock-across-send': 'a lock is held across WSASend while other workers wait for it',
  'release-without-atomic-flag': 'release is decided without the atomic flag (a release race)',
  'ring-wrap-off-by-one': 'a recv that wraps RecvQ stops its first WSABUF one byte before the end',
  'short-send-ignored': 'each send is one byte short and SendQ moves on as if it was not',
  'send-overflow-ignored':
    'an echo that does not fit in SendQ overwrites unsent bytes instead of a disconnect',
  'job-queue-two-flushers':
    "a room's job count is checked apart from the add: two workers flush one room at once",
  'send-buffer-early-release':
    'a send completion releases its SendBuffer twice: it is reused while other sends read it',
  'broadcast-under-room-lock':
    "a chat is broadcast under the room's lock, held across every member's WSASend",
  'lock-order-inversion':
    'Enter takes rooms then users, Login users then rooms: a lock-order cycle',
};

function NumberField(props: {
  label: string;
  value: number;
  min: number;
  max: number;
  step?: number;
  onChange: (v: number) => void;
  testid?: string;
}) {
  return (
    <div className="form-row">
      <label>{props.label}</label>
      <input
        className="input"
        type="number"
        min={props.min}
        max={props.max}
        step={props.step ?? 1}
        value={props.value}
        data-testid={props.testid}
        onChange={(e) => {
          const v = Number(e.target.value);
          if (Number.isFinite(v)) props.onChange(Math.max(props.min, Math.min(props.max, v)));
        }}
      />
    </div>
  );
}

export function LiveControls() {
  const server = useAppStore(selectServer);
  const conn = useAppStore(selectConnection);
  const { sendControl } = useActions();
  const status = server.status;
  const open = conn.status.state === 'open';
  const loadOn = status?.load.running ?? false;
  const recOn = status?.recording.active ?? false;
  const faults = status?.faults ?? server.hello?.faults ?? [];
  const portConfig = status?.portConfig ?? server.hello?.portConfig;
  // A foreign process (serve --ingest): no load generator, port restarts or fault
  // switches to drive, only recording.
  const foreign = (status?.backend ?? server.hello?.backend) === 'external';
  // The reference server's own switches: the chat server's differ from the echo server's.
  const app = (status?.source ?? server.hello?.source)?.app;
  const switches = app === 'chat' ? APP_FAULT_NAMES.chat : APP_FAULT_NAMES.echo;

  const [connections, setConnections] = useState(50);
  const [messageSize, setMessageSize] = useState(64);
  const [inFlight, setInFlight] = useState(1);
  const [resetRate, setResetRate] = useState(0);
  const [durationS, setDurationS] = useState(0);
  const [workers, setWorkers] = useState<number | null>(null);
  const [concurrency, setConcurrency] = useState<number | null>(null);

  const stats = server.loadStats;

  return (
    <>
      {!foreign ? (
        <MenuButton
          label={
            <>
              <span style={{ color: loadOn ? 'var(--ok)' : 'var(--text-faint)' }}>●</span> Load
            </>
          }
          title="Built-in load generator"
          disabled={!open}
          data-testid="load-menu"
        >
          {(close) => (
            <div style={{ width: 300 }}>
              <h4>Dummy clients</h4>
              <NumberField
                label="Connections"
                value={connections}
                min={1}
                max={10_000}
                onChange={setConnections}
                testid="load-connections"
              />
              <NumberField
                label="Message bytes"
                value={messageSize}
                min={4}
                max={MAX_LOAD_MESSAGE_BYTES}
                onChange={setMessageSize}
              />
              <NumberField
                label="In flight per client"
                value={inFlight}
                min={1}
                max={1024}
                onChange={setInFlight}
              />
              <NumberField
                label="Resets per second"
                value={resetRate}
                min={0}
                max={10_000}
                onChange={setResetRate}
              />
              <NumberField
                label="Duration (s, 0 = until stopped)"
                value={durationS}
                min={0}
                max={3600}
                onChange={setDurationS}
              />
              {stats ? (
                <div className="form-row" style={{ color: 'var(--text-muted)', fontSize: 12 }}>
                  <span>
                    {formatCount(stats.connected)} connected · {formatCount(stats.received)} echoes
                    · {formatCount(stats.errors)} errors
                  </span>
                </div>
              ) : null}
              <div className="form-row" style={{ justifyContent: 'flex-end', gap: 8 }}>
                <button
                  className="btn danger"
                  disabled={!loadOn}
                  onClick={() => {
                    sendControl({ type: 'stop-load' });
                    close();
                  }}
                  data-testid="load-stop"
                >
                  Stop
                </button>
                <button
                  className="btn primary"
                  onClick={() => {
                    sendControl({
                      type: 'start-load',
                      options: {
                        connections,
                        messageSize,
                        inFlight,
                        resetRate,
                        ...(durationS > 0 ? { durationMs: durationS * 1000 } : {}),
                      },
                    });
                    close();
                  }}
                  data-testid="load-start"
                >
                  {loadOn ? 'Restart' : 'Start load'}
                </button>
              </div>
            </div>
          )}
        </MenuButton>
      ) : null}

      <button
        className={`btn rec${recOn ? ' active' : ''}`}
        disabled={!open}
        onClick={() =>
          sendControl(recOn ? { type: 'stop-recording' } : { type: 'start-recording' })
        }
        title={
          recOn
            ? 'Stop recording and save the file'
            : 'Record the live stream to a .iocptrace file on the server'
        }
        data-testid="record-toggle"
      >
        <span style={{ color: recOn ? 'var(--bad)' : 'var(--text-faint)' }}>●</span>
        {recOn
          ? `Recording ${status?.recording.bytes !== undefined ? formatBytes(status.recording.bytes) : ''}`
          : 'Record'}
      </button>

      {!foreign ? (
        <MenuButton
          label={
            portConfig
              ? `${portConfig.workers} worker${portConfig.workers === 1 ? '' : 's'} / ${portConfig.concurrency || 'auto'}`
              : 'Port'
          }
          title="Worker threads and the concurrency value (restarts the port)"
          disabled={!open}
          data-testid="port-menu"
          onOpen={() => {
            setWorkers(portConfig?.workers ?? 4);
            setConcurrency(portConfig?.concurrency ?? 0);
          }}
        >
          {(close) => (
            <div style={{ width: 280 }}>
              <h4>Completion port</h4>
              <NumberField
                label="Worker threads"
                value={workers ?? 4}
                min={1}
                max={256}
                onChange={setWorkers}
                testid="port-workers"
              />
              <NumberField
                label="Concurrency (0 = CPUs)"
                value={concurrency ?? 0}
                min={0}
                max={256}
                onChange={setConcurrency}
                testid="port-concurrency"
              />
              <div className="form-row" style={{ color: 'var(--text-muted)', fontSize: 12 }}>
                Applying restarts the port and its sessions.
              </div>
              <div className="form-row" style={{ justifyContent: 'flex-end' }}>
                <button
                  className="btn primary"
                  onClick={() => {
                    sendControl({
                      type: 'set-port-config',
                      config: { workers: workers ?? 4, concurrency: concurrency ?? 0 },
                    });
                    close();
                  }}
                  data-testid="port-apply"
                >
                  Apply
                </button>
              </div>
            </div>
          )}
        </MenuButton>
      ) : null}

      {!foreign ? (
        <MenuButton
          label={
            <>
              Faults
              {faults.length > 0 ? <span className="pill bad">{faults.length}</span> : null}
            </>
          }
          title="Fault switches: make the reference server commit a classic bug"
          disabled={!open}
          align="right"
          data-testid="faults-menu"
        >
          {() => (
            <div style={{ width: 420 }}>
              <h4>Fault switches</h4>
              {switches.map((f) => {
                const on = faults.includes(f);
                return (
                  <label className="check" key={f}>
                    <input
                      type="checkbox"
                      checked={on}
                      data-testid={`fault-${f}`}
                      onChange={() => {
                        const next = on ? faults.filter((x) => x !== f) : [...faults, f];
                        sendControl({ type: 'set-faults', faults: next });
                      }}
                    />
                    <span>
                      <span
                        className="mono"
                        style={{ color: on ? '#ffc2c2' : 'var(--text-strong)' }}
                      >
                        {f}
                      </span>
                      <small>{FAULT_HELP[f]}</small>
                    </span>
                  </label>
                );
              })}
            </div>
          )}
        </MenuButton>
      ) : null}
    </>
  );
}
