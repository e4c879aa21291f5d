// A port thread driven by the test over postMessage: it attaches, runs one
// command at a time (blocking calls block this thread, as on Win32) and streams
// every event its recorder sees, so the test can wait for "thread X is waiting"
// without sleeping.

import { parentPort, workerData } from 'node:worker_threads';
import {
  attachPort,
  newCompletionEntry,
  type CompletionEntry,
  type CompletionPort,
} from '../../../src/port/index.ts';
import type { Command, Reply, ToParent, ToThread } from './protocol.ts';
import { SeqRecorder } from './recorder.ts';

const { seqBuffer, tid } = workerData as { seqBuffer: SharedArrayBuffer; tid: number };
const port0 = parentPort!;
const send = (m: ToParent): void => port0.postMessage(m);
const recorder = new SeqRecorder(seqBuffer, tid, (event) => send({ type: 'event', event }));
let port: CompletionPort | null = null;

function need(): CompletionPort {
  if (!port) throw new Error('not attached');
  return port;
}

async function run(c: Command): Promise<Reply> {
  let value: Reply['value'] = null;
  let entries: CompletionEntry[] = [];
  let accepted: Reply['accepted'] = null;
  switch (c.op) {
    case 'attach':
      port = await attachPort(c.descriptor, recorder);
      break;
    case 'detach':
      need().detach();
      break;
    case 'gqcs': {
      const e = newCompletionEntry();
      value = need().getQueuedCompletionStatus(e, c.timeoutMs);
      entries = [e];
      break;
    }
    case 'gqcsEx': {
      const out = Array.from({ length: c.max }, newCompletionEntry);
      const n = need().getQueuedCompletionStatusEx(out, c.max, c.timeoutMs);
      value = n;
      entries = out.slice(0, n);
      break;
    }
    case 'pqcs':
      value = need().postQueuedCompletionStatus(c.bytes, c.keyLo, c.keyHi, c.overlapped);
      break;
    case 'allocIoId':
      value = need().allocIoId();
      break;
    case 'recv':
      value = need().wsaRecv(c.socket, c.overlapped, c.off0, c.len0, c.off1, c.len1, c.ioId);
      break;
    case 'send':
      value = need().wsaSend(c.socket, c.overlapped, c.off0, c.len0, c.off1, c.len1, c.ioId);
      break;
    case 'closesocket':
      value = need().closesocket(c.socket);
      break;
    case 'associate':
      value = need().associate(c.socket, c.keyLo, c.keyHi);
      break;
    case 'accept':
      accepted = need().accept(c.listenSocket, c.timeoutMs);
      break;
    case 'blockBegin':
      need().blockBegin(c.reason, c.detail);
      break;
    case 'blockEnd':
      need().blockEnd();
      break;
  }
  const p = port;
  return {
    value,
    lastError: p ? p.lastError : 0,
    lastIoId: p ? p.lastIoId : 0,
    entries,
    accepted,
  };
}

port0.on('message', (m: ToThread) => {
  run(m.command).then(
    (reply) => send({ type: 'reply', id: m.id, reply }),
    (e: unknown) =>
      send({
        type: 'error',
        id: m.id,
        message: e instanceof Error ? e.message : String(e),
        code: (e as { code?: string }).code,
      }),
  );
});
send({ type: 'ready' });
