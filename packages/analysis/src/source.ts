// What the analysis reads: a plain array of 32-byte records (8 u32 words each)
// and how many of them are valid. The protocol package's EventStore has this
// shape; so does a decoded trace file or a live buffer that keeps growing.

import * as proto from './proto.ts';
import { AnalysisError } from './errors.ts';

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { RECORD_WORDS } = proto;

export interface TraceRecords {
  /** Records, RECORD_WORDS words each; may be longer than `length` records. */
  readonly words: Uint32Array;
  /** Number of valid records. */
  readonly length: number;
}

export function checkSource(src: TraceRecords): void {
  if (
    !Number.isInteger(src.length) ||
    src.length < 0 ||
    src.words.length < src.length * RECORD_WORDS
  ) {
    throw new AnalysisError(
      'ANALYSIS_BAD_SOURCE',
      `source claims ${src.length} records but holds ${Math.floor(src.words.length / RECORD_WORDS)}`,
    );
  }
}
