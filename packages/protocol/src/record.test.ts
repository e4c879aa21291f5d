import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALL_KINDS,
  anyEvent,
  eventArbitraries,
  siteArb,
  stringEntries,
} from '../test/arbitraries.ts';
import { concat, encodeAll } from '../test/samples.ts';
import { EVENT_KIND_MAX, EVENT_KIND_NAMES, RECORD_WORDS, type TraceEvent } from './events.ts';
import { encodeChunk, encodeFileHeader, readTraceFile } from './file.ts';
import { FrameStreamDecoder, decodeFrame, encodeFrame } from './frames.ts';
import {
  decodeEvent,
  encodeEvent,
  findInvalidRecord,
  isLittleEndian,
  sessionAt,
  setSiteAt,
  siteAt,
  tsAt,
} from './record.ts';

const decodeAll = (w: Uint32Array): Array<TraceEvent | undefined> =>
  Array.from({ length: w.length / RECORD_WORDS }, (_, i) => decodeEvent(w, i));

describe('the 32-byte record', () => {
  it('runs on a little-endian platform', () => {
    expect(isLittleEndian()).toBe(true);
  });

  for (const kind of ALL_KINDS) {
    it(`round-trips every ${EVENT_KIND_NAMES[kind]} event exactly`, () => {
      fc.assert(
        fc.property(eventArbitraries[kind], (e: TraceEvent) => {
          const w = new Uint32Array(RECORD_WORDS);
          encodeEvent(w, 0, e);
          expect(decodeEvent(w, 0)).toEqual(e);
          expect(findInvalidRecord(w, 0, 1)).toBe(-1);
          expect(tsAt(w, 0)).toBe(e.tsNs);
        }),
        { seed: 0x10c9 + kind, numRuns: 300 },
      );
    });
  }

  it('round-trips any events through a frame, a frame stream and a trace file', () => {
    fc.assert(
      fc.property(
        fc.array(anyEvent, { maxLength: 40 }),
        stringEntries,
        fc.integer({ min: 1, max: 64 }),
        (events, strings, piece) => {
          const w = encodeAll(events);
          const frame = encodeFrame({ seq: 5, records: w, strings });
          const f = decodeFrame(frame);
          expect(decodeAll(f.records)).toEqual(events);
          expect(f.strings).toEqual(strings);

          const d = new FrameStreamDecoder();
          const got = [];
          for (let o = 0; o < frame.length; o += piece)
            got.push(...d.push(frame.subarray(o, o + piece)));
          d.finish();
          expect(got).toHaveLength(1);
          expect(got[0]!.records).toEqual(w);

          const file = concat([
            encodeFileHeader({
              clock: 'monotonic-ns',
              host: 'h',
              backend: 'native',
              portConfig: { workers: 1, concurrency: 1 },
              startWallMs: 0,
            }),
            encodeChunk(w, strings),
          ]);
          const r = readTraceFile(file);
          expect(r.error).toBeUndefined();
          expect(decodeAll(r.records)).toEqual(events);
          expect([...r.strings.entries()]).toEqual(strings);
        },
      ),
      { seed: 42, numRuns: 150 },
    );
  });

  it('keeps any 64-bit session exact, including above 2^53', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }), (session) => {
        const w = new Uint32Array(RECORD_WORDS);
        encodeEvent(w, 0, { kind: 12, tsNs: 1, tid: 1, session, ioCount: 0 });
        expect(sessionAt(w, 0)).toBe(session);
        expect(sessionAt(decodeFrame(encodeFrame({ seq: 0, records: w })).records, 0)).toBe(
          session,
        );
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it('flags unknown kinds as invalid, and in v1 timestamps at or above 2^53', () => {
    const w = new Uint32Array(RECORD_WORDS * 4);
    encodeEvent(w, 0, { kind: 2, tsNs: 0, tid: 0, exitCode: 0 });
    encodeEvent(w, 1, { kind: 2, tsNs: Number.MAX_SAFE_INTEGER, tid: 0, exitCode: 0 });
    w.copyWithin(16, 0, 16);
    expect(findInvalidRecord(w, 0, 4)).toBe(-1);
    w[2 * RECORD_WORDS] = 0;
    expect(findInvalidRecord(w, 0, 4)).toBe(2);
    w[2 * RECORD_WORDS] = EVENT_KIND_MAX + 1;
    expect(findInvalidRecord(w, 0, 4)).toBe(2);
    w[2 * RECORD_WORDS] = 2;
    // v2: the bits above 2^53 are the call site, not time.
    w[3 * RECORD_WORDS + 3] = 0x200000;
    expect(findInvalidRecord(w, 0, 4)).toBe(-1);
    expect(findInvalidRecord(w, 0, 4, 1)).toBe(3);
  });

  it('carries a call-site id beside the time without changing it', () => {
    fc.assert(
      fc.property(anyEvent, siteArb, (e0, site) => {
        const e = { ...e0, site };
        const w = new Uint32Array(RECORD_WORDS);
        encodeEvent(w, 0, e);
        expect(siteAt(w, 0)).toBe(site);
        expect(tsAt(w, 0)).toBe(e.tsNs);
        expect(decodeEvent(w, 0)).toEqual(e);
        setSiteAt(w, 0, 0);
        expect(decodeEvent(w, 0)).toEqual(e0);
      }),
      { seed: 53, numRuns: 300 },
    );
  });

  it('returns undefined for an unknown kind in the object decoder', () => {
    const w = new Uint32Array(RECORD_WORDS);
    w[0] = 200;
    expect(decodeEvent(w, 0)).toBeUndefined();
  });
});
