// Starts and stops the one recording a server runs at a time, for the CLI
// (--record FILE) and the control channel (start/stop-recording with an
// optional name, saved in the recordings directory).
//
// Recording subscribes to the event source (the drainer) directly, never
// through a client queue. A source that tracks the stream's state answers a
// snapshot request with a v2 Snapshot bracket at an exact cut of the stream,
// and the recording subscribes right there, so the file opens with the whole
// state (live sessions with their outstanding I/O, threads, the queue) and
// misses nothing after it; rotated files open the same way. Other sources give
// the structural snapshot (strings, live threads, the port), taken in the same
// synchronous step as the subscription. `fromStart` (serve --record) takes the
// source's held start-up batches instead: the file starts at the first record.
// Status changes are reported through onChange.

import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  FILE_EXTENSION,
  RecordingNameSchema,
  SnapshotReason,
  TraceEndReason,
  type RecordingStatus,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { StreamError } from '../hub/errors.ts';
import type { EventSource, TraceSnapshot } from '../hub/types.ts';
import type { RecordingCatalogue, RecordingEntry } from './catalogue.ts';
import { RecordingSink, type RecordingSinkOptions, type RecordingSummary } from './sink.ts';

export interface RecordingManagerOptions {
  /** Where named recordings go (created on first use). */
  dir: string;
  /** The drainer (or any source of every event). */
  source: EventSource;
  /** State at the start of a recording; usually `() => hub.snapshot()`. */
  snapshot?: () => TraceSnapshot;
  /** File header metadata at the start of a recording (name is filled in). */
  header: () => TraceFileHeader;
  /** For status ids and recording-saved infos. */
  catalogue?: RecordingCatalogue;
  /**
   * Sink tuning (flushMs, chunkRecords, maxFileBytes, maxQueuedBytes, onChunk),
   * and the recording's total size limit across its parts (maxTotalBytes,
   * default DEFAULT_MAX_RECORDING_BYTES): once its files reach it the
   * recording stops by itself (its last file ends with TraceEnd SizeCap) and
   * the status says why (`ended`). Nothing written is lost: the stop flushes
   * every record already taken, so the files end at most one write queue
   * (maxQueuedBytes) past the limit.
   */
  sink?: Pick<
    RecordingSinkOptions,
    'flushMs' | 'chunkRecords' | 'maxFileBytes' | 'maxQueuedBytes' | 'onChunk'
  > & { maxTotalBytes?: number };
  /** Called after every status change (start, stop, failure). */
  onChange?: () => void;
}

export interface StartRecording {
  /** Name in the recordings directory (RecordingNameSchema). Default rec-YYYYMMDD-HHMMSS. */
  name?: string;
  /** An explicit file (CLI --record); overwritten if it exists. Excludes `name`. */
  file?: string;
  /**
   * Start at the source's first record (its held start-up batches), with no
   * snapshot: serve --record. Sources that hold nothing start live.
   */
  fromStart?: boolean;
}

export interface StoppedRecording {
  summary: RecordingSummary;
  /** Catalogue entries of the files written (for files in the recordings directory). */
  saved: RecordingEntry[];
}

interface Active {
  sink: RecordingSink;
  unsubscribe: () => void;
  name: string;
  file: string;
  startedAt: number;
  id: string | undefined;
}

/** A recording's total size limit by default: 8 GiB (about 250 M events). */
export const DEFAULT_MAX_RECORDING_BYTES = 8 * 2 ** 30;

export function defaultRecordingName(now: Date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return (
    `rec-${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}` +
    `-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`
  );
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

export class RecordingManager {
  readonly dir: string;
  readonly #opts: RecordingManagerOptions;
  #active: Active | undefined;
  #starting = false;
  #stopping: Promise<StoppedRecording> | undefined;
  #lastError: StreamError | undefined;
  /** Why the last recording ended by itself (its size limit, an I/O error), for the status. */
  #ended: RecordingStatus['ended'];

  constructor(options: RecordingManagerOptions) {
    this.#opts = options;
    this.dir = path.resolve(options.dir);
  }

  get recording(): boolean {
    return this.#active !== undefined;
  }

  /** The last I/O failure that stopped a recording, if any. */
  get lastError(): StreamError | undefined {
    return this.#lastError;
  }

  /** Files being written now (for the catalogue's `active` flag). */
  isActive(file: string): boolean {
    const a = this.#active;
    if (a === undefined) return false;
    const abs = path.resolve(file);
    return a.sink.files.some((f) => f.path === abs) || a.file === abs;
  }

  status(): RecordingStatus {
    const a = this.#active;
    if (a === undefined)
      return this.#ended ? { active: false, ended: this.#ended } : { active: false };
    const s: RecordingStatus = {
      active: true,
      name: a.name,
      startedAt: a.startedAt,
      bytes: a.sink.bytesWritten,
      events: a.sink.events,
    };
    if (a.id !== undefined) s.id = a.id;
    return s;
  }

  async start(req: StartRecording = {}): Promise<RecordingStatus> {
    if (this.#active !== undefined || this.#starting || this.#stopping !== undefined) {
      throw new StreamError('ALREADY_RECORDING', 'a recording is already running');
    }
    this.#starting = true;
    try {
      return await this.#start(req);
    } finally {
      this.#starting = false;
    }
  }

  async #start(req: StartRecording): Promise<RecordingStatus> {
    let file: string;
    let name: string;
    let exclusive: boolean;
    if (req.file !== undefined) {
      if (req.name !== undefined)
        throw new StreamError('BAD_OPTIONS', 'give a name or a file, not both');
      file = path.resolve(req.file);
      name = path.basename(file).replace(/\.iocptrace$/i, '');
      exclusive = false;
      await mkdir(path.dirname(file), { recursive: true }).catch(() => undefined);
    } else {
      const base = req.name ?? defaultRecordingName();
      if (!RecordingNameSchema.safeParse(base).success) {
        throw new StreamError('BAD_OPTIONS', `bad recording name ${JSON.stringify(base)}`);
      }
      try {
        await mkdir(this.dir, { recursive: true });
      } catch (e) {
        throw new StreamError('RECORD_IO', `cannot create ${this.dir}: ${String(e)}`, { cause: e });
      }
      name = base;
      file = path.join(this.dir, name + FILE_EXTENSION);
      for (let n = 2; await exists(file); n++) {
        if (n > 1000) throw new StreamError('RECORD_IO', `too many recordings named ${base}`);
        name = `${base}-${n}`;
        file = path.join(this.dir, name + FILE_EXTENSION);
      }
      exclusive = true;
    }
    const source = this.#opts.source;
    const tracked = req.fromStart !== true && source.requestSnapshot !== undefined;
    const rotateSnapshot =
      source.requestSnapshot === undefined
        ? undefined
        : (deliver: (snap: TraceSnapshot) => void): void =>
            source.requestSnapshot!(SnapshotReason.RecordingStart, deliver);
    const { maxTotalBytes, ...sinkOptions } = this.#opts.sink ?? {};
    const limit = maxTotalBytes ?? DEFAULT_MAX_RECORDING_BYTES;
    const sink: RecordingSink = new RecordingSink({
      ...sinkOptions,
      onChunk: (c) => {
        sinkOptions.onChunk?.(c);
        // The limit: stop before the next chunk could pass it, counting what was
        // taken and is still on its way to the disk (a slow disk queues chunks).
        const chunk = (sinkOptions.chunkRecords ?? 32_768) * 32;
        if (sink.bytesTaken + chunk > limit && this.#active?.sink === sink && !this.#stopping) {
          this.#ended = {
            reason: 'size-cap',
            message:
              `the recording reached its size limit (${limit} bytes; serve --record-limit sets it) ` +
              `and stopped; the ${sink.events} events recorded are saved`,
          };
          void this.stop(TraceEndReason.SizeCap).catch(() => undefined);
        }
      },
      path: file,
      exclusive,
      header: { ...this.#opts.header(), name },
      ...(req.fromStart === true || tracked ? {} : { snapshot: this.#opts.snapshot?.() }),
      awaitSnapshot: tracked,
      ...(rotateSnapshot !== undefined ? { rotateSnapshot } : {}),
      onError: (err) => this.#failed(sink, err),
    });
    const active: Active = {
      sink,
      unsubscribe: () => undefined,
      name,
      file,
      startedAt: Date.now(),
      id: undefined,
    };
    if (tracked) {
      // The bracket arrives at a cut of the stream: subscribe right there.
      let stopped = false;
      active.unsubscribe = () => {
        stopped = true;
      };
      source.requestSnapshot!(SnapshotReason.RecordingStart, (snap) => {
        if (stopped) return;
        sink.begin(snap);
        active.unsubscribe = source.subscribe(sink.write);
      });
    } else if (req.fromStart === true) {
      active.unsubscribe = source.subscribe(sink.write, { fromStart: true });
    } else {
      // Snapshot, sink and subscription in one synchronous step: nothing is missed.
      active.unsubscribe = source.subscribe(sink.write);
    }
    this.#active = active;
    this.#lastError = undefined;
    this.#ended = undefined;
    try {
      await sink.opened();
    } catch (e) {
      active.unsubscribe();
      if (this.#active === active) this.#active = undefined;
      await sink.close();
      throw e instanceof StreamError ? e : new StreamError('RECORD_IO', String(e), { cause: e });
    }
    active.id = await this.#opts.catalogue?.idOf(file);
    this.#opts.onChange?.();
    return this.status();
  }

  /**
   * Stop the running recording; resolves once every byte is on disk and the
   * file closed. `reason` goes into its TraceEnd record: Stopped (default), or
   * ServerExit when the recording ends because the server stopped.
   */
  stop(reason: TraceEndReason = TraceEndReason.Stopped): Promise<StoppedRecording> {
    if (this.#stopping !== undefined) return this.#stopping;
    const a = this.#active;
    if (a === undefined) {
      return Promise.reject(new StreamError('NOT_RECORDING', 'no recording is running'));
    }
    a.unsubscribe();
    this.#stopping = (async () => {
      try {
        const summary = await a.sink.close(reason);
        const saved: RecordingEntry[] = [];
        const cat = this.#opts.catalogue;
        if (cat !== undefined) {
          for (const f of summary.files) {
            const id = await cat.idOf(f.path);
            if (id === undefined) continue;
            const { entry } = await cat.resolve(id);
            // The catalogue still sees the file as being written until `finally` below.
            saved.push({ ...entry, active: false, events: f.records });
          }
        }
        return { summary, saved };
      } finally {
        this.#active = undefined;
        this.#stopping = undefined;
        this.#opts.onChange?.();
      }
    })();
    return this.#stopping;
  }

  #failed(sink: RecordingSink, err: StreamError): void {
    const a = this.#active;
    if (a === undefined || a.sink !== sink) return;
    this.#lastError = err;
    this.#ended = { reason: 'io-error', message: `${err.code}: ${err.message}` };
    a.unsubscribe();
    void sink.close();
    this.#active = undefined;
    this.#opts.onChange?.();
  }
}
