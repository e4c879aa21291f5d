import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { TraceFileHeader } from '@iocpscope/protocol';
import { AppStoreProvider } from '../state/hooks.tsx';
import { createAppStore } from '../state/store.ts';
import { RemoteSessionsPanel } from './RemoteSessionsPanel.tsx';
import { SessionsPanel } from './SessionsPanel.tsx';

afterEach(() => cleanup());

const header = (ioCount?: 'derived' | 'application'): TraceFileHeader => ({
  clock: 'monotonic-ns',
  host: 'test',
  backend: 'external',
  portConfig: { workers: 2, concurrency: 0 },
  startWallMs: 1_700_000_000_000,
  ...(ioCount ? { ioCount } : {}),
});

// A hook DLL trace's IOCount is derived. A live view that pages through the
// server's spool shows the server's sessions list instead of the local one:
// it said nothing about it (an e2e run of hook-live.spec found the label gone).
describe.each([
  ['the local sessions list', SessionsPanel],
  ["the server's sessions list", RemoteSessionsPanel],
])('%s', (_name, Panel) => {
  it.each([
    ['derived', true],
    ['application', false],
    [undefined, false],
  ] as const)('IOCount source %s: label shown %s', (ioCount, shown) => {
    const store = createAppStore({
      runTask: (cb) => setTimeout(cb, 0),
      location: { protocol: 'http:', host: 'test:1', search: '' },
      storage: null,
    });
    store.setState({ header: header(ioCount) });
    render(
      <AppStoreProvider store={store}>
        <Panel />
      </AppStoreProvider>,
    );
    const note = screen.queryByTestId('iocount-derived');
    if (shown) expect(note?.textContent).toBe('IOCount: derived (outstanding I/O)');
    else expect(note).toBeNull();
    store.getState().actions.dispose();
  });
});
