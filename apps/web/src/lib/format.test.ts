import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatCount,
  formatDurationNs,
  formatSessionHalves,
  formatSessionId,
  formatTimeNs,
} from './format.ts';

describe('format', () => {
  it('writes trace times in the unit of their magnitude, exact to the nanosecond', () => {
    expect(formatTimeNs(0)).toBe('0 ns');
    expect(formatTimeNs(999)).toBe('999 ns');
    expect(formatTimeNs(12_345)).toBe('12.345 µs');
    expect(formatTimeNs(460_577_000)).toBe('460.577 ms');
    expect(formatTimeNs(677_880_001)).toBe('677.880 001 ms');
    expect(formatTimeNs(677_880_010)).toBe('677.880 010 ms');
    expect(formatTimeNs(3_000_000_000)).toBe('3.000 s');
    expect(formatTimeNs(3_800_000_000_000)).toBe('3800.000 s');
    expect(formatTimeNs(3_891_000_363_000)).toBe('3891.000 363 s');
    expect(formatTimeNs(3_200_012_345)).toBe('3.200 012 345 s');
    expect(formatTimeNs(-1_500)).toBe('-1.500 µs');
  });

  it('reads back the exact time it was given (naive model: parse the digits)', () => {
    for (let k = 0; k < 2000; k++) {
      const ns = Math.floor(Math.abs(Math.sin(k * 12.9898) * 43758.5453) * 1e9) % 5e12;
      const s = formatTimeNs(ns);
      const m = /^(\d+)(?:\.([\d ]+))? (ns|µs|ms|s)$/.exec(s)!;
      const scale = { ns: 1, µs: 1e3, ms: 1e6, s: 1e9 }[m[3] as 'ns']!;
      const frac = (m[2] ?? '').replace(/ /g, '');
      const back = Number(m[1]) * scale + (frac ? Number(frac) * (scale / 10 ** frac.length) : 0);
      expect(Math.round(back), s).toBe(ns);
    }
  });

  it('writes durations with about three significant digits', () => {
    expect(formatDurationNs(0)).toBe('0 ns');
    expect(formatDurationNs(842)).toBe('842 ns');
    expect(formatDurationNs(1_250)).toBe('1.25 µs');
    expect(formatDurationNs(363_000)).toBe('363 µs');
    expect(formatDurationNs(31_400_000)).toBe('31.4 ms');
    expect(formatDurationNs(1_234_000_000)).toBe('1.23 s');
  });

  it('writes 64-bit session ids exactly, in hex, without padding', () => {
    expect(formatSessionId(0x10001n)).toBe('0x10001');
    expect(formatSessionId(0x0001_0000_0000_002an)).toBe('0x100000000002a');
    expect(formatSessionId(0xffff_ffff_ffff_ffffn)).toBe('0xffffffffffffffff');
    expect(formatSessionHalves(0x10001, 0)).toBe('0x10001');
    expect(formatSessionHalves(0xffffffff, 0xffffffff)).toBe('0xffffffffffffffff');
  });

  it('groups digits without the browser locale', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(1_234_567)).toBe('1,234,567');
    expect(formatCount(-1000)).toBe('-1,000');
    expect(formatBytes(4740)).toBe('4.6 KiB');
  });
});
