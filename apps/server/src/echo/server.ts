// startServer(): the completion port, the reference echo server's threads and
// the tracing pipeline, wired together; stop(): the course's graceful shutdown.
//
//   main thread   = the emulated kernel (node:net) + this orchestration; records
//                   on the 'main (kernel)' ring
//   accept thread = blocking accept -> EchoCore.accepted()
//   N workers     = GQCS(-Ex) loop -> EchoCore.onCompletion()
//   drainer       = merges every ring and feeds subscribers (the live hub, a
//                   recording: record/, subscribed through `drainer`)
//
// Shutdown order (iocp-model.md §2): stop accepting (close the listening
// socket, join the accept thread); disconnect every session (hold, disconnect,
// drop the hold); wait until every session is released; post one PQCS(0,0,NULL)
// per worker; join the workers; close the port; final drain. Each wait is
// bounded: what did not finish in time is reported in ShutdownReport (and a
// worker that never got its exit packet is woken by closing the port, as
// CloseHandle does to GQCS waiters), so stop() always returns.

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
import { resolveServerOptions, type ServerConfig, type ServerOptions } from './config.ts';
import { EchoCore } from './core.ts';
import { F_TOO_FEW_EXIT_PACKETS, FaultSwitches } from './faults.ts';
import { SessionTable, T_STOP } from './session-table.ts';
import { joinThread, startThread, type EchoThreadInput, type ServerThread } from './threads.ts';

export interface ServerStatus {
  activeSessions: number;
  acceptedSessions: number;
  releasedSessions: number;
  workers: number;
  faults: string[];
  trace: DrainStats | null;
}

export interface ShutdownReport {
  /** Sessions still not released when the wait ended (zombies). */
  stuckSessions: number;
  /** Their IOCounts, by slot. */
  stuckIoCounts: Array<{ slot: number; session: bigint; ioCount: number }>;
  acceptedSessions: number;
  releasedSessions: number;
  exitPacketsPosted: number;
  /** Workers that ended after their exit packet. */
  workersJoined: number;
  /** Workers that only ended when the port was closed under them. */
  workersWokenByPortClose: number;
  /** Workers that had to be terminated. */
  workersTerminated: number;
  acceptJoined: boolean;
  /** Uncaught errors in server threads. */
  threadErrors: string[];
  trace: DrainStats | null;
  /** Why tracing or recording failed during the run, if it did. */
  traceError: string | null;
  durationMs: number;
}

export interface RunningServer {
  readonly config: ServerConfig;
  /** The echo port actually bound. */
  readonly echoPort: number;
  /** The merged event stream; null with --no-trace. */
  readonly drainer: TraceFeed | null;
  readonly faults: FaultSwitches;
  readonly table: SessionTable;
  /** Worker count and the port's effective concurrency value (0 resolved to the CPU count). */
  portConfig(): PortConfig;
  /** Header metadata for a recording of this server's trace (recorders add the name). */
  fileHeader(): TraceFileHeader;
  status(): ServerStatus;
  /** Graceful shutdown; idempotent (later calls return the same promise). */
  stop(): Promise<ShutdownReport>;
}

const ENTRY_WORKER = new URL('./worker-thread.ts', import.meta.url);
const ENTRY_ACCEPT = new URL('./accept-thread.ts', import.meta.url);

export interface StartHooks {
  /** Subscribed before any thread starts, so it sees the whole stream (tests, recorders). */
  onBatch?: BatchListener;
}

export async function startServer(
  options: ServerOptions = {},
  hooks: StartHooks = {},
): Promise<RunningServer> {
  const config = resolveServerOptions(options);
  // One ring per thread: the kernel (main), the accept thread and each worker.
  const shared = config.trace
    ? TraceShared.create({ ringRecords: config.ringRecords, maxThreads: config.workers + 4 })
    : null;
  const kernelRec: TraceRecorder = attachRecorder(shared, {
    role: ThreadRole.Kernel,
    name: 'main (kernel)',
    osThreadId: 0,
  });
  const table = SessionTable.create({
    maxSessions: config.maxSessions,
    recvBytes: config.recvBufferBytes,
    sendBytes: config.sendBufferBytes,
  });
  const faults = new FaultSwitches(table);
  faults.set(config.faults);

  let drainer: DrainerThread | null = null;
  let host: PortHost | null = null;
  const threads: ServerThread[] = [];
  try {
    host = await createPort({
      backend: config.backend,
      concurrency: config.concurrency,
      arenaBytes: table.arenaBytes,
      maxSockets: config.maxSessions + 64,
      maxThreads: config.workers + 8,
      workerCount: config.workers,
      recorder: kernelRec,
    });
    const listen = await host.listen(config.host, config.echoPort);
    if (shared) {
      drainer = new DrainerThread(shared, { windowNs: config.traceWindowMs * 1e6 });
      if (hooks.onBatch) drainer.subscribe(hooks.onBatch);
    }
    const input = (index: number): EchoThreadInput => ({
      port: host!.descriptor,
      trace: shared ? shared.descriptor : null,
      table: table.sab,
      index,
      gqcsBatch: config.gqcsBatch,
      listenSocket: listen.socket,
    });
    // Threads load in parallel (each compiles its TypeScript on start). Records
    // made before the drainer runs wait in their rings.
    const starting = [
      ...Array.from({ length: config.workers }, (_, i) =>
        startThread(ENTRY_WORKER, `worker-${i}`, input(i)),
      ),
      startThread(ENTRY_ACCEPT, 'accept', input(0)),
    ];
    const settled = await Promise.allSettled([drainer?.start(), ...starting]);
    for (const r of settled.slice(1))
      if (r.status === 'fulfilled') threads.push(r.value as ServerThread);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const workers = threads.slice(0, config.workers);
    const accept = threads[config.workers]!;
    // A dashboard attached now is seeded from the feed's snapshot: wait until
    // it names every thread (their ThreadStarts passed the merge window).
    await drainer?.threadsKnown([kernelRec.tid, ...threads.map((t) => t.tid)]);
    return new EchoServer(
      config,
      listen.port,
      listen.socket,
      host,
      table,
      faults,
      kernelRec,
      drainer,
      workers,
      accept,
      shared
        ? shared.clockBase.creatorTimeOriginMs + shared.clockBase.startPerfMs
        : performance.timeOrigin + performance.now(),
    );
  } catch (e) {
    for (const t of threads) await t.worker.terminate();
    if (host) await host.close();
    if (drainer) await drainer.stop().catch(() => undefined);
    throw e;
  }
}

class EchoServer implements RunningServer {
  private stopping: Promise<ShutdownReport> | null = null;
  private readonly mainCore: EchoCore;

  constructor(
    readonly config: ServerConfig,
    readonly echoPort: number,
    private readonly listenSocket: number,
    private readonly host: PortHost,
    readonly table: SessionTable,
    readonly faults: FaultSwitches,
    private readonly kernelRec: TraceRecorder,
    private readonly feed: DrainerThread | null,
    private readonly workers: ServerThread[],
    private readonly accept: ServerThread,
    /** Wall-clock ms of trace time 0 (the trace clock's base). */
    private readonly startWallMs: number,
  ) {
    this.mainCore = new EchoCore(table, host.arena, kernelRec, null, host);
  }

  get drainer(): TraceFeed | null {
    return this.feed;
  }

  portConfig(): PortConfig {
    return { workers: this.workers.length, concurrency: this.host.concurrency };
  }

  fileHeader(): TraceFileHeader {
    return {
      clock: 'monotonic-ns',
      host: hostname().slice(0, 256),
      backend: this.config.backend,
      portConfig: this.portConfig(),
      startWallMs: Math.floor(this.startWallMs),
    };
  }

  status(): ServerStatus {
    return {
      activeSessions: this.table.active,
      acceptedSessions: this.table.accepted,
      releasedSessions: this.table.released,
      workers: this.workers.length,
      faults: this.faults.active(),
      trace: this.feed ? this.feed.stats() : null,
    };
  }

  stop(): Promise<ShutdownReport> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<ShutdownReport> {
    const t0 = performance.now();
    const timeout = this.config.shutdownTimeoutMs;
    const rec = this.kernelRec;
    rec.record(EventKind.Marker, 0, rec.intern('shutdown: stop accepting'), 0, 0, 0, 0);
    Atomics.store(this.table.i32, T_STOP, 1);
    // 1. Stop accepting: closing the listening socket fails the blocking accept (WSAEINTR).
    this.host.closesocket(this.listenSocket);
    const acceptJoined = await joinThread(this.accept, timeout);
    if (!acceptJoined) await this.accept.worker.terminate();

    // 2. Disconnect every session, 3. wait until all are released.
    rec.record(EventKind.Marker, 0, rec.intern('shutdown: disconnect sessions'), 0, 0, 0, 0);
    for (const slot of this.table.liveSlots()) {
      this.mainCore.holdAndDisconnect(slot, DisconnectReason.Shutdown);
    }
    const deadline = performance.now() + timeout;
    while (this.table.active > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const stuckIoCounts = this.table.liveSlots().map((slot) => ({
      slot,
      session: this.table.sessionId(slot),
      ioCount: this.table.ioCount(slot),
    }));

    // 4. One exit packet per worker (one fewer under the too-few-exit-packets fault).
    rec.record(EventKind.Marker, 0, rec.intern('shutdown: post exit packets'), 0, 0, 0, 0);
    const packets =
      Atomics.load(this.table.i32, F_TOO_FEW_EXIT_PACKETS) !== 0
        ? this.workers.length - 1
        : this.workers.length;
    for (let i = 0; i < packets; i++) this.host.postQueuedCompletionStatus(0, 0, 0, 0);

    // 5. Join the workers.
    const joined = await Promise.all(this.workers.map((w) => joinThread(w, timeout)));
    const workersJoined = joined.filter(Boolean).length;
    let wokenByClose = 0;
    let terminated = 0;

    // 6. Close the port; a worker still waiting in GQCS wakes with ERROR_ABANDONED_WAIT_0.
    await this.host.close();
    for (let i = 0; i < this.workers.length; i++) {
      if (joined[i]) continue;
      if (await joinThread(this.workers[i]!, timeout)) wokenByClose++;
      else {
        await this.workers[i]!.worker.terminate();
        terminated++;
      }
    }
    rec.exit(0);

    // 7. Final drain (every recording thread has ended).
    let trace: DrainStats | null = null;
    let traceError: string | null = null;
    if (this.feed) {
      const r = await this.feed.stop();
      trace = r.stats;
      if (r.error) traceError = `${r.error.message} (${r.error.code})`;
    }
    const threadErrors = [...this.workers, this.accept]
      .filter((t) => t.error)
      .map((t) => `${t.name}: ${String(t.error)}`);
    return {
      stuckSessions: stuckIoCounts.length,
      stuckIoCounts,
      acceptedSessions: this.table.accepted,
      releasedSessions: this.table.released,
      exitPacketsPosted: packets,
      workersJoined,
      workersWokenByPortClose: wokenByClose,
      workersTerminated: terminated,
      acceptJoined,
      threadErrors,
      trace,
      traceError,
      durationMs: performance.now() - t0,
    };
  }
}
