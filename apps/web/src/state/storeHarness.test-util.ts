// A store under test: manual timers, frames and background tasks run on
// demand, fake sockets, and a fetch that serves the files it is given. Shared
// by the store's and the slices' tests. Not product code.

import { RECORD_WORDS, encodeFrame } from '@iocpscope/protocol';
import { FakeSocket, ManualTimers } from '../connection/fakeSocket.test-util.ts';
import { createAppStore, type AppStoreOptions } from './store.ts';
import { syntheticEchoTrace, syntheticTraceFile } from './synthetic.test-util.ts';

export const FILE = syntheticTraceFile({ sessions: 12, workers: 3, rounds: 2, seed: 5 }, 256);

export interface HarnessOptions {
  /** Recordings the fake server holds, by id (GET /api/recordings/:id). */
  recordings?: Record<string, Uint8Array>;
  storage?: AppStoreOptions['storage'];
  clipboard?: AppStoreOptions['clipboard'];
  /** The page's query (e.g. `?overview=off`). */
  search?: string;
}

export function harness(o: HarnessOptions = {}) {
  const timers = new ManualTimers();
  const frames: Array<() => void> = [];
  const tasks: Array<() => void> = [];
  const sockets: FakeSocket[] = [];
  const fetchFn = (async (input: RequestInfo | URL) => {
    const url = String(input);
    const m = /\/api\/recordings\/([^/?]+)/.exec(url);
    if (m) {
      const bytes = o.recordings?.[decodeURIComponent(m[1]!)];
      if (!bytes) return new Response('not found', { status: 404, statusText: 'Not Found' });
      return new Response(bytes.slice(), { status: 200 });
    }
    return new Response('{"recordings":[]}', { status: 200 });
  }) as typeof fetch;
  const store = createAppStore({
    timers,
    schedule: (cb) => frames.push(cb),
    runTask: (cb) => tasks.push(cb),
    location: { protocol: 'http:', host: 'test:1', search: o.search ?? '' },
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    fetch: fetchFn,
    ...(o.storage !== undefined ? { storage: o.storage } : {}),
    ...(o.clipboard !== undefined ? { clipboard: o.clipboard } : {}),
  });
  const flush = (): void => {
    while (frames.length > 0) frames.shift()!();
  };
  const runTasks = (): void => {
    while (tasks.length > 0) tasks.shift()!();
  };
  return {
    store,
    timers,
    frames,
    flush,
    tasks,
    runTasks,
    sockets,
    a: () => store.getState().actions,
  };
}

export type Harness = ReturnType<typeof harness>;

export function openLive(h: Harness): FakeSocket {
  h.a().connectLive();
  const s = h.sockets.at(-1)!;
  s.serverOpen();
  return s;
}

export function liveFrames(): Uint8Array[] {
  const t = syntheticEchoTrace({ sessions: 6, workers: 2, rounds: 1, seed: 3 });
  const out: Uint8Array[] = [];
  const per = Math.ceil(t.count / 5);
  for (let k = 0; k < 5; k++) {
    out.push(
      encodeFrame({
        seq: k,
        records: t.records.subarray(
          k * per * RECORD_WORDS,
          Math.min(t.count, (k + 1) * per) * RECORD_WORDS,
        ),
        strings: k === 0 ? t.strings : [],
      }),
    );
  }
  return out;
}
