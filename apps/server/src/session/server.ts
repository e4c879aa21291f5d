// startServer(): the completion port, a reference server's threads (the echo
// server, or the chat server with `app: 'chat'`) and the tracing pipeline,
// wired together; stop(): the course's graceful shutdown; restartPort(): the
// same shutdown of the port alone, then a new port. The app (a ServerApp,
// app.ts) brings its thread entries, its shared state and its cores; this
// file is the same for both.
//
//   main thread   = the emulated kernel (node:net) + this orchestration; records
//                   on the 'kernel' ring; sweeps idle and half-sent sessions
//                   (the idle and partial-packet timeouts, core.ts)
//   accept thread = blocking accept -> core.accepted()
//   N workers     = GQCS(-Ex) loop -> core.onCompletion()
//   drainer       = merges every ring and feeds subscribers (the live hub, a
//                   recording: record/, subscribed through `drainer`)
//
// A *generation* is one completion port with its listening socket, accept
// thread and workers. Stopping one (iocp-model.md §2): stop accepting (close
// the listening socket, join the accept thread); disconnect every session
// (hold, disconnect, drop the hold); wait until every session is released;
// post one PQCS(0,0,NULL) per worker; join the workers; close the port. Each
// wait is bounded: what did not finish in time is reported (and a worker that
// never got its exit packet is woken by closing the port, as CloseHandle does
// to GQCS waiters), so stopping always returns.
//
// stop() stops the generation, then the kernel's ring and the drainer (final
// drain). restartPort() stops the generation and starts a new one with the
// new worker count and concurrency on the same echo port: the session table
// (SessionIDs are never reused), the fault switches, the trace and the
// drainer carry on, so dashboards stay connected and see the old threads
// exit, a new PortCreated and the new threads start. Each thread takes a trace
// ring for good, so the number of restarts is bounded by the ring budget
// (traceSlots); a restart that would exceed it is refused before anything stops.

import {
  DisconnectReason,
  EventKind,
  ThreadRole,
  type PortConfig,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { hostname } from 'node:os';
import { createPort, type PortHost } from '../port/index.ts';
import type { DrainStats } from '../trace/drainer.ts';
import { DrainerThread } from '../trace/drainer-thread.ts';
import type { BatchListener, TraceFeed } from '../trace/feed.ts';
import { attachRecorder, type TraceRecorder } from '../trace/recorder.ts';
import { TraceShared } from '../trace/shared.ts';
import { CHAT_APP } from '../chat/app.ts';
import { ECHO_APP } from '../echo/app.ts';
import type { AppRuntime, ServerApp } from './app.ts';
import { resolveServerOptions, type ServerConfig, type ServerOptions } from './config.ts';
import type { SessionCore } from './core.ts';
import { F_TOO_FEW_EXIT_PACKETS, FAULT_WORDS, FaultSwitches, type AppName } from './faults.ts';
import { SessionTable, T_STOP } from './session-table.ts';
import { joinThread, startThread, type ServerThreadInput, type ServerThread } from './threads.ts';

const APPS: Record<AppName, ServerApp> = { echo: ECHO_APP, chat: CHAT_APP };

export interface ServerStatus {
  app: AppName;
  activeSessions: number;
  acceptedSessions: number;
  releasedSessions: number;
  workers: number;
  faults: string[];
  trace: DrainStats | null;
  /** Sessions kicked by the idle and partial-packet timeouts. */
  timeoutKicks: number;
  /** The app's own counters (chat: broadcasts, SendBuffers in use...). */
  appStats: Record<string, number>;
}

/** What stopping one port generation found. */
export interface PortStopReport {
  /** Sessions still not released when the wait ended (zombies). */
  stuckSessions: number;
  /** Their IOCounts, by slot. */
  stuckIoCounts: Array<{ slot: number; session: bigint; ioCount: number }>;
  exitPacketsPosted: number;
  /** Workers that ended after their exit packet. */
  workersJoined: number;
  /** Workers that only ended when the port was closed under them. */
  workersWokenByPortClose: number;
  /** Workers that had to be terminated. */
  workersTerminated: number;
  acceptJoined: boolean;
  durationMs: number;
}

export interface ShutdownReport extends PortStopReport {
  acceptedSessions: number;
  releasedSessions: number;
  /** Uncaught errors in server threads (of every port generation). */
  threadErrors: string[];
  trace: DrainStats | null;
  /** Why tracing failed during the run, if it did. */
  traceError: string | null;
}

export class ServerStateError extends Error {
  constructor(
    readonly code: 'ERR_SERVER_STOPPING' | 'ERR_RESTART_BUSY' | 'ERR_TRACE_FULL' | 'ERR_NO_PORT',
    message: string,
  ) {
    super(message);
  }
}

export interface RunningServer {
  /** The current configuration (workers and concurrency change with restartPort). */
  readonly config: ServerConfig;
  /** The echo port actually bound (the same across port restarts). */
  readonly echoPort: number;
  /** The merged event stream; null with --no-trace. */
  readonly drainer: TraceFeed | null;
  readonly faults: FaultSwitches;
  readonly table: SessionTable;
  /** Worker count and the port's effective concurrency value (0 resolved to the CPU count). */
  portConfig(): PortConfig;
  /** Header metadata for a recording of this server's trace (recorders add the name). */
  fileHeader(): TraceFileHeader;
  /** Stop holding the trace's start-up batches (StartHooks.holdTrace). */
  releaseTraceHold(): void;
  status(): ServerStatus;
  /**
   * Stop the port gracefully (existing sessions are disconnected) and start a
   * new one with this worker count and concurrency on the same echo port.
   * Throws ServerOptionsError (ERR_SERVER_OPTIONS) for bad values and
   * ServerStateError when it cannot restart now; nothing stops in either case.
   */
  restartPort(config: PortConfig): Promise<PortStopReport>;
  /** Graceful shutdown; idempotent (later calls return the same promise). */
  stop(): Promise<ShutdownReport>;
}

/** Address space the trace rings may take (virtual: pages are touched only when written). */
const TRACE_BUDGET_BYTES = 2 ** 32;
const MAX_TRACE_SLOTS = 256;

export interface StartHooks {
  /** Subscribed before any thread starts, so it sees the whole stream (tests, recorders). */
  onBatch?: BatchListener;
  /**
   * Keep every batch from the first record until releaseTraceHold(), so a
   * recording started once the server runs still gets the whole stream
   * (serve --record: RecordingManager.start({ fromStart: true })).
   */
  holdTrace?: boolean;
}

/** Ring slots: the first generation's threads plus room for port restarts, within the budget. */
export function traceSlots(config: ServerConfig): number {
  const ringBytes = config.ringRecords * 32 + 512 * 128 + 128;
  const affordable = Math.floor(TRACE_BUDGET_BYTES / ringBytes);
  return Math.max(config.workers + 4, Math.min(MAX_TRACE_SLOTS, affordable));
}

/** What every generation shares. */
interface Shared {
  readonly app: ServerApp;
  readonly runtime: AppRuntime;
  readonly table: SessionTable;
  readonly trace: TraceShared | null;
  readonly kernelRec: TraceRecorder;
  readonly drainer: DrainerThread | null;
}

/** One completion port and the threads that use it. */
interface Generation {
  readonly host: PortHost;
  readonly listenSocket: number;
  readonly echoPort: number;
  readonly workers: ServerThread[];
  readonly accept: ServerThread;
  /** The main thread's core: only disconnects and releases (shutdown, timeouts). */
  readonly mainCore: SessionCore;
}

/** Create a port, listen and start its threads; on failure everything it started is undone. */
async function startGeneration(
  s: Shared,
  config: ServerConfig,
  echoPort: number,
  drainerStart: Promise<void> | undefined,
): Promise<Generation> {
  let host: PortHost | null = null;
  const threads: ServerThread[] = [];
  try {
    host = await createPort({
      backend: config.backend,
      concurrency: config.concurrency,
      arenaBytes: s.table.arenaBytes + s.runtime.extraArenaBytes,
      maxSockets: config.maxSessions + 64,
      maxThreads: config.workers + 8,
      workerCount: config.workers,
      recorder: s.kernelRec,
      tcpNoDelay: s.runtime.tcpNoDelay === true,
    });
    const listen = await host.listen(config.host, echoPort);
    Atomics.store(s.table.i32, T_STOP, 0);
    const input = (index: number): ServerThreadInput => ({
      port: host!.descriptor,
      trace: s.trace ? s.trace.descriptor : null,
      table: s.table.sab,
      index,
      gqcsBatch: config.gqcsBatch,
      listenSocket: listen.socket,
      faultWords: FAULT_WORDS,
      appInput: s.runtime.threadInput,
    });
    // Threads start in parallel. Records made before the drainer runs wait in their rings.
    const starting = [
      ...Array.from({ length: config.workers }, (_, i) =>
        startThread(s.app.workerEntry, `worker ${i + 1}`, input(i)),
      ),
      startThread(s.app.acceptEntry, 'accept', input(0)),
    ];
    const settled = await Promise.allSettled([drainerStart, ...starting]);
    for (const r of settled.slice(1))
      if (r.status === 'fulfilled') threads.push(r.value as ServerThread);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    // A dashboard attached now is seeded from the feed's snapshot: wait until
    // it names every thread (their ThreadStarts passed the merge window).
    await s.drainer?.threadsKnown([s.kernelRec.tid, ...threads.map((t) => t.tid)]);
    return {
      host,
      listenSocket: listen.socket,
      echoPort: listen.port,
      workers: threads.slice(0, config.workers),
      accept: threads[config.workers]!,
      mainCore: s.runtime.mainCore(s.table, host, s.kernelRec),
    };
  } catch (e) {
    for (const t of threads) await t.worker.terminate();
    if (host) await host.close();
    throw e;
  }
}

/** The course's shutdown of one port (see the header); `what` labels the trace markers. */
async function stopGeneration(
  s: Shared,
  g: Generation,
  timeout: number,
  what: 'shutdown' | 'port restart',
): Promise<PortStopReport> {
  const t0 = performance.now();
  const { table, kernelRec: rec } = s;
  const mark = (text: string): void =>
    rec.record(EventKind.Marker, 0, rec.intern(`${what}: ${text}`), 0, 0, 0, 0);
  mark('stop accepting');
  Atomics.store(table.i32, T_STOP, 1);
  // 1. Stop accepting: closing the listening socket fails the blocking accept (WSAEINTR).
  g.host.closesocket(g.listenSocket);
  const acceptJoined = await joinThread(g.accept, timeout);
  if (!acceptJoined) await g.accept.worker.terminate();

  // 2. Disconnect every session, 3. wait until all are released.
  mark('disconnect sessions');
  for (const slot of table.liveSlots()) {
    g.mainCore.holdAndDisconnect(slot, DisconnectReason.Shutdown);
  }
  const deadline = performance.now() + timeout;
  while (table.active > 0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const stuckIoCounts = table.liveSlots().map((slot) => ({
    slot,
    session: table.sessionId(slot),
    ioCount: table.ioCount(slot),
  }));

  // 4. One exit packet per worker (one fewer under the too-few-exit-packets fault).
  mark('post exit packets');
  const packets =
    Atomics.load(table.i32, F_TOO_FEW_EXIT_PACKETS) !== 0 ? g.workers.length - 1 : g.workers.length;
  for (let i = 0; i < packets; i++) g.host.postQueuedCompletionStatus(0, 0, 0, 0);

  // 5. Join the workers.
  const joined = await Promise.all(g.workers.map((w) => joinThread(w, timeout)));
  let wokenByClose = 0;
  let terminated = 0;

  // 6. Close the port; a worker still waiting in GQCS wakes with ERROR_ABANDONED_WAIT_0.
  await g.host.close();
  for (let i = 0; i < g.workers.length; i++) {
    if (joined[i]) continue;
    if (await joinThread(g.workers[i]!, timeout)) wokenByClose++;
    else {
      await g.workers[i]!.worker.terminate();
      terminated++;
    }
  }
  return {
    stuckSessions: stuckIoCounts.length,
    stuckIoCounts,
    exitPacketsPosted: packets,
    workersJoined: joined.filter(Boolean).length,
    workersWokenByPortClose: wokenByClose,
    workersTerminated: terminated,
    acceptJoined,
    durationMs: performance.now() - t0,
  };
}

export async function startServer(
  options: ServerOptions = {},
  hooks: StartHooks = {},
): Promise<RunningServer> {
  const config = resolveServerOptions(options);
  // One ring per thread: the kernel (main), the accept thread and each worker.
  const trace = config.trace
    ? TraceShared.create({ ringRecords: config.ringRecords, maxThreads: traceSlots(config) })
    : null;
  const kernelRec: TraceRecorder = attachRecorder(trace, {
    role: ThreadRole.Kernel,
    name: 'kernel',
    osThreadId: 0,
    eventLoop: true,
  });
  const table = SessionTable.create({
    maxSessions: config.maxSessions,
    recvBytes: config.recvBufferBytes,
    sendBytes: config.sendBufferBytes,
  });
  table.setJoinWorkUs(Math.round(config.joinWorkMs * 1000));
  table.setTimeouts(config.idleTimeoutMs, config.partialTimeoutMs);
  const faults = new FaultSwitches(table, config.app);
  faults.set(config.faults);
  const app = APPS[config.app];
  const runtime = app.create(config, table);
  let drainer: DrainerThread | null = null;
  if (trace) {
    drainer = new DrainerThread(trace, { windowNs: config.traceWindowMs * 1e6 });
    if (hooks.onBatch) drainer.subscribe(hooks.onBatch);
    if (hooks.holdTrace === true) drainer.hold();
  }
  const shared: Shared = { app, runtime, table, trace, kernelRec, drainer };
  const drainerStart = drainer?.start();
  drainerStart?.catch(() => undefined); // observed through startGeneration
  try {
    const g = await startGeneration(shared, config, config.echoPort, drainerStart);
    return new ReferenceServer(config, shared, faults, g);
  } catch (e) {
    if (drainer) await drainer.stop().catch(() => undefined);
    throw e;
  }
}

/**
 * The coarse clock's and the timeout sweep's period: a quarter of the shorter
 * timeout (so a kick comes at most 25% late), between 10 and 250 ms.
 */
export function sweepPeriodMs(idleMs: number, partialMs: number): number {
  const on = [idleMs, partialMs].filter((t) => t > 0);
  if (on.length === 0) return 0;
  return Math.max(10, Math.min(250, Math.floor(Math.min(...on) / 4)));
}

class ReferenceServer implements RunningServer {
  private stopping: Promise<ShutdownReport> | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly clockT0 = performance.now();
  private timeoutKicks = 0;
  private restarting: Promise<PortStopReport> | null = null;
  /** Null only after a restart failed to bring up the new port. */
  private gen: Generation | null;
  private cfg: ServerConfig;
  private readonly threadErrors: string[] = [];
  readonly echoPort: number;
  readonly table: SessionTable;
  /** Wall-clock ms of trace time 0 (the trace clock's base). */
  private readonly startWallMs: number;

  constructor(
    config: ServerConfig,
    private readonly shared: Shared,
    readonly faults: FaultSwitches,
    g: Generation,
  ) {
    this.cfg = config;
    this.gen = g;
    this.echoPort = g.echoPort;
    this.table = shared.table;
    const base = shared.trace?.clockBase;
    this.startWallMs = base
      ? base.creatorTimeOriginMs + base.startPerfMs
      : performance.timeOrigin + performance.now();
    const period = sweepPeriodMs(config.idleTimeoutMs, config.partialTimeoutMs);
    if (period > 0) {
      this.sweepTimer = setInterval(() => this.sweep(), period);
      this.sweepTimer.unref();
    }
  }

  /** Advance the coarse clock and kick the sessions past a timeout (main thread). */
  private sweep(): void {
    const now = Math.round(performance.now() - this.clockT0) + 1;
    this.table.setNowMs(now);
    if (this.gen && !this.stopping && !this.restarting)
      this.timeoutKicks += this.gen.mainCore.sweepTimeouts(now);
  }

  get config(): ServerConfig {
    return this.cfg;
  }

  get drainer(): TraceFeed | null {
    return this.shared.drainer;
  }

  portConfig(): PortConfig {
    const g = this.gen;
    return g
      ? { workers: g.workers.length, concurrency: g.host.concurrency }
      : { workers: this.cfg.workers, concurrency: this.cfg.concurrency };
  }

  releaseTraceHold(): void {
    this.shared.drainer?.releaseHold();
  }

  fileHeader(): TraceFileHeader {
    return {
      clock: 'monotonic-ns',
      host: hostname().slice(0, 256),
      backend: this.cfg.backend,
      portConfig: this.portConfig(),
      startWallMs: Math.floor(this.startWallMs),
      tracer: 'reference',
      app: this.cfg.app,
    };
  }

  status(): ServerStatus {
    return {
      app: this.cfg.app,
      activeSessions: this.table.active,
      acceptedSessions: this.table.accepted,
      releasedSessions: this.table.released,
      workers: this.gen?.workers.length ?? 0,
      faults: this.faults.active(),
      trace: this.shared.drainer ? this.shared.drainer.stats() : null,
      timeoutKicks: this.timeoutKicks,
      appStats: this.shared.runtime.stats?.() ?? {},
    };
  }

  restartPort(pc: PortConfig): Promise<PortStopReport> {
    if (this.stopping) {
      return Promise.reject(
        new ServerStateError('ERR_SERVER_STOPPING', 'the server is shutting down'),
      );
    }
    if (this.restarting) {
      return Promise.reject(
        new ServerStateError('ERR_RESTART_BUSY', 'a port restart is in progress'),
      );
    }
    let next: ServerConfig;
    try {
      next = resolveServerOptions({
        ...this.cfg,
        workers: pc.workers,
        concurrency: pc.concurrency,
      });
    } catch (e) {
      return Promise.reject(e);
    }
    const t = this.shared.trace;
    if (t && t.maxThreads - t.threadCount() < next.workers + 1) {
      return Promise.reject(
        new ServerStateError(
          'ERR_TRACE_FULL',
          `no trace rings left for ${next.workers + 1} more threads ` +
            `(${t.threadCount()} of ${t.maxThreads} used by earlier ports): restart the server instead`,
        ),
      );
    }
    this.restarting = this.restart(next);
    const done = this.restarting;
    void done.then(
      () => (this.restarting = null),
      () => (this.restarting = null),
    );
    return done;
  }

  private async restart(next: ServerConfig): Promise<PortStopReport> {
    const rec = this.shared.kernelRec;
    rec.record(
      EventKind.Marker,
      0,
      rec.intern(
        `port restart: ${next.workers} workers, concurrency ${next.concurrency || 'CPUs'}`,
      ),
      0,
      0,
      0,
      0,
    );
    let report: PortStopReport | null = null;
    const old = this.gen;
    if (old) {
      report = await stopGeneration(this.shared, old, this.cfg.shutdownTimeoutMs, 'port restart');
      this.noteErrors(old);
      this.gen = null;
    }
    this.cfg = next;
    this.gen = await startGeneration(this.shared, next, this.echoPort, undefined);
    return (
      report ?? {
        stuckSessions: 0,
        stuckIoCounts: [],
        exitPacketsPosted: 0,
        workersJoined: 0,
        workersWokenByPortClose: 0,
        workersTerminated: 0,
        acceptJoined: true,
        durationMs: 0,
      }
    );
  }

  stop(): Promise<ShutdownReport> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private noteErrors(g: Generation): void {
    for (const t of [...g.workers, g.accept]) {
      if (t.error) this.threadErrors.push(`${t.name}: ${String(t.error)}`);
    }
  }

  private async shutdown(): Promise<ShutdownReport> {
    const t0 = performance.now();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    // A restart in progress finishes (or fails) first: its threads must be joined too.
    await this.restarting?.catch(() => undefined);
    const g = this.gen;
    let port: PortStopReport = {
      stuckSessions: 0,
      stuckIoCounts: [],
      exitPacketsPosted: 0,
      workersJoined: 0,
      workersWokenByPortClose: 0,
      workersTerminated: 0,
      acceptJoined: false,
      durationMs: 0,
    };
    if (g) {
      port = await stopGeneration(this.shared, g, this.cfg.shutdownTimeoutMs, 'shutdown');
      this.noteErrors(g);
    }
    this.shared.kernelRec.exit(0);

    // Final drain (every recording thread has ended).
    let trace: DrainStats | null = null;
    let traceError: string | null = null;
    if (this.shared.drainer) {
      const r = await this.shared.drainer.stop();
      trace = r.stats;
      if (r.error) traceError = `${r.error.message} (${r.error.code})`;
    }
    return {
      ...port,
      acceptedSessions: this.table.accepted,
      releasedSessions: this.table.released,
      threadErrors: [...this.threadErrors],
      trace,
      traceError,
      durationMs: performance.now() - t0,
    };
  }
}
