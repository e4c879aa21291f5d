// Load-generator options: the programmatic shape (`LoadOptions`), their
// validation into `ResolvedLoadOptions` (every field set, every limit
// checked), and the parsing of CLI strings into `LoadOptions`. All bad input
// becomes a LoadOptionError with a stable code; nothing here touches sockets.
//
// Limits keep a run bounded: at most 1 MiB in flight per connection, so the
// stream image stays near 2 MiB and a connection's unacknowledged bytes are
// bounded whatever the flags say.

import { LoadOptionError } from './errors.ts';
import { MAX_PAYLOAD_BYTES, HEADER_BYTES } from './stream.ts';

export interface LoadTarget {
  host: string;
  port: number;
}

export interface LoadOptions {
  /** `host:port` (IPv6 as `[addr]:port`) or an object. */
  target: string | LoadTarget;
  /** Concurrent connections, 1..100000. Default 1. */
  connections?: number;
  /** Payload bytes per message, 0..8192. Default 64. */
  messageSize?: number;
  /** Messages in flight per connection (pipelined), 1..1024. Default 1. */
  inFlight?: number;
  /** Stop sending after this long (ms, from the start, ramp included). */
  durationMs?: number;
  /** Messages each connection must get back verified. */
  messages?: number;
  /** Messages all connections together must get back verified (spread evenly over the slots). */
  totalMessages?: number;
  /** Run until the signal aborts. durationMs, messages, totalMessages and untilStopped exclude
   * each other; with none of them the run lasts DEFAULT_DURATION_MS. */
  untilStopped?: boolean;
  /** Open the connections evenly over this many ms. Default 0 (as fast as possible). */
  rampMs?: number;
  /** Abrupt resets (RST) per second over the whole run, each followed by a reconnect. Default 0. */
  resetsPerSec?: number;
  /** Seed for payloads, stream phases and reset choices (u32). Default 1. */
  seed?: number;
  /** The u16 packet type in every header. Default 1. */
  type?: number;
  /** Echoes completed in the first `warmupMs` count as verified but not in rate or latency. */
  warmupMs?: number;
  /** A connect that has not completed after this long fails. Default 5000. */
  connectTimeoutMs?: number;
  /** After sending stops, wait this long for outstanding echoes. Default 5000. */
  drainTimeoutMs?: number;
  /** Give up when no echo arrived for this long while some are outstanding. Default 10000. */
  stallTimeoutMs?: number;
  /** Period of the onProgress callback. Default 1000. */
  progressIntervalMs?: number;
}

export interface ResolvedLoadOptions {
  host: string;
  port: number;
  connections: number;
  messageSize: number;
  inFlight: number;
  /**
   * 'duration': sending stops after durationMs; 'messages': after totalMessages verified echoes
   * (messages per connection, or spread); 'until-stopped': when the signal aborts.
   */
  mode: 'duration' | 'messages' | 'until-stopped';
  /** 0 unless mode is 'duration'. */
  durationMs: number;
  /** Per connection when given so, else 0 (then totalMessages is spread over the slots). */
  messages: number;
  /** 0 unless mode is 'messages'. */
  totalMessages: number;
  rampMs: number;
  resetsPerSec: number;
  seed: number;
  type: number;
  warmupMs: number;
  connectTimeoutMs: number;
  drainTimeoutMs: number;
  stallTimeoutMs: number;
  progressIntervalMs: number;
}

export const MAX_CONNECTIONS = 100_000;
export const MAX_IN_FLIGHT = 1024;
export const MAX_BYTES_IN_FLIGHT = 1024 * 1024;
export const DEFAULT_DURATION_MS = 10_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export function parseTarget(value: string): LoadTarget {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) {
    throw new LoadOptionError(
      'BAD_TARGET',
      'target',
      `expected host:port (IPv6 as [addr]:port), got ${JSON.stringify(value)}`,
    );
  }
  const port = Number(m[3]);
  if (port < 1 || port > 65535) {
    throw new LoadOptionError('BAD_TARGET', 'target', `port ${port} is not in 1..65535`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

function checkTarget(target: LoadOptions['target']): LoadTarget {
  if (typeof target === 'string') return parseTarget(target);
  if (typeof target !== 'object' || target === null || typeof target.host !== 'string') {
    throw new LoadOptionError('BAD_TARGET', 'target', 'expected a host:port string');
  }
  if (target.host.length === 0 || /\s/.test(target.host)) {
    throw new LoadOptionError('BAD_TARGET', 'target', `bad host ${JSON.stringify(target.host)}`);
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
    throw new LoadOptionError('BAD_TARGET', 'target', `port ${target.port} is not in 1..65535`);
  }
  return { host: target.host, port: target.port };
}

function int(
  option: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new LoadOptionError('BAD_NUMBER', option, `expected an integer, got ${String(value)}`);
  }
  if (value < min || value > max) {
    throw new LoadOptionError('OUT_OF_RANGE', option, `${value} is not in ${min}..${max}`);
  }
  return value;
}

function real(
  option: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new LoadOptionError('BAD_NUMBER', option, `expected a number, got ${String(value)}`);
  }
  if (value < min || value > max) {
    throw new LoadOptionError('OUT_OF_RANGE', option, `${value} is not in ${min}..${max}`);
  }
  return value;
}

export function validateLoadOptions(options: LoadOptions): ResolvedLoadOptions {
  const { host, port } = checkTarget(options.target);
  const connections = int('connections', options.connections, 1, 1, MAX_CONNECTIONS);
  const messageSize = int('messageSize', options.messageSize, 64, 0, MAX_PAYLOAD_BYTES);
  const inFlight = int('inFlight', options.inFlight, 1, 1, MAX_IN_FLIGHT);
  const bytesInFlight = inFlight * (HEADER_BYTES + messageSize);
  if (bytesInFlight > MAX_BYTES_IN_FLIGHT) {
    throw new LoadOptionError(
      'CONFLICTING_OPTIONS',
      'inFlight',
      `${inFlight} messages of ${messageSize} bytes put ${bytesInFlight} bytes in flight per ` +
        `connection; the limit is ${MAX_BYTES_IN_FLIGHT}`,
    );
  }
  const ends = (['durationMs', 'messages', 'totalMessages', 'untilStopped'] as const).filter(
    (k) => options[k] !== undefined && options[k] !== false,
  );
  if (ends.length > 1) {
    throw new LoadOptionError(
      'CONFLICTING_OPTIONS',
      ends[1]!,
      `${ends.join(' and ')} each say when to stop: give one of them`,
    );
  }
  const mode =
    options.messages !== undefined || options.totalMessages !== undefined
      ? 'messages'
      : options.untilStopped
        ? 'until-stopped'
        : 'duration';
  const durationMs = int('durationMs', options.durationMs, DEFAULT_DURATION_MS, 1, DAY_MS);
  const messages = int('messages', options.messages, 0, 1, 2 ** 40);
  const totalMessages = int(
    'totalMessages',
    options.totalMessages,
    messages * connections,
    1,
    2 ** 40,
  );
  const rampMs = int('rampMs', options.rampMs, 0, 0, HOUR_MS);
  const resetsPerSec = real('resetsPerSec', options.resetsPerSec, 0, 0, 100_000);
  const seed = int('seed', options.seed, 1, 0, 0xffffffff);
  const type = int('type', options.type, 1, 0, 0xffff);
  const warmupMs = int('warmupMs', options.warmupMs, 0, 0, DAY_MS);
  if (mode === 'duration' && warmupMs >= durationMs) {
    throw new LoadOptionError(
      'CONFLICTING_OPTIONS',
      'warmupMs',
      `warmup ${warmupMs} ms leaves nothing of a ${durationMs} ms run`,
    );
  }
  return {
    host,
    port,
    connections,
    messageSize,
    inFlight,
    mode,
    durationMs: mode === 'duration' ? durationMs : 0,
    messages,
    totalMessages,
    rampMs,
    resetsPerSec,
    seed,
    type,
    warmupMs,
    connectTimeoutMs: int('connectTimeoutMs', options.connectTimeoutMs, 5000, 1, HOUR_MS),
    drainTimeoutMs: int('drainTimeoutMs', options.drainTimeoutMs, 5000, 0, HOUR_MS),
    stallTimeoutMs: int('stallTimeoutMs', options.stallTimeoutMs, 10_000, 1, HOUR_MS),
    progressIntervalMs: int('progressIntervalMs', options.progressIntervalMs, 1000, 10, HOUR_MS),
  };
}

// ---------------------------------------------------------------------------
// CLI strings

/** The CLI's raw option strings (commander hands every value over as a string). */
export interface LoadArgs {
  target?: string;
  connections?: string;
  size?: string;
  inFlight?: string;
  duration?: string;
  messages?: string;
  totalMessages?: string;
  ramp?: string;
  resets?: string;
  seed?: string;
  type?: string;
  warmup?: string;
  connectTimeout?: string;
  drainTimeout?: string;
}

/** A plain decimal number (no hex, no blanks, no empty string). */
function parseNumber(option: string, text: string, integer: boolean): number {
  const ok = integer ? /^[0-9]+$/.test(text) : /^[0-9]+(\.[0-9]+)?$/.test(text);
  if (!ok) {
    throw new LoadOptionError(
      'BAD_NUMBER',
      option,
      `expected ${integer ? 'a non-negative integer' : 'a non-negative number'}, got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

/** `<number>[ms|s|m|h]`; a bare number is seconds. */
export function parseDuration(option: string, text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) {
    throw new LoadOptionError(
      'BAD_DURATION',
      option,
      `expected <number>[ms|s|m|h] (e.g. 500ms, 10s, 2m), got ${JSON.stringify(text)}`,
    );
  }
  const scale = { ms: 1, s: 1000, m: 60_000, h: HOUR_MS }[m[2] ?? 's'] ?? 1000;
  return Math.round(Number(m[1]) * scale);
}

/** Turns CLI strings into LoadOptions (then validate with validateLoadOptions). */
export function parseLoadArgs(args: LoadArgs): LoadOptions {
  if (args.target === undefined) {
    throw new LoadOptionError('BAD_TARGET', 'target', 'a target host:port is required');
  }
  const out: LoadOptions = { target: parseTarget(args.target) };
  const n = (option: string, text: string | undefined, integer = true) =>
    text === undefined ? undefined : parseNumber(option, text, integer);
  const d = (option: string, text: string | undefined) =>
    text === undefined ? undefined : parseDuration(option, text);
  const set = <K extends keyof LoadOptions>(key: K, value: LoadOptions[K] | undefined) => {
    if (value !== undefined) out[key] = value;
  };
  set('connections', n('connections', args.connections));
  set('messageSize', n('messageSize', args.size));
  set('inFlight', n('inFlight', args.inFlight));
  set('durationMs', d('durationMs', args.duration));
  set('messages', n('messages', args.messages));
  set('totalMessages', n('totalMessages', args.totalMessages));
  set('rampMs', d('rampMs', args.ramp));
  set('resetsPerSec', n('resetsPerSec', args.resets, false));
  set('seed', n('seed', args.seed));
  set('type', n('type', args.type));
  set('warmupMs', d('warmupMs', args.warmup));
  set('connectTimeoutMs', d('connectTimeoutMs', args.connectTimeout));
  set('drainTimeoutMs', d('drainTimeoutMs', args.drainTimeout));
  return out;
}
