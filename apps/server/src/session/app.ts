// What a reference server app (echo/app.ts, chat/app.ts) gives the generic
// start-up in server.ts: its thread entries, the shared state its threads
// need besides the session table, the arena it needs after the sessions'
// rings, and the main thread's core (which only disconnects and releases).

import type { PortHost } from '../port/index.ts';
import type { TraceRecorder } from '../trace/recorder.ts';
import type { ServerConfig } from './config.ts';
import type { SessionCore } from './core.ts';
import type { AppName } from './faults.ts';
import type { SessionTable } from './session-table.ts';

export interface ServerApp {
  readonly name: AppName;
  /** Thread entries: `new URL('./x-thread.ts', import.meta.url)` in the app's folder. */
  readonly workerEntry: URL;
  readonly acceptEntry: URL;
  /** Once per server (the state outlives port restarts). */
  create(config: ServerConfig, table: SessionTable): AppRuntime;
}

export interface AppRuntime {
  /** TCP_NODELAY on accepted sockets (the chat server's small broadcasts). */
  readonly tcpNoDelay?: boolean;
  /** Arena bytes after the sessions' rings (the chat server's SendBuffer pool). */
  readonly extraArenaBytes: number;
  /** Structured-cloneable input every thread gets (ServerThreadInput.appInput). */
  readonly threadInput: unknown;
  /** The main thread's core for one port generation. */
  mainCore(table: SessionTable, host: PortHost, rec: TraceRecorder): SessionCore;
  /** App counters for status() (numbers only). */
  stats?(): Record<string, number>;
  /** The app's own shared state, for tests and benchmarks (chat: its ChatState). */
  readonly state?: unknown;
}
