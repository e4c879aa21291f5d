// Child-process entry that runs the reference echo server (src/echo) straight
// from startServer, without the serve command's dashboard and hub. The bench
// uses it for the traced/untraced servers only while apps/server/src/cli/main.ts
// (`iocpscope serve`) does not exist; afterwards the bench measures `serve`.
// Prints {"port": P} once listening; stops gracefully on SIGTERM/SIGINT or
// when stdin closes.
//
//   node --import tsx apps/server/bench/echo-server.ts --echo-port P [--no-trace]
//     [--max-sessions N] [--workers N]

import { startServer } from '../src/echo/server.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const num = (name: string): number | undefined => {
  const v = arg(name);
  return v === undefined ? undefined : Number(v);
};

const server = await startServer({
  host: '127.0.0.1',
  echoPort: num('--echo-port') ?? 0,
  trace: !process.argv.includes('--no-trace'),
  ...(num('--max-sessions') !== undefined ? { maxSessions: num('--max-sessions')! } : {}),
  ...(num('--workers') !== undefined ? { workers: num('--workers')! } : {}),
});
// With tracing on and no subscriber, the drainer thread still collects and
// merges every event; what a dashboard or a recording would add is not measured.
process.stdout.write(`${JSON.stringify({ port: server.echoPort })}\n`);

let closing = false;
const stop = (): void => {
  if (closing) return;
  closing = true;
  void server.stop().then((report) => {
    process.stderr.write(
      `${JSON.stringify({ stuckSessions: report.stuckSessions, threadErrors: report.threadErrors })}\n`,
    );
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
