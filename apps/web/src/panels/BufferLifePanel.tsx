// A pooled SendBuffer's life in the inspector (issue 18 §3), shown while the
// cursor is on one of its events (a SendBuffer record or the Broadcast that
// shared it): acquired from the pool, shared with N member sends (AddRef),
// each release (the acquirer's own, then each send's, tied to that send's
// completion), and back in the pool. Clicking a row moves the cursor there.

import { useMemo } from 'react';
import { SendBufferOp } from '@iocpscope/protocol';
import { useActions, useGlobalIndex } from '../state/hooks.tsx';
import { ChatModel, type BufferLife, type WebTrace } from '../trace/index.ts';
import { formatSessionId, formatTimeNs } from './format.ts';

const OP_TEXT: Record<number, string> = {
  [SendBufferOp.Acquire]: 'acquired from the pool',
  [SendBufferOp.AddRef]: 'shared with a member’s send',
  [SendBufferOp.Release]: 'released',
  [SendBufferOp.Returned]: 'back in the pool',
  [SendBufferOp.PoolEmpty]: 'the pool was empty',
};

/** The buffer life at `cursor`, or null when the cursor is not on a buffer's event. */
export function useBufferLife(
  trace: WebTrace | null,
  cursor: number,
  version: number,
): BufferLife | null {
  const model = useMemo(() => new ChatModel(), []);
  return useMemo(
    () => (trace ? model.bufferLife(trace, cursor) : null),
    // `version`: a live trace grew (the life may have ended since).
    [trace, cursor, version, model],
  );
}

export function BufferLifePanel({
  trace,
  life,
  cursor,
}: {
  trace: WebTrace;
  life: BufferLife;
  cursor: number;
}) {
  const { setCursor } = useActions();
  const num = useGlobalIndex();
  const rows: Array<{ index: number; text: string; tone?: string; link?: number }> = [];
  if (life.acquired < 0) rows.push({ index: -1, text: 'acquired before the trace began' });
  for (const e of life.entries) {
    let text = OP_TEXT[e.op] ?? `op ${e.op}`;
    if (e.op === SendBufferOp.AddRef) text = `shared with ${formatSessionId(e.session)}'s send`;
    if (e.op === SendBufferOp.Release)
      text =
        e.ioId !== 0
          ? `released by ${formatSessionId(e.session)}'s send io #${e.ioId} (its completion)`
          : e.session === 0n
            ? 'released by its owner (the fan-out is done)'
            : `released unsent by ${formatSessionId(e.session)}`;
    rows.push({
      index: e.index,
      text: `${text} → ${e.refCount} reference${e.refCount === 1 ? '' : 's'}`,
      ...(e.refCount < 0 ||
      (e.op === SendBufferOp.Returned && life.entries.some((x) => x.index > e.index))
        ? { tone: 'tone-bad' }
        : {}),
      ...(e.completion >= 0 ? { link: e.completion } : {}),
    });
  }
  if (life.broadcast >= 0) {
    const at = rows.findIndex((r) => r.index > life.broadcast);
    rows.splice(at < 0 ? rows.length : at, 0, {
      index: life.broadcast,
      text: 'broadcast to the room',
    });
  }
  if (life.returned < 0) rows.push({ index: -1, text: 'not back in the pool yet' });
  return (
    <section className="panel" data-testid="buffer-life">
      <header className="panel-head">
        <span className="panel-title">SendBuffer {life.bufferId}</span>
        <span className="count" data-testid="buffer-life-summary">
          shared by {life.shares} send{life.shares === 1 ? '' : 's'}, {life.releases} release
          {life.releases === 1 ? '' : 's'}
          {life.returned >= 0 ? ', returned' : ''}
        </span>
      </header>
      <div className="panel-body">
        {rows.map((r, k) => (
          <div
            key={`${r.index}:${k}`}
            className={`ledger-row${r.index === cursor ? ' at-cursor' : ''}${r.index > cursor ? ' future' : ''}`}
            onClick={r.index >= 0 ? () => setCursor(r.index) : undefined}
            data-testid="buffer-life-row"
            style={{ display: 'flex', gap: 8 }}
          >
            <span className="mono" style={{ color: 'var(--text-muted)', minWidth: 90 }}>
              {r.index >= 0 ? formatTimeNs(trace.timeAt(r.index)) : ''}
            </span>
            <span className={r.tone}>{r.text}</span>
            {r.link !== undefined ? (
              <button
                className="link-chip"
                onClick={(ev) => {
                  ev.stopPropagation();
                  setCursor(r.link!);
                }}
                title={`Go to that send's completion #${num(r.link)}`}
              >
                →{num(r.link)}
              </button>
            ) : null}
          </div>
        ))}
      </div>
    </section>
  );
}
