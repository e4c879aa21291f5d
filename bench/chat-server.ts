// Child-process entry for `pnpm bench:chat`: the chat server (startServer with
// app 'chat') with its room-path timer on, so the harness can read the ns per
// chat message spent in the room code. Prints {"port": P} once listening;
// on a line "stats" on stdin prints {"pathNs", "pathMessages", "app"} and
// zeroes the timer; stops when stdin closes.
//
//   node --import tsx bench/chat-server.ts [--no-trace] [--room-lock] [--rooms N] [--workers N]

import { createInterface } from 'node:readline';
import type { ChatState } from '../apps/server/src/chat/state.ts';
import { H_MEASURE } from '../apps/server/src/chat/state.ts';
import { startServer } from '../apps/server/src/session/server.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const server = await startServer({
  app: 'chat',
  host: '127.0.0.1',
  echoPort: 0,
  maxSessions: 2048,
  trace: !process.argv.includes('--no-trace'),
  workers: Number(arg('--workers') ?? 2),
  chat: { rooms: Number(arg('--rooms') ?? 10) },
  // The same code with a room lock instead of the JobQueue: every room job
  // runs under the room's lock (the broadcast-under-room-lock path).
  faults: process.argv.includes('--room-lock') ? ['broadcast-under-room-lock'] : [],
});
const state = (server as unknown as { shared: { runtime: { state: ChatState } } }).shared.runtime
  .state;
Atomics.store(state.i32, H_MEASURE, 1);
process.stdout.write(`${JSON.stringify({ port: server.echoPort })}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() !== 'stats') return;
  const p = state.pathStats();
  state.resetPathStats();
  process.stdout.write(
    `${JSON.stringify({ pathNs: p.ns, pathMessages: p.messages, app: server.status().appStats })}\n`,
  );
});
lines.on('close', () => {
  void server.stop().then((r) => {
    process.stderr.write(`${JSON.stringify({ stuck: r.stuckSessions, errors: r.threadErrors })}\n`);
    process.exit(0);
  });
});
