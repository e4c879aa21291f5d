import { describe, expect, it } from 'vitest';
import { LoadOptionError } from './errors.ts';
import type { LoadErrorCode } from './errors.ts';
import { parseDuration, parseLoadArgs, parseTarget, validateLoadOptions } from './options.ts';
import type { LoadArgs, LoadOptions } from './options.ts';

function codeOf(fn: () => unknown): { code: LoadErrorCode; option: string } | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof LoadOptionError) return { code: e.code, option: e.option };
    throw e;
  }
}

describe('parseTarget', () => {
  it('accepts host:port, names and bracketed IPv6', () => {
    expect(parseTarget('127.0.0.1:7701')).toEqual({ host: '127.0.0.1', port: 7701 });
    expect(parseTarget('localhost:1')).toEqual({ host: 'localhost', port: 1 });
    expect(parseTarget('[::1]:65535')).toEqual({ host: '::1', port: 65535 });
  });

  it('rejects anything that is not host:port with BAD_TARGET', () => {
    for (const bad of [
      '',
      '7701',
      '127.0.0.1',
      '127.0.0.1:',
      ':7701',
      '127.0.0.1:0',
      'h:65536',
      'h:77a',
      '::1:7701',
      'a b:1',
      'h:1:2',
      'h:-1',
    ]) {
      expect(
        codeOf(() => parseTarget(bad)),
        bad,
      ).toEqual({ code: 'BAD_TARGET', option: 'target' });
    }
  });
});

describe('validateLoadOptions', () => {
  const base: LoadOptions = { target: '127.0.0.1:7701' };

  it('fills documented defaults: one connection, 64 bytes, one in flight, 10 s', () => {
    const o = validateLoadOptions(base);
    expect(o).toMatchObject({
      host: '127.0.0.1',
      port: 7701,
      connections: 1,
      messageSize: 64,
      inFlight: 1,
      mode: 'duration',
      durationMs: 10_000,
      messages: 0,
      rampMs: 0,
      resetsPerSec: 0,
      seed: 1,
      type: 1,
    });
  });

  it('switches to message mode when a message count is given', () => {
    const o = validateLoadOptions({ ...base, messages: 50 });
    expect([o.mode, o.messages, o.durationMs]).toEqual(['messages', 50, 0]);
  });

  it('spreads a total message count, or runs until stopped, when told so', () => {
    const total = validateLoadOptions({ ...base, connections: 4, totalMessages: 10 });
    expect([total.mode, total.messages, total.totalMessages]).toEqual(['messages', 0, 10]);
    const perConn = validateLoadOptions({ ...base, connections: 4, messages: 10 });
    expect([perConn.mode, perConn.messages, perConn.totalMessages]).toEqual(['messages', 10, 40]);
    const open = validateLoadOptions({ ...base, untilStopped: true });
    expect([open.mode, open.durationMs, open.totalMessages]).toEqual(['until-stopped', 0, 0]);
  });

  it('accepts the edges of every range', () => {
    for (const extra of [
      { messageSize: 0 },
      { messageSize: 8192 },
      { connections: 100_000 },
      { inFlight: 1024, messageSize: 1020 },
      { seed: 0xffffffff },
      { type: 0xffff },
      { resetsPerSec: 0.5 },
    ]) {
      expect(() => validateLoadOptions({ ...base, ...extra })).not.toThrow();
    }
  });

  it('rejects out-of-range and non-integer values with stable codes naming the option', () => {
    const cases: [Partial<LoadOptions>, LoadErrorCode, string][] = [
      [{ messageSize: 8193 }, 'OUT_OF_RANGE', 'messageSize'],
      [{ messageSize: -1 }, 'OUT_OF_RANGE', 'messageSize'],
      [{ messageSize: 1.5 }, 'BAD_NUMBER', 'messageSize'],
      [{ connections: 0 }, 'OUT_OF_RANGE', 'connections'],
      [{ connections: NaN }, 'BAD_NUMBER', 'connections'],
      [{ inFlight: 0 }, 'OUT_OF_RANGE', 'inFlight'],
      [{ inFlight: 1025 }, 'OUT_OF_RANGE', 'inFlight'],
      [{ inFlight: 1024, messageSize: 8192 }, 'CONFLICTING_OPTIONS', 'inFlight'],
      [{ durationMs: 0 }, 'OUT_OF_RANGE', 'durationMs'],
      [{ messages: 0 }, 'OUT_OF_RANGE', 'messages'],
      [{ durationMs: 1000, messages: 10 }, 'CONFLICTING_OPTIONS', 'messages'],
      [{ messages: 10, totalMessages: 10 }, 'CONFLICTING_OPTIONS', 'totalMessages'],
      [{ durationMs: 1000, untilStopped: true }, 'CONFLICTING_OPTIONS', 'untilStopped'],
      [{ totalMessages: 0 }, 'OUT_OF_RANGE', 'totalMessages'],
      [{ durationMs: 1000, warmupMs: 1000 }, 'CONFLICTING_OPTIONS', 'warmupMs'],
      [{ resetsPerSec: -1 }, 'OUT_OF_RANGE', 'resetsPerSec'],
      [{ resetsPerSec: Infinity }, 'BAD_NUMBER', 'resetsPerSec'],
      [{ seed: 2 ** 32 }, 'OUT_OF_RANGE', 'seed'],
      [{ type: 65536 }, 'OUT_OF_RANGE', 'type'],
      [{ target: { host: '', port: 1 } }, 'BAD_TARGET', 'target'],
      [{ target: { host: 'h', port: 0 } }, 'BAD_TARGET', 'target'],
    ];
    for (const [extra, code, option] of cases) {
      expect(
        codeOf(() => validateLoadOptions({ ...base, ...extra })),
        JSON.stringify(extra),
      ).toEqual({ code, option });
    }
  });
});

describe('parseLoadArgs', () => {
  it('turns CLI strings into options, durations in ms', () => {
    const args: LoadArgs = {
      target: '127.0.0.1:7701',
      connections: '100',
      size: '0',
      inFlight: '16',
      duration: '2.5s',
      ramp: '500ms',
      resets: '2.5',
      seed: '7',
      type: '3',
      warmup: '1',
    };
    expect(parseLoadArgs(args)).toEqual({
      target: { host: '127.0.0.1', port: 7701 },
      connections: 100,
      messageSize: 0,
      inFlight: 16,
      durationMs: 2500,
      rampMs: 500,
      resetsPerSec: 2.5,
      seed: 7,
      type: 3,
      warmupMs: 1000,
    });
  });

  it('reads durations as <number>[ms|s|m|h], a bare number being seconds', () => {
    expect(parseDuration('d', '250ms')).toBe(250);
    expect(parseDuration('d', '3')).toBe(3000);
    expect(parseDuration('d', '1.5m')).toBe(90_000);
    expect(parseDuration('d', '1h')).toBe(3_600_000);
    for (const bad of ['', 's', '10 sec', '-1s', '1e3', '0x10']) {
      expect(
        codeOf(() => parseDuration('d', bad)),
        bad,
      ).toEqual({ code: 'BAD_DURATION', option: 'd' });
    }
  });

  it('rejects numbers that are not plain decimals with BAD_NUMBER, and a missing target', () => {
    expect(codeOf(() => parseLoadArgs({ target: 'h:1', connections: '1e3' }))).toEqual({
      code: 'BAD_NUMBER',
      option: 'connections',
    });
    expect(codeOf(() => parseLoadArgs({ target: 'h:1', size: '' }))).toEqual({
      code: 'BAD_NUMBER',
      option: 'messageSize',
    });
    expect(codeOf(() => parseLoadArgs({ target: 'h:1', inFlight: '0x10' }))).toEqual({
      code: 'BAD_NUMBER',
      option: 'inFlight',
    });
    expect(codeOf(() => parseLoadArgs({ target: 'h:1', messages: '-5' }))).toEqual({
      code: 'BAD_NUMBER',
      option: 'messages',
    });
    expect(codeOf(() => parseLoadArgs({}))).toEqual({ code: 'BAD_TARGET', option: 'target' });
  });
});
