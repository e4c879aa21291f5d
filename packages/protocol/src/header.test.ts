import { describe, expect, it } from 'vitest';
import { checkFileHeader } from './header.ts';

const base = {
  clock: 'monotonic-ns',
  host: 'h',
  backend: 'external',
  portConfig: { workers: 4, concurrency: 0 },
  startWallMs: 1_700_000_000_000,
};

describe('the file header check', () => {
  it('keeps the known keys and drops unknown ones, nested ones included', () => {
    const r = checkFileHeader({
      ...base,
      later: 1,
      portConfig: { ...base.portConfig, extra: true },
      process: { pid: 7, name: 'a.exe', cmdline: 'x' },
      ticksPerSecond: 2.5e9,
      ioCount: 'derived',
    });
    expect(r).toEqual({
      ok: true,
      value: {
        ...base,
        process: { pid: 7, name: 'a.exe' },
        ticksPerSecond: 2.5e9,
        ioCount: 'derived',
      },
    });
  });

  it('names the first bad key', () => {
    const bad = (patch: object): string => {
      const r = checkFileHeader({ ...base, ...patch });
      return r.ok ? 'ok' : r.message;
    };
    expect(bad({ clock: 'wall' })).toMatch(/^clock/);
    expect(bad({ backend: 'gpu' })).toMatch(/^backend/);
    expect(bad({ portConfig: { workers: -1, concurrency: 0 } })).toMatch(/^portConfig\.workers/);
    expect(bad({ startWallMs: 1.5 })).toMatch(/^startWallMs/);
    expect(bad({ startWallMs: 2 ** 53 })).toMatch(/^startWallMs/);
    expect(bad({ process: { pid: 1 } })).toMatch(/^process\.name/);
    expect(bad({ ticksPerSecond: 0 })).toMatch(/^ticksPerSecond/);
    expect(bad({ ioCount: 'guessed' })).toMatch(/^ioCount/);
    expect(checkFileHeader([1]).ok).toBe(false);
    expect(checkFileHeader(null).ok).toBe(false);
  });

  it('counts string limits in code points, not UTF-16 units', () => {
    expect(checkFileHeader({ ...base, host: '😀'.repeat(256) }).ok).toBe(true);
    expect(checkFileHeader({ ...base, host: '😀'.repeat(257) }).ok).toBe(false);
    expect(checkFileHeader({ ...base, host: 'x'.repeat(257) }).ok).toBe(false);
  });
});
