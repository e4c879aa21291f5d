// Regenerates the example recordings in examples/ (issue 7 §5, issue 18): one
// clean run and one per fault switch of the reference echo server, then one
// clean run of the chat server (`serve --app chat`) and one per chat fault
// switch, each small enough for a newcomer to step through (a few thousand
// events, a handful of sessions).
//
//   pnpm exec tsx scripts/make-examples.ts            all of them, then examples/README.md
//   pnpm exec tsx scripts/make-examples.ts --only clean,no-accept-hold
//   pnpm exec tsx scripts/make-examples.ts --readme   only rewrite README.md from the files
//
// Each recording goes through the real command path: runServeCli() with the
// flags `iocpscope serve --echo-port 0 --fault NAME --record FILE` (the very
// function the CLI runs; the script reads the echo port from its output, waits
// for "recording to ...", and stops it as Ctrl-C would), while a short scripted client drive (the load
// generator plus a few hand-made sockets: resets, quick closes, idle
// connections) walks the broken code path. Then `iocpscope check`'s checkFile()
// must find the fault's rule (FAULT_RULES) — or nothing at all for the clean
// run — and the file must stay under its size budget; only then does it
// replace examples/NAME.iocptrace. A scenario whose bug is a race gets several
// attempts. The scenarios are exported: apps/server/test/cli runs them as the
// "every fault switch" integration test.

import { connect, type Socket } from 'node:net';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import {
  FAULT_CO_FINDINGS,
  FAULT_RULES,
  RULE_BY_ID,
  type RuleId,
} from '../packages/analysis/src/index.ts';
import { checkFile, type CheckOutcome } from '../apps/server/src/cli/check.ts';
import { runServeCli, type ServeCliFlags } from '../apps/server/src/cli/serve.ts';
import { FAULT_DESCRIPTIONS, FAULT_NAMES, type FaultName } from '../apps/server/src/echo/faults.ts';
import { runLoad } from '../apps/server/src/load/run.ts';
import type { LoadOptions } from '../apps/server/src/load/options.ts';
import { runChatLoad, type ChatLoadOptions } from '../apps/server/src/load/chat.ts';

export const EXAMPLES_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../examples',
);

/** 'clean' and 'chat' are the two servers without a fault switch. */
export type ScenarioName = 'clean' | 'chat' | FaultName;

/** The scenarios that run no fault switch. */
export const isCleanScenario = (name: ScenarioName): name is 'clean' | 'chat' =>
  name === 'clean' || name === 'chat';

export interface Scenario {
  name: ScenarioName;
  /** Extra `serve` flags besides --echo-port 0, --fault and --record. */
  flags: Omit<ServeCliFlags, 'fault' | 'record' | 'echoPort'>;
  /** What the clients do, in words (README). */
  traffic: string;
  /** What to look at when stepping through it (README). */
  lookFor: string;
  /** Why rules other than the fault's also fire, if they do (README). */
  consequences?: string;
  /** Drives traffic at the echo port; resolves when the server may be stopped. */
  drive(port: number): Promise<Drive>;
  /** Largest acceptable file. */
  maxBytes: number;
  /** Recordings tried before giving up (races need more than one). */
  attempts: number;
}

/** What a drive leaves behind: sockets to close once the server has stopped. */
export interface Drive {
  keepOpen: Socket[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One echo packet: u16le payload length, u16le type 1, payload. */
function packet(payload: number[]): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeUInt16LE(payload.length, 0);
  b.writeUInt16LE(1, 2);
  b.set(payload, 4);
  return b;
}

function load(port: number, o: Omit<LoadOptions, 'target'>): Promise<unknown> {
  return runLoad({
    target: { host: '127.0.0.1', port },
    connectTimeoutMs: 5000,
    stallTimeoutMs: 1000,
    drainTimeoutMs: 500,
    seed: 7,
    ...o,
  });
}

/** Chat clients (load/chat.ts) against the chat server; the verdict is the recording's, not the load's. */
function chatLoad(port: number, o: Omit<ChatLoadOptions, 'target'>): Promise<unknown> {
  return runChatLoad({
    target: { host: '127.0.0.1', port },
    connectTimeoutMs: 5000,
    drainTimeoutMs: 800,
    seed: 7,
    ...o,
  });
}

/** Opens a connection, sends one packet and waits for its echo (or 2 s). */
function echoOnce(port: number, payload = [1, 2, 3, 4]): Promise<Socket> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    const done = (): void => {
      clearTimeout(timer);
      resolve(c);
    };
    const timer = setTimeout(done, 2000);
    c.on('error', () => undefined);
    c.once('connect', () => c.write(packet(payload)));
    c.once('data', done);
    c.once('close', done);
  });
}

/** n clients that echo once and then reset the connection (RST), one after another. */
async function resetClients(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) (await echoOnce(port)).resetAndDestroy();
}

/** n clients that echo once and close gracefully (FIN), waiting for the server's close. */
async function closingClients(port: number, n: number): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async () => {
      const c = await echoOnce(port);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        c.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        c.resume();
        c.end();
      });
    }),
  );
}

/** n clients that connect and close at once (FIN), before sending anything. */
async function quickClients(port: number, n: number): Promise<void> {
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const c = connect(port, '127.0.0.1', () => c.end());
          const timer = setTimeout(() => {
            c.destroy();
            resolve();
          }, 2000);
          c.on('error', () => undefined);
          c.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          c.resume();
        }),
    ),
  );
}

/**
 * A client that sends echo packets faster than it reads: it stops reading,
 * writes up to `bytes` (or until its own socket stops taking data), waits,
 * then reads whatever comes back for a while and closes. The server's socket
 * fills, its send pends, SendQ fills: a correct server disconnects it (send
 * overflow).
 */
export function floodClient(port: number, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    c.pause();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      c.destroy();
      resolve();
    };
    c.once('close', finish);
    c.once('connect', () => {
      const chunk = packet(Array.from({ length: 8192 }, (_, k) => k & 0xff));
      let sent = 0;
      const pump = (): void => {
        while (sent < bytes && !c.destroyed) {
          sent += chunk.length;
          if (!c.write(chunk)) {
            // The server stopped taking bytes (or is slow): pause here a moment.
            setTimeout(pump, 5);
            return;
          }
        }
        // Everything written: let it back up, then read it all.
        setTimeout(() => {
          c.resume();
          setTimeout(finish, 600);
        }, 200);
      };
      pump();
    });
    setTimeout(finish, 5000);
  });
}

/** A client that sends `n` packets `gapMs` apart without waiting for echoes, reads what comes, then closes. */
export function trickleClient(port: number, n: number, gapMs: number): Promise<void> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    c.resume();
    let k = 0;
    const finish = (): void => {
      c.destroy();
      resolve();
    };
    c.once('close', finish);
    c.once('connect', () => {
      const next = (): void => {
        if (k++ >= n || c.destroyed) {
          setTimeout(() => c.end(), gapMs);
          return;
        }
        c.write(packet(Array.from({ length: 60 }, (_, j) => (j + k) & 0xff)));
        setTimeout(next, gapMs);
      };
      next();
    });
    setTimeout(finish, 5000);
  });
}

const K = 1024;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'clean',
    flags: {},
    traffic:
      '5 clients echo 25 messages each (2 in flight), 2 clients echo once and reset the connection, ' +
      '2 echo once and close gracefully, and 2 stay connected until the server shuts down.',
    lookFor:
      'every path of a correct session lifetime: the accept hold around the first WSARecv, ' +
      'recv completion → SendPost → RecvPost → IOCount-1, a reset (GQCS FALSE, error 64) ending in ' +
      'one IOCount-1 and one release, a graceful close (0-byte recv), and the shutdown sweep ' +
      '(hold, disconnect, 995 completions, exit packets, every worker joined).',
    async drive(port) {
      const idle = [await echoOnce(port), await echoOnce(port)];
      await load(port, { connections: 5, messages: 25, inFlight: 2, messageSize: 48 });
      await resetClients(port, 2);
      await closingClients(port, 2);
      await sleep(50);
      return { keepOpen: idle };
    },
    maxBytes: 300 * K,
    attempts: 1,
  },
  {
    name: 'iocount-double-decrement',
    flags: {},
    traffic: '3 clients echo 4 messages each (2 in flight).',
    lookFor:
      'the first recv completion: two IOCount-1 for one completion, the release that follows while ' +
      'a recv is still pending, and that recv’s completion landing on the session that reused the slot.',
    consequences:
      'the early release is itself a release with I/O pending (use-after-release); the pending ' +
      'recv’s completion then lands on the session that reused the slot, which gets an IOCount-1 ' +
      'it never counted and a second recv, while the released session is reported as missing ' +
      'its -1',
    async drive(port) {
      await load(port, { connections: 3, messages: 4, inFlight: 2, messageSize: 32 });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 1,
  },
  {
    name: 'release-with-io-pending',
    flags: {},
    traffic:
      '3 clients echo 10 messages each (2 in flight); then 3 clients echo once and reset, and 2 close gracefully.',
    lookFor:
      'a disconnect that releases the session at once (SessionReleased with IOCount above 0) and ' +
      'the completions that still arrive for it.',
    consequences:
      'a reset that arrives while the acceptor is still in OnClientJoin releases the session ' +
      'under the acceptor (join after leave)',
    async drive(port) {
      await load(port, { connections: 3, messages: 10, inFlight: 2, messageSize: 32 });
      await resetClients(port, 3);
      await closingClients(port, 2);
      await sleep(50);
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 1,
  },
  {
    name: 'recv-not-reposted',
    flags: {},
    traffic:
      '3 clients send 3 messages, one at a time; only the first is ever echoed (the load generator gives up after 1 s).',
    lookFor:
      'a recv completion with data whose worker goes back to GQCS without a new WSARecv: the session ' +
      'has no I/O pending any more and nothing will ever read its socket.',
    async drive(port) {
      await load(port, { connections: 3, messages: 3, inFlight: 1, messageSize: 32 });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 1,
  },
  {
    name: 'two-sends-in-flight',
    flags: {},
    traffic:
      '6 clients pipeline 2,000-byte messages, 16 in flight, for 600 ms, so echoes overlap ' +
      '(the clients see duplicated bytes and give up on the connection).',
    lookFor: 'a second WSASend on a session while its first send has not completed yet.',
    async drive(port) {
      await load(port, { connections: 6, durationMs: 600, inFlight: 16, messageSize: 2000 });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 3,
  },
  {
    name: 'no-decrement-on-failure',
    flags: {},
    traffic: '2 clients echo 5 messages each; then 3 clients echo once and reset the connection.',
    lookFor:
      'GQCS returning FALSE with an overlapped (error 64 after a reset) and the worker going back to ' +
      'GQCS without IOCount-1: the session stays at IOCount 1, is never released, and shutdown ' +
      'reports it as a zombie.',
    consequences:
      'shutdown gives up waiting for the zombies and posts the exit packets while they are still alive',
    async drive(port) {
      await load(port, { connections: 2, messages: 5, inFlight: 1, messageSize: 32 });
      await resetClients(port, 3);
      // The resets must reach the workers before shutdown aborts the recvs (995
      // is not what this fault shows); a loaded machine can take longer.
      await sleep(200);
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 3,
  },
  {
    name: 'too-few-exit-packets',
    flags: {},
    traffic: '2 clients echo 5 messages each, then the server shuts down.',
    lookFor:
      'the end: one PQCS(0,0,NULL) for two workers; one worker exits, the other stays in GQCS until ' +
      'the port is closed under it (ERROR_ABANDONED_WAIT_0).',
    async drive(port) {
      await load(port, { connections: 2, messages: 5, inFlight: 1, messageSize: 32 });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 1,
  },
  {
    name: 'no-accept-hold',
    flags: {},
    traffic: '6 clients connect and close at once; then 2 clients echo 3 messages each.',
    lookFor:
      'the accept thread issuing the first WSARecv with IOCount 0 held: the 0-byte completion is ' +
      'handled by a worker that releases the session while the acceptor is still inside OnClientJoin, ' +
      'and the Accept record comes after the release.',
    async drive(port) {
      await quickClients(port, 6);
      await load(port, { connections: 2, messages: 3, inFlight: 1, messageSize: 32 });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 2,
  },
  {
    name: 'zero-byte-recv-reposted',
    flags: {},
    traffic:
      '2 clients echo once and close gracefully (FIN); the server is stopped 20 ms later, because ' +
      'the spin would fill any file.',
    lookFor:
      'the 0-byte recv completion (the peer closed) followed by a new WSARecv, which completes with ' +
      '0 bytes at once, again and again, until the shutdown sweep closes the socket.',
    async drive(port) {
      await Promise.all([0, 1].map(async () => (await echoOnce(port)).end()));
      await sleep(20);
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 5,
  },
  {
    name: 'lock-across-send',
    flags: { gqcsBatch: '1' },
    traffic:
      '4 clients echo 15 messages each, 4 in flight; --gqcs-batch 1 spreads the completions over both workers.',
    lookFor:
      'a worker that acquires the send lock, calls WSASend while holding it, and the other worker ' +
      'waiting for that lock meanwhile (LockWait … LockAcquire).',
    async drive(port) {
      await load(port, { connections: 4, messages: 15, inFlight: 4, messageSize: 64 });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 3,
  },
  {
    name: 'release-without-atomic-flag',
    flags: { gqcsBatch: '1' },
    traffic:
      '6 clients pipeline 500-byte messages, 2 in flight, for 120 ms while about 300 resets a second ' +
      'hit them; --gqcs-batch 1 hands the failed recv and the failed send of a reset session to two ' +
      'different workers.',
    lookFor:
      'a reset session whose recv and send fail together: two workers each decrement, each re-read ' +
      'IOCount 0 and the plain flag still clear, and both release: two SessionReleased records for ' +
      'one session.',
    consequences:
      'the second release of a session frees its slot again, often after a new session took it, ' +
      'so the new session is released under its acceptor and with I/O pending; and the slow work ' +
      'of the buggy release (a blocking log write) keeps both workers out of GQCS long enough, on ' +
      'a busy machine, to starve the port',
    async drive(port) {
      await load(port, {
        connections: 6,
        durationMs: 120,
        inFlight: 2,
        messageSize: 500,
        resetsPerSec: 300,
      });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 8,
  },
  {
    name: 'ring-wrap-off-by-one',
    flags: {},
    traffic: '2 clients echo 3 messages each, one at a time.',
    lookFor:
      'the second WSARecv of a session: after the first message RecvQ’s free space wraps, and the ' +
      'IoRing record shows WSABUF[0] ending one byte before the physical end of RecvQ.',
    async drive(port) {
      await load(port, { connections: 2, messages: 3, inFlight: 1, messageSize: 100 });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 1,
  },
  {
    name: 'short-send-ignored',
    flags: {},
    traffic:
      '2 clients send 4 messages each, 30 ms apart, without waiting for the echoes (which come back one byte short).',
    lookFor:
      'two sends in a row on one session: the first posts one byte less than its count and completes ' +
      'with what it posted; the next one starts one byte further on in SendQ (IoRing), past a byte ' +
      'that was never sent.',
    async drive(port) {
      await Promise.all([trickleClient(port, 4, 30), trickleClient(port, 4, 30)]);
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 1,
  },
  {
    name: 'send-overflow-ignored',
    flags: {},
    traffic:
      'a client sends 8 KiB packets without reading until its socket backs up, then reads what comes back.',
    lookFor:
      'the send posted once the client reads again: its IoRing record says SendQ held more bytes than ' +
      'its capacity — the echoes of the flood were copied over bytes not yet sent.',
    async drive(port) {
      await floodClient(port, 2 << 20);
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 2,
  },
  // ---- the chat server (serve --app chat) ----
  {
    name: 'chat',
    flags: { app: 'chat', rooms: '2' },
    traffic:
      '8 chat clients in 2 rooms (one joins late) chat 8 times a second each for 0.7 s; one client ' +
      'is reset and joins again.',
    lookFor:
      'a room’s job queue: a chat’s JobPush on the worker that read it, the flush that broadcasts it ' +
      '(JobFlush begin … Broadcast … end, on one worker at a time), the SendBuffer acquired once and ' +
      'shared by every member’s WSASend (AddRef), each send completion releasing it, and the last ' +
      'Release returning it to the pool; the room ticks of the JobTimer; Login taking users then rooms.',
    async drive(port) {
      await chatLoad(port, {
        clients: 8,
        rooms: 2,
        rate: 8,
        durationMs: 700,
        lateJoin: 0.15,
        resetsPerSec: 1.5,
      });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 2,
  },
  {
    name: 'job-queue-two-flushers',
    flags: { app: 'chat', rooms: '2', gqcsBatch: '1' },
    traffic:
      '8 chat clients in 2 rooms chat 20 times a second each for 0.55 s (the clients may see broadcasts ' +
      'out of order); --gqcs-batch 1 spreads the chats over both workers.',
    lookFor:
      'two JobFlush slices of one room open at once on two workers: both pushers read a job count of ' +
      '0 before either added, both flush, and the room’s broadcasts are numbered and sent concurrently.',
    consequences:
      'the buggy push blocks in a log write before it flushes, and with both workers there completions wait',
    async drive(port) {
      await chatLoad(port, { clients: 8, rooms: 2, rate: 20, durationMs: 550, lateJoin: 0 });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    // The race shows in 30-45% of runs here (6/20 idle, 9/20 beside two busy loops):
    // 10 attempts missed it in one CI run; 30 leave about 1 in 50,000 (it stops at the first).
    attempts: 30,
  },
  {
    name: 'send-buffer-early-release',
    flags: { app: 'chat', rooms: '2' },
    traffic:
      '8 chat clients in 2 rooms chat 8 times a second each for 0.5 s (the clients get corrupted broadcasts).',
    lookFor:
      'a send completion that releases its SendBuffer twice: the count reaches 0 while other members’ ' +
      'sends still hold it, the buffer is Returned, and the next Acquire hands it out again while ' +
      'those sends are still in flight.',
    async drive(port) {
      await chatLoad(port, { clients: 8, rooms: 2, rate: 8, durationMs: 500, lateJoin: 0 });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 2,
  },
  {
    name: 'broadcast-under-room-lock',
    flags: { app: 'chat', rooms: '1', gqcsBatch: '1' },
    traffic:
      '8 chat clients in 1 room chat 15 times a second each for 0.6 s; --gqcs-batch 1 spreads the ' +
      'chats over both workers.',
    lookFor:
      'a worker that holds the room’s lock across every member’s WSASend (LockAcquire … IoPosted × 8 … ' +
      'LockRelease) while the other worker waits for the same lock (LockWait) with a chat of its own.',
    consequences: 'workers blocked on the room lock while completions wait in the port',
    async drive(port) {
      await chatLoad(port, { clients: 8, rooms: 1, rate: 15, durationMs: 600, lateJoin: 0 });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 3,
  },
  {
    name: 'lock-order-inversion',
    flags: { app: 'chat', rooms: '2' },
    traffic:
      '4 chat clients log in and enter their room one after another (200 ms apart), then chat a little: ' +
      'no two workers ever meet on the two paths, so nothing deadlocks.',
    lookFor:
      'Login taking users (exclusive) then rooms (shared), and the Enter job taking rooms (exclusive) ' +
      'then users (shared): the two orders make a cycle in the lock-order graph, reported though this ' +
      'run never deadlocked.',
    async drive(port) {
      await chatLoad(port, {
        clients: 4,
        rooms: 2,
        rate: 4,
        durationMs: 1000,
        rampMs: 800,
        lateJoin: 0,
      });
      return { keepOpen: [] };
    },
    maxBytes: 300 * K,
    attempts: 2,
  },
];

export const SCENARIO_BY_NAME: ReadonlyMap<ScenarioName, Scenario> = new Map(
  SCENARIOS.map((s) => [s.name, s]),
);

/** The rule a scenario's recording must show; null: none at all. */
export function expectedRule(name: ScenarioName): RuleId | null {
  return isCleanScenario(name) ? null : FAULT_RULES[name];
}

export interface Recorded {
  file: string;
  bytes: number;
  outcome: CheckOutcome;
  /** What `serve` printed (its start line and shutdown report). */
  serveOutput: string;
  serveExit: number;
}

/**
 * Records one scenario to `file` through runServeCli (the `serve` command),
 * then checks it with checkFile (the `check` command).
 */
export async function recordScenario(s: Scenario, file: string): Promise<Recorded> {
  let out = '';
  let resolvePort!: (port: number) => void;
  let rejectPort!: (e: Error) => void;
  const portKnown = new Promise<number>((res, rej) => {
    resolvePort = res;
    rejectPort = rej;
  });
  const capture = {
    write(text: string): boolean {
      out += text;
      // Drive only once the recording runs: a recording started mid-run begins
      // with sessions it never saw created.
      const m = /^(?:echo|chat) server on [^\s]+:(\d+):/m.exec(out);
      if (m && /^recording to /m.test(out)) resolvePort(Number(m[1]));
      return true;
    },
  };
  const stop = new AbortController();
  const flags: ServeCliFlags = {
    ...s.flags,
    echoPort: '0',
    record: file,
    ...(isCleanScenario(s.name) ? {} : { fault: [s.name] }),
  };
  const serving = runServeCli(flags, { stdout: capture, stderr: capture, signal: stop.signal });
  void serving.then(
    () => rejectPort(new Error(`serve ended before it printed its port:\n${out}`)),
    (e: Error) => rejectPort(e),
  );
  // serve prints both lines within a second or two; a wording change must not hang the caller.
  const timer = setTimeout(
    () =>
      rejectPort(
        new Error(`serve printed no "echo/chat server on" and "recording to" lines:\n${out}`),
      ),
    60_000,
  );
  let keepOpen: Socket[] = [];
  let failure: unknown = null;
  try {
    const port = await portKnown.finally(() => clearTimeout(timer));
    keepOpen = (await s.drive(port)).keepOpen;
  } catch (e) {
    failure = e;
  }
  // Stop the server (as Ctrl-C does) and wait for it, even when the drive failed.
  stop.abort();
  const serveExit = await serving;
  for (const c of keepOpen) c.destroy();
  if (failure !== null) throw failure;
  const outcome = await checkFile(file);
  return { file, bytes: (await stat(file)).size, outcome, serveOutput: out, serveExit };
}

/** Rules that fired on a fault's recording that neither its rule nor its co-findings explain. */
export function unexplainedRules(name: ScenarioName, o: CheckOutcome): RuleId[] {
  if (isCleanScenario(name)) return [...new Set(o.findings.map((f) => f.rule))];
  const allowed = new Set<RuleId>([
    FAULT_RULES[name],
    ...FAULT_CO_FINDINGS[name].map((c) => c.rule),
  ]);
  return [...new Set(o.findings.map((f) => f.rule))].filter((r) => !allowed.has(r));
}

/** Why a recording does not qualify as the scenario's example; null when it does. */
export function verdict(s: Scenario, r: Recorded): string | null {
  const rule = expectedRule(s.name);
  const o = r.outcome;
  if (r.serveExit !== 0) return `serve exited ${r.serveExit}:\n${r.serveOutput}`;
  if (o.damage !== null) return `the recording is damaged: ${o.damage.message}`;
  if (o.lostEvents > 0) return `${o.lostEvents} events were lost while recording`;
  if (rule === null) {
    if (o.findings.length > 0) {
      return `the clean run has findings: ${o.summary.byRule.map((b) => `${b.rule} x${b.count}`).join(', ')}`;
    }
  } else if (!o.findings.some((f) => f.rule === rule)) {
    const got = o.summary.byRule.map((b) => `${b.rule} x${b.count}`).join(', ') || 'nothing';
    return `no ${rule} finding (found: ${got})`;
  } else {
    const unexplained = unexplainedRules(s.name, o);
    if (unexplained.length > 0) {
      return `rules outside the fault's documented co-findings fired: ${unexplained.join(', ')}`;
    }
  }
  if (o.incomplete !== null) return 'the recording has no TraceEnd';
  if (r.bytes > s.maxBytes) return `${r.bytes} bytes, over the budget of ${s.maxBytes}`;
  return null;
}

// ---- README -------------------------------------------------------------------

const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;

function readmeEntry(s: Scenario, file: string, bytes: number, o: CheckOutcome): string {
  const rule = expectedRule(s.name);
  const lines: string[] = [];
  lines.push(`### ${path.basename(file)}`);
  lines.push('');
  if (s.name === 'clean') {
    lines.push('The reference server with no fault switch. `iocpscope check` finds nothing.');
  } else if (s.name === 'chat') {
    lines.push(
      'The chat server (`serve --app chat`) with no fault switch. `iocpscope check` finds nothing.',
    );
  } else {
    const info = RULE_BY_ID.get(rule!)!;
    const app = s.flags.app === 'chat' ? '--app chat ' : '';
    lines.push(`\`serve ${app}--fault ${s.name}\`: ${FAULT_DESCRIPTIONS[s.name]}.`);
    lines.push('');
    lines.push(`Caught by rule ${info.number}, \`${info.id}\` (${info.title}).`);
  }
  lines.push('');
  lines.push(
    `- Recording: ${o.events.toLocaleString('en-US')} events, ${o.sessions} sessions, ` +
      `${o.threads.size} threads, ${kib(bytes)}` +
      (Object.keys(s.flags).filter((k) => k !== 'app').length > 0
        ? `; extra flags: ${Object.entries(s.flags)
            .filter(([k]) => k !== 'app')
            .map(([k, v]) => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} ${String(v)}`)
            .join(' ')}`
        : '') +
      '.',
  );
  lines.push(`- Traffic: ${s.traffic}`);
  lines.push(`- Look for: ${s.lookFor}`);
  if (o.findings.length === 0) {
    lines.push('- `iocpscope check`: no findings (exit 0).');
  } else {
    const counts = o.summary.byRule.map((b) => `${b.number} \`${b.rule}\` ×${b.count}`).join(', ');
    lines.push(`- \`iocpscope check\` (exit ${o.exitCode}): ${counts}.`);
    const first = o.findings.find((f) => f.rule === rule) ?? o.findings[0]!;
    lines.push(`- First \`${first.rule}\` finding, at event ${first.index}: “${first.message}”`);
    const others = o.summary.byRule.filter((b) => b.rule !== rule);
    if (others.length > 0) {
      lines.push(
        `- ${others.map((b) => `\`${b.rule}\``).join(', ')} also fire${others.length === 1 ? 's' : ''}, ` +
          `on consequences of the same bug${s.consequences ? `: ${s.consequences}` : ''}.`,
      );
    }
  }
  return lines.join('\n');
}

export async function writeReadme(dir = EXAMPLES_DIR): Promise<void> {
  const files = new Set(await readdir(dir));
  const entries: string[] = [];
  const rows: string[] = [];
  const missing: string[] = [];
  for (const s of SCENARIOS) {
    const name = `${s.name}.iocptrace`;
    if (!files.has(name)) {
      missing.push(
        `### ${name} (missing)\n\nNo recording of this scenario passed the checks in the last ` +
          'run of the script: run it again.',
      );
      continue;
    }
    const file = path.join(dir, name);
    const o = await checkFile(file);
    const bytes = (await stat(file)).size;
    const rule = expectedRule(s.name);
    rows.push(
      `| [${name}](#${s.name}iocptrace) | ${rule === null ? '—' : `${RULE_BY_ID.get(rule)!.number} \`${rule}\``} | ` +
        `${o.events.toLocaleString('en-US')} | ${o.sessions} | ${kib(bytes)} | ${o.exitCode} |`,
    );
    entries.push(readmeEntry(s, name, bytes, o));
  }
  const text = `# Example recordings

Small recordings of the reference servers: one clean run of the echo server and
one for each of its fault switches (\`iocpscope serve --fault NAME\`), then one
clean run of the chat server (\`serve --app chat\`: rooms as JobQueues, pooled
SendBuffers, a JobTimer) and one for each chat fault switch. Each was made by
the real server on the emulated completion port under a second or two of
scripted client traffic, and each is small enough to step through event by
event. \`stories.json\` holds each one's one-line story (the start screen and
\`iocpscope open --example NAME\` show it).

- In the dashboard: \`pnpm iocpscope serve\`, open the page, and pick one under
  "Examples" on the start screen. The anomalies panel lists the findings and
  the step controls jump from one to the next.
- On the command line: \`pnpm iocpscope check examples/two-sends-in-flight.iocptrace\`
  prints the findings (exit 0 clean, 1 findings); \`--json\` for a script.
- In Perfetto: \`pnpm iocpscope export examples/clean.iocptrace -o clean.json\`,
  then open clean.json in https://ui.perfetto.dev.

Regenerate them all with \`pnpm exec tsx scripts/make-examples.ts\` (about a
minute; it rewrites this file too). The script keeps a recording only if
\`iocpscope check\` finds the fault's rule in it (and nothing at all in the
clean run) and it stays under 300 KiB; \`apps/server/test/cli/examples.test.ts\`
checks the committed files the same way.

| file | rule that catches it | events | sessions | size | check exit |
|---|---|---:|---:|---:|---:|
${rows.join('\n')}

${[...entries, ...missing].join('\n\n')}
`;
  // Formatted as `pnpm format:check` expects, so regenerating keeps CI green.
  const readme = path.join(dir, 'README.md');
  const config = (await prettier.resolveConfig(readme)) ?? {};
  await writeFile(readme, await prettier.format(text, { ...config, filepath: readme }));
}

// ---- main -----------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  await mkdir(EXAMPLES_DIR, { recursive: true });
  if (argv.includes('--readme')) {
    await writeReadme();
    return 0;
  }
  const only = arg('--only')
    ?.split(',')
    .map((x) => x.trim());
  for (const n of only ?? []) {
    if (!SCENARIO_BY_NAME.has(n as ScenarioName)) {
      console.error(`unknown scenario ${n} (known: clean, chat, ${FAULT_NAMES.join(', ')})`);
      return 2;
    }
  }
  let failed = 0;
  for (const s of SCENARIOS) {
    if (only && !only.includes(s.name)) continue;
    const target = path.join(EXAMPLES_DIR, `${s.name}.iocptrace`);
    const tmp = path.join(EXAMPLES_DIR, `.${s.name}.recording`);
    let why: string | null = 'not recorded';
    for (let attempt = 1; attempt <= s.attempts && why !== null; attempt++) {
      await rm(tmp, { force: true });
      const r = await recordScenario(s, tmp);
      why = verdict(s, r);
      const o = r.outcome;
      console.log(
        `${s.name} (attempt ${attempt}/${s.attempts}): ${r.bytes} bytes, ${o.events} events, ` +
          `${o.sessions} sessions: ${o.summary.byRule.map((b) => `${b.rule} x${b.count}`).join(', ') || 'no findings'}` +
          (why === null ? '' : ` -- rejected: ${why}`),
      );
    }
    if (why === null) await rename(tmp, target);
    else {
      await rm(tmp, { force: true });
      failed++;
    }
  }
  await writeReadme();
  if (failed > 0) console.error(`${failed} scenario(s) did not produce a qualifying recording`);
  return failed > 0 ? 1 : 0;
}

const isEntry =
  process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1]);
if (isEntry) process.exitCode = await main(process.argv.slice(2));
