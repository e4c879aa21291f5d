// Options of the reference servers (echo, chat), their defaults and
// validation. Bad options are a ServerOptionsError with code
// ERR_SERVER_OPTIONS and a message naming the option, never a crash deeper in.

import type { FaultName } from '@iocpscope/protocol';
import { defaultBackend, type BackendName } from '../port/index.ts';
import { APP_FAULTS, APP_NAMES, isFaultName, type AppName } from './faults.ts';
import { MAX_SESSIONS } from './session-table.ts';

/** The chat server's own options (`serve --app chat`). */
export interface ChatOptions {
  /** Rooms (JobQueues), 1..256. Default 10. */
  rooms?: number;
  /** The JobTimer's room tick, ms; 0 = no tick. Default 100. */
  tickMs?: number;
  /** SendBuffers in the pool, 16..65536. Default 4096. */
  sendBuffers?: number;
}

export type ChatConfig = Required<ChatOptions>;

export interface ServerOptions {
  /** Which reference server: 'echo' (default) or 'chat'. */
  app?: AppName;
  /** Address the echo listener binds. Default 127.0.0.1. */
  host?: string;
  /** Echo TCP port; 0 picks a free one. Default 7701. */
  echoPort?: number;
  /** Worker threads looping on GQCS. Default 2. */
  workers?: number;
  /** The port's concurrency value; 0 = number of processors. Default 0. */
  concurrency?: number;
  /** Session slots. Default 4096. */
  maxSessions?: number;
  /** RecvQ bytes per session (power of two >= 16384). Default 16384. */
  recvBufferBytes?: number;
  /** SendQ bytes per session (power of two >= 16384). Default 32768. */
  sendBufferBytes?: number;
  /** Packets per dequeue: 1 = GetQueuedCompletionStatus, more = GQCS-Ex. Default 16. */
  gqcsBatch?: number;
  /** Instrumentation on (default) or off (--no-trace). */
  trace?: boolean;
  /** Fault switches on at start. */
  faults?: readonly FaultName[];
  backend?: BackendName;
  /** Records per thread ring. Default 65536. */
  ringRecords?: number;
  /** Drainer reorder window. Default 20 ms. */
  traceWindowMs?: number;
  /**
   * OnClientJoin's work in the accept thread after the first RecvPost, ms
   * (fractions allowed; 0 = none). Default 1: a course server's console line
   * and player object. The accept hold covers it; no-accept-hold exposes it.
   */
  joinWorkMs?: number;
  /** How long stop() waits for sessions to be released, then for workers. Default 3000 ms each. */
  shutdownTimeoutMs?: number;
  /**
   * Idle (read) timeout: a session that receives no bytes for this long is
   * kicked (Disconnect reason IdleTimeout). 0 = off. Default 60,000 ms.
   */
  idleTimeoutMs?: number;
  /**
   * Partial-packet timeout: a session whose incomplete packet (header or
   * body) sits at RecvQ's front this long is kicked (PartialTimeout).
   * 0 = off. Default 10,000 ms.
   */
  partialTimeoutMs?: number;
  /** The chat server's options (ignored by the echo server). */
  chat?: ChatOptions;
}

export type ServerConfig = Required<Omit<ServerOptions, 'faults' | 'chat'>> & {
  faults: FaultName[];
  chat: ChatConfig;
};

export class ServerOptionsError extends Error {
  readonly code = 'ERR_SERVER_OPTIONS';
}

const DEFAULTS = {
  host: '127.0.0.1',
  echoPort: 7701,
  workers: 2,
  concurrency: 0,
  maxSessions: 4096,
  recvBufferBytes: 16384,
  sendBufferBytes: 32768,
  gqcsBatch: 16,
  trace: true,
  backend: 'emulated' as BackendName,
  ringRecords: 1 << 16,
  traceWindowMs: 20,
  shutdownTimeoutMs: 3000,
  joinWorkMs: 1,
  idleTimeoutMs: 60_000,
  partialTimeoutMs: 10_000,
};

export const CHAT_DEFAULTS: ChatConfig = { rooms: 10, tickMs: 100, sendBuffers: 4096 };

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ServerOptionsError(`${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

function real(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new ServerOptionsError(`${name} must be a number in ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

function pow2(name: string, v: unknown, min: number, max: number): number {
  const n = int(name, v, min, max);
  if ((n & (n - 1)) !== 0) throw new ServerOptionsError(`${name} must be a power of two, got ${n}`);
  return n;
}

export function resolveServerOptions(o: ServerOptions = {}): ServerConfig {
  const host = o.host ?? DEFAULTS.host;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255) {
    throw new ServerOptionsError(`host must be a non-empty address, got ${String(host)}`);
  }
  // Unset: native on Windows when the addon is built, else the emulation.
  const backend = o.backend ?? defaultBackend();
  if (backend !== 'emulated' && backend !== 'native') {
    throw new ServerOptionsError(`backend must be emulated or native, got ${String(backend)}`);
  }
  const trace = o.trace ?? DEFAULTS.trace;
  const app = o.app ?? 'echo';
  if (!APP_NAMES.includes(app)) {
    throw new ServerOptionsError(`app must be ${APP_NAMES.join(' or ')}, got ${String(app)}`);
  }
  const faults = [...(o.faults ?? [])];
  for (const f of faults) {
    if (typeof f !== 'string' || !isFaultName(f)) {
      throw new ServerOptionsError(`unknown fault '${String(f)}'`);
    }
    if (!APP_FAULTS[app].includes(f)) {
      throw new ServerOptionsError(`fault '${f}' is not a switch of the ${app} server`);
    }
  }
  const c = o.chat ?? {};
  const chat: ChatConfig = {
    rooms: int('chat.rooms', c.rooms ?? CHAT_DEFAULTS.rooms, 1, 256),
    tickMs: int('chat.tickMs', c.tickMs ?? CHAT_DEFAULTS.tickMs, 0, 60_000),
    sendBuffers: int('chat.sendBuffers', c.sendBuffers ?? CHAT_DEFAULTS.sendBuffers, 16, 65_536),
  };
  return {
    app,
    host,
    echoPort: int('echoPort', o.echoPort ?? DEFAULTS.echoPort, 0, 65535),
    workers: int('workers', o.workers ?? DEFAULTS.workers, 1, 64),
    concurrency: int('concurrency', o.concurrency ?? DEFAULTS.concurrency, 0, 64),
    maxSessions: int('maxSessions', o.maxSessions ?? DEFAULTS.maxSessions, 1, MAX_SESSIONS),
    recvBufferBytes: pow2(
      'recvBufferBytes',
      o.recvBufferBytes ?? DEFAULTS.recvBufferBytes,
      16384,
      1 << 24,
    ),
    sendBufferBytes: pow2(
      'sendBufferBytes',
      o.sendBufferBytes ?? DEFAULTS.sendBufferBytes,
      16384,
      1 << 24,
    ),
    gqcsBatch: int('gqcsBatch', o.gqcsBatch ?? DEFAULTS.gqcsBatch, 1, 256),
    trace,
    faults,
    backend,
    ringRecords: pow2('ringRecords', o.ringRecords ?? DEFAULTS.ringRecords, 1024, 1 << 22),
    traceWindowMs: int('traceWindowMs', o.traceWindowMs ?? DEFAULTS.traceWindowMs, 1, 10_000),
    joinWorkMs: real('joinWorkMs', o.joinWorkMs ?? DEFAULTS.joinWorkMs, 0, 1000),
    shutdownTimeoutMs: int(
      'shutdownTimeoutMs',
      o.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs,
      100,
      600_000,
    ),
    idleTimeoutMs: int('idleTimeoutMs', o.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs, 0, 86_400_000),
    partialTimeoutMs: int(
      'partialTimeoutMs',
      o.partialTimeoutMs ?? DEFAULTS.partialTimeoutMs,
      0,
      86_400_000,
    ),
    chat,
  };
}
