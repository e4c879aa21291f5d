import { describe, expect, it } from 'vitest';
import { AnalysisError } from './errors.ts';
import { formatSessionId, parseSessionId, sessionHi, sessionIdOf, sessionLo } from './ids.ts';

describe('session ids', () => {
  it('round-trip the two u32 halves of a 64-bit id exactly, above 2^53 too', () => {
    const ids = [
      0n,
      1n,
      0xffffffffn,
      0x100000000n,
      (1n << 53n) + 1n,
      0xfedcba9876543211n,
      (1n << 64n) - 1n,
    ];
    for (const id of ids) expect(sessionIdOf(sessionLo(id), sessionHi(id))).toBe(id);
  });

  it('format as 0x-hex and parse both hex and decimal', () => {
    expect(formatSessionId(0x5eed000100000003n)).toBe('0x5eed000100000003');
    expect(parseSessionId('0x5EED000100000003')).toBe(0x5eed000100000003n);
    expect(parseSessionId(' 18446744073709551615 ')).toBe((1n << 64n) - 1n);
  });

  it('reject text that is not a 64-bit id with a coded error', () => {
    for (const bad of [
      '',
      'abc',
      '0x',
      '-1',
      '0x1_0',
      '18446744073709551616',
      '0x10000000000000000',
    ]) {
      expect(() => parseSessionId(bad)).toThrow(AnalysisError);
      try {
        parseSessionId(bad);
      } catch (e) {
        expect((e as AnalysisError).code).toBe('ANALYSIS_BAD_SESSION_ID');
      }
    }
  });
});
