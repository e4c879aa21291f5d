// The control channel: JSON text messages on /ws, next to the binary event
// frames. Every client message is size-checked, parsed and validated by the
// protocol's schema; anything malformed or unknown gets an `error` reply
// (code BAD_MESSAGE) and the connection stays open. Requests the server
// cannot honour get an `error` with a StreamError code (UNSUPPORTED, BUSY,
// ALREADY_RECORDING, ...). Replies echo the request's `id`.
//
// Status (load, recording, faults, port config, clients) is pushed to every
// client whenever it changes, coalesced per client (a slow client gets the
// latest status, not every intermediate one).

import {
  MAX_CONTROL_MESSAGE_CHARS,
  PROTOCOL_VERSION,
  messageIdOf,
  parseClientMessage,
  type BackendName,
  type ClientMessage,
  type FaultName,
  type LoadOptions,
  type LoadStats,
  type PortConfig,
  type ServerMessage,
  type SourceInfo,
} from '@iocpscope/protocol';
import { StreamError, isStreamError } from '../hub/errors.ts';
import type { Hub, HubClient } from '../hub/hub.ts';
import type { RecordingCatalogue } from '../record/catalogue.ts';
import type { RecordingManager } from '../record/manager.ts';

/**
 * Runs the built-in load generator once; resolves with the final stats.
 * Throws synchronously (a StreamError) for options it refuses, so the
 * request gets an error reply instead of an ack.
 */
export type LoadRunner = (
  options: LoadOptions,
  hooks: { onProgress: (stats: LoadStats) => void; signal: AbortSignal },
) => Promise<LoadStats>;

/** What the control channel drives. Optional parts answer UNSUPPORTED when absent. */
export interface ControlTarget {
  readonly backend: BackendName;
  readonly serverVersion: string;
  portConfig(): PortConfig;
  faults(): FaultName[];
  /** Restart the port with this worker count and concurrency. */
  setPortConfig?(config: PortConfig): Promise<void>;
  /** Replace the set of active fault switches. */
  setFaults?(faults: FaultName[]): void | Promise<void>;
  runLoad?: LoadRunner;
  /** Which server the stream shows (hello and status carry it). */
  source?(): SourceInfo;
}

export interface ControlChannelOptions {
  hub: Hub;
  target?: ControlTarget;
  recordings?: RecordingManager;
  catalogue?: RecordingCatalogue;
}

/** Reported when no control target is attached (a replay, a bare hub). */
const NO_TARGET: ControlTarget = {
  backend: 'emulated',
  serverVersion: '0.1.0',
  portConfig: () => ({ workers: 1, concurrency: 0 }),
  faults: () => [],
};

interface LoadRun {
  options: LoadOptions;
  startedAt: number;
  abort: AbortController;
  last: LoadStats | undefined;
}

const ZERO_STATS: LoadStats = {
  elapsedMs: 0,
  connected: 0,
  sent: 0,
  received: 0,
  bytesSent: 0,
  bytesReceived: 0,
  errors: 0,
  resets: 0,
};

export class ControlChannel {
  readonly #hub: Hub;
  readonly #target: ControlTarget;
  readonly #recordings: RecordingManager | undefined;
  readonly #catalogue: RecordingCatalogue | undefined;
  #load: LoadRun | undefined;
  #portRestart = false;
  #closed = false;

  constructor(options: ControlChannelOptions) {
    this.#hub = options.hub;
    this.#target = options.target ?? NO_TARGET;
    this.#recordings = options.recordings;
    this.#catalogue = options.catalogue;
  }

  /** Greet a new client: hello, then its status. */
  connected(client: HubClient): void {
    const t = this.#target;
    this.#reply(client, {
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      serverVersion: t.serverVersion,
      backend: t.backend,
      portConfig: t.portConfig(),
      faults: t.faults(),
      ...(t.source !== undefined ? { source: t.source() } : {}),
    });
    this.#reply(client, this.status(client));
  }

  /** Binary messages from clients are not part of the protocol. */
  handleBinary(client: HubClient): void {
    this.#error(client, undefined, 'BAD_MESSAGE', 'binary messages are not accepted');
  }

  /** One text message. Never throws; replies arrive asynchronously for slow requests. */
  handleText(client: HubClient, text: string): void {
    if (text.length > MAX_CONTROL_MESSAGE_CHARS) {
      this.#error(
        client,
        undefined,
        'BAD_MESSAGE',
        `message longer than ${MAX_CONTROL_MESSAGE_CHARS}`,
      );
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.#error(client, undefined, 'BAD_MESSAGE', 'not JSON');
      return;
    }
    const parsed = parseClientMessage(json);
    if (!parsed.ok) {
      this.#error(client, messageIdOf(json), parsed.error.code, parsed.error.message);
      return;
    }
    const msg = parsed.value;
    this.#dispatch(client, msg).catch((e: unknown) => {
      const code = isStreamError(e) ? e.code : 'CONTROL_FAILED';
      this.#error(client, msg.id, code, e instanceof Error ? e.message : String(e));
    });
  }

  /** Status as seen by one client (streamPaused is per client). */
  status(client?: HubClient, id?: number): ServerMessage {
    const t = this.#target;
    const load = this.#load;
    const msg: ServerMessage = {
      type: 'status',
      load:
        load === undefined
          ? { running: false }
          : { running: true, options: load.options, startedAt: load.startedAt },
      recording: this.#recordings?.status() ?? { active: false },
      faults: t.faults(),
      portConfig: t.portConfig(),
      backend: t.backend,
      clients: this.#hub.clientCount,
      streamPaused: client?.streamPaused ?? false,
      ...(t.source !== undefined ? { source: t.source() } : {}),
    };
    if (id !== undefined) msg.id = id;
    return msg;
  }

  /** Push the current status to every client (coalesced per client). */
  broadcastStatus(): void {
    if (this.#closed) return;
    this.#hub.forEachClient((c) => c.sendLatest('status', JSON.stringify(this.status(c))));
  }

  /** Stop a running load (server shutdown). */
  close(): void {
    this.#closed = true;
    this.#load?.abort.abort();
  }

  async #dispatch(client: HubClient, msg: ClientMessage): Promise<void> {
    const id = msg.id;
    switch (msg.type) {
      case 'get-status':
        this.#reply(client, this.status(client, id));
        return;
      case 'pause-stream':
        client.pauseStream();
        this.#ack(client, id, msg.type);
        this.#reply(client, this.status(client));
        return;
      case 'resume-stream':
        client.resumeStream();
        this.#ack(client, id, msg.type);
        this.#reply(client, this.status(client));
        return;
      case 'resync':
        // The bracket follows as this client's next event frame, at a cut.
        client.requestResync();
        this.#ack(client, id, msg.type);
        return;
      case 'list-recordings': {
        const recordings = this.#catalogue === undefined ? [] : await this.#catalogue.list();
        this.#reply(client, { type: 'recordings', id, recordings });
        return;
      }
      case 'start-recording': {
        const rec = this.#need(this.#recordings, 'recording');
        await rec.start(msg.name === undefined ? {} : { name: msg.name });
        this.#ack(client, id, msg.type);
        this.broadcastStatus();
        return;
      }
      case 'stop-recording': {
        const rec = this.#need(this.#recordings, 'recording');
        const { saved } = await rec.stop();
        const first = saved[0];
        if (first !== undefined)
          this.#reply(client, { type: 'recording-saved', id, recording: first });
        else this.#ack(client, id, msg.type);
        this.broadcastStatus();
        return;
      }
      case 'set-faults': {
        const set = this.#need(this.#target.setFaults?.bind(this.#target), 'fault switches');
        await set([...new Set(msg.faults)]);
        this.#ack(client, id, msg.type);
        this.broadcastStatus();
        return;
      }
      case 'set-port-config': {
        const set = this.#need(this.#target.setPortConfig?.bind(this.#target), 'port control');
        if (this.#portRestart) throw new StreamError('BUSY', 'a port restart is in progress');
        this.#portRestart = true;
        try {
          await set(msg.config);
        } finally {
          this.#portRestart = false;
        }
        this.#ack(client, id, msg.type);
        this.broadcastStatus();
        return;
      }
      case 'start-load':
        this.#startLoad(msg.options);
        this.#ack(client, id, msg.type);
        this.broadcastStatus();
        return;
      case 'stop-load':
        if (this.#load === undefined) throw new StreamError('NOT_RUNNING', 'no load is running');
        this.#load.abort.abort();
        this.#ack(client, id, msg.type);
        return;
    }
  }

  #startLoad(options: LoadOptions): void {
    const run = this.#need(this.#target.runLoad, 'load generator');
    if (this.#load !== undefined) throw new StreamError('BUSY', 'a load is already running');
    const load: LoadRun = {
      options,
      startedAt: Date.now(),
      abort: new AbortController(),
      last: undefined,
    };
    this.#load = load;
    const finish = (
      outcome: 'completed' | 'stopped' | 'failed',
      stats: LoadStats,
      error?: string,
    ): void => {
      if (this.#load === load) this.#load = undefined;
      const msg: ServerMessage = { type: 'load-result', stats, outcome };
      if (error !== undefined) msg.error = error.slice(0, 4096);
      const text = JSON.stringify(msg);
      this.#hub.forEachClient((c) => c.sendLatest('load-result', text));
      this.broadcastStatus();
    };
    let running: Promise<LoadStats>;
    try {
      running = run(options, {
        signal: load.abort.signal,
        onProgress: (stats) => {
          load.last = stats;
          const text = JSON.stringify({ type: 'load-progress', stats } satisfies ServerMessage);
          this.#hub.forEachClient((c) => c.sendLatest('load-progress', text));
        },
      });
    } catch (e) {
      // Refused before it started (bad options): nothing is running.
      this.#load = undefined;
      throw e;
    }
    running.then(
      (stats) => finish(load.abort.signal.aborted ? 'stopped' : 'completed', stats),
      (e: unknown) =>
        finish(
          load.abort.signal.aborted ? 'stopped' : 'failed',
          load.last ?? ZERO_STATS,
          e instanceof Error ? e.message : String(e),
        ),
    );
  }

  #need<T>(thing: T | undefined, what: string): T {
    if (thing === undefined) {
      throw new StreamError('UNSUPPORTED', `this server has no ${what}`);
    }
    return thing;
  }

  #ack(client: HubClient, id: number | undefined, of: string): void {
    this.#reply(client, id === undefined ? { type: 'ack', of } : { type: 'ack', id, of });
  }

  #error(client: HubClient, id: number | undefined, code: string, message: string): void {
    const msg: ServerMessage = { type: 'error', code, message: message.slice(0, 4096) };
    if (id !== undefined) msg.id = id;
    this.#reply(client, msg);
  }

  #reply(client: HubClient, msg: ServerMessage): void {
    client.sendText(JSON.stringify(msg));
  }
}
