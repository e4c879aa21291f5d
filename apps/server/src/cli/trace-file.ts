// Reading an .iocptrace file for the offline commands (`check`, `export`):
// the file is read in 1 MiB pieces into one reused buffer and pushed through
// the protocol's incremental TraceFileReader, so memory is the decoded events
// (32 bytes each) plus one piece, whatever the file size. After each piece the
// caller sees the new events (the checker analyses them while the rest is
// still being read) and a progress callback sees the bytes read.
//
// Damage is not an exception: the reader keeps every valid chunk before the
// first damage and reports it in `damage`. Only a file that cannot be opened
// or read at all throws, as a TraceInputError whose code is the system's
// (ENOENT, EACCES, EISDIR, ...).

import { open } from 'node:fs/promises';
import {
  TraceFileReader,
  type EventStore,
  type ProtocolError,
  type StringTable,
  type TraceFileHeader,
} from '@iocpscope/protocol';

/** Bytes read from the file per step. */
export const READ_PIECE_BYTES = 1 << 20;

export class TraceInputError extends Error {
  override readonly name = 'TraceInputError';
  constructor(
    /** The system error code (ENOENT, EACCES, EISDIR, EIO, ...). */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TraceDamage {
  /** The reader's stable code (TRUNCATED, CHECKSUM_MISMATCH, BAD_MAGIC, ...). */
  code: ProtocolError['code'];
  /** The reader's message, which starts with the code. */
  message: string;
  /** Byte offset of the damage, when known. */
  offset: number | null;
}

export interface TraceInput {
  path: string;
  fileBytes: number;
  /** null when the file header itself is missing or damaged. */
  header: TraceFileHeader | null;
  store: EventStore;
  strings: StringTable;
  /** Valid chunks read. */
  chunks: number;
  /** Bytes from the start of the file through the last valid chunk. */
  validBytes: number;
  /** The first damage; every event before it is in `store`. */
  damage: TraceDamage | null;
}

export interface ReadTraceOptions {
  /**
   * Called after each piece with the events decoded so far: [from, to) are new.
   * `strings` already holds every string those events use; `header` is the file's.
   */
  onEvents?: (
    store: EventStore,
    from: number,
    to: number,
    strings: StringTable,
    header: TraceFileHeader | undefined,
  ) => void;
  /** Called after each piece. */
  onProgress?: (bytesRead: number, fileBytes: number) => void;
  /** Piece size (tests use small pieces). */
  pieceBytes?: number;
}

function describeFsError(path: string, e: unknown): TraceInputError {
  const err = e as NodeJS.ErrnoException;
  const code = typeof err.code === 'string' ? err.code : 'EIO';
  const why: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'it is a directory, not a file',
  };
  return new TraceInputError(code, `cannot read ${path}: ${why[code] ?? err.message}`);
}

/** Read a whole trace file, streaming. Throws TraceInputError only when the file cannot be read. */
export async function readTraceInput(
  path: string,
  options: ReadTraceOptions = {},
): Promise<TraceInput> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw describeFsError(path, e);
  }
  try {
    let fileBytes: number;
    try {
      const st = await handle.stat();
      if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      if (!st.isFile()) {
        throw new TraceInputError('ENOTFILE', `cannot read ${path}: not a regular file`);
      }
      fileBytes = st.size;
    } catch (e) {
      if (e instanceof TraceInputError) throw e;
      throw describeFsError(path, e);
    }
    const reader = new TraceFileReader({ sizeHint: fileBytes });
    const piece = new Uint8Array(options.pieceBytes ?? READ_PIECE_BYTES);
    let read = 0;
    for (;;) {
      let n: number;
      try {
        ({ bytesRead: n } = await handle.read(piece, 0, piece.length, null));
      } catch (e) {
        throw describeFsError(path, e);
      }
      if (n === 0) break;
      read += n;
      const before = reader.store.length;
      reader.push(piece.subarray(0, n));
      const after = reader.store.length;
      if (after > before)
        options.onEvents?.(reader.store, before, after, reader.strings, reader.header);
      options.onProgress?.(read, Math.max(fileBytes, read));
      // The reader ignores everything after the first damage: stop reading.
      if (reader.error !== undefined) break;
    }
    const result = reader.finish();
    const err = result.error;
    return {
      path,
      fileBytes: Math.max(fileBytes, read),
      header: result.header ?? null,
      store: result.store,
      strings: result.strings,
      chunks: result.chunks,
      validBytes: result.validBytes,
      damage:
        err === undefined
          ? null
          : { code: err.code, message: err.message, offset: err.offset ?? null },
    };
  } finally {
    await handle.close();
  }
}

// ---- progress on stderr ---------------------------------------------------------

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  /** Nothing is shown before this long has passed (a short read stays quiet). Default 1000 ms. */
  quietMs?: number;
  /** Between two plain lines when stderr is not a terminal. Default 5000 ms. */
  lineEveryMs?: number;
  /** Between two redraws of the terminal line. Default 100 ms. */
  redrawEveryMs?: number;
  now?: () => number;
}

const MiB = 1024 * 1024;
export const formatMiB = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

/**
 * Progress of a long step on stderr: a redrawn line on a terminal, a plain
 * line every few seconds otherwise (logs stay short), nothing at all for a
 * step that ends within `quietMs`. `end()` clears the terminal line.
 */
export class Progress {
  readonly #out: ProgressStream;
  readonly #now: () => number;
  readonly #start: number;
  readonly #quietMs: number;
  readonly #everyMs: number;
  #last = -Infinity;
  #drawn = false;

  constructor(out: ProgressStream, options: ProgressOptions = {}) {
    this.#out = out;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
    this.#quietMs = options.quietMs ?? 1000;
    this.#everyMs =
      out.isTTY === true ? (options.redrawEveryMs ?? 100) : (options.lineEveryMs ?? 5000);
  }

  /** Show `text` (one line, no newline) if it is time to. */
  update(text: string): void {
    const t = this.#now();
    if (t - this.#start < this.#quietMs || t - this.#last < this.#everyMs) return;
    this.#last = t;
    if (this.#out.isTTY === true) {
      this.#out.write(`\r\x1b[K${text}`);
      this.#drawn = true;
    } else {
      this.#out.write(`${text}\n`);
    }
  }

  end(): void {
    if (this.#drawn) this.#out.write('\r\x1b[K');
    this.#drawn = false;
  }
}

/** "reading run.iocptrace: 12.0 MiB of 48.0 MiB (25%)". */
export function readingLine(path: string, done: number, total: number): string {
  const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
  return `reading ${path}: ${formatMiB(done)} of ${formatMiB(total)} (${pct}%)`;
}

/**
 * A count with thousands separators ("1,104"), like toLocaleString('en-US')
 * but without loading Intl: the CLI's start-up is most of a `check`, and
 * Intl's first use costs about 20 ms and 7 MB.
 */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const neg = n < 0;
  const [int, frac] = Math.abs(n).toString().split('.');
  let out = '';
  for (let i = int!.length; i > 0; i -= 3)
    out = int!.slice(Math.max(0, i - 3), i) + (out ? ',' + out : '');
  return (neg ? '-' : '') + out + (frac !== undefined ? `.${frac}` : '');
}
