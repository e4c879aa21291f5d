// Loading .iocptrace bytes from a local File, a server recording (fetch) or an
// in-memory array, through the protocol's incremental TraceFileReader.
//
// Model: a source yields byte chunks; each chunk is pushed into the reader and
// progress is reported; every YIELD_EVERY_MS the loop yields to the event loop
// so the page stays responsive and the progress bar paints. A damaged file never
// throws: the result carries the reader's ProtocolError and every event of the
// valid prefix. Only failures to get bytes at all (abort, HTTP, network, read)
// reject, with a LoadError.
//
// Decoding stays on the main thread: per chunk it is a memcpy plus a CRC and a
// validation pass (~30 ms for 32 MiB here), and the resulting EventStore would
// have to be transferred back from a worker anyway.

import {
  TraceFileReader,
  type EventStore,
  type ProtocolError,
  type StringTable,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { LoadError } from './errors.ts';

export interface LoadProgress {
  loadedBytes: number;
  /** 0 when unknown (a download without Content-Length). */
  totalBytes: number;
  events: number;
}

export interface FileLoadResult {
  name: string;
  header: TraceFileHeader | undefined;
  store: EventStore;
  strings: StringTable;
  chunks: number;
  validBytes: number;
  totalBytes: number;
  /** The first damage; everything before it was kept. */
  error?: ProtocolError;
}

export interface LoadOptions {
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
  /** Bytes per read from a Blob or in-memory source. */
  chunkBytes?: number;
  /** Refuse sources larger than this (TOO_LARGE). */
  maxBytes?: number;
}

/** Default ceiling: 1.5 GiB of records is ~48 M events, past what a tab holds comfortably. */
export const MAX_FILE_BYTES = 1536 * 1024 * 1024;
const DEFAULT_CHUNK = 4 * 1024 * 1024;
/** Spare capacity up to length / SLACK_DIVISOR events is kept rather than copied away (see WebTrace.finishLoad). */
export const SLACK_DIVISOR = 64;

/** Something that produces the file's bytes in order. */
export interface ByteSource {
  name: string;
  /** 0 when unknown. */
  size: number;
  chunks(chunkBytes: number): AsyncIterable<Uint8Array>;
}

export function bytesSource(bytes: Uint8Array, name: string): ByteSource {
  return {
    name,
    size: bytes.length,
    async *chunks(n) {
      for (let off = 0; off < bytes.length; off += n) yield bytes.subarray(off, off + n);
    },
  };
}

export function blobSource(blob: Blob, name: string): ByteSource {
  return {
    name,
    size: blob.size,
    async *chunks(n) {
      for (let off = 0; off < blob.size; off += n) {
        let buf: ArrayBuffer;
        try {
          buf = await blob.slice(off, Math.min(blob.size, off + n)).arrayBuffer();
        } catch (e) {
          throw new LoadError('READ', `could not read ${name}: ${String(e)}`);
        }
        yield new Uint8Array(buf);
      }
    },
  };
}

/** A recording served by the server, by id (never a path). */
export function recordingUrl(id: string, search = ''): string {
  const token = new URLSearchParams(search).get('token');
  return `/api/recordings/${encodeURIComponent(id)}${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

export async function fetchSource(
  url: string,
  name: string,
  signal?: AbortSignal,
  fetchImpl: typeof fetch = fetch,
): Promise<ByteSource> {
  let res: Response;
  try {
    res = await fetchImpl(url, signal ? { signal } : {});
  } catch (e) {
    if (signal?.aborted) throw new LoadError('ABORTED', 'load cancelled');
    throw new LoadError('NETWORK', `could not fetch ${name}: ${String(e)}`);
  }
  if (res.status === 404) {
    throw new LoadError(
      'NOT_FOUND',
      `${name} is not on this server: it may have been deleted or renamed, or the link is from another server`,
    );
  }
  if (!res.ok) {
    // The body is only a hint for the message; a body that fails to read adds nothing.
    const detail = await res.text().then(
      (t) => t.slice(0, 300),
      () => '',
    );
    throw new LoadError(
      'HTTP',
      `${res.status} ${res.statusText} for ${name}${detail ? `: ${detail}` : ''}`,
    );
  }
  const size = Number(res.headers.get('content-length') ?? 0) || 0;
  const body = res.body;
  return {
    name,
    size,
    async *chunks() {
      if (!body) {
        yield new Uint8Array(await res.arrayBuffer());
        return;
      }
      const reader = body.getReader();
      try {
        for (;;) {
          let r: ReadableStreamReadResult<Uint8Array>;
          try {
            r = await reader.read();
          } catch (e) {
            if (signal?.aborted) throw new LoadError('ABORTED', 'load cancelled');
            throw new LoadError('NETWORK', `download of ${name} failed: ${String(e)}`);
          }
          if (r.done) return;
          yield r.value;
        }
      } finally {
        reader.releaseLock();
      }
    },
  };
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
/**
 * Main-thread time between two yields. Yielding after every piece would cost
 * a timer hop per network read (dozens per file, each clamped to 4 ms once
 * timers nest); this still lets the progress bar paint a few times a second.
 */
const YIELD_EVERY_MS = 40;
const clock = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export async function loadTrace(src: ByteSource, o: LoadOptions = {}): Promise<FileLoadResult> {
  const max = o.maxBytes ?? MAX_FILE_BYTES;
  if (src.size > max) {
    throw new LoadError('TOO_LARGE', `${src.name} is ${src.size} bytes; the limit is ${max}`);
  }
  const reader = new TraceFileReader(src.size > 0 ? { sizeHint: src.size } : {});
  let loaded = 0;
  const report = (): void =>
    o.onProgress?.({ loadedBytes: loaded, totalBytes: src.size, events: reader.store.length });
  report();
  let lastYield = clock();
  for await (const chunk of src.chunks(o.chunkBytes ?? DEFAULT_CHUNK)) {
    if (o.signal?.aborted) throw new LoadError('ABORTED', 'load cancelled');
    loaded += chunk.length;
    if (loaded > max) throw new LoadError('TOO_LARGE', `${src.name} is over ${max} bytes`);
    reader.push(chunk);
    report();
    // Once damaged, the reader ignores the rest: stop reading it.
    if (reader.error) break;
    if (clock() - lastYield >= YIELD_EVERY_MS) {
      await yieldToLoop();
      lastYield = clock();
    }
  }
  if (o.signal?.aborted) throw new LoadError('ABORTED', 'load cancelled');
  const r = reader.finish();
  // The store was sized from the file size, so its slack is the chunk framing
  // (well under 1%): trimming would copy every record for nothing. A store
  // that grew (no size known) is trimmed; WebTrace.fromOwned keeps the rest.
  if (r.store.capacity - r.store.length > r.store.length / SLACK_DIVISOR) r.store.trimToSize();
  const result: FileLoadResult = {
    name: src.name,
    header: r.header,
    store: r.store,
    strings: r.strings,
    chunks: r.chunks,
    validBytes: r.validBytes,
    totalBytes: src.size || loaded,
  };
  if (r.error) result.error = r.error;
  return result;
}
