import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadOptionError } from './errors.ts';
import { startPlainEcho } from './plain-echo.ts';
import { createRandom } from './random.ts';
import { runLoad } from './run.ts';
import type { LoadProgress, MismatchKind } from './run.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function plainTarget(): Promise<string> {
  const s = await startPlainEcho();
  closers.push(() => s.close());
  return `127.0.0.1:${s.port}`;
}

type Fault =
  | 'flip-payload'
  | 'flip-length'
  | 'drop'
  | 'swap'
  | 'duplicate'
  | 'extra'
  | 'hang'
  | 'close'
  | 'dribble';

/**
 * An echo server that cuts whole packets like the real one, then misbehaves on
 * packet number `at` of every connection (or, for 'dribble', behaves but
 * writes back in random 1..7-byte pieces).
 */
async function faultyTarget(fault: Fault, at = 5): Promise<string> {
  const sockets = new Set<net.Socket>();
  const rnd = createRandom(99);
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    let pending = Buffer.alloc(0);
    let index = 0;
    let held: Buffer | null = null;
    let hung = false;
    const out = (b: Buffer) => {
      if (fault !== 'dribble') return void s.write(b);
      for (let i = 0; i < b.length;) {
        const n = 1 + rnd.int(7);
        s.write(b.subarray(i, i + n));
        i += n;
      }
    };
    s.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt16LE(0)) {
        const len = 4 + pending.readUInt16LE(0);
        const p = Buffer.from(pending.subarray(0, len));
        pending = pending.subarray(len);
        const i = index++;
        if (hung) continue;
        if (i !== at) {
          out(p);
          if (held) {
            out(held);
            held = null;
          }
          continue;
        }
        if (fault === 'flip-payload') p[4 + 10]! ^= 0x40;
        if (fault === 'flip-length') p[0]! ^= 0x01;
        if (fault === 'drop') continue;
        if (fault === 'swap') {
          held = p;
          continue;
        }
        if (fault === 'hang') {
          hung = true;
          continue;
        }
        if (fault === 'close') {
          s.destroy();
          return;
        }
        out(p);
        if (fault === 'duplicate') out(p);
        if (fault === 'extra') out(Buffer.from([0x55]));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  );
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

describe('runLoad against a correct echo server', () => {
  it('verifies every echoed byte of pipelined messages and counts them exactly', async () => {
    const target = await plainTarget();
    for (const [messageSize, inFlight, messages] of [
      [64, 16, 120],
      [0, 4, 120],
      [1, 8, 120],
      [8192, 3, 20],
    ] as const) {
      const r = await runLoad({ target, connections: 8, messageSize, inFlight, messages });
      expect(r.ok, JSON.stringify(r.mismatches)).toBe(true);
      expect(r.messages).toBe(8 * messages);
      expect(r.measuredMessages).toBe(8 * messages);
      expect(r.latencyUs.count).toBe(8 * messages);
      expect(r.receivedBytes).toBe(8 * messages * (4 + messageSize));
      expect(r.latencyUs.p50).toBeGreaterThan(0);
      expect(r.latencyUs.p99).toBeGreaterThanOrEqual(r.latencyUs.p50);
      expect(r.messagesPerSec).toBeGreaterThan(0);
      expect(r.connections).toMatchObject({ opened: 8, peakOpen: 8, resets: 0, failed: 0 });
    }
  });

  it('spreads a total message count over the connections, leaving extra slots unopened', async () => {
    const target = await plainTarget();
    const r = await runLoad({ target, connections: 8, inFlight: 2, totalMessages: 5 });
    expect(r.ok).toBe(true);
    expect([r.messages, r.sentMessages, r.connections.opened]).toEqual([5, 5, 5]);
    const spread = await runLoad({ target, connections: 3, totalMessages: 100 });
    expect([spread.messages, spread.receivedBytes]).toEqual([100, 100 * 68]);
  });

  it('reassembles echoes that arrive a few bytes at a time', async () => {
    const target = await faultyTarget('dribble');
    const r = await runLoad({ target, connections: 3, messageSize: 37, inFlight: 5, messages: 40 });
    expect(r.ok, JSON.stringify(r.mismatches)).toBe(true);
    expect(r.messages).toBe(120);
  });

  it('runs for a duration, reports progress and leaves warmup out of the rate', async () => {
    const target = await plainTarget();
    const progress: LoadProgress[] = [];
    const r = await runLoad(
      {
        target,
        connections: 4,
        inFlight: 2,
        durationMs: 400,
        warmupMs: 100,
        progressIntervalMs: 50,
      },
      { onProgress: (p) => progress.push(p) },
    );
    expect(r.ok).toBe(true);
    // A 400 ms timer may fire up to a millisecond early by performance.now()
    // (Node's timers run on a millisecond clock): 399.91 was seen in CI.
    expect(r.elapsedMs).toBeGreaterThanOrEqual(399);
    expect(r.measuredMs).toBeGreaterThanOrEqual(290);
    expect(r.measuredMessages).toBeLessThan(r.messages);
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.at(-1)!.fraction).toBe(1);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.messages).toBeGreaterThanOrEqual(progress[i - 1]!.messages);
    }
  });

  it('opens connections over the ramp time', async () => {
    const target = await plainTarget();
    const r = await runLoad({ target, connections: 20, rampMs: 300, messages: 20 });
    expect(r.ok).toBe(true);
    // The last of 20 slots opens no earlier than 19/20 of the ramp.
    expect(r.elapsedMs).toBeGreaterThanOrEqual(285);
  });

  it('stops sending on abort, drains what is in flight and still verifies it', async () => {
    const target = await plainTarget();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const r = await runLoad(
      { target, connections: 5, inFlight: 8, durationMs: 60_000 },
      { signal: controller.signal },
    );
    expect(r.aborted).toBe(true);
    expect(r.ok).toBe(true);
    expect(r.elapsedMs).toBeLessThan(5000);
    expect(r.messages).toBeGreaterThan(0);
  });
});

describe('runLoad with abrupt resets', () => {
  it('completes a timed run, counting in-flight messages at reset as losses, not mismatches', async () => {
    const target = await plainTarget();
    const r = await runLoad({
      target,
      connections: 20,
      inFlight: 4,
      durationMs: 600,
      resetsPerSec: 60,
      seed: 3,
    });
    expect(r.ok, JSON.stringify([r.mismatches, r.failures])).toBe(true);
    expect(r.connections.resets).toBeGreaterThan(10);
    expect(r.lostToResets).toBeGreaterThan(0);
    expect(r.mismatches.count).toBe(0);
  });

  it('still delivers every requested message per connection when resets interrupt them', async () => {
    const target = await plainTarget();
    const r = await runLoad({
      target,
      connections: 10,
      inFlight: 4,
      messageSize: 200,
      messages: 2000,
      resetsPerSec: 100,
      seed: 11,
    });
    expect(r.ok, JSON.stringify([r.mismatches, r.failures])).toBe(true);
    expect(r.connections.resets).toBeGreaterThan(0);
    expect(r.messages).toBe(10 * 2000);
  });
});

describe('runLoad against a faulty echo server', () => {
  const cases: [Fault, MismatchKind, RegExp][] = [
    ['flip-payload', 'corrupt', /message #5 byte 14/],
    ['flip-length', 'corrupt', /message #5 byte 0.*length/],
    ['drop', 'out-of-order', /message #5.*#6/],
    ['swap', 'out-of-order', /message #5.*#6/],
    ['duplicate', 'duplicate', /message #6.*#5 again/],
    ['close', 'short', /closed the connection/],
  ];
  for (const [fault, kind, detail] of cases) {
    it(`reports a ${kind} mismatch when the server does '${fault}' and fails the run`, async () => {
      const target = await faultyTarget(fault);
      const r = await runLoad({
        target,
        connections: 2,
        messageSize: 32,
        inFlight: 4,
        messages: 20,
      });
      expect(r.ok).toBe(false);
      expect(r.mismatches.count).toBe(2);
      expect(new Set(r.mismatches.samples.map((m) => m.connection))).toEqual(new Set([0, 1]));
      for (const m of r.mismatches.samples) {
        expect(m.kind).toBe(kind);
        expect(m.detail).toMatch(detail);
      }
    });
  }

  it('reports the exact byte of a corruption', async () => {
    const target = await faultyTarget('flip-payload');
    const r = await runLoad({ target, connections: 1, messageSize: 32, messages: 10 });
    const m = r.mismatches.samples[0]!;
    expect([m.message, m.offset, m.actual! ^ m.expected!]).toEqual([5, 14, 0x40]);
  });

  it('reports bytes beyond what was sent as extra', async () => {
    const target = await faultyTarget('extra', 5);
    const r = await runLoad({ target, connections: 1, messageSize: 8, messages: 6 });
    expect(r.ok).toBe(false);
    expect(r.mismatches.samples.map((m) => m.kind)).toEqual(['extra']);
  });

  it('reports messages never echoed as short once the drain time is over', async () => {
    const target = await faultyTarget('hang', 3);
    const r = await runLoad({
      target,
      connections: 2,
      inFlight: 2,
      durationMs: 300,
      drainTimeoutMs: 200,
    });
    expect(r.ok).toBe(false);
    expect(r.stalled).toBe(false);
    expect(r.mismatches.samples.map((m) => m.kind)).toEqual(['short', 'short']);
    expect(r.mismatches.samples[0]!.detail).toMatch(/not echoed within the 200 ms drain time/);
  });

  it('gives up as stalled when no echo arrives for the stall timeout', async () => {
    const target = await faultyTarget('hang', 3);
    const r = await runLoad({ target, connections: 1, messages: 100, stallTimeoutMs: 200 });
    expect(r.stalled).toBe(true);
    expect(r.ok).toBe(false);
    expect(r.mismatches.samples[0]!.kind).toBe('short');
    expect(r.elapsedMs).toBeLessThan(3000);
  });
});

describe('runLoad connection failures', () => {
  it('fails the run when nothing listens on the target', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const r = await runLoad({ target: `127.0.0.1:${port}`, connections: 3, messages: 5 });
    expect(r.ok).toBe(false);
    expect(r.failures.count).toBe(3);
    expect(
      r.failures.samples.every((f) => f.code === 'ECONNREFUSED' && f.phase === 'connect'),
    ).toBe(true);
    expect(r.messages).toBe(0);
  });

  it('counts a server that closes idle connections as failures, not mismatches', async () => {
    const server = net.createServer((s) => {
      s.on('error', () => s.destroy());
      s.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const r = await runLoad({ target: `127.0.0.1:${port}`, connections: 2, durationMs: 300 });
    expect(r.ok).toBe(false);
    expect(r.mismatches.count + r.failures.count).toBe(2);
    for (const f of r.failures.samples) expect(f.code).toMatch(/PEER_CLOSED|ECONNRESET|EPIPE/);
  });

  it('rejects bad options before opening any socket', async () => {
    await expect(runLoad({ target: 'nonsense' })).rejects.toBeInstanceOf(LoadOptionError);
    await expect(runLoad({ target: '127.0.0.1:1', messageSize: 9000 })).rejects.toMatchObject({
      code: 'OUT_OF_RANGE',
      option: 'messageSize',
    });
  });
});
