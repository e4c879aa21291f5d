// The accept loop hands the session core each accepted socket with its peer:
// "ip:port", or '' (recorded as no peer string, shown as "unknown (reset
// before accept)") for a client that reset before the accept finished. Never
// ":0".

import { describe, expect, it } from 'vitest';
import { WSAEINTR } from '../port/types.ts';
import type { CompletionPort } from '../port/types.ts';
import { runAcceptLoop } from './worker-loop.ts';

function fakePort(results: Array<{ socket: number; peerAddress: string; peerPort: number }>) {
  const port = {
    lastError: 0,
    accept() {
      const r = results.shift();
      if (r === undefined) {
        port.lastError = WSAEINTR;
        return null;
      }
      return r;
    },
  };
  return port as unknown as CompletionPort;
}

describe('the accept loop', () => {
  it('gives each session its peer, or none when the client reset before the accept finished', () => {
    const got: Array<[number, string]> = [];
    const code = runAcceptLoop(
      fakePort([
        { socket: 5, peerAddress: '127.0.0.1', peerPort: 50123 },
        { socket: 6, peerAddress: '', peerPort: 0 },
        { socket: 7, peerAddress: '0.0.0.0', peerPort: 0 },
      ]),
      1,
      { accepted: (socket, peer) => got.push([socket, peer]) },
    );
    expect(code).toBe(WSAEINTR);
    expect(got).toEqual([
      [5, '127.0.0.1:50123'],
      [6, ''],
      [7, ''],
    ]);
  });
});
