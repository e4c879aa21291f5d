// pnpm bench:stream — events/s delivered over /ws to a Node WebSocket client
// (in its own thread, decoding every frame), in two setups:
//   1. the hub fed by replaying a recording at full speed, paced only by the
//      client's bounded queue, so hub + transport are what is measured. The
//      baseline, in the same run: a bare ws server sending the same frame
//      bytes with the same queue bound. Rounds are interleaved; medians compared.
//   2. the live echo server under load (100 connections x 16 in flight x 64 B).
// Also printed: bytes per event on the wire, gaps seen by the client that keeps
// up (target 0), an unpaced replay (the hub sheds load to a client that cannot
// keep up rather than slowing down), and what stalled clients cost in memory.
// Target (issue 5): >= 1 M events/s in setup 1 with zero gaps.
// Options: --events N (default 3000000), --rounds N (3), --live-ms N (5000), --no-live.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { RECORD_WORDS, encodeFrame, readTraceFile } from '../packages/protocol/src/index.ts';
import { startServer } from '../apps/server/src/echo/server.ts';
import { ReplaySource } from '../apps/server/src/hub/replay.ts';
import { syntheticTrace } from '../apps/server/src/hub/synthetic.ts';
import { runLoad } from '../apps/server/src/load/run.ts';
import { RecordingSink } from '../apps/server/src/record/sink.ts';
import { dashboardAttach } from '../apps/server/src/transport/attach.ts';
import { startStreamServer, type StreamServer } from '../apps/server/src/transport/server.ts';
import {
  ClientWorker,
  openStalledClients,
  startRawServer,
  type ClientResult,
} from '../apps/server/test/stream/fixtures/ws-peer.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const EVENTS = arg('events', 3_000_000);
const ROUNDS = arg('rounds', 3);
const LIVE_MS = arg('live-ms', 5000);
const LIVE = !process.argv.includes('--no-live');
const BATCH = 8192; // records per replay batch (one hub frame each: 256 KiB)
const QUEUE = 8 * 1024 * 1024; // the hub's default per-client queue bound

const M = (n: number): string => `${(n / 1e6).toFixed(2)} M`;
const MiB = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Round {
  evPerSec: number;
  result: ClientResult;
}

async function hubRound(
  client: ClientWorker,
  trace: { records: Uint32Array; strings: Array<[number, string]> },
  dir: string,
  paced: boolean,
  stalledClients = 0,
): Promise<Round & { offeredPerSec: number }> {
  const replay = new ReplaySource(trace);
  const server: StreamServer = await startStreamServer({
    port: 0,
    source: replay,
    recordingsDir: dir,
    examplesDir: path.join(dir, 'none'),
  });
  const expect = replay.eventCount;
  // The measured client connects first: it is perClient[0], the one the gate watches.
  const { done } = await client.connect(server.wsUrl, expect);
  const stalled =
    stalledClients > 0 ? await openStalledClients(server.wsUrl, stalledClients) : undefined;
  await new Promise((r) => setTimeout(r, 50));
  const queued = (): number => server.hub.stats().perClient[0]?.queuedBytes ?? 0;
  const t0 = performance.now();
  const run = await replay.run({
    batchRecords: BATCH,
    gate: paced
      ? () =>
          queued() > QUEUE / 2
            ? (async () => {
                while (queued() > QUEUE / 4) await tick();
              })()
            : undefined
      : undefined,
  });
  const result = await done;
  const ms = performance.now() - t0;
  stalled?.close();
  await server.close();
  return {
    evPerSec: (result.events / ms) * 1000,
    offeredPerSec: (expect / run.elapsedMs) * 1000,
    result,
  };
}

async function rawRound(
  client: ClientWorker,
  frames: Uint8Array[],
  events: number,
): Promise<Round> {
  const raw = await startRawServer(frames, QUEUE);
  const { done } = await client.connect(raw.url, events);
  await raw.connected;
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  await raw.send();
  const result = await done;
  const ms = performance.now() - t0;
  await raw.close();
  return { evPerSec: (result.events / ms) * 1000, result };
}

async function stalledMemory(
  trace: { records: Uint32Array; strings: Array<[number, string]> },
  dir: string,
  k: number,
): Promise<string> {
  const replay = new ReplaySource(trace);
  const server = await startStreamServer({
    port: 0,
    source: replay,
    recordingsDir: dir,
    examplesDir: path.join(dir, 'none'),
    hub: { maxClients: k + 1 },
  });
  globalThis.gc?.();
  const before = process.memoryUsage();
  const stalled = await openStalledClients(server.wsUrl, k);
  await replay.run({ batchRecords: BATCH });
  await new Promise((r) => setTimeout(r, 100));
  const stats = server.hub.stats().perClient;
  const after = process.memoryUsage();
  const peak = Math.max(...stats.map((s) => s.peakQueuedBytes));
  const held = stats.reduce((n, s) => n + s.queuedBytes, 0);
  stalled.close();
  await server.close();
  const external = after.external + after.arrayBuffers - before.external - before.arrayBuffers;
  return (
    `${k} stalled clients: peak queue ${MiB(peak)} per client (bound ${MiB(QUEUE)}), ` +
    `${MiB(held / k)} held per client at the end; external+arrayBuffers +${MiB(external)} ` +
    `in all (${MiB(external / k)} per client, frames are shared between clients)`
  );
}

async function live(client: ClientWorker, dir: string): Promise<void> {
  const running = await startServer({ echoPort: 0, workers: 2, shutdownTimeoutMs: 1000 });
  const dashboard = await dashboardAttach({
    recordingsDir: dir,
    examplesDir: path.join(dir, 'none'),
  })(running, { host: '127.0.0.1', port: 0 });
  const { done } = await client.connect(dashboard.server.wsUrl, Number.MAX_SAFE_INTEGER);
  const produced0 = running.status().trace?.records ?? 0;
  const t0 = performance.now();
  const report = await runLoad({
    target: { host: '127.0.0.1', port: running.echoPort },
    connections: 100,
    inFlight: 16,
    messageSize: 60,
    durationMs: LIVE_MS,
  });
  await new Promise((r) => setTimeout(r, 300)); // let the drainer and the hub catch up
  const produced = (running.status().trace?.records ?? 0) - produced0;
  const lostInRings = running.status().trace?.lostRecords ?? 0;
  await dashboard.close(); // the client sees the close and reports
  const r = await done;
  const ms = performance.now() - t0;
  await running.stop();
  console.log('setup 2: echo server under load (100 conn x 16 in flight x 64 B) -> hub -> /ws');
  console.log(
    `  load: ${Math.round(report.messagesPerSec).toLocaleString()} echoes/s, ok=${report.ok}; ` +
      `trace: ${M((produced / ms) * 1000)} events/s produced, ${lostInRings} lost in rings`,
  );
  console.log(
    `  delivered to the client: ${M((r.events / ms) * 1000)} events/s ` +
      `(${r.events.toLocaleString()} of ${produced.toLocaleString()} produced), ` +
      `${(r.wireBytes / Math.max(1, r.events + r.gaps)).toFixed(2)} bytes/event on the wire, ` +
      `gaps ${r.gaps} (lost ${r.lost})`,
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-bench-stream-'));
  try {
    console.log(
      `stream bench: ${EVENTS.toLocaleString()} events per round, ${ROUNDS} rounds, ` +
        `${availableParallelism()} CPUs, load average ${loadavg()[0]!.toFixed(2)}`,
    );
    // The recording to replay: synthetic events written by the recorder, read back.
    const t = syntheticTrace({ events: EVENTS, workers: 4 });
    const file = path.join(dir, 'replay.iocptrace');
    const sink = new RecordingSink({
      path: file,
      header: {
        clock: 'monotonic-ns',
        host: 'bench',
        backend: 'emulated',
        portConfig: { workers: 4, concurrency: 0 },
        startWallMs: Date.now(),
      },
    });
    sink.write(t.records, t.strings);
    await sink.close();
    const rec = readTraceFile(await readFile(file));
    if (rec.error) throw rec.error;
    const trace = { records: rec.records, strings: [...rec.strings.entries()] };
    const events = trace.records.length / RECORD_WORDS;
    const frames: Uint8Array[] = [];
    for (let off = 0, seq = 1; off < events; off += BATCH, seq++) {
      frames.push(
        encodeFrame({
          seq,
          records: trace.records.subarray(
            off * RECORD_WORDS,
            Math.min(events, off + BATCH) * RECORD_WORDS,
          ),
          strings: off === 0 ? trace.strings : [],
        }),
      );
    }

    const client = new ClientWorker();
    const hub: Round[] = [];
    const raw: Round[] = [];
    await rawRound(client, frames.slice(0, 50), Math.min(events, 50 * BATCH)); // warm up both paths
    await hubRound(
      client,
      { records: trace.records.subarray(0, 50 * BATCH * RECORD_WORDS), strings: trace.strings },
      dir,
      true,
    );
    for (let i = 0; i < ROUNDS; i++) {
      if (i % 2 === 0) {
        raw.push(await rawRound(client, frames, events));
        hub.push(await hubRound(client, trace, dir, true));
      } else {
        hub.push(await hubRound(client, trace, dir, true));
        raw.push(await rawRound(client, frames, events));
      }
    }
    const hubMed = median(hub.map((r) => r.evPerSec));
    const rawMed = median(raw.map((r) => r.evPerSec));
    const gaps = hub.reduce((n, r) => n + r.result.gaps, 0);
    const lost = hub.reduce((n, r) => n + r.result.lost, 0);
    const bpe = (rs: Round[]): string =>
      (
        rs.reduce((n, r) => n + r.result.wireBytes, 0) / rs.reduce((n, r) => n + r.result.events, 0)
      ).toFixed(2);
    console.log('setup 1: replay of a recording -> hub -> /ws -> Node client (paced by its queue)');
    console.log(
      `  raw ws baseline (same frames) : ${M(rawMed)} events/s  [${raw.map((r) => M(r.evPerSec)).join(', ')}]`,
    );
    console.log(
      `  hub + transport               : ${M(hubMed)} events/s  [${hub.map((r) => M(r.evPerSec)).join(', ')}]` +
        `  ratio ${(hubMed / rawMed).toFixed(2)}x of raw ws`,
    );
    console.log(`  bytes/event on the wire       : ${bpe(hub)} (hub), ${bpe(raw)} (raw)`);
    console.log(`  gaps seen by the client that keeps up: ${gaps} (lost ${lost})`);
    console.log(
      `  target >= 1 M events/s with 0 gaps: ${hubMed >= 1e6 && gaps === 0 ? 'met' : 'NOT met'}`,
    );

    const withStalled = await hubRound(client, trace, dir, true, 8);
    console.log(
      `with 8 stalled clients next to it, the client that keeps up got ${M(withStalled.evPerSec)} ` +
        `events/s (${(withStalled.evPerSec / hubMed).toFixed(2)}x of the median above), ` +
        `gaps ${withStalled.result.gaps}`,
    );
    const unpaced = await hubRound(client, trace, dir, false);
    console.log(
      `unpaced replay (no backpressure): offered ${M(unpaced.offeredPerSec)} events/s, the client ` +
        `received ${M(unpaced.evPerSec)} events/s and was told of ${unpaced.result.lost.toLocaleString()} ` +
        `lost events in ${unpaced.result.gaps} gap markers`,
    );
    console.log(`memory: ${await stalledMemory(trace, dir, 8)}`);
    if (LIVE) await live(client, dir);
    await client.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
