// Child-process entry for the benchmark's baseline: the plain node:net echo
// server (src/load/plain-echo.ts) on its own process, so its CPU and memory
// are measured apart from the load. Prints one JSON line {"port": P} on
// stdout once listening; exits on SIGTERM/SIGINT or when stdin closes
// (so it never outlives the harness).
//
//   node --import tsx apps/server/bench/plain-echo-server.ts [--host H] [--port P]

import { startPlainEcho } from '../src/load/plain-echo.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const server = await startPlainEcho({
  host: arg('--host') ?? '127.0.0.1',
  port: Number(arg('--port') ?? 0),
});
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);

let closing = false;
const stop = (): void => {
  if (closing) return;
  closing = true;
  void server.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
