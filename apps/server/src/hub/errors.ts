// The one error type for bad input and refused requests in the streaming side
// of the server (hub/, transport/, record/): options, control requests,
// recording ids, file writes. `code` is stable and listed here; callers and
// clients branch on it, never on `message`. Control-channel error replies carry
// the same codes (plus the protocol's BAD_MESSAGE for messages that fail the
// schema).

/**
 * Stable error codes.
 * - BAD_OPTIONS: an option is missing, of the wrong type or out of range.
 * - TOKEN_REQUIRED: binding a non-loopback address without a token.
 * - UNKNOWN_RECORDING: no recording has this id (ids come from the listing only).
 * - ALREADY_RECORDING: start recording while a recording is running.
 * - NOT_RECORDING: stop recording while none is running.
 * - NOT_RUNNING: stop load while no load is running.
 * - UNSUPPORTED: the server was started without the part that does this
 *   (e.g. no load generator or no port control attached).
 * - BUSY: the request conflicts with one still in progress (e.g. a port restart).
 * - RECORD_IO: the recording file could not be created or written.
 * - CONTROL_FAILED: the control target rejected or failed the request.
 * - LISTEN_FAILED: the server could not bind its address (in use, not local, ...).
 */
export const STREAM_ERROR_CODES = [
  'BAD_OPTIONS',
  'TOKEN_REQUIRED',
  'UNKNOWN_RECORDING',
  'ALREADY_RECORDING',
  'NOT_RECORDING',
  'NOT_RUNNING',
  'UNSUPPORTED',
  'BUSY',
  'RECORD_IO',
  'CONTROL_FAILED',
  'LISTEN_FAILED',
] as const;
export type StreamErrorCode = (typeof STREAM_ERROR_CODES)[number];

export class StreamError extends Error {
  override readonly name = 'StreamError';
  readonly code: StreamErrorCode;

  constructor(code: StreamErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
  }
}

export function isStreamError(e: unknown): e is StreamError {
  return e instanceof StreamError;
}
