import { describe, expect, it } from 'vitest';
import { formatCallSite, formatWinError } from './format.ts';
import { winErrorCode } from '../trace/winErrors.ts';

describe('panel formats', () => {
  it('names the Win32 errors of the model', () => {
    expect(formatWinError(995)).toBe('995 ERROR_OPERATION_ABORTED');
    expect(formatWinError(64)).toBe('64 ERROR_NETNAME_DELETED');
    expect(formatWinError(12345)).toBe('12345');
  });

  it('finds a code by its name, with or without the prefix', () => {
    expect(winErrorCode('ERROR_NETNAME_DELETED')).toBe(64);
    expect(winErrorCode('netname_deleted')).toBe(64);
    expect(winErrorCode('WSAECONNRESET')).toBe(10054);
    expect(winErrorCode('econnreset')).toBe(10054);
    expect(winErrorCode('nope')).toBeUndefined();
  });

  it('writes a call site as function (file:line)', () => {
    expect(formatCallSite({ file: 'C:\\src\\server.cpp', line: 212, func: 'OnRecv' })).toBe(
      'OnRecv (server.cpp:212)',
    );
    expect(formatCallSite({ file: '', line: 7, func: '' })).toBe('line 7');
  });

  it('writes a site without a source line (the hook DLL: module+offset) without ":0"', () => {
    expect(formatCallSite({ file: 'echo_server.exe+0x1a2b', line: 0, func: 'WSARecv' })).toBe(
      'WSARecv (echo_server.exe+0x1a2b)',
    );
  });
});
