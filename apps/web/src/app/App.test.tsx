import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import {
  EventKind,
  RECORD_WORDS,
  encodeChunk,
  encodeEvent,
  encodeFileHeader,
} from '@iocpscope/protocol';
import { App } from './App.tsx';
import { ErrorBoundary } from './ErrorBoundary.tsx';
import { createAppStore } from '../state/store.ts';
import { syntheticTraceFile } from '../state/synthetic.test-util.ts';
import { FakeSocket, ManualTimers } from '../connection/fakeSocket.test-util.ts';
import { LIVE_GIVE_UP_ATTEMPTS } from '../connection/liveStartup.ts';
import { GapSource, encodeFrame } from '@iocpscope/protocol';

// happy-dom has no 2D canvas: the timeline is tested on its own (timeline/); here it is a box.
vi.mock('../timeline/index.ts', () => ({
  TimelineCanvas: () => <div data-testid="timeline" />,
}));

// happy-dom does no layout: give every element a viewport so virtual lists render rows.
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
    configurable: true,
    get: () => 480,
  });
});
afterEach(() => cleanup());

function testStore() {
  return createAppStore({
    schedule: (cb) => setTimeout(cb, 0),
    location: { protocol: 'http:', host: 'test:1', search: '' },
    fetch: (async () => new Response('{"recordings":[]}')) as typeof fetch,
  });
}

/** A trace of `n` sessions, each just created (one event per session). */
function manySessionsFile(n: number): Uint8Array {
  const w = new Uint32Array(n * RECORD_WORDS);
  const strings: Array<[number, string]> = [[1, '10.1.2.3:5000']];
  for (let i = 0; i < n; i++) {
    encodeEvent(w, i, {
      kind: EventKind.SessionCreated,
      tsNs: 1000 + i * 100,
      tid: 0,
      session: (1n << 32n) | BigInt(i + 1),
      peerStr: 1,
      socket: i,
      slot: i,
    });
  }
  const head = encodeFileHeader({
    clock: 'monotonic-ns',
    host: 't',
    backend: 'emulated',
    portConfig: { workers: 1, concurrency: 1 },
    startWallMs: 0,
  });
  const chunk = encodeChunk(w, strings);
  const out = new Uint8Array(head.length + chunk.length);
  out.set(head);
  out.set(chunk, head.length);
  return out;
}

describe('<App>', () => {
  it('shows the start screen with the ways to open something when nothing is loaded', () => {
    render(<App store={testStore()} testHook={false} connectOnLoad={false} />);
    expect(screen.getByTestId('start-screen')).toBeTruthy();
    expect(screen.getByTestId('start-connect-live')).toBeTruthy();
    expect(screen.getByTestId('start-open-file')).toBeTruthy();
  });

  it('shows the error code and the recovered event count for a corrupt file, and stays usable', async () => {
    const store = testStore();
    render(<App store={store} testHook={false} connectOnLoad={false} />);
    const good = syntheticTraceFile({ sessions: 4, workers: 2, rounds: 1 }, 64);
    await act(async () => {
      await store
        .getState()
        .actions.loadBytes(new TextEncoder().encode('definitely not a trace'), 'notes.txt');
    });
    const card = screen.getByTestId('load-error');
    expect(card.getAttribute('data-code')).toBe('BAD_MAGIC');
    expect(screen.getByTestId('load-error-recovered').textContent).toContain('No events');
    await act(async () => {
      await store.getState().actions.loadBytes(good, 'good.iocptrace');
    });
    expect(screen.queryByTestId('start-screen')).toBeNull();
    expect(screen.getByTestId('source-name').textContent).toBe('good.iocptrace');
    expect(screen.getByTestId('step-controls')).toBeTruthy();
  });

  it('renders only the visible rows of a 10,000-session list', async () => {
    const store = testStore();
    render(<App store={store} testHook={false} connectOnLoad={false} />);
    await act(async () => {
      await store.getState().actions.loadBytes(manySessionsFile(10_000), 'many.iocptrace');
    });
    expect(screen.getByTestId('sessions-count').textContent).toBe('10,000');
    const rows = screen.getAllByTestId('session-row');
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(60);
    // Scrolling to the end renders the last sessions instead.
    const list = screen.getByTestId('sessions-list');
    act(() => {
      list.scrollTop = 24 * 10_000;
      fireEvent.scroll(list);
    });
    const last = screen.getAllByTestId('session-row').at(-1)!;
    expect(last.getAttribute('data-session')).toBe('0x100002710');
  });

  it('sorts the sessions list by a column header click, and reverses on a second click', async () => {
    const store = testStore();
    render(<App store={store} testHook={false} connectOnLoad={false} />);
    await act(async () => {
      await store.getState().actions.loadBytes(manySessionsFile(5), 'five.iocptrace');
    });
    const ids = () =>
      screen.getAllByTestId('session-row').map((r) => r.getAttribute('data-session'));
    // A recording lists its sessions in order of appearance.
    expect(ids()).toEqual([1, 2, 3, 4, 5].map((k) => `0x10000000${k}`));
    const head = screen.getByTestId('sessions-sort-session');
    expect(head.getAttribute('aria-sort')).toBe('ascending');
    act(() => fireEvent.click(head));
    expect(ids()).toEqual([5, 4, 3, 2, 1].map((k) => `0x10000000${k}`));
    expect(head.getAttribute('aria-sort')).toBe('descending');
    act(() => fireEvent.click(screen.getByTestId('sessions-sort-peer')));
    expect(head.getAttribute('aria-sort')).toBeNull();
    expect(screen.getByTestId('sessions-sort-peer').getAttribute('aria-sort')).toBe('ascending');
  });

  it('selects a session from the list and shows its lifecycle in the inspector', async () => {
    const store = testStore();
    render(<App store={store} testHook={false} connectOnLoad={false} />);
    await act(async () => {
      await store
        .getState()
        .actions.loadBytes(syntheticTraceFile({ sessions: 3, workers: 2, rounds: 2 }, 64), 'r');
    });
    act(() => {
      fireEvent.click(screen.getAllByTestId('session-row')[0]!);
    });
    expect(store.getState().selectedSession).toBe((1n << 32n) | 1n);
    const ledger = screen.getAllByTestId('ledger-row');
    expect(ledger.length).toBeGreaterThan(5);
    act(() => {
      fireEvent.click(ledger[3]!);
    });
    expect(store.getState().cursor).toBe(
      store.getState().trace!.sessionEvents((1n << 32n) | 1n)[3],
    );
  });

  it('opens the shortcut help with ? and steps with the arrow keys', async () => {
    const store = testStore();
    render(<App store={store} testHook={false} connectOnLoad={false} />);
    await act(async () => {
      await store
        .getState()
        .actions.loadBytes(syntheticTraceFile({ sessions: 2, workers: 2, rounds: 1 }, 64), 'r');
    });
    act(() => {
      fireEvent.keyDown(window, { key: 'ArrowRight' });
      fireEvent.keyDown(window, { key: 'ArrowRight' });
    });
    expect(store.getState().cursor).toBe(2);
    act(() => {
      fireEvent.keyDown(window, { key: '?' });
    });
    expect(screen.getByTestId('help-overlay').textContent).toContain('Next event on this thread');
    act(() => {
      fireEvent.keyDown(window, { key: 'Escape' });
    });
    expect(screen.queryByTestId('help-overlay')).toBeNull();
  });
});

describe('<ErrorBoundary>', () => {
  it('replaces a crashed area with a message instead of a blank page', () => {
    const Boom = () => {
      throw new Error('kaboom');
    };
    const err = console.error;
    console.error = () => undefined;
    try {
      render(
        <ErrorBoundary area="the test area">
          <Boom />
        </ErrorBoundary>,
      );
    } finally {
      console.error = err;
    }
    expect(screen.getByTestId('error-boundary').textContent).toContain('kaboom');
  });
});

describe('<App> live', () => {
  it('shows the connection state and counts gap markers in the top bar', async () => {
    const sockets: FakeSocket[] = [];
    const store = createAppStore({
      schedule: (cb) => setTimeout(cb, 0),
      location: { protocol: 'http:', host: 'test:1', search: '' },
      fetch: (async () => new Response('{"recordings":[]}')) as typeof fetch,
      createSocket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
    });
    render(<App store={store} testHook={false} connectOnLoad={false} />);
    act(() => {
      fireEvent.click(screen.getByTestId('start-connect-live'));
    });
    expect(screen.getByTestId('connection-state').getAttribute('data-state')).toBe('connecting');
    act(() => sockets[0]!.serverOpen());
    expect(screen.getByTestId('connection-state').getAttribute('data-state')).toBe('open');
    expect(screen.getByTestId('live-empty').textContent).toContain('Waiting for events');
    const w = new Uint32Array(RECORD_WORDS * 2);
    encodeEvent(w, 0, { kind: EventKind.Marker, tsNs: 5, tid: 0, labelStr: 0, session: 0n });
    encodeEvent(w, 1, {
      kind: EventKind.Gap,
      tsNs: 6,
      tid: 0xffff,
      source: GapSource.ClientQueue,
      lost: 777,
    });
    await act(async () => {
      sockets[0]!.serverBinary(encodeFrame({ seq: 0, records: w }));
      await new Promise((r) => setTimeout(r, 5));
    });
    const gap = screen.getByTestId('gap-counter');
    expect(gap.getAttribute('data-gaps')).toBe('1');
    expect(gap.textContent).toContain('777 lost');
    expect(screen.getByTestId('pause-live')).toBeTruthy();
    act(() => sockets[0]!.serverDrop(1006, 'gone'));
    expect(screen.getByTestId('connection-state').getAttribute('data-state')).toBe('waiting');
    act(() => store.getState().actions.closeSource());
  });
});

/** A store whose live sockets are fakes the test drives, on manual timers. */
function liveStore() {
  const sockets: FakeSocket[] = [];
  const timers = new ManualTimers();
  const store = createAppStore({
    schedule: (cb) => setTimeout(cb, 0),
    timers,
    location: { protocol: 'http:', host: 'test:1', search: '' },
    fetch: (async () => new Response('{"recordings":[]}')) as typeof fetch,
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
  });
  return { store, sockets, timers };
}

/** One frame holding a thread start at `tsNs`. */
function oneEventFrame(seq: number, tsNs: number): Uint8Array {
  const w = new Uint32Array(RECORD_WORDS);
  encodeEvent(w, 0, { kind: EventKind.Marker, tsNs, tid: 0, labelStr: 0, session: 0n });
  return encodeFrame({ seq, records: w });
}

describe('<App> on load', () => {
  it('connects to the /ws of the server it came from without a click, and shows the live layout', async () => {
    const { store, sockets } = liveStore();
    render(<App store={store} testHook={false} connectOnLoad />);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.url).toBe('ws://test:1/ws');
    expect(screen.queryByTestId('start-screen')).toBeNull();
    expect(screen.getByTestId('live-empty').textContent).toContain('Connecting');
    act(() => sockets[0]!.serverOpen());
    await act(async () => {
      sockets[0]!.serverBinary(oneEventFrame(0, 10));
      await new Promise((r) => setTimeout(r, 5));
    });
    expect(screen.getByTestId('connection-state').getAttribute('data-state')).toBe('open');
    expect(screen.getByTestId('pause-live')).toBeTruthy();
    expect(store.getState().trace!.count).toBeGreaterThan(0);
    act(() => store.getState().actions.closeSource());
  });

  it('connects by default, and stays on the start screen when the page URL says ?live=0', () => {
    const before = window.location.href;
    try {
      window.history.replaceState(null, '', '/?live=0');
      const a = liveStore();
      render(<App store={a.store} testHook={false} />);
      expect(a.sockets).toHaveLength(0);
      expect(screen.getByTestId('start-screen')).toBeTruthy();
      cleanup();
      window.history.replaceState(null, '', '/');
      const b = liveStore();
      render(<App store={b.store} testHook={false} />);
      expect(b.sockets).toHaveLength(1);
      act(() => b.store.getState().actions.closeSource());
    } finally {
      window.history.replaceState(null, '', before);
    }
  });

  it('falls back to the start screen with a retry note when no server answers, then gives up', () => {
    const { store, sockets, timers } = liveStore();
    render(<App store={store} testHook={false} connectOnLoad />);
    act(() => sockets[0]!.serverDrop(1006, ''));
    expect(screen.getByTestId('start-screen')).toBeTruthy();
    const note = screen.getByTestId('live-note');
    expect(note.getAttribute('data-phase')).toBe('trying');
    expect(note.textContent).toContain('test:1/ws');
    expect(note.textContent).toContain(`attempt 2 of ${LIVE_GIVE_UP_ATTEMPTS}`);
    expect(screen.getByTestId('connection-state').textContent).toContain('Not reachable');
    // No event count, gap counter or server controls for a server never reached.
    expect(screen.queryByTestId('gap-counter')).toBeNull();
    expect(screen.queryByTestId('load-menu')).toBeNull();

    // "Retry now" tries at once instead of waiting out the delay.
    act(() => fireEvent.click(screen.getByTestId('live-retry')));
    expect(sockets).toHaveLength(2);
    act(() => sockets[1]!.serverDrop());

    // Then the backoff spaces the attempts: nothing new before the delay runs out.
    const waiting = store.getState().connection.status;
    expect(waiting.state).toBe('waiting');
    const delay = waiting.state === 'waiting' ? waiting.retryAt - timers.now() : 0;
    expect(delay).toBeGreaterThanOrEqual(500);
    act(() => timers.advance(delay - 1));
    expect(sockets).toHaveLength(2);
    for (let k = 0; k < 20 && store.getState().source.kind === 'live'; k++) {
      act(() => timers.advance(20_000));
      const s = sockets.at(-1)!;
      if (s.readyState === 0) act(() => s.serverDrop());
    }
    expect(sockets).toHaveLength(LIVE_GIVE_UP_ATTEMPTS);
    expect(store.getState().source.kind).toBe('none');
    const gaveUp = screen.getByTestId('live-note');
    expect(gaveUp.getAttribute('data-phase')).toBe('gave-up');
    expect(gaveUp.textContent).toContain(`No answer after ${LIVE_GIVE_UP_ATTEMPTS} attempts`);
    // Nothing keeps trying in the background.
    act(() => timers.advance(60_000));
    expect(sockets).toHaveLength(LIVE_GIVE_UP_ATTEMPTS);

    act(() => fireEvent.click(screen.getByTestId('live-connect-again')));
    expect(sockets).toHaveLength(LIVE_GIVE_UP_ATTEMPTS + 1);
    act(() => sockets.at(-1)!.serverOpen());
    expect(screen.queryByTestId('start-screen')).toBeNull();
    expect(screen.queryByTestId('live-note')).toBeNull();
    act(() => store.getState().actions.closeSource());
  });

  it('"Stop" on the retry note stops trying and leaves the start screen as it was', () => {
    const { store, sockets, timers } = liveStore();
    render(<App store={store} testHook={false} connectOnLoad />);
    act(() => sockets[0]!.serverDrop());
    act(() => fireEvent.click(screen.getByTestId('live-stop')));
    expect(store.getState().source.kind).toBe('none');
    expect(screen.queryByTestId('live-note')).toBeNull();
    act(() => timers.advance(60_000));
    expect(sockets).toHaveLength(1);
  });

  it('keeps the live layout and its events when a joined server drops, and reconnects', async () => {
    const { store, sockets, timers } = liveStore();
    render(<App store={store} testHook={false} connectOnLoad />);
    act(() => sockets[0]!.serverOpen());
    await act(async () => {
      sockets[0]!.serverBinary(oneEventFrame(0, 10));
      await new Promise((r) => setTimeout(r, 5));
    });
    for (let k = 0; k < LIVE_GIVE_UP_ATTEMPTS + 2; k++) {
      act(() => sockets.at(-1)!.serverDrop());
      act(() => timers.advance(20_000));
    }
    expect(screen.queryByTestId('start-screen')).toBeNull();
    expect(store.getState().source.kind).toBe('live');
    expect(store.getState().trace!.count).toBeGreaterThan(0);
    expect(screen.getByTestId('connection-state').textContent).toContain('Connecting');
    act(() => store.getState().actions.closeSource());
  });

  it('opening a file while live leaves the stream and says so', async () => {
    const { store, sockets } = liveStore();
    render(<App store={store} testHook={false} connectOnLoad />);
    act(() => sockets[0]!.serverOpen());
    const file = new File(
      [new Uint8Array(syntheticTraceFile({ sessions: 2, workers: 2, rounds: 1 }, 64))],
      'r.iocptrace',
    );
    await act(async () => {
      fireEvent.change(screen.getByTestId('file-input'), { target: { files: [file] } });
      for (let k = 0; k < 50 && store.getState().source.kind !== 'file'; k++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 5));
    });
    expect(store.getState().source.kind).toBe('file');
    expect(sockets[0]!.closedWith).not.toBeNull();
    const toast = screen.getAllByTestId('toast').find((t) => t.textContent?.includes('Left'));
    expect(toast?.textContent).toContain('Left the live stream');
    expect(toast?.textContent).toContain('test:1/ws');
    expect(screen.getByTestId('connect-live')).toBeTruthy();
  });
});
