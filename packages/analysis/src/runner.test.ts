import { IoCountCause } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import type { AnalysisError } from './errors.ts';
import { Checkpoints } from './checkpoints.ts';
import { DetectorRunner, checkTrace } from './runner.ts';
import { normalizeState } from './testing/normalize.ts';
import { Rng, synthesize } from './synth.ts';
import { openSession, server, echoRound } from './testing/scenarios.ts';
import { feedInWindows, findingKey } from './testing/windows.ts';
import { SYNTH_FAULTS } from './synth.ts';

describe('DetectorRunner', () => {
  it('finds the same things when fed in random chunks as in one pass', () => {
    const t = synthesize({
      seed: 4,
      events: 8_000,
      sessions: 20,
      faults: ['recv-not-reposted', 'two-sends-in-flight'],
      faultRate: 0.3,
    });
    const whole = checkTrace(t).findings;
    expect(whole.length).toBeGreaterThan(0);
    const r = new DetectorRunner();
    const rng = new Rng(8);
    const streamed = [];
    while (r.count < t.length)
      streamed.push(...r.feed(t, Math.min(t.length, r.count + rng.int(1, 2000))));
    streamed.push(...r.finish());
    expect(streamed).toEqual(whole);
    expect(r.findings).toEqual(whole);
  });

  it('finds the same things fed in windows with a moving base as in one whole feed', () => {
    // Every fault the generator has, a few seeds: each detector gets to fire.
    for (const [seed, faults] of [
      [11, SYNTH_FAULTS.slice(0, 5)],
      [12, SYNTH_FAULTS.slice(5)],
      [13, SYNTH_FAULTS],
    ] as const) {
      const t = synthesize({ seed, events: 12_000, sessions: 24, faults, faultRate: 0.3 });
      const whole = checkTrace(t);
      expect(whole.findings.length).toBeGreaterThan(0);
      const run = feedInWindows(t, new Rng(seed), {
        minSize: 100,
        maxSize: 3000,
        // Finding times of events before the window come from the caller.
        timeOf: (i) => t.words[i * 8 + 2]! + (t.words[i * 8 + 3]! & 0x1fffff) * 2 ** 32,
      });
      expect(run.windows).toBeGreaterThan(5);
      expect(run.findings.map(findingKey)).toEqual(whole.findings.map(findingKey));
      expect(run.findings).toEqual(whole.findings);
      expect(run.runner.suppressed).toEqual(whole.suppressed);
    }
  });

  it('starts at a given event index and refuses a window that does not hold what it must feed', () => {
    const t = synthesize({ seed: 3, events: 2_000, sessions: 8 });
    const r = new DetectorRunner({ startAt: 500 });
    expect(r.count).toBe(500);
    const w = t.words.slice(500 * 8, 900 * 8);
    expect(() => r.feedWindow(w, 600, 700)).toThrow(/cannot feed/);
    expect(() => r.feedWindow(w, 500, 901)).toThrow(/cannot feed/);
    r.feedWindow(w, 500, 900);
    expect(r.count).toBe(900);
    expect(r.replayer.step.index).toBe(899);
    expect(() => new DetectorRunner({ startAt: -1 })).toThrow(/startAt/);
  });

  it('keeps at most maxFindingsPerRule findings per rule and counts the rest', () => {
    const t = synthesize({
      seed: 4,
      events: 4_000,
      sessions: 20,
      faults: ['no-accept-hold'],
      faultRate: 1,
    });
    const all = checkTrace(t, { rules: ['accept-hold'] });
    const capped = checkTrace(t, { rules: ['accept-hold'], maxFindingsPerRule: 3 });
    expect(capped.findings).toEqual(all.findings.slice(0, 3));
    expect(capped.suppressed.get('accept-hold')).toBe(all.findings.length - 3);
  });

  it('gives each finding its evidence in order, including the marked event', () => {
    const t = synthesize({
      seed: 5,
      events: 5_000,
      sessions: 20,
      faults: ['iocount-double-decrement'],
      faultRate: 0.5,
    });
    for (const f of checkTrace(t).findings) {
      expect(f.evidence).toContain(f.index);
      expect(f.evidence).toEqual([...f.evidence].sort((a, b) => a - b));
      expect(f.evidence.every((e) => e >= 0 && e < t.length)).toBe(true);
    }
  });

  it('judges nothing it saw only in part: sessions cut by a gap are not reported, later ones are', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv, 1);
    sv.b.complete(recv, { bytes: 8 });
    w.dequeue(recv);
    sv.b.gap(25); // the worker's new recv and its -1 were lost
    w.gqcs();
    w.dec(s, IoCountCause.Completion, 12345);
    const after = openSession(sv, 2);
    const r2 = echoRound(sv, w, after.s, after.recv);
    w.dec(after.s, IoCountCause.Completion, r2.ioId);
    const fs = checkTrace(sv.b.build()).findings;
    expect(fs.filter((f) => f.subject.kind === 'session' && f.subject.session === s)).toEqual([]);
    expect(fs.map((f) => [f.rule, f.subject])).toContainEqual([
      'iocount-balance',
      { kind: 'session', session: after.s },
    ]);
  });

  it("takes a thread's ring overflow to last until the thread writes again", () => {
    // The drainer places a recorder's Gap where the loss began; the thread may
    // go on losing records after it. A session created meanwhile is not judged
    // on what that thread did unseen (it dequeued the recv and posted the next
    // one), but a session created after the thread's next record is.
    const sv = server();
    const w = sv.w[0]!;
    sv.b.gap(500, w.tid, 0);
    const { s, recv } = openSession(sv, 1);
    sv.b.complete(recv, { bytes: 8 });
    w.recv(s); // the thread's first record since its Gap: the dequeue was lost
    const later = openSession(sv, 2);
    const second = w.recv(later.s);
    const fs = checkTrace(sv.b.build()).findings.filter((f) => f.rule === 'buffer-in-use');
    expect(fs.map((f) => [f.check, f.evidence])).toEqual([
      ['two-recvs', [later.recv.incIndex, second.incIndex]],
    ]);
  });

  it('builds a seek index in the same pass that agrees with a standalone one, without changing the findings', () => {
    const t = synthesize({
      seed: 6,
      events: 6_000,
      sessions: 20,
      faults: ['two-sends-in-flight'],
      faultRate: 0.5,
    });
    const r = new DetectorRunner({ checkpointInterval: 500 });
    r.feed(t);
    r.finish();
    expect(r.findings).toEqual(checkTrace(t).findings);
    const alone = new Checkpoints({ interval: 500 });
    alone.extend(t);
    expect(r.checkpoints!.stats()).toEqual(alone.stats());
    for (const i of [0, 499, 500, 3333, t.length - 1]) {
      expect(normalizeState(r.checkpoints!.stateAt(t, i))).toStrictEqual(
        normalizeState(alone.stateAt(t, i)),
      );
    }
  });

  it('finds the same things and builds the same seek index with a small session cache', () => {
    const t = synthesize({
      seed: 9,
      events: 6_000,
      sessions: 60,
      faults: ['two-sends-in-flight'],
      faultRate: 0.5,
    });
    const big = new DetectorRunner({ checkpointInterval: 700 });
    big.feed(t);
    big.finish();
    // Two entries: nearly every lookup collides and goes to the session map.
    const small = new DetectorRunner({ checkpointInterval: 700, sessionCacheSize: 2 });
    small.feed(t);
    small.finish();
    expect(small.findings).toEqual(big.findings);
    expect(small.checkpoints!.stats()).toEqual(big.checkpoints!.stats());
    expect(normalizeState(small.replayer.state)).toStrictEqual(normalizeState(big.replayer.state));
  });

  it('rejects unknown rules, bad options, bad ranges and feeding after finish', () => {
    const t = server().b.build();
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as AnalysisError).code;
      }
      return 'none';
    };
    expect(code(() => new DetectorRunner({ rules: ['nope' as never] }))).toBe(
      'ANALYSIS_BAD_OPTION',
    );
    expect(code(() => new DetectorRunner({ starvationNs: -1 }))).toBe('ANALYSIS_BAD_OPTION');
    expect(code(() => new DetectorRunner({ sessionCacheSize: 1000 }))).toBe('ANALYSIS_BAD_OPTION');
    const r = new DetectorRunner();
    expect(code(() => r.feed(t, t.length + 1))).toBe('ANALYSIS_BAD_INDEX');
    r.feed(t);
    r.finish();
    expect(r.finish()).toEqual([]);
    expect(code(() => r.feed(t))).toBe('ANALYSIS_BAD_INDEX');
  });
});
