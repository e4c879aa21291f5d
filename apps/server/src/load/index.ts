// Public surface of the load generator (dummy echo clients): runLoad for the
// CLI, the server's control channel, tests and the benchmark; the plain
// node:net echo server used as baseline and reference.
export { runLoad } from './run.ts';
export type {
  ConnectionFailure,
  LatencySummaryUs,
  LoadProgress,
  LoadReport,
  Mismatch,
  MismatchKind,
  RunLoadHooks,
} from './run.ts';
export {
  DEFAULT_DURATION_MS,
  MAX_BYTES_IN_FLIGHT,
  MAX_CONNECTIONS,
  MAX_IN_FLIGHT,
  parseDuration,
  parseLoadArgs,
  parseTarget,
  validateLoadOptions,
} from './options.ts';
export type { LoadArgs, LoadOptions, LoadTarget, ResolvedLoadOptions } from './options.ts';
export { LOAD_ERROR_CODES, LoadOptionError, isLoadOptionError } from './errors.ts';
export type { LoadErrorCode } from './errors.ts';
export { HEADER_BYTES, MAX_PAYLOAD_BYTES } from './stream.ts';
export { startPlainEcho } from './plain-echo.ts';
export type { PlainEchoOptions, PlainEchoServer, PlainEchoStats } from './plain-echo.ts';
export { Histogram } from './histogram.ts';
export {
  formatCount,
  formatMicros,
  formatProgressBar,
  formatProgressLine,
  formatReport,
} from './format.ts';
export {
  LoadFailedError,
  controlLoadRunner,
  fromControlOptions,
  statsFromProgress,
  statsFromReport,
} from './control.ts';
export type { ControlLoadRunner } from './control.ts';
