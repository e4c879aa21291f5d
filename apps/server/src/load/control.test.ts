import net from 'node:net';
import { LoadStatsSchema } from '@iocpscope/protocol';
import type { LoadOptions as ControlLoadOptions, LoadStats } from '@iocpscope/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadFailedError, controlLoadRunner, fromControlOptions } from './control.ts';
import { LoadOptionError } from './errors.ts';
import { startPlainEcho } from './plain-echo.ts';
import type { PlainEchoServer } from './plain-echo.ts';

let server: PlainEchoServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** The protocol schema's defaults, as the control channel hands them over. */
const defaults: ControlLoadOptions = {
  connections: 100,
  messageSize: 64,
  inFlight: 1,
  rampMs: 0,
  resetRate: 0,
};

describe('fromControlOptions', () => {
  const target = { host: '127.0.0.1', port: 7701 };

  it('maps header-included sizes, total counts, reset rates and open-ended runs', () => {
    expect(fromControlOptions(target, { ...defaults, messages: 1000, resetRate: 2.5 })).toEqual({
      target,
      connections: 100,
      messageSize: 60,
      inFlight: 1,
      rampMs: 0,
      resetsPerSec: 2.5,
      totalMessages: 1000,
    });
    expect(fromControlOptions(target, { ...defaults, durationMs: 500 }).durationMs).toBe(500);
    expect(fromControlOptions(target, defaults).untilStopped).toBe(true);
  });

  it('refuses sizes the echo wire format cannot carry', () => {
    expect(() => fromControlOptions(target, { ...defaults, messageSize: 8197 })).toThrow(
      LoadOptionError,
    );
  });
});

describe('controlLoadRunner', () => {
  it('runs a total message count spread over the connections and reports protocol stats', async () => {
    server = await startPlainEcho();
    const run = controlLoadRunner({ host: '127.0.0.1', port: server.port });
    const progress: LoadStats[] = [];
    const stats = await run(
      { ...defaults, connections: 7, messages: 100, inFlight: 4 },
      { onProgress: (s) => progress.push(s), signal: new AbortController().signal },
    );
    expect(LoadStatsSchema.parse(stats)).toEqual(stats);
    expect(stats).toMatchObject({ sent: 100, received: 100, bytesSent: 6400, bytesReceived: 6400 });
    expect(stats.errors).toBe(0);
    expect(stats.latencyP99Us).toBeGreaterThan(0);
    for (const p of progress) expect(LoadStatsSchema.parse(p)).toEqual(p);
  });

  it('runs until stopped when given neither a duration nor a count', async () => {
    server = await startPlainEcho();
    const run = controlLoadRunner({ host: '127.0.0.1', port: server.port });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 200);
    const stats = await run(
      { ...defaults, connections: 3 },
      { onProgress: () => {}, signal: stop.signal },
    );
    expect(stats.received).toBeGreaterThan(0);
    expect(stats.elapsedMs).toBeGreaterThanOrEqual(190);
  });

  it('throws bad options synchronously, before anything starts', () => {
    const run = controlLoadRunner({ host: '127.0.0.1', port: 1 });
    const signal = new AbortController().signal;
    expect(() =>
      run({ ...defaults, inFlight: 1024, messageSize: 8196 }, { onProgress: () => {}, signal }),
    ).toThrow(LoadOptionError);
  });

  it('rejects with LoadFailedError when echoes cannot be verified', async () => {
    const closer = net.createServer((s) => {
      s.on('error', () => s.destroy());
      s.end();
    });
    await new Promise<void>((r) => closer.listen(0, '127.0.0.1', r));
    const port = (closer.address() as net.AddressInfo).port;
    const run = controlLoadRunner({ host: '127.0.0.1', port });
    const result = run(
      { ...defaults, connections: 2, durationMs: 300 },
      { onProgress: () => {}, signal: new AbortController().signal },
    );
    await expect(result).rejects.toBeInstanceOf(LoadFailedError);
    await expect(result).rejects.toMatchObject({ code: 'LOAD_FAILED' });
    await new Promise((r) => closer.close(r));
  });
});
