import { describe, expect, it } from 'vitest';
import { BIG_SESSION, STRINGS, SAMPLE_EVENTS, concat, encodeAll } from '../test/samples.ts';
import { ProtocolError } from './errors.ts';
import {
  TraceFileReader,
  encodeChunk,
  encodeFileHeader,
  readTraceFile,
  type TraceFileHeader,
} from './file.ts';
import { sessionAt } from './record.ts';
import { encodeUtf8 } from './strings.ts';

export const HEADER: TraceFileHeader = {
  clock: 'monotonic-ns',
  host: 'test-host',
  backend: 'emulated',
  portConfig: { workers: 4, concurrency: 2 },
  startWallMs: 1_700_000_000_123,
};

const records = encodeAll(SAMPLE_EVENTS);
const file = concat([
  encodeFileHeader(HEADER),
  encodeChunk(records.subarray(0, 8 * 10), STRINGS.slice(0, 3)),
  encodeChunk(records.subarray(8 * 10), STRINGS.slice(3)),
]);

describe('.iocptrace files', () => {
  it('read back header, records and strings', () => {
    const r = readTraceFile(file);
    expect(r.error).toBeUndefined();
    expect(r.header).toEqual(HEADER);
    expect(r.chunks).toBe(2);
    expect(r.records).toEqual(records);
    expect([...r.strings.entries()]).toEqual(STRINGS);
    expect(sessionAt(r.records, 4)).toBe(BIG_SESSION);
    expect(r.validBytes).toBe(file.length);
  });

  it('read a header-only file as an empty trace', () => {
    const r = readTraceFile(encodeFileHeader(HEADER));
    expect(r.error).toBeUndefined();
    expect(r.records.length).toBe(0);
  });

  it('keep the complete chunks of a file cut inside the last chunk', () => {
    const r = readTraceFile(file.subarray(0, file.length - 5));
    expect(r.error?.code).toBe('TRUNCATED');
    expect(r.chunks).toBe(1);
    expect(r.records).toEqual(records.subarray(0, 80));
  });

  it('report a flipped bit in a chunk as CHECKSUM_MISMATCH', () => {
    const bad = file.slice();
    bad[bad.length - 20] ^= 0x10;
    const r = readTraceFile(bad);
    expect(r.error).toBeInstanceOf(ProtocolError);
    expect(r.error?.code).toBe('CHECKSUM_MISMATCH');
    expect(r.chunks).toBe(1);
  });

  it('stream through TraceFileReader in small pieces', () => {
    const reader = new TraceFileReader();
    for (let i = 0; i < file.length; i += 7) reader.push(file.subarray(i, i + 7));
    const r = reader.finish();
    expect(r.error).toBeUndefined();
    expect(r.records).toEqual(records);
  });

  it('reject a file that is not a trace with BAD_MAGIC', () => {
    expect(readTraceFile(encodeUtf8('{"traceEvents":[]}')).error?.code).toBe('BAD_MAGIC');
  });
});
