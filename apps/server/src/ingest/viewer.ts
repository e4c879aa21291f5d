// The viewer side of `iocpscope serve --ingest HOST:PORT`: a TCP listener that
// foreign processes' tracers connect to (FORMAT.md §11), and one stable event
// source, the IngestFeed, that the dashboard's hub and recorder subscribe to.
//
// Model: one tracer at a time. A tracer's connection is one trace (its own
// string table, thread indices, session ids and clock): when it ends, the
// trace ends; the next tracer that connects starts a new trace with a new id
// (the feed is reset and the caller restarts whatever holds the old one's
// state, such as the hub). A second tracer while one is attached is refused
// with BUSY. Listening is on loopback unless told otherwise, and a token is
// required off loopback. Bad bytes close that tracer with a logged code; the
// viewer goes on.

import { createServer, type Server, type Socket } from 'node:net';
import type { TraceFileHeader } from '@iocpscope/protocol';
import { StreamError } from '../hub/errors.ts';
import type { EventBatchListener, EventSource, TraceSnapshot } from '../hub/types.ts';
import { FeedFanout } from '../trace/feed.ts';
import { isLoopbackHost } from '../transport/options.ts';
import { TracerConnection, type TracerEnd } from './connection.ts';

/** One tracer connection's trace. */
export interface IngestTrace {
  /** Unique per viewer run: changes with every tracer connection. */
  readonly id: string;
  readonly header: TraceFileHeader;
  /** host:port of the tracer's socket. */
  readonly peer: string;
  /** Records delivered so far. */
  events: number;
  /** Set once the connection ended. */
  end?: TracerEnd;
}

/** The stable source the dashboard subscribes to; reset between traces. */
export class IngestFeed implements EventSource {
  /** Snapshot bookkeeping only (no listeners of its own). */
  #state = new FeedFanout();
  readonly #listeners = new Set<EventBatchListener>();

  subscribe(listener: EventBatchListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Strings and the structural records (threads, port) of the current trace. */
  snapshot(): TraceSnapshot {
    return this.#state.snapshot();
  }

  deliver(records: Uint32Array, strings: ReadonlyArray<readonly [number, string]>): void {
    this.#state.deliver(null, strings, records);
    for (const l of this.#listeners) {
      try {
        l(records, strings);
      } catch (e) {
        // A broken subscriber must not starve the others; say so loudly.
        console.error('iocpscope: ingest subscriber threw:', e);
      }
    }
  }

  /** Forget the previous trace's state (strings, threads); subscribers stay. */
  reset(): void {
    this.#state = new FeedFanout();
  }
}

export interface IngestViewerOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Tracers must present it. Required off loopback. */
  token?: string;
  handshakeMs?: number;
  maxChunkBytes?: number;
  log?: (line: string) => void;
  /**
   * A tracer attached: a new trace begins (the feed was already reset). While
   * a returned promise is pending, the tracer's socket is paused and the
   * chunks already read are held, then delivered in order.
   */
  onTraceStart?: (trace: IngestTrace) => void | Promise<void>;
  /** The current trace's tracer went away (or was closed). */
  onTraceEnd?: (trace: IngestTrace) => void;
}

let traceCounter = 0;

export class IngestViewer {
  readonly feed = new IngestFeed();
  readonly #opts: IngestViewerOptions;
  readonly #log: (line: string) => void;
  #server: Server | null = null;
  #current: { trace: IngestTrace; conn: TracerConnection } | null = null;
  /** Chunks read while onTraceStart's promise was pending (copies, in order). */
  #held: Array<[Uint32Array, ReadonlyArray<readonly [number, string]>]> | null = null;
  #pending = new Set<TracerConnection>();
  #address = '';
  /** The feed holds a trace that has ended (reset before the next one). */
  #stale = false;

  constructor(options: IngestViewerOptions) {
    if (options.token === undefined && !isLoopbackHost(options.host)) {
      throw new StreamError(
        'TOKEN_REQUIRED',
        `--ingest ${options.host} accepts tracers from beyond this machine: give --token <secret> ` +
          '(tracers send it as IOCPSCOPE_TOKEN)',
      );
    }
    this.#opts = options;
    this.#log = options.log ?? (() => undefined);
  }

  /** host:port tracers connect to (after listen()). */
  get address(): string {
    return this.#address;
  }

  /** The attached trace, or the last one after it ended, or null before any. */
  get trace(): IngestTrace | null {
    return this.#current?.trace ?? null;
  }

  get attached(): boolean {
    return this.#current !== null && this.#current.trace.end === undefined;
  }

  async listen(): Promise<{ host: string; port: number }> {
    const server = createServer((s) => this.#accept(s));
    server.maxConnections = 16;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void =>
        reject(
          new StreamError(
            'LISTEN_FAILED',
            `cannot listen for tracers on ${this.#opts.host}:${this.#opts.port}: ${e.message}`,
            { cause: e },
          ),
        );
      server.once('error', onError);
      server.listen(this.#opts.port, this.#opts.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (e) => this.#log(`ingest: listener error: ${e.message}`));
    this.#server = server;
    const a = server.address();
    const port = typeof a === 'object' && a !== null ? a.port : this.#opts.port;
    const host = this.#opts.host.includes(':') ? `[${this.#opts.host}]` : this.#opts.host;
    this.#address = `${host}:${port}`;
    return { host: this.#opts.host, port };
  }

  async close(): Promise<void> {
    this.#current?.conn.close();
    for (const c of this.#pending) c.close();
    const server = this.#server;
    this.#server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    const opts = this.#opts;
    const conn: TracerConnection = new TracerConnection(
      socket,
      {
        attached: (header) => {
          if (this.attached) {
            const cur = this.#current!.trace;
            return {
              code: 'BUSY',
              message:
                `this viewer shows ${cur.header.process?.name ?? 'a process'}` +
                `${cur.header.process ? ` (pid ${cur.header.process.pid})` : ''} from ${cur.peer}; ` +
                'one tracer at a time: start another viewer on another port for a second process',
            };
          }
          this.#pending.delete(conn);
          if (this.#stale) this.feed.reset();
          this.#stale = true;
          const trace: IngestTrace = {
            id: `t${Date.now().toString(36)}-${++traceCounter}`,
            header,
            peer: conn.peer,
            events: 0,
          };
          this.#current = { trace, conn };
          const p = header.process;
          this.#log(
            `ingest: tracer attached from ${conn.peer}` +
              (p ? `: ${p.name} (pid ${p.pid})` : '') +
              (header.tracer ? `, ${header.tracer} tracer` : ''),
          );
          const started = opts.onTraceStart?.(trace);
          if (started instanceof Promise) {
            this.#held = [];
            conn.pause();
            const release = (): void => {
              const held = this.#held ?? [];
              this.#held = null;
              for (const [r, st] of held) this.feed.deliver(r, st);
              conn.resume();
            };
            started.then(release, (e: unknown) => {
              this.#log(`ingest: starting the view of the new trace failed: ${String(e)}`);
              release();
            });
          }
          return null;
        },
        chunk: (records, strings) => {
          const cur = this.#current;
          if (cur === null || cur.conn !== conn) return;
          cur.trace.events += records.length / 8;
          if (this.#held !== null) this.#held.push([records.slice(), strings]);
          else this.feed.deliver(records, strings);
        },
        ended: (end) => {
          this.#pending.delete(conn);
          const cur = this.#current;
          if (cur !== null && cur.conn === conn) {
            cur.trace.end = end;
            this.#log(
              `ingest: tracer ${conn.peer} detached after ${cur.trace.events} events: ` +
                (end.code === 'closed' ? end.message : `${end.code}: ${end.message}`) +
                (end.offset !== undefined ? ` (at byte ${end.offset})` : ''),
            );
            opts.onTraceEnd?.(cur.trace);
          } else if (end.code !== 'closed') {
            this.#log(
              `ingest: refused tracer ${conn.peer}: ${end.code}: ${end.message}` +
                (end.offset !== undefined ? ` (at byte ${end.offset})` : ''),
            );
          }
        },
      },
      {
        ...(opts.token !== undefined ? { token: opts.token } : {}),
        ...(opts.handshakeMs !== undefined ? { handshakeMs: opts.handshakeMs } : {}),
        ...(opts.maxChunkBytes !== undefined ? { maxChunkBytes: opts.maxChunkBytes } : {}),
      },
    );
    this.#pending.add(conn);
  }
}
