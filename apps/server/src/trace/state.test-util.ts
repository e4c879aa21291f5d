// Test helpers around StateTracker: an event source that tracks its state the
// way the drainer thread does (snapshot requests answered between two
// batches, when the test says), and the naive model of "what is live" that
// tracker and replay tests compare against.

import { Replayer, isOutstanding, type ReplayState } from '@iocpscope/analysis';
import { RECORD_WORDS, ThreadStateValue, type SnapshotReason } from '@iocpscope/protocol';
import type {
  EventBatchListener,
  EventSource,
  StringEntries,
  TraceSnapshot,
} from '../hub/types.ts';
import { StateTracker, setSnapshotReason } from './state-tracker.ts';

export class TrackingSource implements EventSource {
  readonly tracker = new StateTracker();
  readonly listeners = new Set<EventBatchListener>();
  readonly requests: Array<[SnapshotReason, (s: TraceSnapshot) => void]> = [];

  subscribe(l: EventBatchListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  requestSnapshot(reason: SnapshotReason, deliver: (s: TraceSnapshot) => void): void {
    this.requests.push([reason, deliver]);
  }

  emit(records: Uint32Array, strings: StringEntries = []): void {
    this.tracker.observeStrings(strings);
    this.tracker.observe(records);
    for (const l of this.listeners) l(records, strings);
  }

  /** Answer the pending requests: the cut is here, between two emits. */
  answer(): void {
    for (const [reason, deliver] of this.requests.splice(0)) {
      const snap = this.tracker.snapshot(reason);
      setSnapshotReason(snap.records, reason);
      deliver(snap);
    }
  }
}

export function replayWords(words: Uint32Array): ReplayState {
  const r = new Replayer();
  const n = words.length / RECORD_WORDS;
  r.advance({ words, length: n }, n);
  return r.state;
}

/**
 * What is live in a replayed state, comparably: sessions not released with
 * their count, lifecycle and outstanding posted I/O; live threads with their
 * state; the LIFO waiting list; the queue; lock owners.
 */
export function liveState(st: ReplayState): unknown {
  const sessions = [...st.sessions.values()]
    .filter((s) => s.lifecycle !== 'released')
    .map((s) => ({
      id: s.id.toString(16),
      ioCount: s.ioCount,
      lifecycle: s.lifecycle,
      slot: s.slot,
      peer: s.peerStr,
      ops: s.ops
        .filter((o) => o.postIndex >= 0 && isOutstanding(o))
        .map((o) => [o.ioId, o.op, o.postResult, o.requestedBytes, o.overlapped, o.ringOff0])
        .sort((a, b) => (a[0] as number) - (b[0] as number)),
    }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const threads = [...st.threads.values()]
    .filter((t) => t.exitIndex < 0 && t.state !== ThreadStateValue.Exited)
    .map((t) => [t.tid, t.role, t.state, t.inGqcs])
    .sort((a, b) => (a[0] as number) - (b[0] as number));
  return {
    sessions,
    threads,
    waiting: st.port.waiting,
    running: st.port.running,
    queue: st.port.queue
      .toArray()
      .map((p) => [p.key.toString(16), p.op, p.ioId, p.bytes, p.status]),
    locks: [...st.locks.values()].filter((l) => l.owner >= 0).map((l) => [l.lockId, l.owner]),
    concurrency: st.port.concurrency,
  };
}
