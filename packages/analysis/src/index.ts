// Public surface of @iocpscope/analysis: replay events into state, checkpoints
// for fast seeks, the classic-bug detectors, session histories, and a seeded
// synthetic trace generator plus a test DSL shared with the web app's tests.
// Imports @iocpscope/protocol only.

export { AnalysisError, type AnalysisErrorCode } from './errors.ts';
export {
  formatSessionId,
  parseSessionId,
  sessionIdOf,
  sessionHi,
  sessionLo,
  type SessionId,
} from './ids.ts';
export type { TraceRecords } from './source.ts';
export {
  cloneState,
  cloneStateSharingSessions,
  createState,
  isOutstanding,
  isSettled,
  outstandingOps,
  postFailed,
  RECENT_OPS_MAX,
  RECENT_RELEASED_MAX,
  type HandledPacket,
  type HoldEntry,
  type LockState,
  type OpState,
  type PortState,
  type QueuedPacket,
  type ReplayState,
  type SessionLifecycle,
  type SessionState,
  type ThreadState,
} from './state.ts';
export { Fifo } from './fifo.ts';
export { Replayer, type Step } from './replay.ts';
export {
  Checkpoints,
  replayFromStart,
  type CheckpointOptions,
  type CheckpointStats,
} from './checkpoints.ts';
export {
  FAULT_CO_FINDINGS,
  FAULT_RULES,
  formatFinding,
  RULE_BY_ID,
  RULES,
  summarize,
  type Finding,
  type FindingSubject,
  type FindingSummary,
  type RuleId,
  type RuleInfo,
} from './findings.ts';
export {
  APPLICABLE_ON_DERIVED,
  applicableRules,
  whyNotOnDerived,
  type IoCountSource,
} from './derived.ts';
export {
  checkTrace,
  DetectorRunner,
  type CheckResult,
  type DetectorOptions,
  type RunnerOptions,
} from './runner.ts';
export {
  sessionHistory,
  type HistoryOptions,
  type LedgerEntry,
  type SessionHistory,
} from './history.ts';
export {
  Rng,
  synthesize,
  SYNTH_FAULTS,
  type SynthFault,
  type SynthOptions,
  type SynthTrace,
} from './synth.ts';
export { TraceBuilder, ThreadHandle, type Io, type PostOptions } from './testing/trace-builder.ts';
export { normalizeState } from './testing/normalize.ts';
export { feedInWindows, findingKey, type WindowedRun } from './testing/windows.ts';
export {
  checksOf,
  echoRound,
  findingsOf,
  openSession,
  peerCloses,
  peerResets,
  server,
  shutdownAll,
  type Server,
} from './testing/scenarios.ts';
export { MarkFlag, STATE_KINDS, blockReasonAt, markFlagsAt, stateAt } from './marks.ts';
