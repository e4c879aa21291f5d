// The lock view (issue 18 §3), like Tracy's lock window: one row per lock the
// trace records (the chat server's users/rooms reader-writer locks and room
// locks, the echo server's send lock under lock-across-send, a foreign
// server's own): its acquisitions, how many holds were contended (another
// thread waited during them), the waits and their time, and a strip per
// thread over the whole trace: held uncontended (green), held while another
// thread waited (amber), waiting (red). Hovering a row highlights that lock's
// holds and waits on every lane of the timeline; clicking a strip moves the
// cursor to the hold or wait there.

import { useLayoutEffect, useMemo, useRef, type ReactNode } from 'react';
import { useActions, useAppStore } from '../state/hooks.tsx';
import { selectTrace, selectTraceVersion } from '../state/selectors.ts';
import { ChatModel, OPEN, type LockTrack, type WebTrace } from '../trace/index.ts';
import { formatCount, formatDurationNs } from './format.ts';

const STRIP_ROW_PX = 10;

function LockStrip({
  trace,
  lock,
  tids,
  onGo,
}: {
  trace: WebTrace;
  lock: LockTrack;
  tids: number[];
  onGo: (i: number) => void;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  const h = Math.max(1, tids.length) * STRIP_ROW_PX;
  useLayoutEffect(() => {
    const c = ref.current;
    if (!c) return;
    const w = Math.max(50, c.clientWidth || 300);
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#13161b';
    ctx.fillRect(0, 0, w, h);
    const t0 = trace.startNs;
    const span = Math.max(1, trace.endNs - t0);
    const x = (i: number): number =>
      (((i === OPEN ? trace.endNs : trace.timeAt(i)) - t0) / span) * w;
    const row = (tid: number): number => tids.indexOf(tid) * STRIP_ROW_PX;
    for (let k = 0; k < lock.holdFrom.length; k++) {
      ctx.fillStyle = lock.holdContended.data[k] === 1 ? '#f59e0b' : '#3fb27f';
      const a = x(lock.holdFrom.data[k]!);
      ctx.fillRect(
        a,
        row(lock.holdTid.data[k]!),
        Math.max(1, x(lock.holdTo.data[k]!) - a),
        STRIP_ROW_PX - 1,
      );
    }
    ctx.fillStyle = '#ff4d4f';
    for (let k = 0; k < lock.waitFrom.length; k++) {
      const a = x(lock.waitFrom.data[k]!);
      ctx.fillRect(
        a,
        row(lock.waitTid.data[k]!),
        Math.max(1, x(lock.waitTo.data[k]!) - a),
        STRIP_ROW_PX - 1,
      );
    }
  });
  return (
    <canvas
      ref={ref}
      className="lock-strip"
      style={{ width: '100%', height: h, display: 'block', cursor: 'pointer' }}
      data-testid="lock-strip"
      onClick={(e) => {
        const r = (e.target as HTMLCanvasElement).getBoundingClientRect();
        const t =
          trace.startNs +
          ((e.clientX - r.left) / Math.max(1, r.width)) * (trace.endNs - trace.startNs);
        const tid = tids[Math.floor((e.clientY - r.top) / STRIP_ROW_PX)];
        // The hold or wait of that thread nearest to t.
        let best = -1;
        let bestD = Infinity;
        const consider = (from: number, to: number, who: number): void => {
          if (who !== tid) return;
          const a = trace.timeAt(from);
          const b = to === OPEN ? trace.endNs : trace.timeAt(to);
          const d = t < a ? a - t : t > b ? t - b : 0;
          if (d < bestD) {
            bestD = d;
            best = from;
          }
        };
        for (let k = 0; k < lock.holdFrom.length; k++)
          consider(lock.holdFrom.data[k]!, lock.holdTo.data[k]!, lock.holdTid.data[k]!);
        for (let k = 0; k < lock.waitFrom.length; k++)
          consider(lock.waitFrom.data[k]!, lock.waitTo.data[k]!, lock.waitTid.data[k]!);
        if (best >= 0) onGo(best);
      }}
    />
  );
}

export function LockPanel({ tabs }: { tabs?: ReactNode }) {
  const trace = useAppStore(selectTrace);
  const version = useAppStore(selectTraceVersion);
  const { setHighlightLock, setCursor } = useActions();
  const model = useMemo(() => new ChatModel(), []);
  const locks = useMemo(() => {
    if (!trace) return [];
    model.update(trace);
    return model.lockList();
    // `version`: a live trace grew.
  }, [trace, version, model]);

  return (
    <section className="panel" data-testid="lock-view" onMouseLeave={() => setHighlightLock(null)}>
      <header className="panel-head">
        {tabs ?? <span className="panel-title">Locks</span>}
        <span className="count">{formatCount(locks.length)}</span>
      </header>
      <div className="panel-body">
        {!trace || locks.length === 0 ? (
          <div className="empty-note">
            <p>No locks in this trace.</p>
            <p style={{ color: 'var(--text-faint)' }}>
              A server that records LockWait / LockAcquire / LockRelease gets one row per lock here:
              its holds, its contention, who waited and how long.
            </p>
          </div>
        ) : (
          locks.map((l) => {
            const name = trace.string(l.nameStr) || `lock #${l.lockId}`;
            const tids = [...new Set([...l.holdTid.view(), ...l.waitTid.view()])].sort(
              (a, b) => a - b,
            );
            const shared = l.holdMode.view().some((m) => m === 1);
            return (
              <div
                key={l.lockId}
                className="lock-row"
                data-testid="lock-row"
                data-lock={l.lockId}
                onMouseEnter={() => setHighlightLock(l.lockId)}
                style={{ padding: '6px 10px', borderBottom: '1px solid var(--divider, #232832)' }}
              >
                <div style={{ display: 'flex', gap: 12, alignItems: 'baseline', flexWrap: 'wrap' }}>
                  <b className="mono">{name}</b>
                  <span className="mono" style={{ color: 'var(--text-muted)' }}>
                    #{l.lockId}
                    {shared ? ' · reader-writer' : ''}
                  </span>
                  <span data-testid="lock-acquisitions">{formatCount(l.acquisitions)} holds</span>
                  <span
                    className={l.contended > 0 ? 'tone-bad' : undefined}
                    data-testid="lock-contended"
                  >
                    {formatCount(l.contended)} contended
                  </span>
                  <span data-testid="lock-waits">
                    {formatCount(l.waitFrom.length)} waits, {formatDurationNs(l.waitNs)} in all, max{' '}
                    {formatDurationNs(l.maxWaitNs)}
                  </span>
                  <span style={{ color: 'var(--text-muted)' }}>
                    held {formatDurationNs(l.heldNs)}
                  </span>
                </div>
                <div
                  style={{
                    display: 'grid',
                    gridTemplateColumns: 'auto 1fr',
                    gap: '0 8px',
                    marginTop: 4,
                  }}
                >
                  <div>
                    {tids.map((tid) => (
                      <div
                        key={tid}
                        className="mono"
                        style={{
                          fontSize: 10,
                          lineHeight: `${STRIP_ROW_PX}px`,
                          height: STRIP_ROW_PX,
                          color: 'var(--text-muted)',
                        }}
                      >
                        {tids.length <= 8 ? (trace.laneOfTid(tid)?.name ?? `t${tid}`) : ''}
                      </div>
                    ))}
                  </div>
                  <LockStrip trace={trace} lock={l} tids={tids} onGo={setCursor} />
                </div>
              </div>
            );
          })
        )}
        {locks.length > 0 ? (
          <div className="empty-note" style={{ paddingTop: 6 }}>
            <span style={{ color: '#3fb27f' }}>■</span> held ·{' '}
            <span style={{ color: '#f59e0b' }}>■</span> held while another thread waited ·{' '}
            <span style={{ color: '#ff4d4f' }}>■</span> waiting. Hover a lock to see it on the
            timeline; click a strip to go there.
          </div>
        ) : null}
      </div>
    </section>
  );
}
