import { afterAll, describe, expect, it } from 'vitest';
import { RECORD_WORDS } from '@iocpscope/protocol';
import {
  Progress,
  formatCount,
  readTraceInput,
  readingLine,
  TraceInputError,
} from './trace-file.ts';
import {
  cleanTrace,
  concatBytes,
  tempDir,
  traceFileBytes,
  traceFileParts,
} from './trace-file.test-util.ts';

const tmp = tempDir('iocpscope-tracefile-');
afterAll(() => tmp.remove());

function clockAndSink(isTTY: boolean): {
  now: { t: number };
  out: { isTTY: boolean; text: string; write(s: string): boolean };
} {
  return {
    now: { t: 0 },
    out: {
      isTTY,
      text: '',
      write(s: string) {
        this.text += s;
        return true;
      },
    },
  };
}

describe('readTraceInput', () => {
  it('hands out every event once, in order, in growing ranges, whatever the piece size', async () => {
    const t = cleanTrace(4, 6);
    const file = tmp.file('ranges.iocptrace', traceFileBytes(t, { perChunk: 13 }));
    for (const pieceBytes of [1, 97, 4096, 1 << 20]) {
      const seen: number[] = [];
      let progress = 0;
      const input = await readTraceInput(file, {
        pieceBytes,
        onEvents: (store, from, to) => {
          expect(from).toBe(seen.length);
          for (let i = from; i < to; i++) seen.push(store.words[i * RECORD_WORDS + 2]!);
        },
        onProgress: (done, total) => {
          expect(done).toBeGreaterThan(progress);
          expect(total).toBeGreaterThanOrEqual(done);
          progress = done;
        },
      });
      expect(seen.length).toBe(t.length);
      expect(input).toMatchObject({ damage: null, chunks: Math.ceil(t.length / 13) });
      expect(input.validBytes).toBe(input.fileBytes);
      expect(progress).toBe(input.fileBytes);
      expect(input.header?.name).toBe('hand-built trace');
    }
  });

  it('stops at the first damage and keeps everything before it', async () => {
    const parts = traceFileParts(cleanTrace(), { perChunk: 40 });
    const bad = parts[2]!.slice();
    bad[12] ^= 1;
    const file = tmp.file(
      'bad.iocptrace',
      concatBytes([...parts.slice(0, 2), bad, ...parts.slice(3)]),
    );
    const input = await readTraceInput(file, { pieceBytes: 64 });
    expect(input.store.length).toBe(40);
    expect(input.chunks).toBe(1);
    expect(input.damage).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(input.damage!.offset).toBe(parts[0]!.length + parts[1]!.length);
  });

  it('throws a TraceInputError with the system code when the file cannot be read', async () => {
    await expect(readTraceInput(tmp.file('nope.iocptrace'))).rejects.toMatchObject({
      name: 'TraceInputError',
      code: 'ENOENT',
    });
    await expect(readTraceInput(tmp.dir)).rejects.toMatchObject({ code: 'EISDIR' });
    const err = await readTraceInput('/dev/null').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TraceInputError);
    expect(err).toMatchObject({
      code: 'ENOTFILE',
      message: 'cannot read /dev/null: not a regular file',
    });
  });
});

describe('Progress', () => {
  it('shows nothing for a step that ends within a second', () => {
    const { now, out } = clockAndSink(true);
    const p = new Progress(out, { now: () => now.t });
    for (now.t = 0; now.t < 999; now.t += 50) p.update('x');
    p.end();
    expect(out.text).toBe('');
  });

  it('redraws one terminal line at most every 100 ms after the first second, and clears it at the end', () => {
    const { now, out } = clockAndSink(true);
    const p = new Progress(out, { now: () => now.t });
    for (now.t = 0; now.t <= 1300; now.t += 50) p.update(`at ${now.t}`);
    p.end();
    expect(out.text).toBe('\r\x1b[Kat 1000\r\x1b[Kat 1100\r\x1b[Kat 1200\r\x1b[Kat 1300\r\x1b[K');
  });

  it('writes a plain line every 5 s when stderr is not a terminal, and nothing to clear', () => {
    const { now, out } = clockAndSink(false);
    const p = new Progress(out, { now: () => now.t });
    for (now.t = 0; now.t <= 12_000; now.t += 500) p.update(`at ${now.t}`);
    p.end();
    expect(out.text).toBe('at 1000\nat 6000\nat 11000\n');
  });

  it('says how far the read is', () => {
    expect(readingLine('big.iocptrace', 12 * 1024 * 1024, 48 * 1024 * 1024)).toBe(
      'reading big.iocptrace: 12.0 MiB of 48.0 MiB (25%)',
    );
  });
});

describe('formatCount', () => {
  it('writes counts as en-US toLocaleString does, without Intl', () => {
    for (const n of [0, 7, 999, 1000, 1104, 123456, 1234567, 9007199254740991, -1234, 12.5]) {
      expect(formatCount(n)).toBe(n.toLocaleString('en-US', { maximumFractionDigits: 20 }));
    }
  });
});
