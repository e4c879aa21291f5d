import { describe, expect, it } from 'vitest';
import { AnalysisError } from './errors.ts';
import { FAULT_RULES, formatFinding } from './findings.ts';
import { checkTrace } from './runner.ts';
import { synthesize, SYNTH_FAULTS, type SynthOptions } from './synth.ts';

const check = (o: SynthOptions) => {
  const t = synthesize(o);
  return { t, res: checkTrace(t, { strings: (k) => t.strings[k] }) };
};

describe('synthesize', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = synthesize({ seed: 11, events: 3000, sessions: 8 });
    const b = synthesize({ seed: 11, events: 3000, sessions: 8 });
    const c = synthesize({ seed: 12, events: 3000, sessions: 8 });
    expect(a.length).toBe(b.length);
    expect(a.words.subarray(0, a.length * 8)).toEqual(b.words.subarray(0, b.length * 8));
    expect(a.words.subarray(0, 800)).not.toEqual(c.words.subarray(0, 800));
  });

  it('stops at exactly the requested number of events without a shutdown', () => {
    const t = synthesize({ seed: 1, events: 2345, sessions: 6, shutdown: false });
    expect(t.length).toBe(2345);
    expect(t.shutdownIndex).toBe(-1);
  });

  it('reports nothing on clean runs with random resets, closes and GQCS-Ex, across seeds', () => {
    for (const [seed, maxEntries] of [
      [1, 1],
      [2, 4],
      [3, 2],
    ] as const) {
      const { res } = check({ seed, events: 8_000, sessions: 24, maxEntries, resetShare: 0.5 });
      expect(res.findings.map(formatFinding)).toEqual([]);
    }
  });

  it.each(SYNTH_FAULTS)('makes the fault %s visible to its own rule', (fault) => {
    const { res } = check({
      seed: 9,
      events: 10_000,
      sessions: 24,
      faults: [fault],
      faultRate: 0.4,
    });
    expect(res.findings.map((f) => f.rule)).toContain(FAULT_RULES[fault]);
  });

  it('rejects bad options with a coded error', () => {
    for (const o of [
      { events: 0 },
      { workers: 0 },
      { faultRate: 2 },
      { faults: ['nope' as never] },
      { messageBytes: [10, 5] as [number, number] },
    ]) {
      expect(() => synthesize(o)).toThrow(AnalysisError);
    }
  });
});
