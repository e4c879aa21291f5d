// Declared lengths must never drive allocation: a reader buffers what has
// arrived, not what a header promises. Measured with Node's count of
// ArrayBuffer memory, since a 4 GiB promise that were honoured would show.

import { describe, expect, it } from 'vitest';
import {
  CHUNK_MAGIC,
  FRAME_MAGIC,
  FrameStreamDecoder,
  TraceFileReader,
  encodeFileHeader,
} from '../src/index.ts';

const MiB = 1024 * 1024;
const arrayBufferBytes = (): number => process.memoryUsage().arrayBuffers;

function u32s(...values: number[]): Uint8Array {
  return new Uint8Array(Uint32Array.from(values).buffer);
}

describe('allocation limits', () => {
  it('a trace file reader buffers only the bytes received for a chunk claiming 4 GiB', () => {
    const before = arrayBufferBytes();
    const reader = new TraceFileReader({ maxChunkBytes: 0xffffffff });
    reader.push(
      encodeFileHeader({
        clock: 'monotonic-ns',
        host: 'h',
        backend: 'emulated',
        portConfig: { workers: 1, concurrency: 1 },
        startWallMs: 0,
      }),
    );
    reader.push(u32s(CHUNK_MAGIC, 0xfffffff0));
    for (let i = 0; i < 64; i++) reader.push(new Uint8Array(1024));
    expect(arrayBufferBytes() - before).toBeLessThan(16 * MiB);
    const r = reader.finish();
    expect(r.error?.code).toBe('TRUNCATED');
    expect(r.chunks).toBe(0);
  });

  it('a frame stream decoder buffers only the bytes received for a frame claiming 4 GiB', () => {
    const before = arrayBufferBytes();
    const d = new FrameStreamDecoder({ maxFrameBytes: 0xffffffff });
    expect(d.push(u32s(FRAME_MAGIC, 1 | (16 << 16), 0xfffffff0, 0))).toEqual([]);
    for (let i = 0; i < 64; i++) d.push(new Uint8Array(1024));
    expect(arrayBufferBytes() - before).toBeLessThan(16 * MiB);
    expect(d.pendingBytes).toBe(16 + 64 * 1024);
    expect(() => d.finish()).toThrow(/TRUNCATED/);
  });
});
