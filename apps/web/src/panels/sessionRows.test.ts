import { describe, expect, it } from 'vitest';
import { WebTrace } from '../trace/index.ts';
import { StringTable } from '@iocpscope/protocol';
import { createTraceAnalysis } from '../state/analysis.ts';
import { syntheticEchoTrace } from '../state/synthetic.test-util.ts';
import { filterSessionRows, sessionRowAt } from './sessionRows.ts';

function load(opts: Parameters<typeof syntheticEchoTrace>[0]) {
  const t = syntheticEchoTrace(opts);
  const strings = new StringTable();
  for (const [id, s] of t.strings) strings.set(id, s);
  const trace = WebTrace.from(t.records, strings);
  return { trace, analysis: createTraceAnalysis(trace) };
}

describe('sessionRowAt', () => {
  const { trace, analysis } = load({
    sessions: 5,
    workers: 2,
    rounds: 2,
    seed: 3,
    doubleDecrement: [2],
  });
  const t = trace.sessions;

  it('shows a session as not yet existing before its first event', () => {
    const first = t.firstIdx.data[3]!;
    const v = sessionRowAt(trace, 3, first - 1, analysis.stateAt(first - 1));
    expect(v.phase).toBe('future');
    expect(v.ioCount).toBeNull();
  });

  it('shows the replayed IOCount while the session lives, and 0 once it is released', () => {
    const created = t.createdIdx.data[0]!;
    const live = sessionRowAt(trace, 0, created + 3, analysis.stateAt(created + 3));
    expect(live.phase).toBe('live');
    expect(live.ioCount).toBeGreaterThan(0);
    expect(live.peer).toMatch(/^10\.0\.0\.0:/);
    const rel = t.releasedIdx.data[0]!;
    const after = sessionRowAt(trace, 0, rel, analysis.stateAt(rel));
    expect(after.phase).toBe('released');
    expect(after.ioCount).toBe(0);
  });

  it('shows a negative IOCount for the session that decremented twice', () => {
    const last = trace.count - 1;
    const v = sessionRowAt(trace, 2, last, analysis.stateAt(last));
    expect(v.ioCount).toBeLessThan(0);
  });
});

describe('filterSessionRows', () => {
  const { trace } = load({ sessions: 30, workers: 2, rounds: 1, seed: 4 });

  it('matches hex ids with or without 0x, and peers', () => {
    expect(Array.from(filterSessionRows(trace, '0x10000001e', false))).toEqual([29]);
    expect(Array.from(filterSessionRows(trace, '10000001e', false))).toEqual([29]);
    expect(filterSessionRows(trace, '10.0.0.1', false).length).toBe(11); // .1 and .10-.19
    expect(filterSessionRows(trace, '', false).length).toBe(30);
  });

  it('hides sessions released by the end of the trace when asked', () => {
    expect(filterSessionRows(trace, '', true).length).toBe(0);
  });
});
