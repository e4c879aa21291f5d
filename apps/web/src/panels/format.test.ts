import { describe, expect, it } from 'vitest';
import {
  formatCount,
  formatDurationNs,
  formatSessionId,
  formatSessionShort,
  formatTimeNs,
  formatWinError,
} from './format.ts';

describe('format', () => {
  it('writes trace times with a unit chosen by magnitude', () => {
    expect(formatTimeNs(999)).toBe('999 ns');
    expect(formatTimeNs(12_345)).toBe('12.345 µs');
    expect(formatTimeNs(12_345_678)).toBe('12.346 ms');
    expect(formatTimeNs(3_000_000_000)).toBe('3.000 s');
  });

  it('writes durations with about three significant digits', () => {
    expect(formatDurationNs(842)).toBe('842 ns');
    expect(formatDurationNs(1_250)).toBe('1.25 µs');
    expect(formatDurationNs(31_400_000)).toBe('31.4 ms');
  });

  it('writes 64-bit session ids exactly, in hex', () => {
    expect(formatSessionId(0x0001_0000_0000_002an)).toBe('0x100000000002a');
    expect(formatSessionId(0xffff_ffff_ffff_ffffn)).toBe('0xffffffffffffffff');
    expect(formatSessionShort(0x0000_0003_0000_002an)).toBe('3:002a');
  });

  it('groups digits without the browser locale', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(1_234_567)).toBe('1,234,567');
    expect(formatCount(-1000)).toBe('-1,000');
  });

  it('names the Win32 errors of the model', () => {
    expect(formatWinError(995)).toBe('995 ERROR_OPERATION_ABORTED');
    expect(formatWinError(12345)).toBe('12345');
  });
});
