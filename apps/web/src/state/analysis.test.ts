import { afterEach, describe, expect, it, vi } from 'vitest';
import { StringTable } from '@iocpscope/protocol';
import { normalizeState, replayFromStart } from '@iocpscope/analysis';
import { WebTrace } from '../trace/index.ts';
import { afterNextPaint, createTraceAnalysis } from './analysis.ts';
import { syntheticEchoTrace } from './synthetic.test-util.ts';

function traceOf(o: Parameters<typeof syntheticEchoTrace>[0]): WebTrace {
  const t = syntheticEchoTrace(o);
  const strings = new StringTable();
  for (const [id, s] of t.strings) strings.set(id, s);
  return WebTrace.from(t.records, strings);
}

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('createTraceAnalysis', () => {
  const trace = traceOf({ sessions: 30, workers: 3, rounds: 2, seed: 8, doubleDecrement: [4] });
  const src = { words: trace.words, length: trace.count };

  it('gives the same state at any event as a replay from the start, across checkpoints', () => {
    const a = createTraceAnalysis(trace, {
      runTask: (cb) => cb(),
      checkpointEvery: 97,
      sliceMs: 1e9,
    });
    a.runInBackground(true);
    const rnd = mulberry32(5);
    const picks = [0, 96, 97, 98, trace.count - 1];
    for (let k = 0; k < 12; k++) picks.push(Math.floor(rnd() * trace.count));
    for (const i of picks) {
      expect(normalizeState(a.stateAt(i))).toEqual(normalizeState(replayFromStart(src, i + 1)));
    }
  });

  it('steps forward and back event by event with the states of a replay, and never changes an answer already given', () => {
    const a = createTraceAnalysis(trace, {
      runTask: (cb) => cb(),
      checkpointEvery: 64,
      trailEvery: 10,
      sliceMs: 1e9,
    });
    a.runInBackground(true);
    const n = Math.min(trace.count, 300);
    const given: { i: number; state: ReturnType<typeof a.stateAt>; norm: unknown }[] = [];
    const check = (i: number): void => {
      const st = a.stateAt(i);
      if (i % 37 === 0) {
        const norm = normalizeState(replayFromStart(src, i + 1));
        expect(normalizeState(st)).toEqual(norm);
        given.push({ i, state: st, norm });
      }
    };
    for (let i = 0; i < n; i++) check(i);
    for (let i = n - 1; i >= 0; i -= 3) check(i);
    // Jumps forward inside and across checkpoint intervals, then back.
    for (const i of [10, 50, 63, 64, 65, 200, 129, 130, 5]) {
      expect(normalizeState(a.stateAt(i))).toEqual(normalizeState(replayFromStart(src, i + 1)));
    }
    for (const g of given) expect(normalizeState(g.state)).toEqual(g.norm);
  });

  it('steps back through the trail and jumps across checkpoints with the states of a replay', () => {
    const a = createTraceAnalysis(trace, {
      runTask: (cb) => cb(),
      checkpointEvery: 400,
      trailEvery: 16,
      sliceMs: 1e9,
    });
    a.runInBackground(true);
    const rnd = mulberry32(11);
    const sample = (i: number): void => {
      expect(normalizeState(a.stateAt(i)), `state at ${i}`).toEqual(
        normalizeState(replayFromStart(src, i + 1)),
      );
    };
    // Walk forward far past the trail's length, then back event by event past its oldest state.
    let i = 0;
    for (; i < 700; i += 7) a.stateAt(i);
    for (let k = 0; k < 250; k++, i--) if (k % 25 === 0) sample(i);
    for (let k = 0; k < 25; k++) {
      const j = Math.floor(rnd() * trace.count);
      sample(j);
      sample(Math.max(0, j - 1 - Math.floor(rnd() * 40)));
      sample(Math.min(trace.count - 1, j + Math.floor(rnd() * 40)));
    }
  });

  it('answers a state ahead of the background walk, and the walk still completes', () => {
    const tasks: Array<() => void> = [];
    const a = createTraceAnalysis(trace, { runTask: (cb) => tasks.push(cb), checkpointEvery: 50 });
    a.runInBackground(true);
    expect(a.progress()).toBe(0);
    const i = Math.floor(trace.count * 0.7);
    expect(normalizeState(a.stateAt(i))).toEqual(normalizeState(replayFromStart(src, i + 1)));
    while (tasks.length > 0) tasks.shift()!();
    expect(a.done).toBe(true);
    expect(a.progress()).toBe(1);
    expect(normalizeState(a.stateAt(i))).toEqual(normalizeState(replayFromStart(src, i + 1)));
    expect(a.findings().map((f) => f.rule)).toContain('iocount-balance');
  });

  it('keeps findings sorted by anchor with their session and proof', () => {
    const a = createTraceAnalysis(trace, { runTask: (cb) => cb(), sliceMs: 1e9 });
    a.runInBackground(true);
    const f = a.findings();
    expect(f.length).toBeGreaterThan(0);
    for (let k = 1; k < f.length; k++)
      expect(f[k]!.anchor).toBeGreaterThanOrEqual(f[k - 1]!.anchor);
    const dd = f.find((x) => x.check === 'double-decrement')!;
    expect(dd.session).toBe((1n << 32n) | 5n);
    expect(dd.events).toContain(dd.anchor);
    expect(dd.message.length).toBeGreaterThan(20);
  });

  it('follows a growing live trace with update() and never serves a stale head state', () => {
    const whole = syntheticEchoTrace({ sessions: 8, workers: 2, rounds: 1, seed: 2 });
    const live = new WebTrace();
    const a = createTraceAnalysis(live, { runTask: () => undefined });
    const half = Math.floor(whole.count / 2) * 8;
    live.append(whole.records.subarray(0, half));
    a.update();
    const head1 = a.stateAt(live.count - 1);
    expect(head1.count).toBe(live.count);
    const c1 = live.count;
    live.append(whole.records.subarray(half));
    a.update();
    expect(a.stateAt(c1 - 1).count).toBe(c1);
    expect(a.stateAt(live.count - 1).count).toBe(live.count);
  });
});

describe('afterNextPaint', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('runs the task after two animation frames, once, and not again when the fallback fires', () => {
    vi.useFakeTimers();
    const frames: Array<() => void> = [];
    vi.stubGlobal('requestAnimationFrame', (cb: () => void) => frames.push(cb));
    const ran: string[] = [];
    afterNextPaint((cb) => cb())(() => ran.push('walk'));
    expect(ran).toEqual([]);
    frames.shift()!();
    expect(ran).toEqual([]);
    frames.shift()!();
    expect(ran).toEqual(['walk']);
    vi.advanceTimersByTime(1000);
    expect(ran).toEqual(['walk']);
  });

  it('falls back to a timer where no frames come (a hidden tab)', () => {
    vi.useFakeTimers();
    vi.stubGlobal('requestAnimationFrame', () => 0);
    const ran: string[] = [];
    afterNextPaint((cb) => cb(), 100)(() => ran.push('walk'));
    vi.advanceTimersByTime(99);
    expect(ran).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ran).toEqual(['walk']);
  });
});
