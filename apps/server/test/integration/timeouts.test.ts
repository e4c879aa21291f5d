// The session layer's idle and partial-packet timeouts (issue 16 §3), on the
// real server over loopback: a socket that sends nothing, or leaves a packet
// half sent, is kicked with that reason in the trace; a client that keeps
// talking is not; and idle connections that fill --max-sessions no longer
// lock every new client out for good.

import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DisconnectReason } from '@iocpscope/protocol';
import type { ServerOptions } from '../../src/session/config.ts';
import { startServer, sweepPeriodMs } from '../../src/session/server.ts';
import { TraceChecker } from './trace-check.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/** Resolves with ms until the server closed `s` (or -1 after `limitMs`). */
function closedWithin(s: Socket, limitMs: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(-1), limitMs);
    s.on('error', () => undefined);
    s.resume();
    s.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
  });
}

function packet(payload: number[]): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeUInt16LE(payload.length, 0);
  b.writeUInt16LE(1, 2);
  b.set(payload, 4);
  return b;
}

async function withServer(
  options: ServerOptions,
  body: (port: number) => Promise<void>,
): Promise<{ checker: TraceChecker; kicks: number }> {
  const checker = new TraceChecker();
  const server = await startServer(
    { echoPort: 0, workers: 2, ringRecords: 1 << 16, ...options },
    { onBatch: checker.onBatch },
  );
  let kicks: number;
  try {
    await body(server.echoPort);
    kicks = server.status().timeoutKicks;
  } finally {
    await server.stop();
  }
  return { checker, kicks };
}

function reasonsOf(checker: TraceChecker): number[] {
  return [...checker.sessions.values()].flatMap((s) => s.disconnectReasons);
}

describe('idle and partial-packet timeouts', () => {
  it('kicks a connection that sends nothing once the idle timeout passes, with reason IdleTimeout in the trace', async () => {
    const r = await withServer({ idleTimeoutMs: 300, partialTimeoutMs: 0 }, async (port) => {
      const idle = await open(port);
      const ms = await closedWithin(idle, 3000);
      expect(ms).toBeGreaterThan(250);
      expect(ms).toBeLessThan(1500);
    });
    expect(r.kicks).toBe(1);
    expect(reasonsOf(r.checker)).toEqual([DisconnectReason.IdleTimeout]);
    expect(r.checker.violations()).toEqual([]);
  });

  it('kicks a client that leaves a packet half sent (2 of 4 header bytes), with reason PartialTimeout', async () => {
    const r = await withServer({ idleTimeoutMs: 10_000, partialTimeoutMs: 250 }, async (port) => {
      const slow = await open(port);
      slow.write(Buffer.from([8, 0]));
      const ms = await closedWithin(slow, 3000);
      expect(ms).toBeGreaterThan(200);
      expect(ms).toBeLessThan(1500);
    });
    expect(reasonsOf(r.checker)).toEqual([DisconnectReason.PartialTimeout]);
  });

  it('does not restart the partial clock for a client that trickles the same packet a byte at a time', async () => {
    const r = await withServer({ idleTimeoutMs: 10_000, partialTimeoutMs: 400 }, async (port) => {
      const slow = await open(port);
      const closed = closedWithin(slow, 4000);
      // A 100-byte packet, one byte every 100 ms: it would take 10 s to complete.
      const p = packet(Array.from({ length: 100 }, (_, k) => k));
      for (let k = 0; k < 12 && !slow.destroyed; k++) {
        slow.write(p.subarray(k, k + 1));
        await sleep(100);
      }
      const ms = await closed;
      expect(ms).toBeGreaterThan(0);
      expect(ms).toBeLessThan(1500);
    });
    expect(reasonsOf(r.checker)).toEqual([DisconnectReason.PartialTimeout]);
  });

  it('leaves a client that keeps talking alone, and kicks nothing when both timeouts are off', async () => {
    const talking = await withServer(
      { idleTimeoutMs: 300, partialTimeoutMs: 300 },
      async (port) => {
        const c = await open(port);
        c.resume();
        for (let k = 0; k < 10; k++) {
          c.write(packet([1, 2, 3, k]));
          await sleep(100);
        }
        expect(c.destroyed).toBe(false);
        c.end();
        await sleep(50);
      },
    );
    expect(talking.kicks).toBe(0);
    expect(reasonsOf(talking.checker)).not.toContain(DisconnectReason.IdleTimeout);
    const off = await withServer({ idleTimeoutMs: 0, partialTimeoutMs: 0 }, async (port) => {
      const idle = await open(port);
      expect(await closedWithin(idle, 800)).toBe(-1);
      idle.destroy();
    });
    expect(off.kicks).toBe(0);
  });

  it('frees the slots of idle connections that fill --max-sessions, so a new client gets in', async () => {
    await withServer(
      { maxSessions: 4, idleTimeoutMs: 400, partialTimeoutMs: 0, joinWorkMs: 0 },
      async (port) => {
        const squatters = await Promise.all([0, 1, 2, 3].map(() => open(port)));
        const gone = squatters.map((s) => closedWithin(s, 4000));
        await sleep(100);
        // The pool is full: a fifth client is refused at once.
        const refused = await open(port);
        expect(await closedWithin(refused, 1000)).toBeGreaterThanOrEqual(0);
        for (const ms of await Promise.all(gone)) expect(ms).toBeGreaterThan(0);
        // Their slots are free again: a new client is served.
        const c = await open(port);
        const echoed = new Promise<Buffer>((resolve) => c.once('data', resolve));
        c.write(packet([7, 7, 7]));
        expect([...(await echoed)]).toEqual([...packet([7, 7, 7])]);
        c.destroy();
      },
    );
  });

  it('sweeps at a quarter of the shorter timeout, between 10 and 250 ms, and not at all when both are off', () => {
    expect(sweepPeriodMs(60_000, 10_000)).toBe(250);
    expect(sweepPeriodMs(300, 0)).toBe(75);
    expect(sweepPeriodMs(0, 20)).toBe(10);
    expect(sweepPeriodMs(0, 0)).toBe(0);
  });
});
