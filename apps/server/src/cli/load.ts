// `iocpscope load`: dummy echo clients against a server (../load/), or with
// `--app chat` chat clients in rooms against the chat server (load/chat.ts:
// every broadcast verified in order, exactly once, byte for byte). Parses
// flags into LoadOptions (bad flags: a coded LoadOptionError, exit 2), runs
// the load with a progress bar on a terminal (plain periodic lines
// otherwise, on stderr so --json stays clean), prints the report, and sets
// the exit code: 0 when every echo verified, 1 on any mismatch, connection
// failure or stall. Ctrl-C once stops sending and still drains and reports;
// twice exits at once.

import type { Command } from 'commander';
import {
  formatProgressBar,
  formatProgressLine,
  formatReport,
  isLoadOptionError,
  parseLoadArgs,
  runLoad,
} from '../load/index.ts';
import type { LoadArgs, LoadOptions, LoadProgress } from '../load/index.ts';
import {
  formatChatProgressBar,
  formatChatProgressLine,
  formatChatReport,
  parseChatLoadArgs,
  runChatLoad,
  validateChatLoadOptions,
  type ChatLoadArgs,
  type ChatLoadProgress,
} from '../load/chat.ts';

export const LOAD_EXIT = { ok: 0, failed: 1, badOptions: 2 } as const;

export interface LoadCliFlags extends LoadArgs {
  json?: boolean;
  progress?: boolean;
  /** echo (default) or chat. */
  app?: string;
  /** Chat: rooms, chats per second per client, late joiners' fraction. */
  rooms?: string;
  rate?: string;
  lateJoin?: string;
}

/** Where the command writes; the process's streams unless a test injects others. */
export interface LoadCliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  /** Stops the run early (Ctrl-C in the CLI). */
  signal?: AbortSignal;
  /** Receives the exit code when the command registered with this io finishes. */
  setExitCode?: (code: number) => void;
}

/** `load --app chat`: the chat clients, their progress and report. */
async function runChatLoadCli(flags: LoadCliFlags, io: LoadCliIo): Promise<number> {
  let options;
  try {
    const a: ChatLoadArgs = {};
    for (const k of [
      'target',
      'connections',
      'rooms',
      'rate',
      'inFlight',
      'size',
      'duration',
      'messages',
      'ramp',
      'lateJoin',
      'resets',
      'seed',
      'connectTimeout',
      'drainTimeout',
    ] as const) {
      const v = flags[k];
      if (v !== undefined) a[k] = v;
    }
    options = parseChatLoadArgs(a);
    validateChatLoadOptions(options);
    for (const k of ['totalMessages', 'type', 'warmup'] as const) {
      if (flags[k] !== undefined) {
        io.stderr.write(
          `iocpscope load: --${k === 'totalMessages' ? 'total-messages' : k} is an echo option\n`,
        );
        return LOAD_EXIT.badOptions;
      }
    }
  } catch (e) {
    if (!isLoadOptionError(e)) throw e;
    io.stderr.write(`iocpscope load: ${e.message}\n`);
    return LOAD_EXIT.badOptions;
  }
  const tty = io.stderr.isTTY === true;
  const showProgress = flags.progress !== false;
  let barShown = false;
  const onProgress = (p: ChatLoadProgress): void => {
    if (!showProgress) return;
    if (tty) {
      io.stderr.write(`\r\x1b[K${formatChatProgressBar(p, io.stderr.columns ?? 80)}`);
      barShown = true;
    } else io.stderr.write(`${formatChatProgressLine(p)}\n`);
  };
  let report;
  try {
    report = await runChatLoad(
      { ...options, progressIntervalMs: tty ? 200 : 1000 },
      { onProgress, ...(io.signal ? { signal: io.signal } : {}) },
    );
  } finally {
    if (barShown) io.stderr.write('\r\x1b[K');
  }
  io.stdout.write(
    flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatChatReport(report)}\n`,
  );
  return report.ok ? LOAD_EXIT.ok : LOAD_EXIT.failed;
}

/** Runs the command with parsed flags; resolves the exit code. */
export async function runLoadCli(flags: LoadCliFlags, io: LoadCliIo): Promise<number> {
  if (flags.app === 'chat') return runChatLoadCli(flags, io);
  if (flags.app !== undefined && flags.app !== 'echo') {
    io.stderr.write(
      `iocpscope load: --app must be echo or chat, got ${JSON.stringify(flags.app)}\n`,
    );
    return LOAD_EXIT.badOptions;
  }
  for (const k of ['rooms', 'rate', 'lateJoin'] as const) {
    if (flags[k] !== undefined) {
      io.stderr.write(
        `iocpscope load: --${k === 'lateJoin' ? 'late-join' : k} is a chat option: add --app chat\n`,
      );
      return LOAD_EXIT.badOptions;
    }
  }
  let options: LoadOptions;
  try {
    options = parseLoadArgs(flags);
  } catch (e) {
    if (!isLoadOptionError(e)) throw e;
    io.stderr.write(`iocpscope load: ${e.message}\n`);
    return LOAD_EXIT.badOptions;
  }
  const tty = io.stderr.isTTY === true;
  const showProgress = flags.progress !== false;
  let barShown = false;
  const onProgress = (p: LoadProgress): void => {
    if (!showProgress) return;
    if (tty) {
      io.stderr.write(`\r\x1b[K${formatProgressBar(p, io.stderr.columns ?? 80)}`);
      barShown = true;
    } else {
      io.stderr.write(`${formatProgressLine(p)}\n`);
    }
  };
  let report;
  try {
    report = await runLoad(
      { ...options, progressIntervalMs: tty ? 200 : 1000 },
      { onProgress, ...(io.signal ? { signal: io.signal } : {}) },
    );
  } catch (e) {
    if (!isLoadOptionError(e)) throw e;
    io.stderr.write(`iocpscope load: ${e.message}\n`);
    return LOAD_EXIT.badOptions;
  } finally {
    if (barShown) io.stderr.write('\r\x1b[K');
  }
  io.stdout.write(
    flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`,
  );
  return report.ok ? LOAD_EXIT.ok : LOAD_EXIT.failed;
}

/** Adds `load` to the iocpscope program. `io` is for tests; the CLI uses the process's streams. */
export function registerLoadCommand(program: Command, io?: LoadCliIo): void {
  program
    .command('load')
    .description(
      'run dummy echo clients against an echo server and verify every echoed byte, ' +
        'or with --app chat chat clients in rooms, verifying every broadcast',
    )
    .option('--app <name>', 'echo (default) or chat: which server the clients speak to')
    .option('-t, --target <host:port>', 'the server, e.g. 127.0.0.1:7701 (required)')
    .option(
      '-c, --connections <n>',
      'concurrent connections (chat: clients), 1..100000 (default 1; chat 20)',
    )
    .option(
      '-s, --size <bytes>',
      'payload bytes per message, 0..8192 (default 64; chat: text bytes, 16..512)',
    )
    .option(
      '-p, --in-flight <n>',
      'messages in flight per connection, pipelined (default 1; chat: own chats not yet back, 8)',
    )
    .option('--rooms <n>', 'chat: rooms the clients are spread over, 1..256 (default 4)')
    .option(
      '--rate <n>',
      'chat: chats per second per client, 0 = as fast as --in-flight allows (default 5)',
    )
    .option(
      '--late-join <fraction>',
      'chat: fraction of clients joining a third of the way in (default 0.1)',
    )
    .option('-d, --duration <time>', 'how long to send, e.g. 500ms, 10s, 2m (default 10s)')
    .option('-n, --messages <n>', 'messages per connection, instead of --duration')
    .option('-N, --total-messages <n>', 'messages over all connections, instead of --duration')
    .option('--ramp <time>', 'open the connections evenly over this time (default 0)')
    .option('--resets <per-second>', 'abrupt resets (RST) per second, each followed by a reconnect')
    .option('--seed <n>', 'seed for payloads, phases and resets, 0..4294967295 (default 1)')
    .option('--type <n>', 'packet type written in every header, 0..65535 (default 1)')
    .option('--warmup <time>', 'leave the first part of the run out of rate and latency')
    .option('--connect-timeout <time>', 'fail a connect that takes longer (default 5s)')
    .option('--drain-timeout <time>', 'after sending stops, wait this long for echoes (default 5s)')
    .option('--json', 'print the report as JSON')
    .option('--no-progress', 'no progress bar or progress lines')
    .addHelpText(
      'after',
      '\nWith --app chat every member must get every broadcast of its room from its join on, exactly once,\n' +
        'in sequence order, byte for byte, and each sender its own chats back in order.\n' +
        '\nExit codes: 0 every echo (broadcast) verified, 1 mismatch / violation / connection failure / stall, 2 bad options.',
    )
    .action(async (flags: LoadCliFlags) => {
      if (io) {
        io.setExitCode?.(await runLoadCli(flags, io));
        return;
      }
      const controller = new AbortController();
      let interrupts = 0;
      const onSigint = (): void => {
        if (++interrupts > 1) process.exit(130);
        process.stderr.write('\nstopping: draining echoes in flight (Ctrl-C again to quit)\n');
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      try {
        process.exitCode = await runLoadCli(flags, {
          stdout: process.stdout,
          stderr: process.stderr,
          signal: controller.signal,
        });
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
