import { describe, expect, it } from 'vitest';
import {
  Backend,
  BlockReason,
  EventKind,
  GapSource,
  NO_THREAD,
  Op,
  RECORD_WORDS,
  StringTable,
  ThreadRole,
  ThreadStateValue,
  encodeEvent,
  type TraceEvent,
} from '@iocpscope/protocol';
import { WebTrace } from '../trace/index.ts';
import { randomRecords } from '../trace/randomTrace.test-util.ts';
import { shownLanes } from './rows.ts';

function records(events: TraceEvent[]): Uint32Array {
  const w = new Uint32Array(events.length * RECORD_WORDS);
  events.forEach((e, i) => encodeEvent(w, i, e));
  return w;
}

const strings = new StringTable();
strings.set(1, 'kernel');
strings.set(2, 'worker 1');

/** A live-like stream: a leading gap from no thread, then a kernel thread and a worker. */
function liveLike(): WebTrace {
  const t = new WebTrace();
  t.append(
    records([
      { kind: EventKind.Gap, tsNs: 100, tid: NO_THREAD, source: GapSource.ClientQueue, lost: 0 },
      {
        kind: EventKind.PortCreated,
        tsNs: 110,
        tid: NO_THREAD,
        backend: Backend.Emulated,
        concurrency: 2,
        workerCount: 1,
      },
      {
        kind: EventKind.ThreadStart,
        tsNs: 120,
        tid: 0,
        role: ThreadRole.Kernel,
        nameStr: 1,
        osThreadId: 1,
      },
      {
        kind: EventKind.ThreadStart,
        tsNs: 130,
        tid: 1,
        role: ThreadRole.Worker,
        nameStr: 2,
        osThreadId: 2,
      },
      {
        kind: EventKind.ThreadState,
        tsNs: 140,
        tid: 1,
        state: ThreadStateValue.Running,
        reason: BlockReason.None,
        detail: 0,
      },
      { kind: EventKind.Gap, tsNs: 150, tid: NO_THREAD, source: GapSource.ClientQueue, lost: 7 },
    ]),
    strings,
  );
  return t;
}

describe('shownLanes', () => {
  it('gives no row to the no-thread lane while it only holds gaps and setup records', () => {
    const t = liveLike();
    expect(t.lanes.map((l) => l.name)).toContain('kernel');
    expect(t.lanes.filter((l) => l.tid === NO_THREAD)).toHaveLength(1);
    const shown = shownLanes(t);
    expect(shown.map((l) => l.tid)).not.toContain(NO_THREAD);
    expect(shown.filter((l) => l.name === 'kernel')).toHaveLength(1);
    expect(shown).toHaveLength(t.lanes.length - 1);
    // Same array on the next frame: nothing allocated per draw.
    expect(shownLanes(t)).toBe(shown);
    // The gaps are still in the trace, for the gap markers.
    expect(t.gaps.length).toBe(2);
  });

  it('shows the no-thread lane once it has something to draw (packets queued without a thread)', () => {
    const t = liveLike();
    t.append(
      records([
        {
          kind: EventKind.PacketQueued,
          tsNs: 200,
          tid: NO_THREAD,
          op: Op.Recv,
          bytes: 4,
          key: 5n,
          status: 0,
          ioId: 1,
        },
      ]),
      strings,
    );
    expect(shownLanes(t).map((l) => l.tid)).toContain(NO_THREAD);
    expect(shownLanes(t)).toHaveLength(t.lanes.length);
  });

  it('is trace.lanes itself for a trace without a no-thread lane', () => {
    const t = WebTrace.from(randomRecords(5, 500));
    if (t.lanes.every((l) => l.tid !== NO_THREAD)) expect(shownLanes(t)).toBe(t.lanes);
    // Against a naive model: exactly the lanes with a thread, states or marks.
    const naive = t.lanes.filter(
      (l) => l.tid !== NO_THREAD || l.states.length + l.marks.length > 0,
    );
    expect(shownLanes(t)).toEqual(naive);
  });
});
