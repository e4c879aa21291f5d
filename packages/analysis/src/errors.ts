// Errors for bad input to the analysis API (an index outside the trace, a
// malformed session id, an invalid option). Programmer errors elsewhere are
// plain asserts; these carry a stable `code` callers can switch on.

export type AnalysisErrorCode =
  /** An event index or count outside the trace (or beyond what has been fed). */
  | 'ANALYSIS_BAD_INDEX'
  /** A session id string that is not decimal or 0x-hex, or does not fit in 64 bits. */
  | 'ANALYSIS_BAD_SESSION_ID'
  /** An option outside its documented range. */
  | 'ANALYSIS_BAD_OPTION'
  /** A trace source whose words array is shorter than `length` records. */
  | 'ANALYSIS_BAD_SOURCE';

export class AnalysisError extends Error {
  readonly code: AnalysisErrorCode;
  constructor(code: AnalysisErrorCode, message: string) {
    super(message);
    this.name = 'AnalysisError';
    this.code = code;
  }
}
