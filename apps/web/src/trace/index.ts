// Public surface of web/trace: the columnar trace model and its indexes.
export { WebTrace, TraceError, LANE_BLOCK, laneBit } from './webTrace.ts';
export { Lane, laneNumber, NONE, STATE_BLOCK, ROLE_NAMES, type StringLookup } from './lanes.ts';
export { EventSeries, SERIES_BLOCK, SeriesKind, stepAt } from './series.ts';
export { SessionTable } from './sessions.ts';
export {
  MarkFlag,
  markFlagsAt,
  stateAt,
  drawnState,
  blockReasonAt,
  hasSessionAt,
} from './flags.ts';
export {
  BitIndexColumn,
  DeltaIndexColumn,
  FlowEndColumn,
  IndexColumn,
  INDEX_BLOCK,
  type EventIndex,
} from './indexColumn.ts';
export { U32Column, I32Column, U8Column, F64Column } from './column.ts';
export { BUCKET_CAP, BucketGrid, CounterBuckets, LaneBuckets } from './buckets.ts';
export { IoCountTrack } from './ioCountTrack.ts';
export {
  computeRangeStats,
  SESSIONS_LISTED,
  type OpRow,
  type Percentiles,
  type RangeQuery,
  type RangeStats,
  type RangeWhat,
  type ThreadTime,
} from './rangeStats.ts';
export {
  matchesAt,
  parseSearch,
  SearchIndex,
  type CompiledSearch,
  type ParsedSearch,
} from './search.ts';
export { winErrorCode, winErrorName } from './winErrors.ts';
export {
  ChatModel,
  OPEN,
  QueueTrack,
  LockTrack,
  LaneFlushes,
  lowerIndex,
  type BufferLife,
  type BufferLifeEntry,
  type FanOut,
} from './chat.ts';
