// The chat server (`serve --app chat`, issue 18) on loopback, driven by its
// load generator (load/chat.ts), with the whole trace kept and judged:
// - every member gets every broadcast of its room, in order, exactly once,
//   byte for byte, late joiners from their join on;
// - every SendBuffer goes back to the pool (the pool's count, and an Acquire
//   matched by a Returned for each buffer life in the trace);
// - every session is released exactly once with IOCount back at 0;
// - a clean run with resets gives the detectors nothing to report;
// - each chat fault switch is caught by its rule, and the load sees the
//   damage the fault does to users where it does any.

import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { checkTrace, type Finding, type RuleId } from '@iocpscope/analysis';
import { EventKind, RECORD_WORDS, SendBufferOp, aAt, kindAt } from '@iocpscope/protocol';
import type { ChatState } from '../../src/chat/state.ts';
import { runChatLoad, type ChatLoadOptions, type ChatLoadReport } from '../../src/load/chat.ts';
import type { ServerOptions } from '../../src/session/config.ts';
import { startServer } from '../../src/session/server.ts';
import { TraceChecker } from './trace-check.ts';

/** Every batch of the run, concatenated: the detectors' input. */
class TraceKeeper {
  private words = new Uint32Array(1 << 20);
  length = 0;
  readonly onBatch = (w: Uint32Array): void => {
    const need = (this.length + w.length / RECORD_WORDS) * RECORD_WORDS;
    if (need > this.words.length) {
      const next = new Uint32Array(Math.max(need, this.words.length * 2));
      next.set(this.words.subarray(0, this.length * RECORD_WORDS));
      this.words = next;
    }
    this.words.set(w, this.length * RECORD_WORDS);
    this.length += w.length / RECORD_WORDS;
  };
  get records(): { words: Uint32Array; length: number } {
    return { words: this.words.subarray(0, this.length * RECORD_WORDS), length: this.length };
  }
  count(kind: number, a?: number): number {
    let n = 0;
    const w = this.words;
    for (let i = 0; i < this.length; i++)
      if (kindAt(w, i) === kind && (a === undefined || aAt(w, i) === a)) n++;
    return n;
  }
}

interface ChatRun {
  load: ChatLoadReport;
  checker: TraceChecker;
  trace: TraceKeeper;
  findings: Finding[];
  stats: Record<string, number>;
  poolFreeAtEnd: number;
  poolCap: number;
  report: Awaited<ReturnType<Awaited<ReturnType<typeof startServer>>['stop']>>;
}

async function chatRun(
  server: ServerOptions,
  load: Omit<ChatLoadOptions, 'target'>,
  before?: (port: number) => Promise<void>,
): Promise<ChatRun> {
  const checker = new TraceChecker();
  const trace = new TraceKeeper();
  const s = await startServer(
    { app: 'chat', echoPort: 0, workers: 2, ringRecords: 1 << 18, ...server },
    {
      onBatch: (w) => {
        checker.onBatch(w);
        trace.onBatch(w);
      },
    },
  );
  let report: ChatLoadReport;
  let stats: Record<string, number>;
  try {
    if (before) await before(s.echoPort);
    report = await runChatLoad({
      target: { host: '127.0.0.1', port: s.echoPort },
      connectTimeoutMs: 20_000,
      drainTimeoutMs: 5000,
      ...load,
    });
  } finally {
    stats = s.status().appStats;
  }
  const stop = await s.stop();
  const state = (s as unknown as { shared: { runtime: { state: ChatState } } }).shared.runtime
    .state;
  return {
    load: report,
    checker,
    trace,
    findings: checkTrace(trace.records, { endOfRun: true }).findings,
    stats,
    poolFreeAtEnd: state.poolFree,
    poolCap: state.poolCap,
    report: stop,
  };
}

const rulesOf = (fs: readonly Finding[]): RuleId[] => [...new Set(fs.map((f) => f.rule))].sort();

describe('the chat server on loopback', () => {
  it('delivers every broadcast to every member of its room in order, exactly once, byte for byte, late joiners from their join on', async () => {
    const r = await chatRun(
      { chat: { rooms: 6 } },
      { clients: 60, rooms: 6, rate: 10, durationMs: 2000, lateJoin: 0.2, rampMs: 300 },
    );
    expect(r.load.violations.samples).toEqual([]);
    expect(r.load.ok).toBe(true);
    expect(r.load.clients.lateJoined).toBe(12);
    expect(r.load.broadcasts).toBeGreaterThan(500);
    // Each chat reaches its sender and the room's other members (9 or 10 of them).
    expect(r.load.deliveries).toBeGreaterThan(r.load.broadcasts * 8);
    expect(r.stats['broadcasts']).toBe(r.load.broadcasts);
  }, 60_000);

  it('returns every SendBuffer to the pool and releases every session exactly once with IOCount 0', async () => {
    const r = await chatRun(
      { chat: { rooms: 4, sendBuffers: 256 } },
      { clients: 40, rooms: 4, rate: 10, durationMs: 1500, resetsPerSec: 4 },
    );
    expect(r.load.ok).toBe(true);
    expect(r.poolFreeAtEnd).toBe(r.poolCap);
    const acquired = r.trace.count(EventKind.SendBuffer, SendBufferOp.Acquire);
    expect(acquired).toBeGreaterThan(500);
    expect(r.trace.count(EventKind.SendBuffer, SendBufferOp.Returned)).toBe(acquired);
    expect(r.trace.count(EventKind.SendBuffer, SendBufferOp.PoolEmpty)).toBe(0);
    expect(r.checker.violations()).toEqual([]);
    expect(r.report.acceptedSessions).toBe(40 + r.load.clients.resets);
    expect(r.report.releasedSessions).toBe(r.report.acceptedSessions);
    expect(r.report.stuckSessions).toBe(0);
    expect(r.report.workersJoined).toBe(2);
  }, 60_000);

  it('a clean run with resets, late joiners and room ticks gives the detectors nothing to report', async () => {
    const r = await chatRun(
      { chat: { rooms: 3, tickMs: 50 } },
      { clients: 30, rooms: 3, rate: 10, durationMs: 1500, resetsPerSec: 5, lateJoin: 0.2 },
    );
    expect(r.load.ok).toBe(true);
    expect(r.trace.count(EventKind.TimerJob, 1)).toBeGreaterThan(30);
    expect(r.findings.map((f) => `${f.rule}: ${f.message}`)).toEqual([]);
  }, 60_000);

  it('kicks a client that breaks the protocol (chat before login, an unknown type, a bad length)', async () => {
    const bad = [
      Buffer.from([3, 0, 4, 0, 104, 105, 33]), // Chat before Login
      Buffer.from([0, 0, 0x99, 0]), // unknown type
      Buffer.from([1, 0, 2, 0, 0]), // Enter with 1 byte
    ];
    const closed: number[] = [];
    const r = await chatRun(
      { chat: { rooms: 2 } },
      { clients: 2, rooms: 2, rate: 5, durationMs: 300 },
      async (port) => {
        for (const b of bad) {
          const c: Socket = connect(port, '127.0.0.1');
          c.on('error', () => undefined);
          await new Promise<void>((resolve) => c.once('connect', () => resolve()));
          const t0 = performance.now();
          const done = new Promise<void>((resolve) => c.once('close', () => resolve()));
          c.resume();
          c.write(b);
          await done;
          closed.push(performance.now() - t0);
        }
      },
    );
    expect(closed).toHaveLength(3);
    for (const ms of closed) expect(ms).toBeLessThan(2000);
    const reasons = [...r.checker.sessions.values()].flatMap((s) => s.disconnectReasons);
    // Kicked (7), BadType (4), BadLength (3).
    expect(reasons).toEqual(expect.arrayContaining([7, 4, 3]));
  }, 60_000);
});

describe('the chat fault switches, each caught by its rule', () => {
  it('job-queue-two-flushers: two workers flush one room at once; the clients get broadcasts out of order', async () => {
    let r: ChatRun | null = null;
    // A race: two pushers must read the idle room's count within the buggy push's 1 ms log write.
    // A run counts when the clients saw the race's own damage, broadcasts out of order or
    // twice; a run whose only damage was of another kind (seen once in CI) is tried again.
    // The two flushers often deliver in order all the same: counted here, 3 runs in 16 showed
    // the damage (the rule saw the race in 9 of them). So it tries for up to 90 s (about 50
    // runs), not a number of times: 10 runs all missed it in a fresh-clone CI run.
    const reordered = (c: ChatRun): boolean =>
      c.load.violations.samples.some((v) => v.kind === 'out-of-order' || v.kind === 'duplicate');
    const t0 = Date.now();
    while (Date.now() - t0 < 90_000) {
      r = await chatRun(
        { chat: { rooms: 4 }, faults: ['job-queue-two-flushers'] },
        { clients: 24, rooms: 4, rate: 10, durationMs: 1500, lateJoin: 0 },
      );
      if (!r.load.ok && rulesOf(r.findings).includes('job-queue-flushers') && reordered(r)) break;
    }
    expect(rulesOf(r!.findings)).toContain('job-queue-flushers');
    expect(r!.load.ok).toBe(false);
    const kinds = new Set(r!.load.violations.samples.map((v) => v.kind));
    expect([...kinds].some((k) => k === 'out-of-order' || k === 'duplicate')).toBe(true);
  }, 180_000);

  it("send-buffer-early-release: a buffer is reused while members still send it; the clients get other broadcasts' bytes", async () => {
    const r = await chatRun(
      { chat: { rooms: 2 }, faults: ['send-buffer-early-release'] },
      { clients: 16, rooms: 2, rate: 10, durationMs: 1000, lateJoin: 0 },
    );
    expect(rulesOf(r.findings)).toContain('send-buffer-reuse');
    expect(r.findings.some((f) => f.check === 'reused-while-sending')).toBe(true);
    expect(r.load.ok).toBe(false);
    // A reused buffer carries another broadcast: from the other room it is
    // 'corrupt', from the same room a repeated or skipped sequence number.
    const k = r.load.violations.byKind;
    expect(
      (k.corrupt ?? 0) + (k.duplicate ?? 0) + (k['out-of-order'] ?? 0),
      JSON.stringify(k),
    ).toBeGreaterThan(0);
  }, 60_000);

  it('broadcast-under-room-lock: the room lock is held across the WSASends while another worker waits for it', async () => {
    let r: ChatRun | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      r = await chatRun(
        { chat: { rooms: 1 }, gqcsBatch: 1, faults: ['broadcast-under-room-lock'] },
        { clients: 12, rooms: 1, rate: 20, durationMs: 1000, lateJoin: 0 },
      );
      if (r.findings.some((f) => f.check === 'held-across-send')) break;
    }
    expect(
      r!.findings.some((f) => f.rule === 'lock-across-send' && f.check === 'held-across-send'),
    ).toBe(true);
    // No damage a client can see: the broadcasts are right, only slow.
    expect(r!.load.ok).toBe(true);
    expect(r!.trace.count(EventKind.JobFlush)).toBe(0);
  }, 90_000);

  it('lock-order-inversion: the lock-order cycle is reported from a run that never deadlocked', async () => {
    // One client at a time through Login and Enter: the two paths never meet,
    // so no thread ever waits for a lock. On a loaded machine two clients can
    // still overlap (one LockWait seen once in CI): every run must report the
    // cycle, and the test wants one run with no wait at all, up to 3 tries.
    let waits = -1;
    for (let attempt = 0; attempt < 3 && waits !== 0; attempt++) {
      const r = await chatRun(
        { chat: { rooms: 2 }, faults: ['lock-order-inversion'] },
        { clients: 4, rooms: 2, rate: 2, durationMs: 1200, rampMs: 900, lateJoin: 0 },
      );
      expect(r.load.ok).toBe(true);
      expect(rulesOf(r.findings)).toEqual(['lock-order']);
      expect(r.findings[0]!.message).toMatch(/#10.*#11|#11.*#10/);
      waits = r.trace.count(EventKind.LockWait);
    }
    expect(waits, 'lock waits in the last of 3 runs (each should have none)').toBe(0);
  }, 120_000);
});
