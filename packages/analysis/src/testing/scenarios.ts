// Building blocks for hand-written traces: a reference server's threads, and the
// legal steps it takes (accept with a hold, an echo round, a clean close), so a
// test spells out only the part it is about.

import * as proto from '../proto.ts';
import { TraceBuilder, type Io, type ThreadHandle } from './trace-builder.ts';
import type { Finding } from '../findings.ts';
import type { SessionId } from '../ids.ts';
import { checkTrace as checkTrace_, type RunnerOptions } from '../runner.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const checkTrace = checkTrace_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { DisconnectReason, ThreadRole, WinError } = proto;

export interface Server {
  b: TraceBuilder;
  main: ThreadHandle;
  acc: ThreadHandle;
  w: ThreadHandle[];
}

/**
 * Kernel, main, accept and `workers` workers, already waiting in GQCS unless
 * `inGqcs` is false (then the trace never shows them entering it: they were
 * waiting before it began, as in a recording started mid-run).
 */
export function server(
  o: { workers?: number; concurrency?: number; inGqcs?: boolean } = {},
): Server {
  const b = new TraceBuilder();
  const workers = o.workers ?? 2;
  b.port({ concurrency: o.concurrency ?? 2, workers });
  const main = b.thread('main', ThreadRole.Main);
  const acc = b.thread('accept', ThreadRole.Accept);
  const w: ThreadHandle[] = [];
  for (let k = 0; k < workers; k++) w.push(b.thread(`worker-${k}`, ThreadRole.Worker));
  if (o.inGqcs ?? true) for (const t of w) t.gqcs();
  return { b, main, acc, w };
}

/** Accept a session the reference way: hold, first RecvPost, drop the hold. */
export function openSession(sv: Server, slot = 1, gen = 1): { s: SessionId; recv: Io } {
  const s = sv.b.accept(sv.acc, { slot, gen });
  sv.acc.hold(s);
  const recv = sv.acc.recv(s);
  sv.acc.unhold(s);
  return { s, recv };
}

/**
 * One echo round on worker `w`: the recv completes with `bytes`, the worker
 * dequeues it, posts the echo send and a new recv, drops the completion's
 * count and goes back to GQCS; then the send completes and is handled the same
 * way. Returns the new recv.
 */
export function echoRound(sv: Server, w: ThreadHandle, s: SessionId, recv: Io, bytes = 32): Io {
  const b = sv.b;
  b.complete(recv, { bytes });
  w.dequeue(recv);
  const send = w.send(s, { bytes });
  const next = w.recv(s);
  w.completed(recv);
  w.gqcs();
  b.complete(send);
  w.dequeue(send);
  w.completed(send);
  w.gqcs();
  return next;
}

/** The peer closes: 0-byte recv, disconnect, close, last -1, release. */
export function peerCloses(sv: Server, w: ThreadHandle, s: SessionId, recv: Io): void {
  sv.b.complete(recv, { bytes: 0 });
  w.dequeue(recv);
  w.disconnect(s, DisconnectReason.PeerClosed);
  w.closeSocket(s);
  w.completed(recv);
  w.release(s);
  w.gqcs();
}

/** The peer resets: the pending recv fails with 64, disconnect, close, -1, release. */
export function peerResets(sv: Server, w: ThreadHandle, s: SessionId, recv: Io): void {
  sv.b.complete(recv, { status: WinError.NetnameDeleted });
  w.dequeue(recv);
  w.disconnect(s, DisconnectReason.IoError, WinError.NetnameDeleted);
  w.closeSocket(s);
  w.completed(recv);
  w.release(s);
  w.gqcs();
}

/** Graceful shutdown with one exit packet per worker; everyone exits. */
export function shutdownAll(sv: Server): void {
  sv.acc.exit();
  for (const _ of sv.w) sv.main.pqcsExit();
  for (const t of sv.w) {
    t.dequeueExit();
    t.exit();
  }
  sv.main.exit();
}

/** Run every detector (or `rules`) over the built trace; names resolve through its string table. */
export function findingsOf(
  b: TraceBuilder,
  o: RunnerOptions & { endOfRun?: boolean } = {},
): Finding[] {
  const t = b.build();
  return checkTrace(t, { strings: (k) => t.strings[k], ...o }).findings;
}

/** `rule/check` of each finding, for compact assertions. */
export const checksOf = (fs: readonly Finding[]): string[] => fs.map((f) => `${f.rule}/${f.check}`);
