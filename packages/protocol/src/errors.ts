// The one error type for bad input anywhere in the protocol package: files,
// frames, records, strings and control messages. `code` is stable and listed
// in FORMAT.md ("Error codes"); callers branch on it, never on `message`.
// `offset` is the byte offset in the input where the problem was found, when
// there is one (for a file: from the start of the file; for a frame stream:
// from the start of the stream).

/**
 * Stable error codes.
 * - BAD_MAGIC: the input does not start with the expected magic bytes.
 * - UNSUPPORTED_VERSION: a version this reader does not implement.
 * - CHECKSUM_MISMATCH: a chunk's or the file header's CRC32 does not match.
 * - TRUNCATED: the input ends inside a header, chunk or frame.
 * - OVERSIZED: a declared length or count is above a limit (checked before allocating).
 * - BAD_RECORD: a record with an unknown kind or an out-of-range timestamp.
 * - BAD_FRAME: inconsistent structure of a frame or chunk (section lengths, duplicate
 *   sections, reserved fields, records length not a multiple of 32).
 * - BAD_STRING: invalid UTF-8, string id 0, or an id redefined with another value.
 * - BAD_HEADER: the trace file header's metadata is missing fields or malformed.
 * - BAD_MESSAGE: a control message that is not valid JSON or fails its schema.
 */
export const PROTOCOL_ERROR_CODES = [
  'BAD_MAGIC',
  'UNSUPPORTED_VERSION',
  'CHECKSUM_MISMATCH',
  'TRUNCATED',
  'OVERSIZED',
  'BAD_RECORD',
  'BAD_FRAME',
  'BAD_STRING',
  'BAD_HEADER',
  'BAD_MESSAGE',
] as const;
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  readonly offset?: number;
  /** The message without the code and offset prefix. */
  readonly detail: string;

  constructor(code: ProtocolErrorCode, message: string, offset?: number) {
    super(offset === undefined ? `${code}: ${message}` : `${code} at byte ${offset}: ${message}`);
    this.code = code;
    this.detail = message;
    if (offset !== undefined) this.offset = offset;
  }
}

export function isProtocolError(e: unknown): e is ProtocolError {
  return e instanceof ProtocolError;
}
