// Threads for bench/port.ts: 'drain' counts PQCS packets until an exit packet;
// 'accept' accepts connections and posts their first recv; 'echo' is a minimal
// echo loop on the raw port (recv -> send the same bytes -> recv again).

import { parentPort, workerData } from 'node:worker_threads';
import { Op } from '@iocpscope/protocol';
import { attachPort, newCompletionEntry, INFINITE } from '../src/port/index.ts';
import type { PortDescriptor } from '../src/port/index.ts';

const { descriptor, mode, batch, listen, slotBytes, table } = workerData as {
  descriptor: PortDescriptor;
  mode: 'drain' | 'accept' | 'echo';
  batch: number;
  listen: number;
  slotBytes: number;
  /** slot -> socket handle, written by the accept thread before the first recv. */
  table: SharedArrayBuffer;
};
const sockets = new Uint32Array(table);

/**
 * GQCS-Ex can dequeue several exit packets in one batch: hand the extra ones
 * back, or another worker never gets its own (one exit packet per worker).
 */
function passOn(extraExits: number): void {
  for (let k = 0; k < extraExits; k++) port.postQueuedCompletionStatus(0, 0, 0, 0);
}
const port = await attachPort(descriptor);

if (mode === 'drain') {
  const out = Array.from({ length: batch }, newCompletionEntry);
  let count = 0;
  for (;;) {
    const n =
      batch === 1
        ? port.getQueuedCompletionStatus(out[0]!, INFINITE)
          ? 1
          : 0
        : port.getQueuedCompletionStatusEx(out, batch, INFINITE);
    let exits = n === 0 ? 1 : 0;
    for (let k = 0; k < n; k++) {
      if (out[k]!.overlapped === 0 && out[k]!.keyLo === 0) exits++;
      else count++;
    }
    if (exits > 0) {
      passOn(exits - 1);
      break;
    }
  }
  parentPort!.postMessage(count);
} else if (mode === 'accept') {
  for (let slot = 0; slot < sockets.length; slot++) {
    const a = port.accept(listen);
    if (!a) break;
    sockets[slot] = a.socket;
    port.associate(a.socket, slot, 0);
    port.wsaRecv(a.socket, 1, slot * slotBytes, slotBytes, 0, 0);
  }
  port.detach();
  parentPort!.postMessage('done');
} else {
  const out = Array.from({ length: batch }, newCompletionEntry);
  let running = true;
  while (running) {
    const n = port.getQueuedCompletionStatusEx(out, batch, INFINITE);
    if (n === 0) break;
    for (let k = 0; k < n; k++) {
      const e = out[k]!;
      if (e.op === Op.Post) {
        if (!running) passOn(1);
        running = false;
        continue;
      }
      const slot = e.keyLo;
      const socket = sockets[slot]!;
      if (e.error !== 0 || (e.op === Op.Recv && e.bytes === 0)) {
        port.closesocket(socket);
      } else if (e.op === Op.Recv) {
        port.wsaSend(socket, 2, slot * slotBytes, e.bytes, 0, 0);
      } else {
        port.wsaRecv(socket, 1, slot * slotBytes, slotBytes, 0, 0);
      }
    }
  }
  port.detach();
  parentPort!.postMessage('done');
}
