// The loops of the reference servers' threads, shared by each app's thread
// entries (echo/, chat/), which only build their core.
//
// Workers loop on GQCS (or GQCS-Ex when gqcsBatch > 1) until an exit packet
// PQCS(0,0,NULL) arrives or the port is closed. A timeout is not a shutdown
// (bug 8), and every entry of a batch is handled before an exit packet in it
// is obeyed, so no completion is dropped. A GQCS-Ex batch can hold several
// exit packets (one per worker): this worker keeps one and posts the others
// again, or those workers would never exit. A core with timed work (the chat
// server's JobTimer) says how long GQCS may wait and gets a call after every
// return, so due jobs run on a worker as they do in the course's servers.
//
// The accept thread is the course's dedicated thread calling a blocking
// accept (not AcceptEx); it leaves when the listening socket is closed
// (accept fails with WSAEINTR).

import {
  INFINITE,
  WAIT_TIMEOUT,
  WSAETIMEDOUT,
  newCompletionEntry,
  type CompletionEntry,
  type CompletionPort,
} from '../port/index.ts';

export interface WorkerCore {
  onCompletion(e: CompletionEntry): void;
  /** How long the next GQCS may wait, ms (INFINITE when nothing is timed). */
  gqcsTimeoutMs?(): number;
  /** After every GQCS return (a completion batch handled, or a timeout). */
  afterGqcs?(): void;
}

/** Returns the exit code: 0 after an exit packet, else the port's error. */
export function runWorkerLoop(port: CompletionPort, core: WorkerCore, batch: number): number {
  const entries: CompletionEntry[] = Array.from({ length: batch }, newCompletionEntry);
  const first = entries[0]!;
  const timed = core.gqcsTimeoutMs !== undefined;
  for (;;) {
    const timeout = timed ? core.gqcsTimeoutMs!() : INFINITE;
    let n: number;
    if (batch === 1) {
      const ok = port.getQueuedCompletionStatus(first, timeout);
      n = ok || first.overlapped !== 0 ? 1 : 0;
    } else {
      n = port.getQueuedCompletionStatusEx(entries, batch, timeout);
    }
    if (n === 0) {
      const err = batch === 1 ? first.error : port.lastError;
      if (err === WAIT_TIMEOUT) {
        core.afterGqcs?.();
        continue;
      }
      // ERROR_ABANDONED_WAIT_0 / ERROR_INVALID_HANDLE: the port is gone.
      return err;
    }
    let exits = 0;
    for (let k = 0; k < n; k++) {
      const e = entries[k]!;
      if (e.overlapped === 0) {
        if (e.bytes === 0 && e.keyLo === 0 && e.keyHi === 0) exits++;
        continue;
      }
      core.onCompletion(e);
    }
    if (exits > 0) {
      // One exit packet is ours; the others in this batch belong to other workers.
      for (let k = 1; k < exits; k++) port.postQueuedCompletionStatus(0, 0, 0, 0);
      return 0;
    }
    core.afterGqcs?.();
  }
}

/** The accept thread's loop; returns the exit code (WSAEINTR: the listening socket was closed). */
export function runAcceptLoop(
  port: CompletionPort,
  listenSocket: number,
  core: { accepted(socket: number, peer: string): number },
): number {
  for (;;) {
    const r = port.accept(listenSocket, INFINITE);
    if (r === null) {
      if (port.lastError === WSAETIMEDOUT) continue;
      return port.lastError;
    }
    // A client that reset before the accept finished has no address any more:
    // recorded as unknown (no peer string), never as ":0".
    const known = r.peerAddress !== '' && r.peerAddress !== '0.0.0.0' && r.peerPort > 0;
    core.accepted(r.socket, known ? `${r.peerAddress}:${r.peerPort}` : '');
  }
}
