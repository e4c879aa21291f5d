import { describe, expect, it } from 'vitest';
import { selectUnknownPeer } from './selectors.ts';
import type { AppState } from './store.ts';

const state = (o: Partial<AppState>): AppState =>
  ({
    header: null,
    source: { kind: 'none' },
    server: { hello: null, status: null },
    ...o,
  }) as AppState;

describe('the unknown-peer label', () => {
  it('says why for the reference server, and only "unknown" for a foreign one', () => {
    const h = {
      clock: 'monotonic-ns',
      host: 'h',
      portConfig: { workers: 1, concurrency: 0 },
      startWallMs: 0,
    };
    expect(selectUnknownPeer(state({ header: { ...h, backend: 'emulated' } as never }))).toBe(
      'unknown (reset before accept)',
    );
    expect(selectUnknownPeer(state({ header: { ...h, backend: 'external' } as never }))).toBe(
      'unknown',
    );
    expect(
      selectUnknownPeer(
        state({
          source: { kind: 'live', url: 'ws://x' },
          server: { hello: { source: { kind: 'ingest' } }, status: null } as never,
        }),
      ),
    ).toBe('unknown');
  });
});
