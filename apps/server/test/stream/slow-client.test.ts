// A stalled dashboard next to one that keeps up, over real sockets: the fast
// one gets every event, the stalled one is bounded and gets a Gap, the
// publisher never waits for it, and after it resumes it is live again.

import { afterEach, describe, expect, it } from 'vitest';
import {
  EventKind,
  GapSource,
  RECORD_WORDS,
  decodeFrame,
  kindAt,
  aAt,
  xAt,
  zAt,
} from '@iocpscope/protocol';
import { ReplaySource } from '../../src/hub/replay.ts';
import { syntheticTrace } from '../../src/hub/synthetic.ts';
import { startStreamServer, type StreamServer } from '../../src/transport/server.ts';
import { TestClient, waitFor } from './helpers.ts';

let server: StreamServer | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server?.close();
  server = undefined;
});

const QUEUE = 512 * 1024;

function lastZ(frame: Uint8Array): number {
  const f = decodeFrame(frame);
  const n = f.records.length / RECORD_WORDS;
  return n === 0 ? -1 : zAt(f.records, n - 1);
}

describe('a slow client next to one that keeps up', () => {
  it('costs the server nothing: the fast client gets every event, the slow one a counted gap, then live events', async () => {
    // Enough events to overrun the kernel's loopback buffers several times.
    const t = syntheticTrace({ events: 1_200_000, workers: 4 });
    const total = t.records.length / RECORD_WORDS;
    const replay = new ReplaySource(t);
    const tailTrace = syntheticTrace({
      events: 20_000,
      workers: 4,
      startTs: 1e12,
      zBase: 1_200_000,
    });
    const tailBody = tailTrace.records.subarray(tailTrace.headerRecords * RECORD_WORDS);
    const tail = new ReplaySource({ records: tailBody, strings: [] });
    server = await startStreamServer({
      port: 0,
      source: {
        subscribe: (l) => {
          const a = replay.subscribe(l);
          const b = tail.subscribe(l);
          return () => (a(), b());
        },
      },
      hub: { maxClientQueueBytes: QUEUE },
    });
    const fast = await TestClient.open(server.wsUrl);
    const slow = await TestClient.open(server.wsUrl);
    clients.push(fast, slow);
    await waitFor('both greeted', () => fast.frames.length === 1 && slow.frames.length === 1);
    // Stall the slow client: its socket stops reading, so TCP fills up.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const [fastStats, slowStats] = [0, 1].map((i) => () => server!.hub.stats().perClient[i]!);
    // The source is paced by the fast client only: it keeps up by construction,
    // and the stalled one is ignored.
    const r = await replay.run({
      batchRecords: 8192,
      gate: () =>
        fastStats().queuedBytes > QUEUE / 4
          ? waitFor('fast client drained', () => fastStats().queuedBytes <= QUEUE / 4)
          : undefined,
    });
    expect(r.events).toBe(total);
    await waitFor('fast client has everything', () => fast.events >= total, 20_000);
    expect(fast.events).toBe(total);
    const peakSlow = slowStats().peakQueuedBytes;
    expect(peakSlow).toBeLessThanOrEqual(QUEUE + 8192 * 32 + 1024);
    expect(slowStats().lostEvents + slowStats().deliveredEvents).toBeLessThan(total + 1);

    // Resume the slow client: it drains, gets its Gap, and is live again.
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await waitFor(
      'slow client drained',
      () => slowStats().queuedBytes === 0 && slowStats().gaps > 0,
      20_000,
    );
    await tail.run({ batchRecords: 4096 });
    const liveTotal = total + tailBody.length / RECORD_WORDS;
    await waitFor('fast client has the tail', () => fast.events >= liveTotal, 20_000);

    await waitFor('slow client has the tail', () => {
      const s = slowStats();
      return s.deliveredEvents + s.lostEvents === liveTotal;
    });
    await waitFor('slow client got the last event', () => lastZ(slow.frames.at(-1)!) === 1_219_999);
    let lost = 0;
    let delivered = 0;
    let prevZ = -1;
    let ordered = true;
    for (const bytes of slow.frames.slice(1)) {
      const f = decodeFrame(bytes);
      for (let i = 0; i < f.records.length / RECORD_WORDS; i++) {
        if (kindAt(f.records, i) === EventKind.Gap) {
          expect(aAt(f.records, i)).toBe(GapSource.ClientQueue);
          lost += xAt(f.records, i);
          continue;
        }
        delivered++;
        const z = zAt(f.records, i);
        if (z === 0) continue; // header records
        if (z <= prevZ) ordered = false;
        prevZ = z;
      }
    }
    expect(lost).toBeGreaterThan(0);
    expect(delivered + lost).toBe(liveTotal);
    expect(ordered).toBe(true);
    expect(fast.messages.length).toBeGreaterThan(0);
  }, 60_000);
});
