// Control messages between the dashboard and the server: JSON in WebSocket
// text frames (binary frames carry event frames, see frames.ts). Every shape
// is a zod schema; the TS types are inferred from them. Client messages are
// strict (unknown keys rejected, nested objects included: the server is safe
// by default); server messages and the shared shapes strip unknown keys, so an
// older dashboard still reads a newer server. Every client message may carry a
// numeric `id`, echoed in the reply (ack, error or the specific answer) so the
// client can match them.

import { z } from 'zod';
import { BACKEND_NAMES, type BackendName } from './header.ts';

export type { BackendName };
import { ProtocolError } from './errors.ts';

/** Largest control message, in UTF-16 code units of its JSON text. */
export const MAX_CONTROL_MESSAGE_CHARS = 64 * 1024;

/** Fault switches of the reference servers: one classic bug each (iocp-model.md §3). */
export const ECHO_FAULT_NAMES = [
  'iocount-double-decrement',
  'release-with-io-pending',
  'recv-not-reposted',
  'two-sends-in-flight',
  'no-decrement-on-failure',
  'too-few-exit-packets',
  'no-accept-hold',
  'zero-byte-recv-reposted',
  'lock-across-send',
  'release-without-atomic-flag',
  'ring-wrap-off-by-one',
  'short-send-ignored',
  'send-overflow-ignored',
] as const;
/** The chat server's own fault switches (its JobQueue, SendBuffer pool and locks). */
export const CHAT_FAULT_NAMES = [
  'job-queue-two-flushers',
  'send-buffer-early-release',
  'broadcast-under-room-lock',
  'lock-order-inversion',
] as const;
/**
 * Every fault switch. Each server accepts its own (the chat server also the
 * echo server's session-layer ones: the session layer is shared).
 */
export const FAULT_NAMES = [...ECHO_FAULT_NAMES, ...CHAT_FAULT_NAMES] as const;
/** The echo server's send-path switches (its SendQ ring): the chat server sends SendBuffers instead. */
const ECHO_SEND_PATH_FAULTS: readonly string[] = [
  'two-sends-in-flight',
  'lock-across-send',
  'short-send-ignored',
  'send-overflow-ignored',
];
/** The switches each reference server implements (`serve --app echo|chat`). */
export const APP_FAULT_NAMES: {
  readonly echo: readonly FaultName[];
  readonly chat: readonly FaultName[];
} = {
  echo: ECHO_FAULT_NAMES,
  chat: [
    ...ECHO_FAULT_NAMES.filter((f) => !ECHO_SEND_PATH_FAULTS.includes(f)),
    ...CHAT_FAULT_NAMES,
  ],
};
export const FaultNameSchema = z.enum(FAULT_NAMES);
export type FaultName = z.infer<typeof FaultNameSchema>;

export const BackendNameSchema = z.enum(BACKEND_NAMES);

/** Completion port configuration: worker threads and the concurrency value (0 = CPUs). */
export const PortConfigSchema = z.object({
  workers: z.number().int().min(1).max(256),
  concurrency: z.number().int().min(0).max(256),
});
export type PortConfig = z.infer<typeof PortConfigSchema>;

/**
 * A port configuration as a server reports it: a foreign process's may be
 * anything a real server runs (workers 0 = not known yet), as in file headers.
 */
export const ReportedPortConfigSchema = z.object({
  workers: z.number().int().min(0).max(65_535),
  concurrency: z.number().int().min(0).max(65_535),
});

const MessageId = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const UnixMs = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Recording names become file names: no path separators, no leading dot. */
export const RecordingNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9 _.-]{0,63}$/, 'letters, digits, space, _ . - (max 64)');
export const RecordingIdSchema = z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/);

/** Largest load message: the echo packet's 4-byte header plus its largest payload (8192). */
export const MAX_LOAD_MESSAGE_BYTES = 4 + 8192;

/** Dummy-client load. Without durationMs and messages it runs until stop-load. */
export const LoadOptionsSchema = z.object({
  /** Client connections to open. */
  connections: z.number().int().min(1).max(10_000).default(100),
  /** Bytes per echo message, header included: the echo wire format carries 0..8192 payload bytes. */
  messageSize: z.number().int().min(4).max(MAX_LOAD_MESSAGE_BYTES).default(64),
  /** Messages each connection keeps in flight (sent, echo not yet received). */
  inFlight: z.number().int().min(1).max(1024).default(1),
  /** Stop after this long. */
  durationMs: z.number().int().min(1).max(3_600_000).optional(),
  /** Stop after this many echoed messages in total. */
  messages: z.number().int().min(1).max(1e12).optional(),
  /** Open the connections evenly over this time. */
  rampMs: z.number().int().min(0).max(600_000).default(0),
  /** Abortive resets (RST) per second across the load; each reset connection reconnects. */
  resetRate: z.number().min(0).max(10_000).default(0),
});
export type LoadOptions = z.output<typeof LoadOptionsSchema>;
export type LoadOptionsInput = z.input<typeof LoadOptionsSchema>;

// ---- client -> server ---------------------------------------------------------

const c = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.strictObject({ type: z.literal(type), id: MessageId.optional(), ...shape });

export const ClientMessageSchema = z.discriminatedUnion('type', [
  c('start-load', { options: z.strictObject(LoadOptionsSchema.shape) }),
  c('stop-load', {}),
  c('set-port-config', { config: z.strictObject(PortConfigSchema.shape) }),
  /** The complete set of active faults (not a delta); [] turns all off. */
  c('set-faults', { faults: z.array(FaultNameSchema).max(FAULT_NAMES.length) }),
  c('start-recording', { name: RecordingNameSchema.optional() }),
  c('stop-recording', {}),
  c('list-recordings', {}),
  c('get-status', {}),
  /** Stop/restart sending event frames to this client (it keeps its control channel). */
  c('pause-stream', {}),
  c('resume-stream', {}),
  /**
   * Added in v2: this client's next event frame starts with a Resync Snapshot
   * bracket (the state at an exact cut of its stream), as after a gap. One at
   * a time: another while one is pending is refused with BUSY.
   */
  c('resync', {}),
]);
export type ClientMessage = z.output<typeof ClientMessageSchema>;
export type ClientMessageInput = z.input<typeof ClientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];
export const CLIENT_MESSAGE_TYPES = ClientMessageSchema.options.map(
  (o) => o.shape.type.value,
) as ClientMessageType[];

// ---- server -> client ---------------------------------------------------------

export const RecordingInfoSchema = z.object({
  id: RecordingIdSchema,
  name: z.string().max(256),
  bytes: Count,
  createdAt: UnixMs,
  events: Count.optional(),
  /** Examples: one line saying what the trace shows (examples/stories.json). */
  story: z.string().max(300).optional(),
});
export type RecordingInfo = z.infer<typeof RecordingInfoSchema>;

export const RecordingStatusSchema = z.object({
  active: z.boolean(),
  id: RecordingIdSchema.optional(),
  name: z.string().max(256).optional(),
  startedAt: UnixMs.optional(),
  bytes: Count.optional(),
  events: Count.optional(),
  /**
   * Not active: why the last recording ended by itself (it reached its total
   * size limit, or the disk failed). Absent when it was stopped.
   */
  ended: z
    .object({ reason: z.enum(['size-cap', 'io-error']), message: z.string().max(4096) })
    .optional(),
});
export type RecordingStatus = z.infer<typeof RecordingStatusSchema>;

export const LoadStatsSchema = z.object({
  elapsedMs: Count,
  /** Connections open now. */
  connected: Count,
  sent: Count,
  received: Count,
  bytesSent: Count,
  bytesReceived: Count,
  errors: Count,
  resets: Count,
  /** Round-trip latency percentiles, microseconds (absent before the first echo). */
  latencyP50Us: z.number().min(0).optional(),
  latencyP99Us: z.number().min(0).optional(),
});
export type LoadStats = z.infer<typeof LoadStatsSchema>;

export const LoadStatusSchema = z.object({
  running: z.boolean(),
  options: LoadOptionsSchema.optional(),
  startedAt: UnixMs.optional(),
});
export type LoadStatus = z.infer<typeof LoadStatusSchema>;

const s = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.object({ type: z.literal(type), ...shape });

/**
 * Which server the stream shows (added with v2): iocpscope's own reference
 * server, or a foreign process attached through `serve --ingest`.
 */
export const SourceInfoSchema = z.object({
  kind: z.enum(['reference', 'ingest']),
  /** Changes whenever the stream starts showing another trace (a new tracer connection). */
  traceId: z.string().max(64).optional(),
  /** ingest: a tracer is attached now. */
  attached: z.boolean().optional(),
  /** ingest: where tracers connect (host:port). */
  listen: z.string().max(300).optional(),
  process: z
    .object({ pid: z.number().int().min(0).max(0xffffffff), name: z.string().max(256) })
    .optional(),
  /** 'header' (iocpscope.h) or 'hook' (the hook DLL). */
  tracer: z.string().max(32).optional(),
  app: z.string().max(32).optional(),
  /** 'derived' when IoCount is outstanding I/O per socket, not the server's own count. */
  ioCount: z.enum(['application', 'derived']).optional(),
});
export type SourceInfo = z.infer<typeof SourceInfoSchema>;

export const ServerMessageSchema = z.discriminatedUnion('type', [
  /** First message on every connection. */
  s('hello', {
    protocolVersion: z.number().int().min(1),
    serverVersion: z.string().max(64),
    backend: BackendNameSchema,
    portConfig: ReportedPortConfigSchema,
    faults: z.array(FaultNameSchema),
    source: SourceInfoSchema.optional(),
  }),
  /** Sent on connect, in reply to get-status (with its id) and whenever it changes. */
  s('status', {
    id: MessageId.optional(),
    load: LoadStatusSchema,
    recording: RecordingStatusSchema,
    faults: z.array(FaultNameSchema),
    portConfig: ReportedPortConfigSchema,
    backend: BackendNameSchema,
    /** Dashboards connected. */
    clients: Count,
    streamPaused: z.boolean(),
    source: SourceInfoSchema.optional(),
  }),
  s('ack', { id: MessageId.optional(), of: z.string().max(64) }),
  /** `code` is stable: BAD_MESSAGE, or a server code documented by the server. */
  s('error', { id: MessageId.optional(), code: z.string().max(64), message: z.string().max(4096) }),
  s('recordings', { id: MessageId.optional(), recordings: z.array(RecordingInfoSchema) }),
  /** Reply to stop-recording once the file is closed. */
  s('recording-saved', { id: MessageId.optional(), recording: RecordingInfoSchema }),
  s('load-progress', { stats: LoadStatsSchema }),
  s('load-result', {
    stats: LoadStatsSchema,
    outcome: z.enum(['completed', 'stopped', 'failed']),
    error: z.string().max(4096).optional(),
  }),
]);
export type ServerMessage = z.output<typeof ServerMessageSchema>;
export type ServerMessageType = ServerMessage['type'];

// ---- parsing ------------------------------------------------------------------

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown): ParseResult<T> {
  const r = schema.safeParse(value);
  return r.success
    ? { ok: true, value: r.data }
    : { ok: false, error: new ProtocolError('BAD_MESSAGE', describe(r.error)) };
}

function parseText<T>(schema: z.ZodType<T>, text: string): ParseResult<T> {
  if (text.length > MAX_CONTROL_MESSAGE_CHARS) {
    return {
      ok: false,
      error: new ProtocolError('BAD_MESSAGE', `message longer than ${MAX_CONTROL_MESSAGE_CHARS}`),
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: new ProtocolError('BAD_MESSAGE', `not JSON: ${String(e)}`) };
  }
  return parseWith(schema, value);
}

/** Validate an already JSON-parsed client message. */
export const parseClientMessage = (json: unknown): ParseResult<ClientMessage> =>
  parseWith(ClientMessageSchema, json);
/** Validate an already JSON-parsed server message. */
export const parseServerMessage = (json: unknown): ParseResult<ServerMessage> =>
  parseWith(ServerMessageSchema, json);
/** Parse and validate the JSON text of a client message (size-limited). */
export const parseClientMessageText = (text: string): ParseResult<ClientMessage> =>
  parseText(ClientMessageSchema, text);
/** Parse and validate the JSON text of a server message (size-limited). */
export const parseServerMessageText = (text: string): ParseResult<ServerMessage> =>
  parseText(ServerMessageSchema, text);

/** The id of a client message, if it has a usable one, even when the message is invalid. */
export function messageIdOf(json: unknown): number | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const id = (json as { id?: unknown }).id;
  return MessageId.safeParse(id).success ? (id as number) : undefined;
}
