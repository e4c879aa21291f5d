// pnpm bench:detectors — the detectors' confusion matrix on real runs (issue 14 §10).
//
// A script, not a test: for every fault switch of the reference servers (the
// echo server's, and the chat server's with `app: 'chat'`), and for each clean
// server, it runs the real server (the emulated port, in this
// process), drives real clients at it, records the run as `serve --record`
// or the dashboard's Record button would, and runs `iocpscope check` on the
// file. Each row gets --runs seeded runs (default 10) spread over the grid:
//   workers 1, 2, 4 · concurrency 1, 2 · GQCS (batch 1) or GQCS-Ex (batch 16)
//   · load light (3 clients) or heavy (16) · with resets or without
//   · recording from the server's start, with clients connecting while it
//     starts, or started mid-run (a RecordingStart snapshot) while the load runs.
// Each dimension's values are spread evenly over a row's runs (shuffled with
// the seed), so every value of every dimension is covered. On top of the grid
// load, a fault's row adds the traffic that reaches its broken path (a client
// that floods, resets, pipelines, ...; `TRIGGERS`); the clean row adds all of
// it, so the clean server is judged on the same paths. A fault that cannot
// show at some grid point (a lock nobody else waits for with one worker) is
// run only where it can (`APPLIES`), and the output says so.
//
// It prints the matrix (rows: faults and clean; columns: rules; cell: the
// fraction of runs in which the rule fired), each fault's recall (its own
// rule, over the runs that reached the fault's broken path: for the races a
// run may not reach, REACHED reads from the recording's records, naively,
// whether the bug happened at all), every rule that fired on a clean run, and every rule that fired on a
// fault run outside that fault's documented co-findings (FAULT_CO_FINDINGS).
// The recording of each such run is kept in --keep (default
// .bench/detectors/) for a look. Exit 1 when a target is missed.
//
// Options: --runs N (per row), --seed N, --only fault1,fault2, --keep DIR.

import { connect, type Socket } from 'node:net';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import {
  FAULT_CO_FINDINGS,
  FAULT_RULES,
  RULES,
  type RuleId,
} from '../packages/analysis/src/index.ts';
import { TraceEndReason, readTraceFile } from '../packages/protocol/src/index.ts';
import { checkFile } from '../apps/server/src/cli/check.ts';
import {
  CHAT_FAULT_NAMES,
  ECHO_FAULT_NAMES,
  type FaultName,
} from '../apps/server/src/session/faults.ts';
import { startServer, type RunningServer } from '../apps/server/src/session/server.ts';
import { runLoad } from '../apps/server/src/load/run.ts';
import { runChatLoad, type ChatLoadOptions } from '../apps/server/src/load/chat.ts';
import type { LoadOptions } from '../apps/server/src/load/options.ts';
import { RecordingManager } from '../apps/server/src/record/manager.ts';
import { floodClient, trickleClient } from '../scripts/make-examples.ts';
import { freePort } from './lib.ts';

// ---- options ------------------------------------------------------------------

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const RUNS = Number(arg('runs') ?? 10);
const SEED = Number(arg('seed') ?? 14);
const ONLY = arg('only')?.split(',');
const KEEP = path.resolve(arg('keep') ?? '.bench/detectors');

/** 'clean' is the echo server without a fault, 'chat' the chat server without one. */
type Row = FaultName | 'clean' | 'chat';
const isChat = (row: Row): boolean =>
  row === 'chat' || (CHAT_FAULT_NAMES as readonly string[]).includes(row);
const isClean = (row: Row): row is 'clean' | 'chat' => row === 'clean' || row === 'chat';
type Start = 'start' | 'startup' | 'mid-run';

interface Point {
  workers: number;
  concurrency: number;
  batch: number;
  heavy: boolean;
  resets: boolean;
  start: Start;
}

const describe = (p: Point): string =>
  `workers ${p.workers}, concurrency ${p.concurrency}, batch ${p.batch}, ` +
  `${p.heavy ? 'heavy' : 'light'}${p.resets ? ' + resets' : ''}, recorded ${p.start === 'start' ? 'from the start' : p.start === 'startup' ? 'with clients connecting at start-up' : 'from mid-run'}`;

const ANY: Point = {
  workers: 1,
  concurrency: 1,
  batch: 1,
  heavy: false,
  resets: false,
  start: 'start',
};

/** Where a fault can show at all (documented in the output). */
const APPLIES: Partial<Record<FaultName, { when: (p: Point) => boolean; why: string }>> = {
  'lock-across-send': {
    when: (p) => p.workers >= 2 && p.concurrency >= 2,
    why: 'two workers must run at once to meet on the lock: with one worker, or a concurrency of 1, nobody else ever takes it',
  },
  'release-without-atomic-flag': {
    when: (p) => p.workers >= 2,
    why: 'the release race needs two workers handling one session’s completions at once',
  },
  'job-queue-two-flushers': {
    when: (p) => p.workers >= 2 && p.concurrency >= 2,
    why: 'two workers must push onto one idle room at once to both flush it',
  },
  'broadcast-under-room-lock': {
    when: (p) => p.workers >= 2 && p.concurrency >= 2,
    why: 'a second worker must run to wait for the room lock while the first sends',
  },
};

// Races a run may not reach: whether the fault's broken path showed in the
// recording, read naively from its records (not through the detectors). A run
// that did not reach it cannot test its rule: it is listed apart ("not
// reached"), not counted as a miss; a rule that fires on it is still counted.
const K_IOCOUNT = 10;
const K_RELEASED = 12;
const K_LOCK_ACQUIRE = 17;
const K_LOCK_RELEASE = 18;
const K_JOB_PUSH = 27;
const K_JOB_FLUSH = 28;
const REACHED: Partial<Record<FaultName, { what: string; test: (w: Uint32Array) => boolean }>> = {
  'job-queue-two-flushers': {
    what: 'a thread flushed a room right after its push found the job count above 0',
    test: (w) => {
      const pushed = new Map<number, { room: number; after: number }>();
      for (let i = 0; i < w.length / 8; i++) {
        const k = w[i * 8]! & 0xff;
        const tid = w[i * 8]! >>> 16;
        if (k === K_JOB_PUSH) pushed.set(tid, { room: w[i * 8 + 1]!, after: w[i * 8 + 6]! });
        else if (k === K_JOB_FLUSH && ((w[i * 8]! >>> 8) & 0xff) === 0) {
          const p = pushed.get(tid);
          if (p !== undefined && p.room === w[i * 8 + 1] && p.after > 1) return true;
          pushed.delete(tid);
        }
      }
      return false;
    },
  },
  'lock-order-inversion': {
    what: 'two locks were taken nested in both orders',
    test: (w) => {
      const held = new Map<number, number[]>();
      const pairs = new Set<string>();
      for (let i = 0; i < w.length / 8; i++) {
        const k = w[i * 8]! & 0xff;
        const tid = w[i * 8]! >>> 16;
        const lock = w[i * 8 + 1]!;
        const h = held.get(tid) ?? [];
        held.set(tid, h);
        if (k === K_LOCK_ACQUIRE) {
          for (const a of h) {
            if (pairs.has(`${lock}>${a}`)) return true;
            pairs.add(`${a}>${lock}`);
          }
          h.push(lock);
        } else if (k === K_LOCK_RELEASE) {
          const at = h.lastIndexOf(lock);
          if (at >= 0) h.splice(at, 1);
        }
      }
      return false;
    },
  },
  'release-without-atomic-flag': {
    what: "a session was released twice, or by a thread whose last IOCount change was another session's",
    test: (w) => {
      const released = new Set<string>();
      const lastCount = new Map<number, string>();
      for (let i = 0; i < w.length / 8; i++) {
        const k = w[i * 8]! & 0xff;
        const tid = w[i * 8]! >>> 16;
        const id = `${w[i * 8 + 5]}:${w[i * 8 + 4]}`;
        if (k === K_IOCOUNT) lastCount.set(tid, id);
        else if (k === K_RELEASED) {
          const last = lastCount.get(tid);
          if (released.has(id) || (last !== undefined && last !== id)) return true;
          released.add(id);
        }
      }
      return false;
    },
  },
};

async function reachedIn(row: Row, file: string): Promise<boolean> {
  const oracle = isClean(row) ? undefined : REACHED[row as FaultName];
  if (oracle === undefined) return true;
  const bytes = await readFile(file).catch(() => null);
  return bytes !== null && oracle.test(readTraceFile(new Uint8Array(bytes)).records);
}

// ---- seeded grid ----------------------------------------------------------------

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` values of `choices`, each as often as the others, in a seeded order. */
function spread<T>(choices: readonly T[], n: number, r: () => number): T[] {
  const out = Array.from({ length: n }, (_, k) => choices[k % choices.length]!);
  for (let k = n - 1; k > 0; k--) {
    const j = Math.floor(r() * (k + 1));
    [out[k], out[j]] = [out[j]!, out[k]!];
  }
  return out;
}

function gridFor(row: Row, seed: number): Point[] {
  const r = rng(seed);
  const applies = isClean(row) ? undefined : APPLIES[row];
  // Only the values where the fault can show (APPLIES), each as often as the others.
  const all = [1, 2, 4].flatMap((w) => [1, 2].map((c) => [w, c] as const));
  const pairs = all.filter(
    ([w, c]) => applies === undefined || applies.when({ ...ANY, workers: w, concurrency: c }),
  );
  const wc = spread(pairs, RUNS, r);
  const workers = wc.map((x) => x[0]);
  const concurrency = wc.map((x) => x[1]);
  const batch = spread([1, 16], RUNS, r);
  const heavy = spread([false, true], RUNS, r);
  const resets = spread([false, true], RUNS, r);
  const start = spread<Start>(['start', 'startup', 'mid-run'], RUNS, r);
  return Array.from({ length: RUNS }, (_, k) => ({
    workers: workers[k]!,
    concurrency: concurrency[k]!,
    batch: batch[k]!,
    heavy: heavy[k]!,
    resets: resets[k]!,
    start: start[k]!,
  }));
}

// ---- clients -------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function packet(n: number): Buffer {
  const b = Buffer.alloc(4 + n);
  b.writeUInt16LE(n, 0);
  b.writeUInt16LE(1, 2);
  for (let k = 0; k < n; k++) b[4 + k] = k & 0xff;
  return b;
}

/** Connect (retrying until the port opens), send one packet, wait for the echo or 1 s. */
async function echoOnce(port: number): Promise<Socket> {
  for (let tries = 0; ; tries++) {
    const s = await new Promise<Socket | null>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.on('error', () => resolve(null));
      c.once('connect', () => {
        const t = setTimeout(() => resolve(c), 1000);
        c.once('data', () => {
          clearTimeout(t);
          resolve(c);
        });
        c.write(packet(16));
      });
    });
    if (s !== null) return s;
    if (tries > 200) throw new Error('echo port never opened');
    await sleep(20);
  }
}

function load(port: number, o: Omit<LoadOptions, 'target'>): Promise<unknown> {
  return runLoad({
    target: { host: '127.0.0.1', port },
    connectTimeoutMs: 5000,
    stallTimeoutMs: 600,
    drainTimeoutMs: 300,
    seed: 7,
    ...o,
  }).catch(() => undefined);
}

/** The traffic that reaches each fault's broken path (the clean row gets all of it). */
type Trigger = (port: number, keep: Socket[]) => Promise<unknown>;
const TRIGGER: Record<string, Trigger> = {
  /** Overlapping echoes: big messages, many in flight (sends pile up). */
  pipeline: (port) =>
    load(port, { connections: 2, durationMs: 300, inFlight: 16, messageSize: 2000 }),
  /** Clients that echo once and reset (RST): failed completions, disconnects with I/O pending. */
  resets: async (port) => {
    for (let k = 0; k < 3; k++) (await echoOnce(port)).resetAndDestroy();
  },
  /** A client that stays connected until the server shuts down (the shutdown sweep aborts its recv). */
  idle: async (port, keep) => keep.push(await echoOnce(port)),
  /** Two clients that send 4 packets 25 ms apart without waiting: two sends in a row per session. */
  trickle: (port) => Promise.all([trickleClient(port, 4, 25), trickleClient(port, 4, 25)]),
  /**
   * A client that sends faster than it reads: 8 MiB, more than the socket
   * buffers between it and the server can hold (the server's send buffer grows
   * to 4 MiB here), so the server's sends stay pending and SendQ fills.
   */
  flood: (port) => floodClient(port, 8 << 20),
  /** Resets while recvs and sends are pending on every session: completions failing together. */
  race: (port) =>
    Promise.all([
      load(port, {
        connections: 6,
        durationMs: 200,
        inFlight: 2,
        messageSize: 500,
        resetsPerSec: 300,
      }),
      ...[0, 1, 2, 3].map((k) => stuckReset(port, 2 << 20, 120 + 40 * k)),
    ]),
};
/**
 * A client that sends `bytes` without reading, then resets after `ms`: the
 * server's echo send is still pending (nobody reads it) when the reset fails
 * it and the pending recv together, on two workers at once.
 */
function stuckReset(port: number, bytes: number, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    c.pause();
    c.once('connect', () => {
      const chunk = packet(8192);
      for (let sent = 0; sent < bytes; sent += chunk.length) c.write(chunk);
      setTimeout(() => {
        c.resetAndDestroy();
        resolve();
      }, ms);
    });
    setTimeout(() => {
      c.destroy();
      resolve();
    }, ms + 2000);
  });
}

/** A graceful close at the very end (a 0-byte recv; a spin under its fault, so it is kept short). */
const FIN = async (port: number): Promise<void> => {
  (await echoOnce(port)).end();
  await sleep(10);
};

/** Chat clients (load/chat.ts); a fault's damage to them is the point, so their verdict is ignored. */
function chatLoad(port: number, o: Omit<ChatLoadOptions, 'target'>): Promise<unknown> {
  return runChatLoad({
    target: { host: '127.0.0.1', port },
    connectTimeoutMs: 5000,
    drainTimeoutMs: 400,
    seed: 7,
    lateJoin: 0,
    ...o,
  }).catch(() => undefined);
}

/** The chat server's triggers (the chat rows get these instead of the echo ones). */
const CHAT_TRIGGER: Record<string, Trigger> = {
  /** One busy room: chats arriving on both workers at once (two flushers, the room lock). */
  busyRoom: (port) => chatLoad(port, { clients: 8, rooms: 1, rate: 25, durationMs: 500 }),
  /** Clients that log in and enter one at a time: both lock orders run, and never meet. */
  oneByOne: (port) =>
    chatLoad(port, { clients: 3, rooms: 2, rate: 2, durationMs: 600, rampMs: 450 }),
  /** Members reset mid-broadcast: their queued SendBuffers are released unsent. */
  resets: (port) =>
    chatLoad(port, { clients: 8, rooms: 2, rate: 15, durationMs: 500, resetsPerSec: 8 }),
};

const TRIGGERS: Record<Row, string[]> = {
  clean: Object.keys(TRIGGER),
  chat: Object.keys(CHAT_TRIGGER),
  'job-queue-two-flushers': ['busyRoom'],
  'send-buffer-early-release': [],
  'broadcast-under-room-lock': ['busyRoom'],
  'lock-order-inversion': ['oneByOne'],
  'iocount-double-decrement': [],
  'release-with-io-pending': ['resets'],
  'recv-not-reposted': [],
  'two-sends-in-flight': ['flood'],
  'no-decrement-on-failure': ['resets', 'idle'],
  'too-few-exit-packets': [],
  'no-accept-hold': [],
  'zero-byte-recv-reposted': [],
  'lock-across-send': ['pipeline'],
  'release-without-atomic-flag': ['race'],
  'ring-wrap-off-by-one': [],
  'short-send-ignored': ['trickle'],
  'send-overflow-ignored': ['flood'],
};
const WITH_FIN = new Set<Row>(['clean', 'zero-byte-recv-reposted']);

// ---- one run -------------------------------------------------------------------

interface RunResult {
  rules: Set<RuleId>;
  /** The fault's broken path showed in the recording (see REACHED). */
  reached: boolean;
  ms: number;
  file: string;
  problem: string | null;
}

async function runOnce(row: Row, p: Point, dir: string, k: number): Promise<RunResult> {
  const t0 = performance.now();
  const file = path.join(dir, `${row}-${k}.iocptrace`);
  const port = await freePort();
  const chat = isChat(row);
  // The grid's load: light (3 clients, one message in flight) or heavy (16, four), for 700 ms;
  // on the chat server, light (6 clients in 2 rooms, 10 chats/s) or heavy (24 in 4, 20/s).
  const baseLoad = (): Promise<unknown> =>
    chat
      ? chatLoad(port, {
          clients: p.heavy ? 24 : 6,
          rooms: p.heavy ? 4 : 2,
          rate: p.heavy ? 20 : 10,
          durationMs: 700,
          ...(p.resets ? { resetsPerSec: p.heavy ? 20 : 5 } : {}),
        })
      : load(port, {
          connections: p.heavy ? 16 : 3,
          durationMs: 700,
          inFlight: p.heavy ? 4 : 1,
          messageSize: p.heavy ? 256 : 48,
          ...(p.resets ? { resetsPerSec: p.heavy ? 80 : 20 } : {}),
        });
  // Clients that connect while the server is still starting: the first polls the
  // port until it opens (the listener opens before the accept thread and the
  // workers run), the load follows at once.
  const early =
    p.start === 'startup'
      ? echoOnce(port).then((first) => {
          first.destroy();
          return baseLoad();
        })
      : null;
  const server: RunningServer = await startServer(
    {
      app: chat ? 'chat' : 'echo',
      echoPort: port,
      workers: p.workers,
      concurrency: p.concurrency,
      gqcsBatch: p.batch,
      faults: isClean(row) ? [] : [row],
      shutdownTimeoutMs: 1000,
    },
    { holdTrace: p.start !== 'mid-run' },
  );
  const mgr = new RecordingManager({
    dir,
    source: server.drainer!,
    header: () => server.fileHeader(),
  });
  const keep: Socket[] = [];
  let problem: string | null = null;
  try {
    if (p.start !== 'mid-run') {
      await mgr.start({ file, fromStart: true });
      server.releaseTraceHold();
    }
    const base = early ?? baseLoad();
    if (p.start === 'mid-run') {
      // Record pressed while the load runs.
      await sleep(250);
      await mgr.start({ file });
    }
    // Sessions that begin while the recording runs, whatever the grid's load did before.
    const fresh = chat
      ? chatLoad(port, { clients: 2, rooms: 2, rate: 5, messages: 3 })
      : load(port, { connections: 2, messages: 4, inFlight: 1, messageSize: 40 });
    const triggers = chat ? CHAT_TRIGGER : TRIGGER;
    await Promise.all([base, fresh, ...TRIGGERS[row].map((t) => triggers[t]!(port, keep))]);
    if (WITH_FIN.has(row)) await FIN(port);
  } catch (e) {
    problem = `drive failed: ${(e as Error).message}`;
  }
  const report = await server.stop();
  for (const s of keep) s.destroy();
  if (mgr.recording) await mgr.stop(TraceEndReason.ServerExit);
  const o = await checkFile(file);
  if (report.threadErrors.length > 0) problem = `thread errors: ${report.threadErrors.join('; ')}`;
  if (o.damage !== null) problem = `damaged: ${o.damage.message}`;
  if (o.incomplete !== null) problem = 'no TraceEnd';
  // A spinning fault can outrun the tracer: the loss is in Gap records, and noted.
  if (o.lostEvents > 0 && row !== 'zero-byte-recv-reposted')
    problem = `${o.lostEvents} events lost`;
  return {
    rules: new Set(o.findings.map((f) => f.rule)),
    reached: await reachedIn(row, file),
    ms: performance.now() - t0,
    file,
    problem,
  };
}

// ---- the matrix ------------------------------------------------------------------

const rows: Row[] = (['clean', ...ECHO_FAULT_NAMES, 'chat', ...CHAT_FAULT_NAMES] as Row[]).filter(
  (r) => ONLY === undefined || ONLY.includes(r),
);
const t0 = performance.now();
const load0 = loadavg();
const work = await mkdtemp(path.join(tmpdir(), 'iocpscope-bench-detectors-'));
await mkdir(KEEP, { recursive: true });
console.log(
  `bench:detectors: ${rows.length} rows x ${RUNS} runs (seed ${SEED}), ${cpus().length} CPUs, ` +
    `load average ${load0.map((x) => x.toFixed(2)).join(' ')} at the start`,
);
const results = new Map<Row, Array<{ point: Point; r: RunResult }>>();
let rowSeed = SEED;
for (const row of rows) {
  const list: Array<{ point: Point; r: RunResult }> = [];
  const points = gridFor(row, rowSeed++);
  for (const [k, point] of points.entries()) {
    const r = await runOnce(row, point, work, k);
    list.push({ point, r });
    const own = isClean(row) ? null : FAULT_RULES[row];
    const mark =
      own === null
        ? r.rules.size === 0
          ? 'ok'
          : 'FALSE POSITIVE'
        : r.rules.has(own)
          ? 'caught'
          : r.reached
            ? 'MISSED'
            : 'not reached';
    process.stdout.write(
      `  ${row} #${k + 1} (${describe(point)}): ${[...r.rules].join(', ') || 'nothing'} -- ${mark}` +
        `${r.problem ? ` [${r.problem}]` : ''} ${(r.ms / 1000).toFixed(1)} s\n`,
    );
  }
  results.set(row, list);
}
const elapsed = (performance.now() - t0) / 1000;

const ruleCols = RULES.map((r) => r.id);
const short = (id: RuleId): string => `r${RULES.find((r) => r.id === id)!.number}`;
const head = 'row'.padEnd(28) + ruleCols.map((c) => short(c).padStart(5)).join('') + '  recall';
console.log(`\nconfusion matrix: fraction of runs in which each rule fired\n${head}`);
const misses: string[] = [];
const notReached: string[] = [];
const falsePositives: string[] = [];
const outside: string[] = [];
const problems: string[] = [];
for (const [row, list] of results) {
  const own = isClean(row) ? null : FAULT_RULES[row];
  const allowed = new Set<RuleId>(
    own === null ? [] : [own, ...FAULT_CO_FINDINGS[row as FaultName].map((c) => c.rule)],
  );
  let line = row.padEnd(28);
  for (const c of ruleCols) {
    const n = list.filter((x) => x.r.rules.has(c)).length;
    const cell =
      n === 0 ? '.' : n === list.length ? '1' : (n / list.length).toFixed(2).replace(/^0/, '');
    line += cell.padStart(5);
  }
  if (own !== null) {
    const caught = list.filter((x) => x.r.rules.has(own)).length;
    const reached = list.filter((x) => x.r.reached || x.r.rules.has(own)).length;
    line += `  ${caught}/${reached}${reached < list.length ? ` (${list.length - reached} not reached)` : ''}`;
  }
  console.log(line);
  for (const [k, { point, r }] of list.entries()) {
    const kept = async (): Promise<string> => {
      const to = path.join(KEEP, path.basename(r.file));
      await copyFile(r.file, to).catch(() => undefined);
      return to;
    };
    if (r.problem !== null) problems.push(`${row} #${k + 1} (${describe(point)}): ${r.problem}`);
    if (own === null && r.rules.size > 0) {
      falsePositives.push(
        `${row} #${k + 1} (${describe(point)}): ${[...r.rules].join(', ')} -> ${await kept()}`,
      );
    }
    if (own !== null && !r.rules.has(own)) {
      if (r.reached)
        misses.push(
          `${row} #${k + 1} (${describe(point)}): ${own} did not fire -> ${await kept()}`,
        );
      else
        notReached.push(
          `${row} #${k + 1} (${describe(point)}): the recording shows no sign that ${REACHED[row as FaultName]!.what}`,
        );
    }
    const extra = [...r.rules].filter((x) => own !== null && !allowed.has(x));
    if (extra.length > 0) {
      outside.push(`${row} #${k + 1} (${describe(point)}): ${extra.join(', ')} -> ${await kept()}`);
    }
  }
}
console.log(
  `\nrecall per fault (runs in which its own rule fired, of the runs that reached its broken path):`,
);
for (const [row, list] of results) {
  if (isClean(row)) continue;
  const own = FAULT_RULES[row];
  const caught = list.filter((x) => x.r.rules.has(own)).length;
  const reached = list.filter((x) => x.r.reached || x.r.rules.has(own)).length;
  const ap = APPLIES[row];
  console.log(
    `  ${row.padEnd(28)} ${short(own)} ${own.padEnd(20)} ${reached === 0 ? '  -' : ((100 * caught) / reached).toFixed(0).padStart(3)}%` +
      (reached < list.length ? ` of ${reached} (${list.length - reached} not reached)` : '') +
      (ap ? `  (run only where it can show: ${ap.why})` : ''),
  );
}
const report = (title: string, xs: string[]): void => {
  console.log(`\n${title}: ${xs.length === 0 ? 'none' : ''}`);
  for (const x of xs) console.log(`  ${x}`);
};
report('rules that fired on a clean run', falsePositives);
report("rules that fired on a fault run outside that fault's documented co-findings", outside);
report('missed faults', misses);
report(
  "runs that did not reach the fault's broken path (not misses: the bug did not happen)",
  notReached,
);
report('runs that did not record cleanly', problems);
const load1 = loadavg();
console.log(
  `\n${results.size * RUNS} runs in ${elapsed.toFixed(0)} s (${(elapsed / (results.size * RUNS)).toFixed(1)} s per run); ` +
    `load average ${load1.map((x) => x.toFixed(2)).join(' ')} at the end`,
);
await rm(work, { recursive: true, force: true });
process.exitCode =
  misses.length + falsePositives.length + outside.length + problems.length > 0 ? 1 : 0;
