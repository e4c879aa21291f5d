import { describe, expect, it } from 'vitest';
import {
  DetectorRunner,
  Rng,
  SYNTH_FAULTS,
  TraceBuilder,
  openSession,
  server,
  synthesize,
  type TraceRecords,
} from '@iocpscope/analysis';
import {
  EventKind,
  RECORD_WORDS,
  SnapshotReason,
  ThreadStateValue,
  kindAt,
  tsAt,
  xAt,
  yAt,
} from '@iocpscope/protocol';
import { SNAPSHOT_PARTIAL, StateTracker, setSnapshotReason } from './state-tracker.ts';
import { liveState, replayWords } from './state.test-util.ts';

const W = RECORD_WORDS;

const replayOf = replayWords;

function bracketAt(t: TraceRecords, k: number): Uint32Array {
  const tr = new StateTracker();
  // Fed in uneven batches, as the drainer hands them over.
  const rng = new Rng(k);
  for (let at = 0; at < k;) {
    const n = Math.min(k - at, rng.int(1, 700));
    tr.observe(t.words.subarray(at * W, (at + n) * W));
    at += n;
  }
  return tr.snapshot(SnapshotReason.RecordingStart).records;
}

describe('StateTracker', () => {
  it('gives, at any cut, the state the whole prefix replays to (naive model, synthetic runs with faults)', () => {
    let cuts = 0;
    for (const [seed, faults] of [
      [1, []],
      [2, ['release-with-io-pending']],
      [3, ['two-sends-in-flight', 'lock-across-send']],
      [4, ['no-decrement-on-failure', 'zero-byte-recv-reposted']],
      [5, [...SYNTH_FAULTS].slice(0, 3)],
    ] as const) {
      for (const maxEntries of [1, 16]) {
        const t = synthesize({
          seed,
          events: 6000,
          sessions: 20,
          maxEntries,
          faults,
          faultRate: 0.2,
        });
        const rng = new Rng(seed * 31 + maxEntries);
        for (let c = 0; c < 6; c++) {
          const k = rng.int(1, t.length);
          const want = liveState(replayOf(t.words.subarray(0, k * W)));
          const got = liveState(replayOf(bracketAt(t, k)));
          expect(got, `seed ${seed}, GQCS-Ex ${maxEntries}, cut at ${k}`).toEqual(want);
          cuts++;
        }
      }
    }
    expect(cuts).toBe(60);
  });

  it('writes every record of a bracket at the cut time, and counts them in its end', () => {
    const t = synthesize({ seed: 9, events: 3000, sessions: 8 });
    const k = 2000;
    const b = bracketAt(t, k);
    const n = b.length / W;
    expect(kindAt(b, 0)).toBe(EventKind.Snapshot);
    expect(kindAt(b, n - 1)).toBe(EventKind.Snapshot);
    expect(yAt(b, n - 1)).toBe(n - 2);
    for (let i = 0; i < n; i++) expect(tsAt(b, i)).toBe(tsAt(t.words, k - 1));
    setSnapshotReason(b, SnapshotReason.Resync);
    expect([xAt(b, 0), xAt(b, n - 1)]).toEqual([SnapshotReason.Resync, SnapshotReason.Resync]);
  });

  it('leaves out what a gap made uncertain, says the bracket is partial, and recovers', () => {
    const sv = server({ workers: 2, concurrency: 2 });
    const before = openSession(sv, 1);
    sv.b.complete(before.recv, { bytes: 8 });
    sv.b.gap(100);
    const after = openSession(sv, 2);
    let tr = new StateTracker();
    tr.observe(sv.b.build().words);
    expect(tr.partial).toBe(true);
    let st = replayOf(tr.snapshot(SnapshotReason.Resync).records);
    expect([...st.sessions.keys()]).toEqual([after.s]);
    expect(st.port.queueKnown).toBe(false);
    expect(yAt(tr.snapshot(SnapshotReason.Resync).records, 0) & SNAPSHOT_PARTIAL).toBe(1);
    // The old session ends, the workers say what they do: the state is whole again.
    sv.w[0]!.release(before.s);
    // A thread is known again once it writes something (the accept thread did: it accepted).
    sv.main.marker('main runs');
    sv.b.kernel.marker('kernel runs');
    for (const w of sv.w) {
      w.gqcs();
      w.state(ThreadStateValue.Waiting);
    }
    tr = new StateTracker();
    tr.observe(sv.b.build().words);
    expect(tr.partial).toBe(false);
    st = replayOf(tr.snapshot(SnapshotReason.Resync).records);
    expect(st.port.queueKnown).toBe(true);
    expect(st.port.waiting).toEqual(sv.w.map((w) => w.tid));
  });

  it("takes a thread's ring overflow to last until the thread writes again", () => {
    const sv = server({ workers: 2, concurrency: 2 });
    const w = sv.w[0]!;
    sv.b.gap(100, w.tid, 0);
    // Created while the worker may still be losing records: it may have
    // dequeued this recv unseen. Once it writes again, the session is uncertain.
    const during = openSession(sv, 1);
    sv.b.complete(during.recv, { bytes: 8 });
    w.marker('writes again');
    const after = openSession(sv, 2);
    const tr = new StateTracker();
    tr.observe(sv.b.build().words);
    expect(tr.partial).toBe(true);
    const st = replayOf(tr.snapshot(SnapshotReason.Resync).records);
    expect([...st.sessions.keys()]).toEqual([after.s]);
  });

  it('does not list an operation whose completion was dequeued before its IoPosted was written', () => {
    const b = new TraceBuilder();
    const acc = b.thread('accept', 2);
    const w = b.thread('worker', 1);
    const s = b.accept(acc);
    acc.hold(s);
    const r = acc.recv(s, { posted: false });
    b.complete(r, { bytes: 4 });
    w.dequeue(r);
    acc.posted(r, 0);
    const tr = new StateTracker();
    tr.observe(b.build().words);
    const st = replayOf(tr.snapshot(SnapshotReason.LateJoin).records);
    expect(st.sessions.get(s)!.ops).toEqual([]);
    expect(st.sessions.get(s)!.ioCount).toBe(2);
  });

  it('lists a session released before its acceptor finished, so the late Accept is judged, not taken for a new session', () => {
    const sv = server();
    const done = openSession(sv, 1); // accepted the reference way (its Accept comes first here)
    const s = sv.b.accept(sv.acc, { slot: 2 });
    sv.acc.recv(s); // no hold: the client left at once
    sv.w[0]!.release(s, 0);
    const tr = new StateTracker();
    const words = sv.b.build().words;
    tr.observe(words);
    const bracket = tr.snapshot(SnapshotReason.RecordingStart).records;
    // Mid-run recording: the bracket, then the acceptor finishing with the freed session.
    const late = new TraceBuilder();
    late.rec(EventKind.Accept, 0, sv.acc.tid, 0, s, 0, 0);
    const tail = late.build().words;
    const all = new Uint32Array(bracket.length + tail.length);
    all.set(bracket);
    all.set(tail, bracket.length);
    const st = replayOf(all);
    expect(st.sessions.get(s)!.lifecycle).toBe('released');
    expect(
      [...st.sessions.keys()].filter((id) => st.sessions.get(id)!.lifecycle !== 'released'),
    ).toEqual([done.s]);
    const runner = new DetectorRunner({ rules: ['accept-hold'] });
    runner.feed({ words: all, length: all.length / W });
    expect(runner.findings.map((f) => `${f.rule}/${f.check}`)).toEqual([
      'accept-hold/join-after-leave',
    ]);
  });
});
