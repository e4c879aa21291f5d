// The one error type for bad load-generator options (CLI flags or the
// programmatic `runLoad` options). `code` is stable: callers and tests branch
// on it, never on `message`. `option` names the offending option in its
// programmatic spelling (e.g. 'messageSize'), so the CLI can map it to a flag.
//
// Verification failures (mismatched echoes, lost connections) are not errors:
// they are data in the LoadReport, because a load run that finds a bug has
// done its job.

/**
 * Stable error codes.
 * - BAD_TARGET: the target is not `host:port` (IPv6 as `[addr]:port`) with a port in 1..65535.
 * - BAD_NUMBER: a numeric option is not a finite number, or not an integer where one is needed.
 * - OUT_OF_RANGE: a numeric option is outside its documented range.
 * - BAD_DURATION: a duration string is not `<number>[ms|s|m]`.
 * - CONFLICTING_OPTIONS: options that exclude each other were both given, or a combination
 *   exceeds a limit (e.g. bytes in flight per connection).
 */
export const LOAD_ERROR_CODES = [
  'BAD_TARGET',
  'BAD_NUMBER',
  'OUT_OF_RANGE',
  'BAD_DURATION',
  'CONFLICTING_OPTIONS',
] as const;
export type LoadErrorCode = (typeof LOAD_ERROR_CODES)[number];

export class LoadOptionError extends Error {
  override readonly name = 'LoadOptionError';
  readonly code: LoadErrorCode;
  readonly option: string;

  constructor(code: LoadErrorCode, option: string, message: string) {
    super(`${code}: ${option}: ${message}`);
    this.code = code;
    this.option = option;
  }
}

export function isLoadOptionError(e: unknown): e is LoadOptionError {
  return e instanceof LoadOptionError;
}
