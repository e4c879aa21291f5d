import { describe, expect, it } from 'vitest';
import { EventKind, RECORD_WORDS, encodeEvent } from '@iocpscope/protocol';
import { WebTrace } from '../trace/index.ts';
import { rng } from '../trace/randomTrace.test-util.ts';
import { LEAD_EVENTS, activityStart, activityView } from './fit.ts';

const MS = 1e6;

/** A trace of markers at the given times (ns, ascending). */
function traceAt(times: number[]): WebTrace {
  const w = new Uint32Array(times.length * RECORD_WORDS);
  times.forEach((tsNs, i) =>
    encodeEvent(w, i, { kind: EventKind.Marker, tsNs, tid: 0, labelStr: 0, session: 0n }),
  );
  return WebTrace.from(w);
}

/** `n` events spread over [t0, t0 + spanNs), seeded. */
function burst(seed: number, n: number, t0: number, spanNs: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => t0 + Math.floor(r() * spanNs)).sort((a, b) => a - b);
}

describe('activityStart', () => {
  it('cuts a server start-up lead-in: two events, seconds of nothing, then the run', () => {
    // examples/recv-not-reposted: main thread and port at 1-19 ms, workers from 3.36 s.
    const t = traceAt([0.76 * MS, 19 * MS, ...burst(1, 93, 3364 * MS, 270 * MS)]);
    expect(activityStart(t)).toBe(2);
    const v = activityView(t);
    expect(v.first).toBe(2);
    expect(v.startNs).toBeLessThan(t.timeAt(2));
    expect(v.startNs).toBeGreaterThan(t.timeAt(1));
    expect(v.endNs).toBeGreaterThan(t.endNs);
  });

  it('cuts a lead-in in two steps when the second idle stretch also dominates what is left', () => {
    // examples/lock-across-send: 0-3 ms, a worker at 5.8 s, the others from 9.0 s.
    const t = traceAt([
      0.1 * MS,
      2.8 * MS,
      5787 * MS,
      5903 * MS,
      ...burst(2, 300, 8992 * MS, 510 * MS),
    ]);
    expect(activityStart(t)).toBe(4);
  });

  it('keeps a trace whose events are spread out from its first event', () => {
    const t = traceAt(burst(3, 500, 0, 1000 * MS));
    expect(activityStart(t)).toBe(0);
    expect(activityView(t).startNs).toBeLessThan(t.startNs);
  });

  it('keeps an idle tail: a hang at shutdown is part of what the recording shows', () => {
    const t = traceAt([...burst(4, 20, 0, 50 * MS), 9000 * MS, 9001 * MS, 9002 * MS]);
    expect(activityStart(t)).toBe(0);
  });

  it('keeps a quiet stretch that is not in the first events', () => {
    const times = [...burst(5, LEAD_EVENTS + 10, 0, 40 * MS), ...burst(6, 50, 9000 * MS, 100 * MS)];
    expect(activityStart(traceAt(times))).toBe(0);
  });

  it('cuts only at a gap larger than half of the rest, in a naive scan of random traces', () => {
    for (let seed = 10; seed < 60; seed++) {
      const r = rng(seed);
      const lead = Math.floor(r() * 4);
      const times = [
        ...burst(seed, lead, 0, 5 * MS),
        ...burst(
          seed + 1000,
          40 + Math.floor(r() * 60),
          (10 + r() * 5000) * MS,
          (1 + r() * 900) * MS,
        ),
      ].sort((a, b) => a - b);
      const t = traceAt(times);
      const s = activityStart(t);
      const n = t.count;
      // Whatever was cut is a short prefix ending at a gap that dominated the rest.
      expect(s).toBeLessThanOrEqual(LEAD_EVENTS * 4);
      expect(n - s).toBeGreaterThanOrEqual(n / 2);
      if (s > 0) {
        const gap = t.timeAt(s) - t.timeAt(s - 1);
        expect(gap * 2).toBeGreaterThan(t.endNs - t.timeAt(s - 1));
      }
      // Nothing left in the kept part would have been cut by the same rule.
      let bestGap = 0;
      for (let i = s + 1; i <= Math.min(n - 1, s + LEAD_EVENTS); i++) {
        bestGap = Math.max(bestGap, t.timeAt(i) - t.timeAt(i - 1));
      }
      const rest = t.endNs - t.timeAt(s);
      if (bestGap > rest / 2) {
        // Only allowed when cutting there would drop most of the events.
        let at = s + 1;
        while (t.timeAt(at) - t.timeAt(at - 1) !== bestGap) at++;
        expect(at - s).toBeGreaterThan((n - s) / 2);
      }
    }
  });

  it('handles tiny traces', () => {
    expect(activityStart(traceAt([]))).toBe(0);
    expect(activityStart(traceAt([5]))).toBe(0);
    expect(activityStart(traceAt([5, 9 * MS]))).toBe(0);
    const v = activityView(traceAt([5]));
    expect(v.endNs).toBeGreaterThan(v.startNs);
  });
});
