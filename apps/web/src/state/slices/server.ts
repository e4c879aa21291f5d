// The server slice: what the server said last over the control channel
// (hello, status, recordings, load statistics, its last error), and the way
// to talk to it (sendControl, refreshRecordings).

import {
  RecordingInfoSchema,
  type ClientMessageInput,
  type RecordingInfo,
  type ServerMessage,
} from '@iocpscope/protocol';
import type { Slice, SliceContext } from './context.ts';

export interface ServerInfo {
  hello: Extract<ServerMessage, { type: 'hello' }> | null;
  status: Extract<ServerMessage, { type: 'status' }> | null;
  recordings: RecordingInfo[] | null;
  recordingsError: string | null;
  loadStats: Extract<ServerMessage, { type: 'load-progress' }>['stats'] | null;
  lastError: { code: string; message: string } | null;
}

export interface ServerState {
  server: ServerInfo;
}

export interface ServerActions {
  /** Send a control message; returns false when not connected. */
  sendControl(msg: ClientMessageInput): boolean;
  refreshRecordings(): Promise<void>;
}

export interface ServerInternal {
  /** A control message from the live connection. */
  onServerMessage(m: ServerMessage): void;
  /** Forget replies awaited on a connection that is gone. */
  clearPendingReplies(): void;
}

const initialServer = (): ServerInfo => ({
  hello: null,
  status: null,
  recordings: null,
  recordingsError: null,
  loadStats: null,
  lastError: null,
});

export function createServerSlice(
  ctx: SliceContext,
): Slice<ServerState, ServerActions, ServerInternal> {
  const { set, get, env, internal } = ctx;
  const pendingReplies = new Map<number, (m: ServerMessage) => void>();

  const onServerMessage = (m: ServerMessage): void => {
    const id = 'id' in m ? m.id : undefined;
    if (id !== undefined) {
      const waiter = pendingReplies.get(id);
      if (waiter) {
        pendingReplies.delete(id);
        waiter(m);
      }
    }
    const srv = get().server;
    switch (m.type) {
      case 'hello': {
        // `serve --ingest` shows one traced process at a time: a new trace id means
        // another process (its own strings, threads and clock), so start afresh.
        const before = srv.hello?.source?.traceId;
        const now = m.source?.traceId;
        set({ server: { ...srv, hello: m } });
        if (before !== undefined && now !== undefined && before !== now) {
          internal.restartLiveTrace();
        }
        return;
      }
      case 'status': {
        const was = srv.status?.recording;
        set({ server: { ...srv, status: m } });
        // A recording that ended by itself (its size limit, a disk error): say why.
        const ended = m.recording.ended;
        if (was?.active && !m.recording.active && ended) {
          internal.toast({
            tone: 'error',
            title:
              ended.reason === 'size-cap'
                ? 'Recording stopped: it reached its size limit'
                : 'Recording stopped: the disk failed',
            detail: ended.message,
          });
        }
        return;
      }
      case 'recordings':
        set({ server: { ...srv, recordings: m.recordings, recordingsError: null } });
        return;
      case 'recording-saved':
        set({
          server: {
            ...srv,
            recordings: srv.recordings
              ? [m.recording, ...srv.recordings.filter((r) => r.id !== m.recording.id)]
              : [m.recording],
          },
        });
        internal.toast({
          tone: 'info',
          title: 'Recording saved',
          detail: `${m.recording.name} (${m.recording.bytes.toLocaleString('en-US')} bytes)`,
        });
        return;
      case 'load-progress':
        set({ server: { ...srv, loadStats: m.stats } });
        return;
      case 'load-result':
        set({ server: { ...srv, loadStats: m.stats } });
        if (m.outcome === 'failed')
          internal.toast({ tone: 'error', title: 'Load failed', detail: m.error ?? '' });
        return;
      case 'error':
        set({ server: { ...srv, lastError: { code: m.code, message: m.message } } });
        internal.toast({ tone: 'error', title: `Server refused: ${m.code}`, detail: m.message });
        return;
      case 'ack':
        return;
    }
  };

  const actions: ServerActions = {
    sendControl: (msg) => {
      const live = internal.liveConnection();
      if (!live) return false;
      return live.send(msg) >= 0;
    },
    refreshRecordings: async () => {
      const live = internal.liveConnection();
      if (live && live.status.state === 'open') {
        live.send({ type: 'list-recordings' });
        return;
      }
      try {
        const token = new URLSearchParams(env.loc.search).get('token');
        const res = await env.fetch(
          `/api/recordings${token ? `?token=${encodeURIComponent(token)}` : ''}`,
        );
        if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
        const body: unknown = await res.json();
        const list = parseRecordingList(body);
        set({ server: { ...get().server, recordings: list, recordingsError: null } });
      } catch (e) {
        set({
          server: {
            ...get().server,
            recordingsError: e instanceof Error ? e.message : String(e),
          },
        });
      }
    },
  };

  return {
    state: { server: initialServer() },
    actions,
    internal: { onServerMessage, clearPendingReplies: () => pendingReplies.clear() },
  };
}

/** GET /api/recordings answers `{ recordings: RecordingInfo[] }`; entries failing the schema are skipped. */
function parseRecordingList(body: unknown): RecordingInfo[] {
  const arr =
    typeof body === 'object' &&
    body !== null &&
    Array.isArray((body as { recordings?: unknown }).recordings)
      ? (body as { recordings: unknown[] }).recordings
      : null;
  if (!arr) throw new Error('the server sent a recordings list in an unknown shape');
  const out: RecordingInfo[] = [];
  for (const r of arr) {
    const p = RecordingInfoSchema.safeParse(r);
    if (p.success) out.push(p.data);
  }
  return out;
}
