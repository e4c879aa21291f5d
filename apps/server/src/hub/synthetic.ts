// A deterministic synthetic trace: a kernel thread and W workers, a port, and
// then a steady cycle of the events a busy echo server produces (packet
// queued, GQCS return, running, IoCount, I/O posted, GQCS enter, waiting).
// Used where a stream is needed without an echo server: the hub/recorder
// tests and the stream benchmark. Body records carry their body index in
// word z (the ioId slot), so a consumer can check that nothing was lost or
// reordered; timestamps advance by `stepNs` per record.

import {
  Backend,
  EventKind,
  IoCountCause,
  NO_THREAD,
  Op,
  RECORD_WORDS,
  ThreadRole,
  ThreadStateValue,
  writeRecord,
} from '@iocpscope/protocol';

export interface SyntheticOptions {
  /** Body events (after the header records). */
  events: number;
  workers?: number;
  /** Distinct sessions cycled through. Default 64. */
  sessions?: number;
  /** Timestamp of the first record. Default 1000. */
  startTs?: number;
  stepNs?: number;
  /** Word z of body record b is zBase + b. Default 0. */
  zBase?: number;
}

export interface SyntheticTrace {
  records: Uint32Array;
  strings: Array<[number, string]>;
  /** Records before the body (thread starts, port, first states). */
  headerRecords: number;
}

const CYCLE = [
  EventKind.PacketQueued,
  EventKind.GqcsReturn,
  EventKind.ThreadState,
  EventKind.IoCount,
  EventKind.IoPosted,
  EventKind.GqcsEnter,
  EventKind.ThreadState,
] as const;

export function syntheticTrace(o: SyntheticOptions): SyntheticTrace {
  const workers = o.workers ?? 4;
  const sessions = o.sessions ?? 64;
  const step = o.stepNs ?? 100;
  const zBase = o.zBase ?? 0;
  let ts = o.startTs ?? 1000;
  const strings: Array<[number, string]> = [[1, 'kernel']];
  for (let w = 1; w <= workers; w++) strings.push([1 + w, `worker-${w}`]);
  const headerRecords = 1 + workers + 1 + workers;
  const w = new Uint32Array((headerRecords + o.events) * RECORD_WORDS);
  let i = 0;
  writeRecord(w, i++, EventKind.ThreadStart, ThreadRole.Kernel, 0, 1, ts, 0, 0, 1000, 0);
  for (let t = 1; t <= workers; t++) {
    writeRecord(
      w,
      i++,
      EventKind.ThreadStart,
      ThreadRole.Worker,
      t,
      1 + t,
      (ts += step),
      0,
      0,
      1000 + t,
      0,
    );
  }
  writeRecord(
    w,
    i++,
    EventKind.PortCreated,
    Backend.Emulated,
    NO_THREAD,
    0,
    (ts += step),
    0,
    0,
    workers,
    0,
  );
  for (let t = 1; t <= workers; t++) {
    writeRecord(
      w,
      i++,
      EventKind.ThreadState,
      ThreadStateValue.Waiting,
      t,
      0,
      (ts += step),
      0,
      0,
      0,
      0,
    );
  }
  for (let b = 0; b < o.events; b++) {
    const round = Math.floor(b / CYCLE.length);
    const kind = CYCLE[b % CYCLE.length]!;
    const z = zBase + b;
    const tid = 1 + (round % workers);
    const sess = 1 + (round % sessions);
    ts += step;
    switch (kind) {
      case EventKind.PacketQueued:
        writeRecord(w, i++, kind, Op.Recv, 0, 64, ts, sess, 0, 0, z);
        break;
      case EventKind.GqcsReturn:
        writeRecord(w, i++, kind, Op.Recv | 0x30, tid, 64, ts, sess, 0, 0, z);
        break;
      case EventKind.ThreadState: {
        const running = b % CYCLE.length === 2;
        const state = running ? ThreadStateValue.Running : ThreadStateValue.Waiting;
        writeRecord(w, i++, kind, state, tid, 0, ts, 0, 0, 0, z);
        break;
      }
      case EventKind.IoCount:
        writeRecord(w, i++, kind, IoCountCause.Completion, tid, 1, ts, sess, 0, 0xffffffff, z);
        break;
      case EventKind.IoPosted:
        writeRecord(w, i++, kind, Op.Recv | (1 << 4), tid, 8192, ts, sess, 0, 997, z);
        break;
      case EventKind.GqcsEnter:
        writeRecord(w, i++, kind, 0, tid, 0xffffffff, ts, 0, 0, 16, z);
        break;
    }
  }
  return { records: w, strings, headerRecords };
}
