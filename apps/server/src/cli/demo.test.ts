import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startPlainEcho } from '../load/plain-echo.ts';
import { validateLoadOptions } from '../load/options.ts';
import { DEMO_CONNECTIONS, demoRound, startDemoLoad } from './demo.ts';

const target = { host: '127.0.0.1', port: 9 };

describe('the --demo load', () => {
  it('plans valid, gentle rounds that vary in size and depth, the same for the same seed', () => {
    const sizes = new Set<number>();
    const depths = new Set<number>();
    for (let round = 0; round < 200; round++) {
      const o = demoRound({ target }, round);
      const r = validateLoadOptions(o);
      expect(r.connections).toBe(DEMO_CONNECTIONS);
      expect(r.mode).toBe('messages');
      expect(r.messages).toBeGreaterThanOrEqual(10);
      expect(r.messages).toBeLessThanOrEqual(40);
      expect(r.inFlight).toBeGreaterThanOrEqual(1);
      expect(r.inFlight).toBeLessThanOrEqual(3);
      expect(r.messageSize).toBeLessThanOrEqual(508);
      expect(r.rampMs).toBeGreaterThanOrEqual(1000);
      expect(r.resetsPerSec).toBeGreaterThan(0);
      sizes.add(r.messageSize);
      depths.add(r.inFlight);
      expect(demoRound({ target }, round)).toEqual(o);
    }
    expect(sizes.size).toBeGreaterThan(4);
    expect(depths.size).toBe(3);
    expect(demoRound({ target, seed: 2 }, 0)).not.toEqual(demoRound({ target, seed: 1 }, 0));
  });

  it('runs round after round against an echo server until stopped, verifying every echo', async () => {
    const echo = await startPlainEcho();
    const failures: string[] = [];
    const demo = startDemoLoad({
      target: { host: echo.host, port: echo.port },
      connections: 4,
      roundMs: 50,
      resetsPerSec: 0,
      onFailure: (t) => failures.push(t),
    });
    let open: number;
    try {
      const end = Date.now() + 15_000;
      while (demo.rounds < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      await demo.stop();
      // Every demo connection was closed: the server sees them go (soon).
      const closedBy = Date.now() + 5000;
      while (echo.stats().connections > 0 && Date.now() < closedBy) {
        await new Promise((r) => setTimeout(r, 10));
      }
      open = echo.stats().connections;
    } finally {
      await demo.stop();
      await echo.close();
    }
    expect(failures).toEqual([]);
    expect(demo.rounds).toBeGreaterThanOrEqual(3);
    // Each round: 4 connections x 10..40 messages.
    expect(demo.messages).toBeGreaterThanOrEqual(3 * 4 * 10);
    expect(open).toBe(0);
  }, 30_000);

  it('reports a failing round once, keeps trying, and stops promptly', async () => {
    // A port that refuses connections: every round fails to connect.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const failures: string[] = [];
    const demo = startDemoLoad({
      target: { host: '127.0.0.1', port },
      connections: 2,
      roundMs: 10,
      onFailure: (t) => failures.push(t),
    });
    const end = Date.now() + 10_000;
    while (failures.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    const t0 = performance.now();
    await demo.stop();
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/demo load: round 0 .*connection failures \(ECONNREFUSED\)/);
    expect(demo.rounds).toBeGreaterThanOrEqual(1);
  }, 30_000);
});
