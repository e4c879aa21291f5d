// `pnpm bench:port`: raw throughput of the emulated completion port.
//
// 1. PQCS -> GQCS: the main thread posts packets in bursts (yielding between
//    bursts, as the kernel does), N worker threads drain them with GQCS or
//    GQCS-Ex(16). Prints packets/s.
// 2. Echo over the raw port vs plain node:net, in interleaved rounds (steal
//    time on this box is high): an accept thread and N workers running the
//    smallest correct echo loop (recv -> send the same bytes -> recv), against
//    a one-thread node:net echo; the load is a separate process. Prints
//    messages/s and the median of per-round ratios. This bounds what the
//    reference echo server (echo/) can reach on top of the port.
//
//   node --import tsx apps/server/bench/port.ts [--rounds 3] [--ms 2000] [--packets 1000000]

import { spawn } from 'node:child_process';
import net from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Worker } from 'node:worker_threads';
import { createPort, type PortHost } from '../src/port/index.ts';
import { spawnThread } from '../src/port/threads.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    ms: { type: 'string', default: '2000' },
    packets: { type: 'string', default: '1000000' },
    conns: { type: 'string', default: '100' },
    inflight: { type: 'string', default: '16' },
    size: { type: 'string', default: '64' },
  },
});
const ROUNDS = Number(values.rounds);
const MS = Number(values.ms);
const PACKETS = Number(values.packets);
const CONNS = Number(values.conns);
const INFLIGHT = Number(values.inflight);
const SIZE = Number(values.size);
const SLOT_BYTES = 16 * 1024;
const WORKER = new URL('./port-worker.ts', import.meta.url);
const CLIENT = new URL('./port-client.ts', import.meta.url);

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const exited = (w: Worker): Promise<unknown> =>
  new Promise((r) => w.once('message', r).once('error', r));

async function threads(
  host: PortHost,
  n: number,
  data: Record<string, unknown>,
): Promise<Worker[]> {
  return Promise.all(
    Array.from({ length: n }, () =>
      spawnThread(WORKER, {
        workerData: {
          descriptor: host.descriptor,
          batch: 16,
          listen: 0,
          slotBytes: SLOT_BYTES,
          table: new SharedArrayBuffer(4),
          ...data,
        },
      }),
    ),
  );
}

async function pqcsToGqcs(workers: number, batch: number): Promise<number> {
  const host = await createPort({ concurrency: workers, arenaBytes: 4096, maxSockets: 256 });
  const ws = await threads(host, workers, { mode: 'drain', batch });
  const counts = ws.map((w) => exited(w) as Promise<number>);
  const t0 = performance.now();
  let posted = 0;
  while (posted < PACKETS) {
    for (let k = 0; k < 512 && posted < PACKETS; k++) {
      if (!host.postQueuedCompletionStatus(8, 1 + (posted & 0xffff), 0, 1)) break;
      posted++;
    }
    await tick();
  }
  for (let k = 0; k < workers;) {
    if (host.postQueuedCompletionStatus(0, 0, 0, 0)) k++;
    else await tick();
  }
  const total = (await Promise.all(counts)).reduce((a, b) => a + b, 0);
  const seconds = (performance.now() - t0) / 1000;
  await host.close();
  if (total !== PACKETS) throw new Error(`lost packets: ${total} of ${PACKETS}`);
  return total / seconds;
}

function runClient(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLIENT.pathname, ...[port, CONNS, INFLIGHT, SIZE, MS, 500].map(String)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve((JSON.parse(out) as { rate: number }).rate) : reject(new Error(out)),
    );
  });
}

async function plainEcho(): Promise<number> {
  const server = net.createServer((s) => {
    s.on('data', (d) => s.write(d));
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const rate = await runClient((server.address() as net.AddressInfo).port);
  await new Promise((r) => server.close(r));
  return rate;
}

async function portEcho(workers: number): Promise<number> {
  const host = await createPort({
    concurrency: workers,
    arenaBytes: CONNS * SLOT_BYTES,
    maxSockets: CONNS + 16,
  });
  const { socket: listen, port } = await host.listen('127.0.0.1', 0);
  const table = new SharedArrayBuffer(CONNS * 4);
  const [acceptor] = await threads(host, 1, { mode: 'accept', listen, table });
  const echoers = await threads(host, workers, { mode: 'echo', table });
  const done = [acceptor!, ...echoers].map(exited);
  const rate = await runClient(port);
  host.closesocket(listen);
  for (let k = 0; k < workers; k++) host.postQueuedCompletionStatus(0, 0, 0, 0);
  await Promise.all(done);
  await host.close();
  return rate;
}

const fmt = (n: number): string => `${(n / 1000).toFixed(1)}k/s`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`cores ${availableParallelism()}, load average ${loadavg()[0]!.toFixed(2)}`);
console.log(`\nPQCS -> GQCS, ${PACKETS} packets`);
for (const [workers, batch] of [
  [1, 1],
  [1, 16],
  [2, 16],
] as const) {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) rates.push(await pqcsToGqcs(workers, batch));
  console.log(
    `  ${workers} worker(s), ${batch === 1 ? 'GQCS' : 'GQCS-Ex(16)'}: ${fmt(median(rates))} packets`,
  );
}

console.log(`\necho, ${CONNS} conn x ${INFLIGHT} in flight x ${SIZE} B, ${MS} ms per run`);
const ratios: Record<string, number[]> = { 'port 1 worker': [], 'port 2 workers': [] };
for (let r = 0; r < ROUNDS; r++) {
  const plain = await plainEcho();
  const one = await portEcho(1);
  const two = await portEcho(2);
  ratios['port 1 worker']!.push(one / plain);
  ratios['port 2 workers']!.push(two / plain);
  console.log(`  round ${r + 1}: plain ${fmt(plain)}  port/1 ${fmt(one)}  port/2 ${fmt(two)}`);
}
for (const [name, xs] of Object.entries(ratios)) {
  console.log(`  ${name} / plain node:net = ${median(xs).toFixed(2)} (median of ${xs.length})`);
}
console.log(`load average at the end ${loadavg()[0]!.toFixed(2)}`);
