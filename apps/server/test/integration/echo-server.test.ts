import { describe, expect, it } from 'vitest';
import { DisconnectReason, ThreadRole } from '@iocpscope/protocol';
import { startServer } from '../../src/echo/server.ts';
import { runLoad, type LoadReport } from '../../src/load/run.ts';
import { TraceChecker } from './trace-check.ts';

async function withServer(
  workers: number,
  body: (port: number) => Promise<void>,
): Promise<{
  checker: TraceChecker;
  report: Awaited<ReturnType<Awaited<ReturnType<typeof startServer>>['stop']>>;
  tableActive: number;
  released: number;
  accepted: number;
}> {
  const checker = new TraceChecker();
  const server = await startServer(
    { echoPort: 0, workers, maxSessions: 2048, ringRecords: 1 << 18 },
    { onBatch: checker.onBatch },
  );
  try {
    await body(server.echoPort);
  } finally {
    await server.stop();
  }
  const report = await server.stop();
  return {
    checker,
    report,
    tableActive: server.table.active,
    released: server.table.released,
    accepted: server.table.accepted,
  };
}

describe('the reference echo server on loopback', () => {
  it('echoes 1,000 clients with every byte verified, then releases every session exactly once and joins every thread', async () => {
    let load: LoadReport | null = null;
    const r = await withServer(2, async (port) => {
      load = await runLoad({
        target: { host: '127.0.0.1', port },
        connections: 1000,
        messages: 3,
        inFlight: 2,
        messageSize: 100,
        rampMs: 200,
        // Generous: a shared 2-core box can stall for seconds; this is not a speed test.
        connectTimeoutMs: 20_000,
        stallTimeoutMs: 20_000,
      });
    });
    const l = load as unknown as LoadReport;
    expect({
      mismatches: l.mismatches.samples,
      failures: l.failures.samples.slice(0, 3),
      stalled: l.stalled,
      verified: l.messages,
    }).toEqual({ mismatches: [], failures: [], stalled: false, verified: 3000 });
    expect(r.checker.violations()).toEqual([]);
    expect(r.checker.sessions.size).toBe(1000);
    expect(r.accepted).toBe(1000);
    expect(r.released).toBe(1000);
    expect(r.tableActive).toBe(0);
    expect(r.report.stuckSessions).toBe(0);
    expect(r.report.workersJoined).toBe(2);
    expect(r.report.workersTerminated + r.report.workersWokenByPortClose).toBe(0);
    expect(r.report.acceptJoined).toBe(true);
    expect(r.checker.count(ThreadRole.Worker)).toBe(2);
    expect(r.checker.count(ThreadRole.Accept)).toBe(1);
  }, 30_000);

  it('survives 200 clients with random resets mid-stream: no mismatch, every session released once, IOCount 0', async () => {
    let mismatches = -1;
    let resets = 0;
    const r = await withServer(2, async (port) => {
      const load = await runLoad({
        target: { host: '127.0.0.1', port },
        connections: 200,
        durationMs: 2500,
        inFlight: 4,
        messageSize: 200,
        resetsPerSec: 150,
        seed: 7,
      });
      mismatches = load.mismatches.count;
      resets = load.connections.resets;
    });
    expect(mismatches).toBe(0);
    expect(resets).toBeGreaterThan(50);
    expect(r.checker.violations()).toEqual([]);
    expect(r.accepted).toBe(r.checker.sessions.size);
    expect(r.released).toBe(r.accepted);
    expect(r.tableActive).toBe(0);
    expect(r.report.stuckSessions).toBe(0);
    expect(r.report.workersJoined).toBe(2);
    // Resets show up as I/O errors (or peer closes when the RST races a FIN).
    const reasons = [...r.checker.sessions.values()].flatMap((s) => s.disconnectReasons);
    expect(reasons.filter((x) => x === DisconnectReason.IoError).length).toBeGreaterThan(0);
  }, 30_000);

  it('runs the same way with tracing off (--no-trace): echoes, releases every session, joins every thread', async () => {
    const server = await startServer({ echoPort: 0, workers: 2, trace: false, gqcsBatch: 1 });
    expect(server.drainer).toBeNull();
    let ok: boolean;
    try {
      const load = await runLoad({
        target: { host: '127.0.0.1', port: server.echoPort },
        connections: 50,
        messages: 20,
        inFlight: 4,
        messageSize: 1000,
      });
      ok = load.ok && load.messages === 1000;
    } finally {
      await server.stop();
    }
    const report = await server.stop();
    expect(ok).toBe(true);
    expect(report.trace).toBeNull();
    expect(server.table.accepted).toBe(50);
    expect(server.table.released).toBe(50);
    expect(report.workersJoined).toBe(2);
  }, 30_000);
});
