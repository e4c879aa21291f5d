// `pnpm bench:chat` (issue 18): the chat server under 200 clients in 10 rooms,
// chatting as fast as their window allows (closed loop: 2 own chats in flight
// each), every broadcast verified by the load generator.
//
// 1. Fan-out, traced and untraced: broadcasts delivered per second (each
//    member's copy counted), and the ratio traced / untraced.
// 2. The room path, JobQueue against a room lock, in the same run: the ns
//    per chat message spent in the room code (ChatCore.post: the push and,
//    when this thread flushes, the jobs it runs, broadcasts included; with the
//    lock, the wait for the room lock and the job run under it), summed over
//    all threads and divided by the chat messages, on the untraced server
//    with the same load. The room-lock variant is the same code with every
//    room job run under the room's lock instead of pushed onto its queue
//    (the broadcast-under-room-lock path).
//
// Each server is a child process (bench/chat-server.ts); the load runs here.
// Rounds are interleaved (the order rotates) and each figure is the median
// over rounds, ratios per round, because this shared 2-core box drifts.
//
//   pnpm bench:chat [--rounds 3] [--duration 4s] [--clients 200] [--rooms 10]

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parseDuration } from '../apps/server/src/load/options.ts';
import { runChatLoad, type ChatLoadReport } from '../apps/server/src/load/chat.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '4s' },
    clients: { type: 'string', default: '200' },
    rooms: { type: 'string', default: '10' },
  },
});
const ROUNDS = Number(values.rounds);
const DURATION_MS = parseDuration('duration', values.duration!);
const CLIENTS = Number(values.clients);
const ROOMS = Number(values.rooms);

type Config = 'traced' | 'untraced' | 'jobqueue' | 'roomlock';
const CONFIGS: Record<Config, string[]> = {
  traced: [],
  untraced: ['--no-trace'],
  jobqueue: ['--no-trace'],
  roomlock: ['--no-trace', '--room-lock'],
};

interface Child {
  proc: ChildProcess;
  port: number;
  next(): Promise<string>;
}

async function start(args: string[]): Promise<Child> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/chat-server.ts', '--rooms', String(ROOMS), ...args],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: proc.stdout! });
  const queue: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  lines.on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else queue.push(l);
  });
  const next = (): Promise<string> =>
    queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r));
  const { port } = JSON.parse(await next()) as { port: number };
  return { proc, port, next };
}

async function stop(c: Child): Promise<void> {
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.stdin!.end();
  await exited;
}

interface Run {
  report: ChatLoadReport;
  nsPerMessage: number;
}

async function run(config: Config): Promise<Run> {
  const c = await start(CONFIGS[config]);
  try {
    const report = await runChatLoad({
      target: { host: '127.0.0.1', port: c.port },
      clients: CLIENTS,
      rooms: ROOMS,
      rate: 0,
      inFlight: 2,
      textBytes: 64,
      durationMs: DURATION_MS,
      rampMs: 500,
      lateJoin: 0,
      connectTimeoutMs: 20_000,
      drainTimeoutMs: 10_000,
    });
    c.proc.stdin!.write('stats\n');
    const s = JSON.parse(await c.next()) as { pathNs: number; pathMessages: number };
    if (!report.ok) {
      throw new Error(
        `${config}: the load found ${report.violations.count} violations: ` +
          report.violations.samples.map((v) => `${v.kind} ${v.detail}`).join('; '),
      );
    }
    return { report, nsPerMessage: s.pathMessages > 0 ? s.pathNs / s.pathMessages : NaN };
  } finally {
    await stop(c);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number): string =>
  n >= 1e6
    ? `${(n / 1e6).toFixed(2)}M`
    : n >= 1e4
      ? `${(n / 1e3).toFixed(1)}k`
      : `${Math.round(n)}`;

const results: Record<Config, Run[]> = { traced: [], untraced: [], jobqueue: [], roomlock: [] };
const order: Config[] = ['traced', 'untraced', 'jobqueue', 'roomlock'];
console.log(
  `bench:chat: ${CLIENTS} clients in ${ROOMS} rooms, closed loop (2 own chats in flight each), ` +
    `${DURATION_MS / 1000} s per run, ${ROUNDS} rounds, every broadcast verified`,
);
// A first short run builds the thread bundles and warms the JIT; it is not counted.
await run('jobqueue');
for (let r = 0; r < ROUNDS; r++) {
  const rot = order.map((_, k) => order[(k + r) % order.length]!);
  for (const cfg of rot) {
    const x = await run(cfg);
    results[cfg].push(x);
    console.log(
      `  round ${r + 1} ${cfg.padEnd(8)} ${fmt(x.report.deliveriesPerSec)} deliveries/s ` +
        `(${fmt(x.report.chatsPerSec)} chats/s), p50 ${(x.report.latencyUs.p50 / 1000).toFixed(2)} ms ` +
        `p99 ${(x.report.latencyUs.p99 / 1000).toFixed(2)} ms, room path ${Math.round(x.nsPerMessage)} ns/msg`,
    );
  }
}
const per = (cfg: Config, f: (x: Run) => number): number[] => results[cfg].map(f);
const fanTraced = median(per('traced', (x) => x.report.deliveriesPerSec));
const fanUntraced = median(per('untraced', (x) => x.report.deliveriesPerSec));
const ratio = median(
  results.traced.map(
    (t, k) => t.report.deliveriesPerSec / results.untraced[k]!.report.deliveriesPerSec,
  ),
);
const nsQueue = median(per('jobqueue', (x) => x.nsPerMessage));
const nsLock = median(per('roomlock', (x) => x.nsPerMessage));
const nsRatio = median(
  results.roomlock.map((l, k) => l.nsPerMessage / results.jobqueue[k]!.nsPerMessage),
);
const fanQueue = median(per('jobqueue', (x) => x.report.deliveriesPerSec));
const fanLock = median(per('roomlock', (x) => x.report.deliveriesPerSec));
console.log('');
console.log(`fan-out   traced   ${fmt(fanTraced)} broadcasts delivered/s (fan-out counted)`);
console.log(`          untraced ${fmt(fanUntraced)} broadcasts delivered/s`);
console.log(`          traced / untraced ${ratio.toFixed(2)} (median of per-round ratios)`);
console.log(
  `room path JobQueue  ${Math.round(nsQueue)} ns/message  (${fmt(fanQueue)} deliveries/s)`,
);
console.log(`          room lock ${Math.round(nsLock)} ns/message  (${fmt(fanLock)} deliveries/s)`);
console.log(
  `          room lock / JobQueue ${nsRatio.toFixed(2)}: ` +
    (nsRatio > 1.05
      ? 'the JobQueue path costs less per message here'
      : nsRatio < 0.95
        ? 'the room lock costs less per message here: the JobQueue does not win on this machine'
        : 'no clear difference on this machine'),
);
