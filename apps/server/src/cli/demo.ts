// `serve --demo`: the built-in load generator (load/run.ts) aimed at the echo
// port for as long as the server runs, gentle enough to leave the 2-core box
// (and the browser drawing the dashboard) most of its CPU.
//
// runLoad keeps `inFlight` messages outstanding per connection at all times
// (a closed loop, as fast as the server echoes), so a rate cannot be set
// directly. The demo bounds it with work per round instead: each round opens
// DEMO_CONNECTIONS connections spread evenly over DEMO_ROUND_MS; each echoes
// a small random number of messages (a random size and depth per round, so
// the lanes and the IOCount track vary) and closes gracefully, and a few are
// reset abruptly (RST) mid-stream so failed completions and disconnects show.
// That is about DEMO_CONNECTIONS * 25 / 2 s = 400 echoes/s, a few sessions
// live at any moment and about 16 session lifecycles per second (measured:
// the whole server, tracing on, then uses about a quarter of one core).
//
// It runs in-process on the main thread (the emulated kernel's thread): at this
// rate its sockets cost that thread a few percent, less than a child process's
// start-up. The dashboard's own load (start-load) is separate and runs beside it.
// A round that fails (a fault switch breaks the echo on purpose) is reported
// once per FAILURE_REPORT_MS at most, and the next round starts anyway.
//
// Against the chat server (`serve --app chat --demo`) a round is chat clients
// instead (load/chat.ts): DEMO_CHAT_CLIENTS spread over the rooms, a few
// joining late and one or two reset, chatting a few times a second for a round
// of DEMO_CHAT_ROUND_MS, every broadcast verified.

import { runLoad, type LoadReport } from '../load/run.ts';
import { runChatLoad, type ChatLoadOptions } from '../load/chat.ts';
import { createRandom } from '../load/random.ts';
import type { LoadOptions, LoadTarget } from '../load/options.ts';

export const DEMO_CONNECTIONS = 32;
export const DEMO_ROUND_MS = 2000;
export const DEMO_CHAT_CLIENTS = 16;
export const DEMO_CHAT_ROUND_MS = 8000;
/** Payload sizes a round picks from (bytes after the 4-byte header). */
const SIZES = [0, 12, 28, 60, 124, 252, 508];
const FAILURE_REPORT_MS = 30_000;
/** Pause before retrying after a round that could not connect at all. */
const BACKOFF_MS = 1000;

export interface DemoLoadOptions {
  target: LoadTarget;
  /** Seed of the rounds' choices (sizes, depths, counts) and of each round's load. Default 1. */
  seed?: number;
  /** Connections per round. Default DEMO_CONNECTIONS. */
  connections?: number;
  /** Ramp of each round, ms. Default DEMO_ROUND_MS. */
  roundMs?: number;
  /** Abrupt resets per second. Default 1.5. */
  resetsPerSec?: number;
  /** A round failed (at most one call per 30 s). */
  onFailure?: (text: string) => void;
  /** The server's app: chat clients in `rooms` rooms instead of echo clients. */
  app?: 'echo' | 'chat';
  rooms?: number;
}

/** A chat round's options (pure: seeded by `seed` and `round`). */
export function chatDemoRound(o: DemoLoadOptions, round: number): ChatLoadOptions {
  const r = createRandom(((o.seed ?? 1) * 0x85ebca6b + round) >>> 0);
  return {
    target: o.target,
    clients: DEMO_CHAT_CLIENTS,
    rooms: Math.min(4, o.rooms ?? 4),
    rate: 2 + r.int(4),
    textBytes: 16 + r.int(100),
    durationMs: DEMO_CHAT_ROUND_MS,
    rampMs: 1000,
    lateJoin: 0.25,
    resetsPerSec: 0.25,
    seed: r.u32(),
    connectTimeoutMs: 10_000,
    drainTimeoutMs: 5000,
    progressIntervalMs: 60_000,
  };
}

export interface DemoLoad {
  /** Rounds completed so far. */
  readonly rounds: number;
  /** Echoes verified so far. */
  readonly messages: number;
  /** Stop sending, drain the current round and close its sockets. */
  stop(): Promise<void>;
}

/** The load options of round `round` (pure: seeded by `seed` and `round`). */
export function demoRound(
  o: Pick<DemoLoadOptions, 'target' | 'seed' | 'connections' | 'roundMs' | 'resetsPerSec'>,
  round: number,
): LoadOptions {
  const r = createRandom(((o.seed ?? 1) * 0x9e3779b1 + round) >>> 0);
  return {
    target: o.target,
    connections: o.connections ?? DEMO_CONNECTIONS,
    messageSize: SIZES[r.int(SIZES.length)]!,
    inFlight: 1 + r.int(3),
    messages: 10 + r.int(31),
    rampMs: o.roundMs ?? DEMO_ROUND_MS,
    resetsPerSec: o.resetsPerSec ?? 1.5,
    seed: r.u32(),
    connectTimeoutMs: 10_000,
    drainTimeoutMs: 5000,
    stallTimeoutMs: 10_000,
    progressIntervalMs: 60_000,
  };
}

function describeFailure(r: LoadReport): string {
  if (r.stalled) return 'stalled (no echo for 10 s)';
  const parts: string[] = [];
  if (r.mismatches.count > 0) parts.push(`${r.mismatches.count} mismatches`);
  if (r.failures.count > 0) {
    const first = r.failures.samples[0];
    parts.push(`${r.failures.count} connection failures${first ? ` (${first.code})` : ''}`);
  }
  return parts.join(', ') || 'failed';
}

/** Start the demo load; it runs round after round until stop(). */
export function startDemoLoad(options: DemoLoadOptions): DemoLoad {
  const abort = new AbortController();
  let rounds = 0;
  let messages = 0;
  let lastReport = -Infinity;
  const report = (text: string): void => {
    const now = performance.now();
    if (now - lastReport < FAILURE_REPORT_MS) return;
    lastReport = now;
    options.onFailure?.(text);
  };
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      abort.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  const loop = async (): Promise<void> => {
    for (let round = 0; !abort.signal.aborted; round++) {
      if (options.app === 'chat') {
        try {
          const c = await runChatLoad(chatDemoRound(options, round), { signal: abort.signal });
          messages += c.deliveries;
          if (!c.aborted) rounds++;
          if (!c.ok && !c.aborted) {
            report(
              `demo load: round ${round}: ${c.violations.count} violations ` +
                `(${c.violations.samples[0]?.kind ?? '?'}); carrying on`,
            );
          }
        } catch (e) {
          report(`demo load: round ${round} could not run: ${(e as Error).message}`);
          await sleep(BACKOFF_MS);
        }
        continue;
      }
      let r: LoadReport;
      try {
        r = await runLoad(demoRound(options, round), { signal: abort.signal });
      } catch (e) {
        report(`demo load: round ${round} could not run: ${(e as Error).message}`);
        await sleep(BACKOFF_MS);
        continue;
      }
      messages += r.messages;
      if (!r.aborted) rounds++;
      if (!r.ok && !r.aborted) {
        report(`demo load: round ${round} ${describeFailure(r)}; carrying on`);
        if (r.messages === 0) await sleep(BACKOFF_MS);
      }
    }
  };
  const done = loop();
  return {
    get rounds() {
      return rounds;
    },
    get messages() {
      return messages;
    },
    stop(): Promise<void> {
      abort.abort();
      return done;
    },
  };
}
