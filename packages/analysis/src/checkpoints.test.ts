import { describe, expect, it } from 'vitest';
import { Checkpoints, replayFromStart } from './checkpoints.ts';
import type { AnalysisError } from './errors.ts';
import { Replayer } from './replay.ts';
import { Rng, synthesize } from './synth.ts';
import { normalizeState } from './testing/normalize.ts';
import { openSession, server } from './testing/scenarios.ts';

describe('Checkpoints', () => {
  it('seek to random events equals a full replay from the start (seeded)', () => {
    const rng = new Rng(2024);
    const traces = [
      synthesize({ seed: 1, events: 8_000, sessions: 40 }),
      synthesize({
        seed: 2,
        events: 8_000,
        sessions: 40,
        faults: ['release-with-io-pending', 'two-sends-in-flight'],
        faultRate: 0.4,
      }),
      synthesize({
        seed: 3,
        events: 8_000,
        sessions: 40,
        maxEntries: 3,
        faults: ['release-without-atomic-flag'],
      }),
    ];
    for (const t of traces) {
      const cp = new Checkpoints({ interval: 700 });
      cp.extend(t);
      const points = [
        -1,
        0,
        699,
        700,
        t.length - 1,
        ...Array.from({ length: 6 }, () => rng.int(0, t.length - 1)),
      ];
      for (const i of points) {
        expect(normalizeState(cp.stateAt(t, i)), `state at event ${i}`).toStrictEqual(
          normalizeState(replayFromStart(t, i + 1)),
        );
      }
    }
  });

  it('gives the same states when the index grows piece by piece, as a live recording does', () => {
    const t = synthesize({ seed: 5, events: 5_000, sessions: 20 });
    const live = new Checkpoints({ interval: 333 });
    const rng = new Rng(3);
    while (live.count < t.length) live.extend(t, Math.min(t.length, live.count + rng.int(1, 900)));
    const batch = new Checkpoints({ interval: 333 });
    batch.extend(t);
    for (const i of [10, 1000, 2500, t.length - 1]) {
      expect(normalizeState(live.stateAt(t, i))).toStrictEqual(normalizeState(batch.stateAt(t, i)));
    }
    expect(live.stats()).toEqual(batch.stats());
  });

  it('after trim() holds only what it wrote, and still answers and grows', () => {
    const t = synthesize({ seed: 7, events: 4_000, sessions: 30 });
    const cp = new Checkpoints({ interval: 400 });
    cp.extend(t, 2_000);
    cp.trim();
    expect(cp.stats().arenaBytes).toBe(cp.stats().arenaWords * 4);
    cp.extend(t);
    for (const i of [1_999, 2_000, 3_999]) {
      expect(normalizeState(cp.stateAt(t, i))).toStrictEqual(
        normalizeState(replayFromStart(t, i + 1)),
      );
    }
  });

  it('replays past the last checkpoint for events not indexed yet', () => {
    const t = synthesize({ seed: 6, events: 3_000, sessions: 10 });
    const cp = new Checkpoints({ interval: 500 });
    cp.extend(t, 1200);
    expect(normalizeState(cp.stateAt(t, 2500))).toStrictEqual(
      normalizeState(replayFromStart(t, 2501)),
    );
  });

  it('encodes a session again only when it changed, and hands out states the caller owns', () => {
    const sv = server();
    const { s } = openSession(sv, 1);
    openSession(sv, 2);
    for (let k = 0; k < 40; k++) sv.main.marker('tick');
    const t = sv.b.build();
    const cp = new Checkpoints({ interval: 8 });
    cp.extend(t);
    const st = cp.stats();
    // Two sessions alive at most checkpoints, but each encoded only as often as it changed.
    expect(st.checkpoints).toBe(Math.floor(t.length / 8) + 1);
    expect(st.sessionVersions).toBeLessThan(6);
    expect(st.tableBytes).toBeGreaterThan(st.checkpoints * 4);
    const view = cp.stateAt(t, t.length - 1);
    view.sessions.get(s)!.ioCount = 99;
    expect(cp.stateAt(t, t.length - 1).sessions.get(s)!.ioCount).toBe(1);
    // A Replayer can continue from a seek.
    const r = new Replayer(cp.stateAt(t, t.length - 1));
    sv.w[0]!.recv(s);
    const t2 = sv.b.build();
    r.advance(t2, t2.length);
    expect(r.state.sessions.get(s)!.ioCount).toBe(2);
  });

  it('rejects indices outside the trace and bad intervals with coded errors', () => {
    const t = server().b.build();
    const cp = new Checkpoints();
    cp.extend(t);
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as AnalysisError).code;
      }
      return 'none';
    };
    expect(code(() => cp.stateAt(t, t.length))).toBe('ANALYSIS_BAD_INDEX');
    expect(code(() => cp.stateAt(t, -2))).toBe('ANALYSIS_BAD_INDEX');
    expect(code(() => cp.stateAfter(t, 1.5))).toBe('ANALYSIS_BAD_INDEX');
    expect(code(() => new Checkpoints({ interval: 0 }))).toBe('ANALYSIS_BAD_OPTION');
    expect(code(() => cp.extend({ words: new Uint32Array(8), length: 2 }))).toBe(
      'ANALYSIS_BAD_SOURCE',
    );
  });
});
