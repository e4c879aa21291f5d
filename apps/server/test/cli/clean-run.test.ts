// The clean run (issue 7, tests): the reference server without fault switches,
// a long run of 200 connections with random resets, recorded through
// `iocpscope serve --record`, then `iocpscope check` over the whole recording:
// no detector may fire. Bounded to 15 s of traffic so CI stays quick.

import { afterAll, describe, expect, it } from 'vitest';
import { CHECK_EXIT } from '../../src/cli/check.ts';
import { tempDir } from '../../src/cli/trace-file.test-util.ts';
import { runLoad, type LoadReport } from '../../src/load/run.ts';
import { SCENARIO_BY_NAME, recordScenario } from '../../../../scripts/make-examples.ts';

const tmp = tempDir('iocpscope-clean-');
afterAll(() => tmp.remove());

describe('a long clean run with random resets', () => {
  it('200 connections for 15 s with ~100 resets/s: check finds nothing and exits 0', async () => {
    let load: LoadReport | null = null;
    const r = await recordScenario(
      {
        ...SCENARIO_BY_NAME.get('clean')!,
        async drive(port) {
          load = await runLoad({
            target: { host: '127.0.0.1', port },
            connections: 200,
            durationMs: 15_000,
            rampMs: 500,
            inFlight: 2,
            messageSize: 100,
            resetsPerSec: 100,
            seed: 12,
            // Generous: a shared 2-core box can stall for seconds; this is not a speed test.
            connectTimeoutMs: 20_000,
            stallTimeoutMs: 20_000,
          });
          return { keepOpen: [] };
        },
        maxBytes: Infinity,
      },
      tmp.file('long-clean.iocptrace'),
    );
    const l = load as unknown as LoadReport;
    expect(r.serveExit, r.serveOutput).toBe(0);
    expect({ mismatches: l.mismatches.count, failures: l.failures.samples.slice(0, 3) }).toEqual({
      mismatches: 0,
      failures: [],
    });
    expect(l.connections.resets).toBeGreaterThan(500);
    expect(l.messages).toBeGreaterThan(10_000);
    const o = r.outcome;
    expect(o.damage).toBeNull();
    // The per-thread rings can overflow on a starved box; the detectors then start
    // over after the gap, which weakens but does not invalidate the check.
    expect(o.lostEvents).toBeLessThan(o.events / 100);
    expect(o.sessions).toBeGreaterThan(700);
    expect(
      o.findings.map((f) => `${f.rule}/${f.check} at ${f.index}: ${f.message}`).slice(0, 5),
    ).toEqual([]);
    expect(o.exitCode).toBe(CHECK_EXIT.clean);
  }, 120_000);
});
