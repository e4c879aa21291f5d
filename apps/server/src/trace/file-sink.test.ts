import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EventKind,
  RECORD_WORDS,
  readTraceFile,
  writeRecord,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { FileSink } from './file-sink.ts';

const header: TraceFileHeader = {
  clock: 'monotonic-ns',
  host: 'test',
  backend: 'emulated',
  portConfig: { workers: 2, concurrency: 1 },
  startWallMs: 1_700_000_000_000,
};

function batch(from: number, n: number): Uint32Array {
  const w = new Uint32Array(n * RECORD_WORDS);
  for (let i = 0; i < n; i++)
    writeRecord(w, i, EventKind.Marker, 0, 0, from + i, from + i, 0, 0, 0, 0);
  return w;
}

describe('FileSink', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes a file that reads back with every record and string, in chunks', () => {
    dir = mkdtempSync(join(tmpdir(), 'iocpscope-sink-'));
    const path = join(dir, 'a.iocptrace');
    const sink = new FileSink({ path, header, chunkRecords: 10 });
    sink.append(batch(0, 7), [[1, 'worker-0']]);
    sink.append(batch(7, 7), [[2, '127.0.0.1:1234']]);
    sink.append(batch(14, 3), []);
    sink.close();
    const r = readTraceFile(new Uint8Array(readFileSync(path)));
    expect(r.error).toBeUndefined();
    expect(r.header).toMatchObject(header);
    expect(r.chunks).toBe(2);
    expect(Array.from(r.records)).toEqual(Array.from(batch(0, 17)));
    expect(r.strings.get(1)).toBe('worker-0');
    expect(r.strings.get(2)).toBe('127.0.0.1:1234');
    expect(sink.bytes).toBe(readFileSync(path).length);
  });

  it('has every complete chunk on disk after a flush, before close', () => {
    dir = mkdtempSync(join(tmpdir(), 'iocpscope-sink-'));
    const path = join(dir, 'b.iocptrace');
    const sink = new FileSink({ path, header, flushIntervalMs: 0 });
    sink.append(batch(0, 3), []);
    const r = readTraceFile(new Uint8Array(readFileSync(path)));
    expect(r.records.length / RECORD_WORDS).toBe(3);
    sink.close();
  });

  it('refuses an unwritable path with a coded error', () => {
    expect(() => new FileSink({ path: '/nonexistent-dir/x.iocptrace', header })).toThrow(
      expect.objectContaining({ code: 'ERR_RECORD_FILE' }),
    );
  });
});
