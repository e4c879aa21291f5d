// `iocpscope export FILE --format chrome -o OUT.json`: write a recording as
// Chrome Trace Event JSON, which Perfetto (ui.perfetto.dev) and chrome://tracing
// open. The protocol's exportChromeTrace does the conversion and hands out the
// JSON in pieces of about 64 K characters; each piece goes straight to the
// output file with a synchronous write, so the exporter waits for the disk at
// every piece (that is the backpressure) and memory holds one piece, never the
// whole document. The output is written to a temporary file next to OUT and
// renamed at the end, so a failed export never leaves a half-written OUT.
// `-o -` writes to stdout instead (a pipe: the write waits while it is full).
//
// Exit codes (EXPORT_EXIT):
//   0  written;
//   1  the output could not be written (no such directory, no permission, disk full);
//   2  bad options (unknown --format, no -o), or the input cannot be read in
//      full: not an .iocptrace file (error BAD_MAGIC ...), or damaged. A damaged
//      file whose beginning is readable is still exported up to the damage, with
//      the reader's error code on stderr, and exits 2: the output is not the whole run.

import {
  closeSync,
  fsyncSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { exportChromeTrace } from '@iocpscope/protocol';
import {
  formatMiB,
  Progress,
  readTraceInput,
  readingLine,
  TraceInputError,
  type ProgressStream,
  formatCount,
} from './trace-file.ts';

export const EXPORT_EXIT = { ok: 0, outputFailed: 1, badInput: 2 } as const;
export const EXPORT_FORMATS = ['chrome'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export class ExportError extends Error {
  constructor(
    /** ERR_EXPORT_OPTIONS, ERR_EXPORT_OUTPUT, or a system code (ENOENT, ENOSPC, ...). */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A synchronous byte sink over a file descriptor. A write returns once the
 * kernel took every byte; on a non-blocking descriptor (a pipe set so by the
 * parent) EAGAIN is waited out in 1 ms steps instead of buffering in memory.
 */
export class FdSink {
  #bytes = 0;
  static readonly #pause = new Int32Array(new SharedArrayBuffer(4));

  constructor(readonly fd: number) {}

  get bytes(): number {
    return this.#bytes;
  }

  write(text: string): void {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        Atomics.wait(FdSink.#pause, 0, 0, 1);
      }
    }
    this.#bytes += buf.length;
  }
}

export interface ExportCliFlags {
  format?: string;
  output?: string;
  progress?: boolean;
}

export interface ExportCliIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressStream;
  /** The descriptor `-o -` writes to. Default 1. */
  stdoutFd?: number;
  setExitCode?: (code: number) => void;
  /** Read piece size (tests). */
  pieceBytes?: number;
}

function parseFormat(format: string | undefined): ExportFormat {
  const f = (format ?? 'chrome').trim().toLowerCase();
  if (!(EXPORT_FORMATS as readonly string[]).includes(f)) {
    throw new ExportError(
      'ERR_EXPORT_OPTIONS',
      `--format: unknown format ${JSON.stringify(format)} (supported: ${EXPORT_FORMATS.join(', ')})`,
    );
  }
  return f as ExportFormat;
}

const WHY: Record<string, string> = {
  ENOENT: 'no such directory',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EPIPE: 'the reading end of the pipe was closed',
};

const systemError = (what: string, e: unknown): ExportError => {
  const err = e as NodeJS.ErrnoException;
  const code = typeof err.code === 'string' ? err.code : 'EIO';
  return new ExportError(code, `${what}: ${WHY[code] ?? err.message}`);
};

interface Output {
  sink: FdSink;
  /** Make the output final (rename the temporary file into place). */
  commit(): void;
  /** Remove what was written. */
  abandon(): void;
}

function openOutput(path: string, stdoutFd: number): Output {
  if (path === '-') {
    return { sink: new FdSink(stdoutFd), commit: () => undefined, abandon: () => undefined };
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.part`);
  let fd: number;
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    fd = openSync(tmp, 'wx', 0o644);
  } catch (e) {
    throw systemError(`cannot write ${path}`, e);
  }
  let open = true;
  const close = (): void => {
    if (open) closeSync(fd);
    open = false;
  };
  return {
    sink: new FdSink(fd),
    commit: () => {
      try {
        fsyncSync(fd);
        close();
        renameSync(tmp, path);
      } catch (e) {
        try {
          close();
          unlinkSync(tmp);
        } catch {
          // Already gone: nothing left to clean.
        }
        throw systemError(`cannot write ${path}`, e);
      }
    },
    abandon: () => {
      try {
        close();
        unlinkSync(tmp);
      } catch {
        // Already gone: nothing left to clean.
      }
    },
  };
}

/** Runs `export` on one file; resolves the exit code. */
export async function runExportCli(
  file: string,
  flags: ExportCliFlags,
  io: ExportCliIo,
): Promise<number> {
  const say = (text: string): void => void io.stderr.write(`iocpscope export: ${text}\n`);
  try {
    parseFormat(flags.format);
    if (flags.output === undefined || flags.output.trim() === '') {
      throw new ExportError(
        'ERR_EXPORT_OPTIONS',
        '-o/--output: name the output file (or - for stdout)',
      );
    }
  } catch (e) {
    if (!(e instanceof ExportError)) throw e;
    say(e.message);
    return EXPORT_EXIT.badInput;
  }
  const outPath = flags.output;
  const where = outPath === '-' ? 'stdout' : outPath;
  const showProgress = flags.progress !== false;

  // Open the output first: an unwritable destination fails before a long read.
  let out: Output;
  try {
    out = openOutput(outPath, io.stdoutFd ?? 1);
  } catch (e) {
    if (!(e instanceof ExportError)) throw e;
    say(`error ${e.code}: ${e.message}`);
    return EXPORT_EXIT.outputFailed;
  }

  let committed = false;
  try {
    const reading = showProgress ? new Progress(io.stderr) : null;
    let input;
    try {
      input = await readTraceInput(file, {
        ...(io.pieceBytes !== undefined ? { pieceBytes: io.pieceBytes } : {}),
        ...(reading
          ? { onProgress: (done, total) => reading.update(readingLine(file, done, total)) }
          : {}),
      });
    } catch (e) {
      if (!(e instanceof TraceInputError)) throw e;
      say(`error ${e.code}: ${e.message}`);
      return EXPORT_EXIT.badInput;
    } finally {
      reading?.end();
    }
    const d = input.damage;
    if (d !== null && input.store.length === 0) {
      say(`error ${d.message}`);
      say(`nothing in ${file} could be read; no output written`);
      return EXPORT_EXIT.badInput;
    }

    const writing = showProgress ? new Progress(io.stderr) : null;
    const sink = out.sink;
    try {
      exportChromeTrace(
        input.store,
        input.strings,
        (piece) => {
          sink.write(piece);
          writing?.update(`writing ${where}: ${formatMiB(sink.bytes)}`);
        },
        { processName: input.header?.name ?? basename(file) },
      );
      out.commit();
      committed = true;
    } catch (e) {
      if (!(e instanceof ExportError) && typeof (e as NodeJS.ErrnoException).code !== 'string') {
        throw e; // not an I/O failure: a bug, let it surface
      }
      const err = e instanceof ExportError ? e : systemError(`cannot write ${where}`, e);
      // A reader that stopped early (`| head`) is not worth an error message.
      if (!(err.code === 'EPIPE' && outPath === '-')) say(`error ${err.code}: ${err.message}`);
      return EXPORT_EXIT.outputFailed;
    } finally {
      writing?.end();
    }

    const n = formatCount(input.store.length);
    if (d !== null) {
      say(`error ${d.message}`);
      say(
        `${file} is damaged: exported only the ${n} events before the damage ` +
          `(${formatCount(input.validBytes)} of ${formatCount(input.fileBytes)} bytes) to ${where}`,
      );
      return EXPORT_EXIT.badInput;
    }
    if (outPath !== '-') {
      io.stdout.write(
        `wrote ${where}: ${n} events as ${formatMiB(sink.bytes)} of Chrome trace JSON ` +
          `(open it in https://ui.perfetto.dev or chrome://tracing)\n`,
      );
    }
    return EXPORT_EXIT.ok;
  } finally {
    if (!committed) out.abandon();
  }
}

/** Adds `export` to the iocpscope program. Usage errors exit 2. */
export function registerExportCommand(program: Command, io?: ExportCliIo): void {
  program
    .command('export')
    .description('convert a recording to Chrome Trace Event JSON (Perfetto, chrome://tracing)')
    .argument('<file>', 'an .iocptrace recording')
    .option('-f, --format <format>', `output format: ${EXPORT_FORMATS.join(', ')}`, 'chrome')
    .option('-o, --output <file>', 'the JSON file to write (- for stdout)')
    .option('--no-progress', 'no progress on stderr for big files')
    .addHelpText(
      'after',
      '\nExit codes: 0 written; 1 the output could not be written; 2 bad options, or the input\n' +
        'cannot be read in full (a damaged file is exported up to the damage and still exits 2).',
    )
    .exitOverride((err) => {
      const code = err.exitCode === 0 ? 0 : EXPORT_EXIT.badInput;
      if (!io) process.exit(code);
      io.setExitCode?.(code);
      throw err;
    })
    .action(async (file: string, flags: ExportCliFlags) => {
      const code = await runExportCli(
        file,
        flags,
        io ?? { stdout: process.stdout, stderr: process.stderr },
      );
      if (io) io.setExitCode?.(code);
      else process.exitCode = code;
    });
}
