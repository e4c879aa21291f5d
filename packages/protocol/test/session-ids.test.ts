// SessionIDs are 64-bit (slot in the low bits, reuse generation in the high
// bits) and must stay exact everywhere a trace travels: record, frame, frame
// stream, event store, file, object decoder and Chrome export.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EventKind,
  EventStore,
  FrameStreamDecoder,
  IoCountCause,
  RECORD_WORDS,
  StringTable,
  TraceFileReader,
  decodeEvent,
  decodeFrameInto,
  encodeChunk,
  encodeEvent,
  encodeFileHeader,
  encodeFrame,
  exportChromeTrace,
  sessionAt,
} from '../src/index.ts';

describe('64-bit SessionIDs', () => {
  it('stay exact end to end, including values above 2^53', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), {
          minLength: 1,
          maxLength: 20,
        }),
        (sessions) => {
          sessions.push(2n ** 53n + 1n, 2n ** 64n - 1n);
          const w = new Uint32Array(sessions.length * RECORD_WORDS);
          sessions.forEach((session, i) =>
            encodeEvent(w, i, {
              kind: EventKind.IoCount,
              tsNs: i,
              tid: 1,
              cause: IoCountCause.RecvPost,
              session,
              value: 1,
              delta: 1,
              ioId: i,
            }),
          );
          // Server -> browser: a frame stream, then straight into a store.
          const frames = new FrameStreamDecoder().push(encodeFrame({ seq: 0, records: w }));
          const live = new EventStore();
          decodeFrameInto(encodeFrame(frames[0]!), live, new StringTable());
          // Server -> file -> browser.
          const reader = new TraceFileReader();
          reader.push(
            encodeFileHeader({
              clock: 'monotonic-ns',
              host: 'h',
              backend: 'emulated',
              portConfig: { workers: 1, concurrency: 1 },
              startWallMs: 0,
            }),
          );
          reader.push(encodeChunk(live.words));
          const file = reader.finish();
          expect(file.error).toBeUndefined();
          sessions.forEach((session, i) => {
            expect(sessionAt(file.records, i)).toBe(session);
            const e = decodeEvent(file.records, i);
            expect(e?.kind === EventKind.IoCount && e.session).toBe(session);
          });
          // Chrome export names counters by the exact decimal id.
          let json = '';
          exportChromeTrace(file.store, file.strings, (c) => (json += c));
          for (const session of sessions) expect(json).toContain(`"IOCount session ${session}"`);
        },
      ),
      { seed: 64, numRuns: 50 },
    );
  });
});
