import { describe, expect, it } from 'vitest';
import { resolveServerOptions } from './config.ts';

describe('resolveServerOptions', () => {
  it('fills the documented defaults', () => {
    expect(resolveServerOptions()).toMatchObject({
      host: '127.0.0.1',
      echoPort: 7701,
      workers: 2,
      concurrency: 0,
      maxSessions: 4096,
      recvBufferBytes: 16384,
      sendBufferBytes: 32768,
      gqcsBatch: 16,
      trace: true,
      joinWorkMs: 1,
      faults: [],
      backend: 'emulated',
    });
  });

  it('rejects each bad option with ERR_SERVER_OPTIONS and the option name', () => {
    const bad: Array<[Parameters<typeof resolveServerOptions>[0], RegExp]> = [
      [{ workers: 0 }, /workers/],
      [{ workers: 1.5 }, /workers/],
      [{ echoPort: 65536 }, /echoPort/],
      [{ maxSessions: 70000 }, /maxSessions/],
      [{ recvBufferBytes: 20000 }, /recvBufferBytes/],
      [{ sendBufferBytes: 1024 }, /sendBufferBytes/],
      [{ gqcsBatch: 0 }, /gqcsBatch/],
      [{ host: '' }, /host/],
      [{ joinWorkMs: -1 }, /joinWorkMs/],
      [{ joinWorkMs: Number.NaN }, /joinWorkMs/],
      [{ faults: ['nope' as never] }, /unknown fault/],
      [{ backend: 'wine' as never }, /backend/],
    ];
    for (const [o, msg] of bad) {
      expect(() => resolveServerOptions(o)).toThrow(
        expect.objectContaining({
          code: 'ERR_SERVER_OPTIONS',
          message: expect.stringMatching(msg),
        }),
      );
    }
  });
});
