// The chat server (`serve --app chat`) on the native backend, inside node.exe
// under Wine (run by scripts/native/test.mjs with the other *.wine.ts files):
// the same checks as test/integration/chat-server.test.ts, with fewer clients
// because Wine is slower. Every broadcast reaches every member in order,
// exactly once, byte for byte (late joiners and resets included), every
// SendBuffer goes back to the pool, every session is released once, every
// thread is joined, and the trace says the port was the native one.

import { describe, expect, it } from 'vitest';
import {
  Backend,
  EventKind,
  RECORD_WORDS,
  SendBufferOp,
  ThreadRole,
  aAt,
  kindAt,
} from '@iocpscope/protocol';
import type { ChatState } from '../../src/chat/state.ts';
import { runChatLoad, type ChatLoadOptions, type ChatLoadReport } from '../../src/load/chat.ts';
import { startServer } from '../../src/session/server.ts';
import { TraceChecker } from '../integration/trace-check.ts';

/** As echo-native.wine.ts: two threads' IoCount records of one session may land swapped. */
function lifetimeViolations(checker: TraceChecker): string[] {
  return checker.violations().filter((v) => !/IoCount says \d+, deltas sum to \d+/.test(v));
}

async function withNativeChat(load: Omit<ChatLoadOptions, 'target'>) {
  const checker = new TraceChecker();
  const backends: number[] = [];
  const buffers = { acquired: 0, returned: 0 };
  const server = await startServer(
    // gqcsBatch 1: see echo-native.wine.ts (Wine hands exit packets to no waiter in particular).
    {
      app: 'chat',
      echoPort: 0,
      workers: 2,
      maxSessions: 512,
      ringRecords: 1 << 18,
      backend: 'native',
      gqcsBatch: 1,
      chat: { rooms: 4 },
    },
    {
      onBatch: (w: Uint32Array) => {
        checker.onBatch(w);
        for (let i = 0; i < w.length / RECORD_WORDS; i++) {
          const k = kindAt(w, i);
          if (k === EventKind.PortCreated) backends.push(aAt(w, i));
          else if (k === EventKind.SendBuffer) {
            if (aAt(w, i) === SendBufferOp.Acquire) buffers.acquired++;
            else if (aAt(w, i) === SendBufferOp.Returned) buffers.returned++;
          }
        }
      },
    },
  );
  let report: ChatLoadReport;
  try {
    report = await runChatLoad({
      target: { host: '127.0.0.1', port: server.echoPort },
      connectTimeoutMs: 20_000,
      drainTimeoutMs: 8000,
      ...load,
    });
  } finally {
    await server.stop();
  }
  const stop = await server.stop();
  const state = (server as unknown as { shared: { runtime: { state: ChatState } } }).shared.runtime
    .state;
  return { checker, backends, buffers, load: report, stop, state, table: server.table };
}

describe('the chat server on the native port under Wine', () => {
  it('delivers every broadcast to every member of its room in order, exactly once, byte for byte, and releases everything', async () => {
    const r = await withNativeChat({
      clients: 40,
      rooms: 4,
      rate: 8,
      durationMs: 2000,
      lateJoin: 0.2,
      rampMs: 300,
    });
    expect(r.backends).toEqual([Backend.Native]);
    expect(r.load.violations.samples).toEqual([]);
    expect(r.load.ok).toBe(true);
    expect(r.load.broadcasts).toBeGreaterThan(100);
    expect(r.load.clients.lateJoined).toBe(8);
    expect(r.state.poolFree).toBe(r.state.poolCap);
    expect(r.buffers.returned).toBe(r.buffers.acquired);
    expect(lifetimeViolations(r.checker)).toEqual([]);
    expect(r.table.accepted).toBe(40);
    expect(r.table.released).toBe(40);
    expect(r.stop.stuckSessions).toBe(0);
    expect(r.stop.workersJoined).toBe(2);
    expect(r.stop.acceptJoined).toBe(true);
    expect(r.checker.count(ThreadRole.Worker)).toBe(2);
  }, 90_000);

  it('survives resets mid-broadcast: no violation, every session released once, every buffer back', async () => {
    const r = await withNativeChat({
      clients: 24,
      rooms: 3,
      rate: 8,
      durationMs: 1500,
      resetsPerSec: 6,
      lateJoin: 0,
    });
    expect(r.load.violations.samples).toEqual([]);
    expect(r.load.clients.resets).toBeGreaterThan(3);
    expect(r.state.poolFree).toBe(r.state.poolCap);
    expect(lifetimeViolations(r.checker)).toEqual([]);
    expect(r.table.released).toBe(r.table.accepted);
    expect(r.stop.stuckSessions).toBe(0);
  }, 90_000);
});
