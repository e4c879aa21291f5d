// `iocpscope open FILE`: like `speedscope FILE`, serve the dashboard on
// 127.0.0.1 with that recording open, print the URL, and (with --browser)
// launch the system browser on it. The file is listed by the catalogue as
// "open.<name>" (it is the only file served from outside the recordings and
// examples directories) and the page opens it through `?recording=ID`.
// `--example NAME` opens one of the bundled examples and prints its story.
//
// The file's first bytes are checked before anything is served, so a file
// that is not a trace at all is an immediate, coded error (exit 2); a
// damaged trace opens up to its first bad chunk, as in the app.

import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { open as openFile } from 'node:fs/promises';
import path from 'node:path';
import { FILE_MAGIC } from '@iocpscope/protocol';
import { DEFAULT_EXAMPLES_DIR, RecordingCatalogue } from '../record/catalogue.ts';
import { startStreamServer, type StreamServer } from '../transport/server.ts';
import { MIN_TOKEN_CHARS, isLoopbackHost } from '../transport/options.ts';
import { parseServeDuration } from './serve.ts';
import { waitForStop } from './wait.ts';

export const OPEN_EXIT = { ok: 0, failed: 1, badInput: 2 } as const;

export interface OpenCliFlags {
  host?: string;
  port?: string;
  browser?: boolean;
  example?: string;
  duration?: string;
  token?: string;
}

export interface OpenCliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  signal?: AbortSignal;
  /** Launch a browser on the URL (default: the platform's opener). */
  launch?: (url: string) => Promise<void>;
}

/** Why a file cannot be opened, with a stable code. */
export class OpenError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'NOT_A_FILE' | 'BAD_MAGIC' | 'UNREADABLE' | 'BAD_OPTIONS',
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Check that `file` is a regular, readable file that starts like an .iocptrace. */
export async function checkTraceFile(file: string): Promise<void> {
  let h;
  try {
    h = await openFile(file, 'r');
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new OpenError('NOT_FOUND', `${file}: no such file`);
    if (code === 'EISDIR') throw new OpenError('NOT_A_FILE', `${file} is a directory`);
    throw new OpenError('UNREADABLE', `${file}: ${(e as Error).message}`);
  }
  try {
    const st = await h.stat();
    if (!st.isFile()) throw new OpenError('NOT_A_FILE', `${file} is not a regular file`);
    const head = new Uint8Array(8);
    const { bytesRead } = await h.read(head, 0, 8, 0);
    for (let i = 0; i < bytesRead; i++) {
      if (head[i] !== FILE_MAGIC[i]) {
        throw new OpenError(
          'BAD_MAGIC',
          `${file} is not an .iocptrace recording (it does not start with "\\x89IOCPTR\\n")`,
        );
      }
    }
    if (bytesRead < 8) {
      throw new OpenError('BAD_MAGIC', `${file} is too short to be an .iocptrace recording`);
    }
  } finally {
    await h.close();
  }
}

/** The system browser on `url` (xdg-open, open, or start). */
export function launchBrowser(url: string): Promise<void> {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.once('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}

export async function runOpenCli(
  fileArg: string | undefined,
  flags: OpenCliFlags,
  io: OpenCliIo,
): Promise<number> {
  let file: string;
  let story: string | undefined;
  try {
    if (flags.example !== undefined) {
      if (fileArg !== undefined)
        throw new OpenError('BAD_OPTIONS', 'give a FILE or --example, not both');
      const name = flags.example.replace(/\.iocptrace$/, '');
      if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) {
        throw new OpenError(
          'BAD_OPTIONS',
          `--example: not an example name: ${JSON.stringify(name)}`,
        );
      }
      // The examples (with their stories), and no recordings directory.
      const cat = new RecordingCatalogue({ dir: path.join(DEFAULT_EXAMPLES_DIR, '.none') });
      const known = (await cat.list()).filter((e) => e.example);
      const hit = known.find((e) => e.name === name);
      if (hit === undefined) {
        throw new OpenError(
          'NOT_FOUND',
          `no example named ${name}; the examples are: ${known.map((e) => e.name).join(', ')}`,
        );
      }
      file = path.join(DEFAULT_EXAMPLES_DIR, `${name}.iocptrace`);
      story = hit.story;
    } else {
      if (fileArg === undefined || fileArg.trim() === '') {
        throw new OpenError('BAD_OPTIONS', 'which file? iocpscope open FILE (or --example NAME)');
      }
      file = path.resolve(fileArg);
    }
    await checkTraceFile(file);
  } catch (e) {
    if (e instanceof OpenError) {
      io.stderr.write(`iocpscope open: ${e.message}\n`);
      return OPEN_EXIT.badInput;
    }
    throw e;
  }
  const host = (flags.host ?? '127.0.0.1').trim();
  const token = flags.token === undefined || flags.token === '' ? undefined : flags.token;
  if (!isLoopbackHost(host) && (token === undefined || token.length < MIN_TOKEN_CHARS)) {
    io.stderr.write(
      `iocpscope open: --host ${host} exposes the recording beyond this machine: give --token <secret> (${MIN_TOKEN_CHARS}+ characters)\n`,
    );
    return OPEN_EXIT.badInput;
  }
  let durationMs: number | null = null;
  const port = flags.port === undefined ? 0 : Number(flags.port);
  try {
    if (flags.duration !== undefined) durationMs = parseServeDuration('duration', flags.duration);
    if (!/^\d+$/.test(flags.port ?? '0') || port > 65535) {
      throw new OpenError('BAD_OPTIONS', `--port: expected 0..65535, got ${flags.port}`);
    }
  } catch (e) {
    io.stderr.write(`iocpscope open: ${(e as Error).message}\n`);
    return OPEN_EXIT.badInput;
  }

  let server: StreamServer;
  const opened = flags.example !== undefined ? [] : [file];
  try {
    server = await startStreamServer({
      host,
      port,
      ...(token !== undefined ? { token } : {}),
      // Only the opened file and the examples are listed: not the current directory's recordings.
      recordingsDir: path.join(path.dirname(file), '.iocpscope-open-none'),
      catalogueFiles: opened,
    });
  } catch (e) {
    io.stderr.write(`iocpscope open: ${(e as Error).message}\n`);
    return OPEN_EXIT.failed;
  }
  const id =
    flags.example !== undefined
      ? `example.${path.basename(file, '.iocptrace').replace(/[^A-Za-z0-9_.-]/g, '_')}`
      : await server.catalogue.idOf(file);
  const url =
    `${server.url}?recording=${encodeURIComponent(id ?? '')}` +
    (token !== undefined ? '&token=<your --token>' : '');
  io.stdout.write(
    `${path.basename(file)}${story ? `: ${story}` : ''}\n\n  iocpscope: ${url}\n\n` +
      (durationMs === null ? '  Ctrl-C stops it\n' : ''),
  );
  if (flags.browser === true) {
    const launch = io.launch ?? launchBrowser;
    await launch(url).catch((e: unknown) =>
      io.stderr.write(
        `iocpscope open: could not launch a browser (${String(e)}); open the URL above\n`,
      ),
    );
  }
  await waitForStop(durationMs, io.signal);
  await server.close();
  return OPEN_EXIT.ok;
}

export function registerOpenCommand(
  program: Command,
  io?: OpenCliIo & { setExitCode?: (c: number) => void },
): void {
  program
    .command('open')
    .description('serve the dashboard on 127.0.0.1 with a recording open, and print its URL')
    .argument('[file]', 'an .iocptrace recording')
    .option('--browser', 'also open it in the system browser')
    .option('--example <name>', 'open one of the bundled examples (e.g. two-sends-in-flight)')
    .option('--host <address>', 'where to serve it (default 127.0.0.1)')
    .option('--port <n>', 'port (default: any free port)')
    .option('--token <secret>', 'required when --host is not loopback (default: IOCPSCOPE_TOKEN)')
    .option('--duration <time>', 'stop after this long (default: until Ctrl-C)')
    .addHelpText(
      'after',
      '\nExit codes: 0 served and stopped, 1 could not serve, 2 not a recording or bad options.',
    )
    .action(async (file: string | undefined, parsed: OpenCliFlags) => {
      const env = process.env.IOCPSCOPE_TOKEN;
      const flags = parsed.token === undefined && env ? { ...parsed, token: env } : parsed;
      if (io) {
        io.setExitCode?.(await runOpenCli(file, flags, io));
        return;
      }
      const controller = new AbortController();
      const onSignal = (): void => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        process.exitCode = await runOpenCli(file, flags, {
          stdout: process.stdout,
          stderr: process.stderr,
          signal: controller.signal,
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
