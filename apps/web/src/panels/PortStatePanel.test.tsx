import { cleanup, render, screen } from '@testing-library/react';
import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { EventKind, NO_THREAD, RECORD_WORDS } from '@iocpscope/protocol';
import { AppStoreProvider } from '../state/hooks.tsx';
import { createAppStore } from '../state/store.ts';
import {
  syntheticEchoTrace,
  syntheticTraceFile,
  traceFileOf,
} from '../state/synthetic.test-util.ts';
import { PortStatePanel } from './PortStatePanel.tsx';

afterEach(() => cleanup());

describe('<PortStatePanel> after a gap (issue 19 §8)', () => {
  it('shows the queue and the threads the lost events may have changed as unknown, not as a guess', async () => {
    const store = createAppStore({
      runTask: (cb) => setTimeout(cb, 0),
      location: { protocol: 'http:', host: 'test:1', search: '' },
      storage: null,
    });
    const file = syntheticTraceFile({
      sessions: 20,
      workers: 3,
      rounds: 3,
      seed: 4,
      gapAfter: 300,
    });
    await store.getState().actions.loadBytes(file, 'gap.iocptrace');
    const t = store.getState().trace!;
    let gap = -1;
    for (let i = 0; i < t.count && gap < 0; i++) if (t.kindAt(i) === EventKind.Gap) gap = i;
    expect(gap).toBeGreaterThan(0);
    render(
      <AppStoreProvider store={store}>
        <PortStatePanel />
      </AppStoreProvider>,
    );
    // Just before the gap: the queue is known.
    act(() => store.getState().actions.setCursor(gap - 1));
    expect(screen.getByTestId('port-queued').getAttribute('data-known')).toBe('true');
    // Right after it: unknown, and said so.
    act(() => store.getState().actions.setCursor(gap));
    const queued = screen.getByTestId('port-queued');
    expect(queued.getAttribute('data-known')).toBe('false');
    expect(queued.textContent).toContain('?');
    expect(queued.textContent).toContain('unknown after a gap');
    expect(screen.getByTestId('port-queue-unknown').textContent).toMatch(
      /^Unknown: events were lost/,
    );
    expect(screen.getByTestId('port-threads').textContent).toContain('unknown (after a gap)');
    store.getState().actions.dispose();
  });
});

describe('<PortStatePanel> in a view that joined mid-run', () => {
  it('says the queue is unknown because the snapshot could not say, not because of a gap that never happened', async () => {
    const store = createAppStore({
      runTask: (cb) => setTimeout(cb, 0),
      location: { protocol: 'http:', host: 'test:1', search: '' },
      storage: null,
    });
    // A partial Snapshot bracket (what a hooked process's first view starts with), then a run.
    const t = syntheticEchoTrace({ sessions: 4, workers: 2, rounds: 2, seed: 1 });
    const words = new Uint32Array((t.count + 2) * RECORD_WORDS);
    words.set([EventKind.Snapshot | (NO_THREAD << 16), 0, 0, 0, 0, 0, 1, 0], 0);
    words.set([EventKind.Snapshot | (1 << 8) | (NO_THREAD << 16), 0, 0, 0, 0, 0, 0, 0], 8);
    words.set(t.records, 2 * RECORD_WORDS);
    const file = traceFileOf(words, t.strings, { workers: 2, concurrency: 1 });
    await store.getState().actions.loadBytes(file, 'joined.iocptrace');
    render(
      <AppStoreProvider store={store}>
        <PortStatePanel />
      </AppStoreProvider>,
    );
    act(() => store.getState().actions.setCursor(1));
    const queued = screen.getByTestId('port-queued');
    expect(queued.getAttribute('data-known')).toBe('false');
    expect(queued.textContent).toContain('unknown (joined mid-run)');
    expect(screen.getByTestId('port-queue-unknown').textContent).toMatch(
      /^Unknown: this view joined a running server/,
    );
    store.getState().actions.dispose();
  });
});
