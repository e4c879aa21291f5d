import { describe, expect, it } from 'vitest';
import { CHAT_FAULT_NAMES } from '@iocpscope/protocol';
import {
  FAULT_RULES,
  formatFinding,
  RULE_BY_ID,
  RULES,
  summarize,
  type Finding,
} from './findings.ts';
import { SYNTH_FAULTS } from './synth.ts';

describe('the rule catalogue', () => {
  it('has one rule for each of the 16 classic bugs and the chat server’s 3, each saying what the trace shows', () => {
    expect(RULES.map((r) => r.number)).toEqual([...Array(19).keys()].map((k) => k + 1));
    expect(new Set(RULES.map((r) => r.id)).size).toBe(19);
    for (const r of RULES) expect(r.coverage.length).toBeGreaterThan(40);
  });

  it('maps every fault switch to a rule that exists', () => {
    // The synthetic generator covers every fault but the ring-buffer ones (it has no rings)
    // and the chat server's (it has no rooms).
    const ringFaults = ['ring-wrap-off-by-one', 'send-overflow-ignored', 'short-send-ignored'];
    expect(Object.keys(FAULT_RULES).sort()).toEqual(
      [...SYNTH_FAULTS, ...ringFaults, ...CHAT_FAULT_NAMES].sort(),
    );
    for (const rule of Object.values(FAULT_RULES)) expect(RULE_BY_ID.has(rule)).toBe(true);
  });

  it('summarizes findings by rule in rule order and formats one line each', () => {
    const f = (rule: Finding['rule'], n: number): Finding => ({
      rule,
      ruleNumber: n,
      check: 'x',
      title: RULE_BY_ID.get(rule)!.title,
      severity: 'error',
      subject: { kind: 'port' },
      index: 12,
      tsNs: 0,
      evidence: [12],
      message: 'm',
    });
    const s = summarize([f('release-once', 13), f('iocount-balance', 1), f('release-once', 13)]);
    expect(s.total).toBe(3);
    expect(s.byRule.map((r) => [r.number, r.count])).toEqual([
      [1, 1],
      [13, 2],
    ]);
    expect(formatFinding(f('iocount-balance', 1))).toBe('[1 iocount-balance/x] event 12: m');
  });
});
