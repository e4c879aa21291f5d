import { describe, expect, it } from 'vitest';
import { ScenarioFileError, compareRuns, normalise, parseScenarioResult } from './compare.ts';
import type { Observation, ScenarioResult } from './scenario.ts';

const post = (step: number, what: string, result = 'queued'): Observation => ({
  step,
  kind: 'post',
  what,
  result,
});
const done = (step: number, op: string, bytes: number, error = 0): Observation => ({
  step,
  kind: 'completion',
  op,
  ok: error === 0,
  bytes,
  error,
  overlapped: 1000 + step,
});
const run = (sessions: Record<string, Observation[]>, backend = 'emulated'): ScenarioResult => ({
  backend,
  sessions,
  ms: 1,
});

describe('comparing two runs of the differential scenario', () => {
  it('finds nothing when every session saw the same sequence, however sessions interleaved', () => {
    const a = run({
      s1: [post(1, 'recv 8'), done(1, 'recv', 3)],
      s2: [post(1, 'pqcs 1', 'true'), done(1, 'post', 1)],
    });
    const b = run(
      {
        s2: [post(1, 'pqcs 1', 'true'), done(1, 'post', 1)],
        s1: [post(1, 'recv 8'), done(1, 'recv', 3)],
      },
      'native',
    );
    expect(compareRuns(a, b)).toEqual([]);
  });

  it('reports the first position where a session differs, with both sides', () => {
    const a = run({ s1: [post(1, 'recv 8'), done(1, 'recv', 3)] });
    const b = run({ s1: [post(1, 'recv 8'), done(1, 'recv', 0, 64)] });
    expect(compareRuns(a, b)).toEqual([
      {
        session: 's1',
        at: 1,
        left: '#1 completion recv TRUE bytes=3 error=0',
        right: '#1 completion recv FALSE bytes=0 error=64',
      },
    ]);
  });

  it('reports a missing session and a sequence that ends early', () => {
    const a = run({ s1: [post(1, 'recv 8'), done(1, 'recv', 3)], s2: [] });
    const b = run({ s1: [post(1, 'recv 8')] });
    expect(compareRuns(a, b)).toEqual([
      { session: 's1', at: 1, left: '#1 completion recv TRUE bytes=3 error=0', right: '(end)' },
      { session: 's2', at: -1, left: 'present', right: 'missing' },
    ]);
  });

  it('ignores the order of completions one step owes together, but not across steps', () => {
    const twoOfStep2 = [post(2, 'x'), done(2, 'send', 1), done(2, 'recv', 4)];
    const swapped = [post(2, 'x'), done(2, 'recv', 4), done(2, 'send', 1)];
    expect(normalise(twoOfStep2)).toEqual(normalise(swapped));
    const steps = [done(1, 'post', 1), done(2, 'post', 2)];
    const reversed = [done(2, 'post', 2), done(1, 'post', 1)];
    expect(compareRuns(run({ s: steps }), run({ s: reversed }))).toHaveLength(1);
  });

  it('refuses a file that is not a scenario result with ERR_SCENARIO_FILE', () => {
    for (const text of ['', '{', '[]', '{"backend":"x"}', '{"backend":"x","sessions":{"a":[1]}}']) {
      expect(() => parseScenarioResult(text)).toThrow(ScenarioFileError);
    }
    const ok = parseScenarioResult(JSON.stringify(run({ s: [post(1, 'recv 8')] })));
    expect(ok.sessions.s).toHaveLength(1);
  });
});
