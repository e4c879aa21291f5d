// Every fault switch, for real, through the analysis detectors (issue 7, tests:
// "every fault switch"; issue 14 §9): the reference server runs with the
// switch on (`iocpscope serve --fault NAME --record FILE`, through
// runServeCli), scripted clients drive the broken code path, and `iocpscope
// check` (checkFile, every detector of @iocpscope/analysis) must report
// exactly: the rule that belongs to the switch (FAULT_RULES), the co-findings
// every such run shows, and nothing outside the documented co-findings
// (FAULT_CO_FINDINGS, each with its reason). The clean runs (echo and chat,
// the chat one with resets) must report nothing. The scenarios are the ones scripts/make-examples.ts records the
// committed examples with, so this also keeps that script working.
// test/integration/faults.test.ts proves the same bugs with a hand-written
// trace checker; here the product's own detectors must see them.

import { afterAll, describe, expect, it } from 'vitest';
import { FAULT_CO_FINDINGS, FAULT_RULES, type RuleId } from '@iocpscope/analysis';
import { tempDir } from '../../src/cli/trace-file.test-util.ts';
import {
  SCENARIOS,
  expectedRule,
  isCleanScenario,
  recordScenario,
  type Scenario,
} from '../../../../scripts/make-examples.ts';

const tmp = tempDir('iocpscope-faults-');
afterAll(() => tmp.remove());

/** A scenario's recording: serve exits 0, nothing lost or damaged, the run ended as planned. */
async function record(s: Scenario): Promise<Awaited<ReturnType<typeof recordScenario>>> {
  const r = await recordScenario(s, tmp.file(`${s.name}.iocptrace`));
  expect(r.serveExit, r.serveOutput).toBe(0);
  expect(r.outcome.damage).toBeNull();
  expect(r.outcome.lostEvents).toBe(0);
  expect(r.outcome.incomplete).toBeNull();
  return r;
}

const rulesOf = (r: Awaited<ReturnType<typeof recordScenario>>): RuleId[] =>
  [...new Set(r.outcome.findings.map((f) => f.rule))].sort();

describe('each fault switch, run under load and recorded, is caught by its rule and nothing else', () => {
  it('maps every fault switch to a rule and lists its co-findings with a reason', () => {
    const faults = SCENARIOS.filter((s) => !isCleanScenario(s.name)).map((s) => s.name);
    expect(faults.sort()).toEqual(Object.keys(FAULT_RULES).sort());
    expect(Object.keys(FAULT_CO_FINDINGS).sort()).toEqual(Object.keys(FAULT_RULES).sort());
    for (const [fault, list] of Object.entries(FAULT_CO_FINDINGS)) {
      for (const c of list) {
        expect(c.rule, fault).not.toBe(FAULT_RULES[fault as keyof typeof FAULT_RULES]);
        expect(c.why.length, `${fault} -> ${c.rule}`).toBeGreaterThan(30);
      }
    }
  });

  for (const s of SCENARIOS) {
    const rule = expectedRule(s.name);
    if (rule === null) {
      it(`the clean ${s.name === 'chat' ? 'chat ' : ''}run: no rule fires`, async () => {
        expect(rulesOf(await record(s))).toEqual([]);
      }, 120_000);
      continue;
    }
    const co = FAULT_CO_FINDINGS[s.name as keyof typeof FAULT_CO_FINDINGS];
    const required = [rule, ...co.filter((c) => c.always === true).map((c) => c.rule)].sort();
    const allowed = new Set<RuleId>([rule, ...co.map((c) => c.rule)]);
    it(`--fault ${s.name}: check reports ${required.join(' + ')}${
      co.length > required.length - 1
        ? ` (and may report ${co
            .filter((c) => c.always !== true)
            .map((c) => c.rule)
            .join(', ')})`
        : ''
    }`, async () => {
      // Races get the attempts the example script gives them.
      let rules: RuleId[] = [];
      for (let attempt = 0; attempt < s.attempts && !rules.includes(rule); attempt++) {
        rules = rulesOf(await record(s));
      }
      expect(rules).toEqual(expect.arrayContaining(required));
      expect(rules.filter((r) => !allowed.has(r))).toEqual([]);
    }, 120_000);
  }
});
