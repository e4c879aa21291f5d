// Every fault switch, for real, through the analysis detectors (issue 7, tests:
// "every fault switch"): the reference server runs with the switch on
// (`iocpscope serve --fault NAME --record FILE`, through runServeCli), scripted
// clients drive the broken code path, and `iocpscope check` (checkFile, every
// detector of @iocpscope/analysis) must report the rule that belongs to the
// switch (FAULT_RULES). The scenarios are the ones scripts/make-examples.ts
// records the committed examples with, so this also keeps that script working.
// test/integration/faults.test.ts proves the same bugs with a hand-written
// trace checker; here the product's own detectors must see them.

import { afterAll, describe, expect, it } from 'vitest';
import { FAULT_RULES } from '@iocpscope/analysis';
import { tempDir } from '../../src/cli/trace-file.test-util.ts';
import {
  SCENARIOS,
  expectedRule,
  recordScenario,
  type Scenario,
} from '../../../../scripts/make-examples.ts';

const tmp = tempDir('iocpscope-faults-');
afterAll(() => tmp.remove());

/** A scenario's recording: serve exits 0, nothing lost or damaged. */
async function record(s: Scenario): Promise<Awaited<ReturnType<typeof recordScenario>>> {
  const r = await recordScenario(s, tmp.file(`${s.name}.iocptrace`));
  expect(r.serveExit, r.serveOutput).toBe(0);
  expect(r.outcome.damage).toBeNull();
  expect(r.outcome.lostEvents).toBe(0);
  return r;
}

const rulesOf = (r: Awaited<ReturnType<typeof recordScenario>>): string[] => [
  ...new Set(r.outcome.findings.map((f) => f.rule)),
];

describe('each fault switch, run under load and recorded, is caught by its rule', () => {
  it('maps every fault switch to a rule', () => {
    const faults = SCENARIOS.filter((s) => s.name !== 'clean').map((s) => s.name);
    expect(faults.sort()).toEqual(Object.keys(FAULT_RULES).sort());
  });

  for (const s of SCENARIOS) {
    const rule = expectedRule(s.name);
    if (rule === null) continue;
    it(`--fault ${s.name}: check reports ${rule}`, async () => {
      // Races get the attempts the example script gives them.
      let rules: string[] = [];
      for (let attempt = 0; attempt < s.attempts && !rules.includes(rule); attempt++) {
        rules = rulesOf(await record(s));
      }
      expect(rules).toContain(rule);
    }, 120_000);
  }
});
