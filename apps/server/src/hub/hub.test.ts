import { describe, expect, it } from 'vitest';
import { synthesize } from '@iocpscope/analysis';
import {
  EventKind,
  RECORD_WORDS,
  SnapshotReason,
  ThreadRole,
  decodeFrame,
  kindAt,
  tidAt,
  writeRecord,
  xAt,
  zAt,
} from '@iocpscope/protocol';
import { TrackingSource, liveState, replayWords } from '../trace/state.test-util.ts';
import { isStreamError } from './errors.ts';
import { Hub } from './hub.ts';
import { syntheticTrace } from './synthetic.ts';
import { FakeSink, decodeSeen } from './testing.ts';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const W = RECORD_WORDS;

/** Word-exact equality without vitest's per-element diffing (fast on large arrays). */
function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

/** Publish `trace` in batches of `batch`, flushing after each (one frame per batch). */
function publishAll(
  hub: Hub,
  records: Uint32Array,
  strings: Array<[number, string]>,
  batch: number,
) {
  const n = records.length / W;
  for (let off = 0; off < n; off += batch) {
    hub.publish(records.subarray(off * W, Math.min(n, off + batch) * W), off === 0 ? strings : []);
    hub.flush();
  }
}

/** Complete writes until nothing is pending (completions may send resume frames). */
function drain(...sinks: FakeSink[]): void {
  for (let guard = 0; guard < 10_000; guard++) {
    let any = 0;
    for (const s of sinks) any += s.complete();
    if (any === 0) return;
  }
  throw new Error('drain did not settle');
}

/**
 * A hub on a tracking source with one client that has joined (its LateJoin
 * bracket answered) and received the first 2000 events of a seeded trace.
 */
function joinedAt2000(seed: number) {
  const source = new TrackingSource();
  const hub = new Hub({ maxFrameRecords: 256 });
  hub.attach(source);
  const t = synthesize({ seed, events: 6000, sessions: 12 });
  const sink = new FakeSink(true);
  const client = hub.addClient(sink);
  source.answer();
  source.emit(
    t.words.subarray(0, 2000 * W),
    t.strings.map((v, k) => [k, v]),
  );
  hub.flush();
  return { source, hub, t, n: t.length, sink, client };
}

describe('Hub', () => {
  it('delivers every published record, in order, to a client that keeps up', async () => {
    const hub = new Hub({ maxFrameRecords: 1000 });
    const sink = new FakeSink(true);
    hub.addClient(sink);
    const t = syntheticTrace({ events: 20_000 });
    publishAll(hub, t.records, t.strings, 777);
    await Promise.resolve();
    const seen = decodeSeen(sink.binary);
    expect(sameWords(seen.records, t.records)).toBe(true); // the first (snapshot) frame is empty
    expect(seen.lost).toBe(0);
    expect(seen.undefinedRefs).toBe(0);
    expect(seen.seqs).toEqual(seen.seqs.map((_, i) => i));
    expect(hub.stats().perClient[0]!.deliveredEvents).toBe(t.records.length / W);
  });

  it('coalesces small batches published in one turn into one frame', async () => {
    const hub = new Hub();
    const sink = new FakeSink(true);
    hub.addClient(sink);
    const t = syntheticTrace({ events: 500 });
    for (let i = 0; i < t.records.length / W; i += 10) {
      hub.publish(t.records.subarray(i * W, (i + 10) * W), i === 0 ? t.strings : []);
    }
    await new Promise((r) => setImmediate(r));
    expect(sink.binary.length).toBe(2); // snapshot + one live frame
    expect(sameWords(decodeSeen(sink.binary).records, t.records)).toBe(true);
  });

  it('gives a stalled client one Gap with the exact count it missed, then resumes live, while a fast client gets everything', () => {
    const hub = new Hub({ maxClientQueueBytes: 64 * 1024, maxFrameRecords: 512 });
    const fast = new FakeSink(false);
    const slow = new FakeSink(false);
    hub.addClient(fast);
    hub.addClient(slow);
    const t = syntheticTrace({ events: 50_000 });
    const n = t.records.length / W;
    const half = Math.floor(n / 2);
    // The fast client completes after every frame; the slow one never does.
    for (let off = 0; off < half; off += 500) {
      hub.publish(
        t.records.subarray(off * W, Math.min(half, off + 500) * W),
        off === 0 ? t.strings : [],
      );
      hub.flush();
      fast.complete();
    }
    const stalled = hub.stats().perClient[1]!;
    expect(stalled.queuedBytes).toBeLessThanOrEqual(64 * 1024);
    // The slow client catches up, then keeps up for the second half.
    drain(slow);
    for (let off = half; off < n; off += 500) {
      hub.publish(t.records.subarray(off * W, Math.min(n, off + 500) * W), []);
      hub.flush();
      drain(fast, slow);
    }
    const f = decodeSeen(fast.binary);
    const s = decodeSeen(slow.binary);
    expect(sameWords(f.records, t.records)).toBe(true);
    expect(f.lost).toBe(0);
    expect(s.gaps).toBe(1);
    expect(s.lost).toBeGreaterThan(0);
    const delivered = s.records.length / W - s.gaps;
    expect(delivered + s.lost).toBe(n);
    expect(s.undefinedRefs).toBe(0);
    // Stream order survives the gap: body records' indices strictly increase,
    // and the second half arrives complete.
    let last = -1;
    let tail = 0;
    let ordered = true;
    for (let i = 0; i < s.records.length / W; i++) {
      if (kindAt(s.records, i) === EventKind.Gap || i < t.headerRecords) continue;
      const z = zAt(s.records, i);
      if (z <= last) ordered = false;
      last = z;
      if (z >= half - t.headerRecords) tail++;
    }
    expect(ordered).toBe(true);
    expect(tail).toBe(n - half);
    for (let i = 1; i < s.seqs.length; i++) expect(s.seqs[i]!).toBeGreaterThan(s.seqs[i - 1]!);
  });

  it('sends a late-joining client the strings, live threads and port in its first frame', () => {
    const hub = new Hub();
    const t = syntheticTrace({ events: 1000, workers: 3 });
    publishAll(hub, t.records, t.strings, 300);
    // Worker 2 exits; a worker 9 starts with a new name.
    const more = new Uint32Array(2 * W);
    writeRecord(more, 0, EventKind.ThreadExit, 0, 2, 0, 10_000_000, 0, 0, 0, 0);
    writeRecord(more, 1, EventKind.ThreadStart, ThreadRole.Worker, 9, 50, 10_000_001, 0, 0, 0, 0);
    hub.publish(more, [[50, 'worker-9']]);
    const sink = new FakeSink(true);
    hub.addClient(sink);
    const snap = decodeSeen(sink.binary.slice(0, 1));
    const starts: number[] = [];
    let ports = 0;
    for (let i = 0; i < snap.records.length / W; i++) {
      if (kindAt(snap.records, i) === EventKind.ThreadStart) starts.push(tidAt(snap.records, i));
      if (kindAt(snap.records, i) === EventKind.PortCreated) ports++;
    }
    expect(starts.sort((a, b) => a - b)).toEqual([0, 1, 3, 9]);
    expect(ports).toBe(1);
    expect(snap.strings.get(50)).toBe('worker-9');
    expect(snap.strings.get(2)).toBe('worker-1');
    expect(snap.undefinedRefs).toBe(0);
  });

  it('re-sends the thread starts and exits a client lost in a gap', () => {
    const hub = new Hub({ maxClientQueueBytes: 4096, maxFrameRecords: 64 });
    const sink = new FakeSink(false);
    hub.addClient(sink);
    const filler = syntheticTrace({ events: 2000, workers: 2 });
    publishAll(hub, filler.records, filler.strings, 64); // fills the queue; the rest is lost
    const lifecycle = new Uint32Array(2 * W);
    writeRecord(
      lifecycle,
      0,
      EventKind.ThreadStart,
      ThreadRole.Worker,
      7,
      60,
      9_000_000,
      0,
      0,
      0,
      0,
    );
    writeRecord(lifecycle, 1, EventKind.ThreadExit, 0, 1, 0, 9_000_001, 0, 0, 0, 0);
    hub.publish(lifecycle, [[60, 'late-worker']]);
    hub.flush();
    drain(sink);
    const seen = decodeSeen(sink.binary);
    const kinds: Array<[number, number]> = [];
    for (let i = 0; i < seen.records.length / W; i++) {
      const k = kindAt(seen.records, i);
      if (k === EventKind.ThreadStart || k === EventKind.ThreadExit)
        kinds.push([k, tidAt(seen.records, i)]);
    }
    expect(kinds).toContainEqual([EventKind.ThreadStart, 7]);
    expect(kinds).toContainEqual([EventKind.ThreadExit, 1]);
    expect(seen.strings.get(60)).toBe('late-worker');
    expect(seen.gaps).toBe(1);
  });

  it('reports events missed while a client paused its stream as one Gap', () => {
    const hub = new Hub();
    const sink = new FakeSink(true);
    const client = hub.addClient(sink);
    const t = syntheticTrace({ events: 3000 });
    client.pauseStream();
    publishAll(hub, t.records, t.strings, 1000);
    expect(sink.binary.length).toBe(1);
    client.resumeStream();
    const seen = decodeSeen(sink.binary);
    expect(seen.gaps).toBe(1);
    expect(seen.records.length / W - 1 + seen.lost).toBe(t.records.length / W);
  });

  it('keeps every client within its bounds under a seeded random schedule, and accounts for every event', () => {
    let gapsSeen = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = mulberry32(seed);
      const hub = new Hub({
        maxClientQueueBytes: 32 * 1024,
        maxClientQueueFrames: 8,
        maxFrameRecords: 256,
      });
      const t = syntheticTrace({ events: 30_000, workers: 3 });
      const total = t.records.length / W;
      const clients: Array<{
        sink: FakeSink;
        startIdx: number;
        client: ReturnType<Hub['addClient']>;
      }> = [];
      let off = 0;
      while (off < total) {
        const r = rnd();
        if (r < 0.5) {
          const len = 1 + Math.floor(rnd() * 400);
          const end = Math.min(total, off + len);
          hub.publish(t.records.subarray(off * W, end * W), off === 0 ? t.strings : []);
          off = end;
          if (rnd() < 0.5) hub.flush();
        } else if (r < 0.85 && clients.length > 0) {
          const c = clients[Math.floor(rnd() * clients.length)]!;
          c.sink.complete(Math.floor(rnd() * 4));
        } else if (r < 0.9 && clients.length < 4) {
          const sink = new FakeSink(false);
          const client = hub.addClient(sink);
          clients.push({ sink, client, startIdx: hub.flushedIdx });
        } else if (clients.length > 0) {
          const c = clients[Math.floor(rnd() * clients.length)]!;
          if (c.client.streamPaused) c.client.resumeStream();
          else c.client.pauseStream();
        }
        for (const c of clients) {
          const s = c.client.stats();
          expect(s.queuedFrames).toBeLessThanOrEqual(8 + 2);
          expect(s.queuedBytes).toBeLessThanOrEqual(32 * 1024 + 256 * 32 + 1024);
        }
      }
      hub.flush();
      for (const c of clients) c.client.resumeStream();
      drain(...clients.map((c) => c.sink));
      for (const c of clients) {
        const seen = decodeSeen(c.sink.binary);
        const snapshotRecords = decodeSeen(c.sink.binary.slice(0, 1)).records.length / W;
        const delivered = seen.records.length / W - snapshotRecords - seen.gaps;
        expect(delivered + seen.lost, `seed ${seed}`).toBe(total - c.startIdx);
        expect(seen.undefinedRefs).toBe(0);
        for (let i = 1; i < seen.seqs.length; i++)
          expect(seen.seqs[i]!).toBeGreaterThan(seen.seqs[i - 1]!);
        gapsSeen += seen.gaps;
      }
    }
    expect(gapsSeen).toBeGreaterThan(0); // the schedule did exercise overflow
  });

  it('refuses clients beyond maxClients with BUSY, and bad options with BAD_OPTIONS', () => {
    const hub = new Hub({ maxClients: 1 });
    hub.addClient(new FakeSink());
    let err: unknown;
    try {
      hub.addClient(new FakeSink());
    } catch (e) {
      err = e;
    }
    expect(isStreamError(err) && err.code).toBe('BUSY');
    expect(() => new Hub({ maxClientQueueBytes: 0 })).toThrow(/BAD_OPTIONS/);
    expect(() => new Hub({ maxFrameRecords: 1.5 })).toThrow(/BAD_OPTIONS/);
  });

  it('closes a client whose replies pile up past twice its bound', () => {
    const hub = new Hub({ maxClientQueueBytes: 1024 });
    const sink = new FakeSink(false);
    const client = hub.addClient(sink);
    for (let i = 0; i < 100 && !client.closed; i++) client.sendText('x'.repeat(100));
    expect(client.closed).toBe(true);
    expect(sink.closed?.code).toBe(1008);
    expect(hub.clientCount).toBe(0);
  });

  it('sends only the latest coalesced status to a client whose queue is full', () => {
    const hub = new Hub({ maxClientQueueBytes: 1024, maxClientQueueFrames: 2 });
    const sink = new FakeSink(false);
    const client = hub.addClient(sink); // snapshot frame queued
    client.sendLatest('status', 'a');
    client.sendLatest('status', 'b');
    client.sendLatest('status', 'c');
    drain(sink);
    expect(sink.text).toEqual(['a', 'c']);
  });

  it('starts a late joiner with a LateJoin bracket cut exactly where its live frames begin', () => {
    const source = new TrackingSource();
    const hub = new Hub({ maxFrameRecords: 256 });
    hub.attach(source);
    const t = synthesize({ seed: 21, events: 6000, sessions: 12 });
    const n = t.length;
    const strings: Array<[number, string]> = t.strings.map((v, k) => [k, v]);
    source.emit(t.words.subarray(0, 2500 * W), strings);
    hub.flush();
    const sink = new FakeSink(true);
    hub.addClient(sink);
    // Until the source answers, the client gets no event frame: these are state the bracket holds.
    source.emit(t.words.subarray(2500 * W, 3000 * W));
    hub.flush();
    expect(sink.binary).toHaveLength(0);
    source.answer();
    for (let off = 3000; off < n; off += 400) {
      source.emit(t.words.subarray(off * W, Math.min(n, off + 400) * W));
      hub.flush();
    }
    const seen = decodeSeen(sink.binary);
    expect(kindAt(seen.records, 0)).toBe(EventKind.Snapshot);
    expect(xAt(seen.records, 0)).toBe(SnapshotReason.LateJoin);
    let end = 1;
    while (kindAt(seen.records, end) !== EventKind.Snapshot) end++;
    expect(sameWords(seen.records.subarray((end + 1) * W), t.words.subarray(3000 * W, n * W))).toBe(
      true,
    );
    expect(seen.undefinedRefs).toBe(0);
    // The naive model: replaying what the client saw ends where replaying everything ends.
    expect(liveState(replayWords(seen.records))).toEqual(
      liveState(replayWords(t.words.subarray(0, n * W))),
    );
  });

  it('resyncs a client that fell behind with a Gap and a Resync bracket, so nothing it shows is a guess', () => {
    const source = new TrackingSource();
    const hub = new Hub({ maxClientQueueBytes: 16 * 1024, maxFrameRecords: 128 });
    hub.attach(source);
    const t = synthesize({ seed: 22, events: 8000, sessions: 16 });
    const n = t.length;
    const slow = new FakeSink(false);
    hub.addClient(slow);
    source.answer();
    source.emit(
      t.words.subarray(0, 100 * W),
      t.strings.map((v, k) => [k, v]),
    );
    hub.flush();
    drain(slow);
    // The client stops reading: frames it cannot take are lost.
    for (let off = 100; off < 5000; off += 100) {
      source.emit(t.words.subarray(off * W, (off + 100) * W));
      hub.flush();
    }
    drain(slow); // it reads again: the hub asks for a Resync bracket
    expect(source.requests.map(([r]) => r)).toEqual([SnapshotReason.Resync]);
    source.emit(t.words.subarray(5000 * W, 5100 * W));
    hub.flush();
    source.answer();
    for (let off = 5100; off < n; off += 100) {
      source.emit(t.words.subarray(off * W, Math.min(n, off + 100) * W));
      hub.flush();
      drain(slow);
    }
    const seen = decodeSeen(slow.binary);
    expect(seen.gaps).toBe(1);
    const g = [...Array(seen.records.length / W).keys()].find(
      (i) => kindAt(seen.records, i) === EventKind.Gap,
    )!;
    expect(kindAt(seen.records, g + 1)).toBe(EventKind.Snapshot);
    expect(xAt(seen.records, g + 1)).toBe(SnapshotReason.Resync);
    expect(hub.stats().perClient[0]!.lostEvents).toBe(seen.lost);
    expect(liveState(replayWords(seen.records))).toEqual(
      liveState(replayWords(t.words.subarray(0, n * W))),
    );
    for (let i = 1; i < seen.seqs.length; i++)
      expect(seen.seqs[i]!).toBeGreaterThan(seen.seqs[i - 1]!);
  });

  it('resyncs a client on request at the next cut, losing nothing, one request at a time', async () => {
    const { source, hub, t, n, sink, client } = joinedAt2000(23);
    client.requestResync();
    expect(() => client.requestResync()).toThrow(/BUSY/);
    // Frames keep coming until the bracket arrives at the cut.
    source.emit(t.words.subarray(2000 * W, 3000 * W));
    hub.flush();
    await Promise.resolve();
    const before = decodeSeen(sink.binary).records.length;
    source.answer();
    for (let off = 3000; off < n; off += 500) {
      source.emit(t.words.subarray(off * W, Math.min(n, off + 500) * W));
      hub.flush();
    }
    const seen = decodeSeen(sink.binary);
    expect(seen.gaps).toBe(0);
    const at = before / W;
    expect(kindAt(seen.records, at)).toBe(EventKind.Snapshot);
    expect(xAt(seen.records, at)).toBe(SnapshotReason.Resync);
    let end = at + 1;
    while (kindAt(seen.records, end) !== EventKind.Snapshot) end++;
    // Before the bracket every record up to the cut, after it the rest: nothing lost.
    const first = decodeSeen(sink.binary.slice(0, 1)).records.length / W;
    expect(sameWords(seen.records.subarray(first * W, at * W), t.words.subarray(0, 3000 * W))).toBe(
      true,
    );
    expect(sameWords(seen.records.subarray((end + 1) * W), t.words.subarray(3000 * W, n * W))).toBe(
      true,
    );
    expect(liveState(replayWords(seen.records.subarray(at * W)))).toEqual(
      liveState(replayWords(t.words.subarray(0, n * W))),
    );
    expect(hub.stats().perClient[0]!.lostEvents).toBe(0);
    // Answered: the next request is taken again; a paused stream refuses.
    client.requestResync();
    source.answer();
    client.pauseStream();
    expect(() => client.requestResync()).toThrow(/BUSY/);
    // A source without brackets cannot resync.
    const plain = new Hub();
    const c2 = plain.addClient(new FakeSink(true));
    expect(() => c2.requestResync()).toThrow(/UNSUPPORTED/);
  });

  it('a client that pauses its stream while its Resync bracket is on its way gets the bracket, then nothing until it resumes', async () => {
    const { source, hub, t, n, sink, client } = joinedAt2000(24);
    client.requestResync();
    // The browser switches to its overview before the bracket comes: it holds the stream.
    client.pauseStream();
    source.emit(t.words.subarray(2000 * W, 3000 * W));
    hub.flush();
    source.answer();
    await Promise.resolve();
    const atAnswer = sink.binary.length;
    for (let off = 3000; off < 5000; off += 500) {
      source.emit(t.words.subarray(off * W, (off + 500) * W));
      hub.flush();
    }
    // Held: nothing after the bracket it asked for.
    expect(sink.binary.length).toBe(atAnswer);
    // (the bracket comes after a Gap for the events held since the pause)
    const last = decodeSeen(sink.binary.slice(atAnswer - 1));
    expect(last.lost).toBe(1000);
    expect(kindAt(last.records, 1)).toBe(EventKind.Snapshot);
    expect(xAt(last.records, 1)).toBe(SnapshotReason.Resync);
    // Resumed: one Gap for what was held back, a Resync bracket, then live again.
    client.resumeStream();
    source.answer();
    for (let off = 5000; off < n; off += 500) {
      source.emit(t.words.subarray(off * W, Math.min(n, off + 500) * W));
      hub.flush();
    }
    const after = decodeSeen(sink.binary.slice(atAnswer));
    expect(after.gaps).toBe(1);
    expect(after.lost).toBe(2000);
    expect(kindAt(after.records, 0)).toBe(EventKind.Gap);
    expect(kindAt(after.records, 1)).toBe(EventKind.Snapshot);
    const seen = decodeSeen(sink.binary);
    for (let i = 1; i < seen.seqs.length; i++)
      expect(seen.seqs[i]!).toBeGreaterThan(seen.seqs[i - 1]!);
    expect(liveState(replayWords(seen.records))).toEqual(
      liveState(replayWords(t.words.subarray(0, n * W))),
    );
  });

  it('numbers every frame with the stream position of its records when given one', () => {
    const source = new TrackingSource();
    let delivered = 0;
    // What the live spool does: a listener before the hub counts the source's records.
    source.subscribe((records) => void (delivered += records.length / W));
    const t = synthesize({ seed: 24, events: 5000, sessions: 10 });
    const n = t.length;
    source.emit(
      t.words.subarray(0, 700 * W),
      t.strings.map((v, k) => [k, v]),
    );
    const hub = new Hub({ maxFrameRecords: 300, maxClientQueueBytes: 64 * 1024 });
    hub.seed({ records: t.words.subarray(0, 8 * W), strings: [] });
    hub.attach(source, { position: () => delivered });
    const fast = new FakeSink(true);
    const slow = new FakeSink(false);
    hub.addClient(fast);
    hub.addClient(slow);
    source.emit(t.words.subarray(700 * W, 900 * W));
    source.answer();
    for (let off = 900; off < n; off += 250) {
      source.emit(t.words.subarray(off * W, Math.min(n, off + 250) * W));
      hub.flush();
      if (off % 1000 === 0) drain(slow);
    }
    drain(slow);
    source.answer();
    drain(slow);
    for (const sink of [fast, slow]) {
      let next = -1;
      let checked = 0;
      for (const bytes of sink.binary) {
        const f = decodeFrame(bytes);
        expect(f.stream).toBeTypeOf('number');
        const stream = f.stream!;
        const m = f.records.length / W;
        // Per-client frames (a bracket, a Gap) give the position after them.
        const own =
          m > 0 &&
          (kindAt(f.records, 0) === EventKind.Snapshot || kindAt(f.records, 0) === EventKind.Gap);
        if (!own) {
          // Stream records: the source's records at those positions.
          expect(sameWords(f.records, t.words.subarray(stream * W, (stream + m) * W))).toBe(true);
          if (next >= 0) expect(stream).toBe(next);
          next = stream + m;
          checked += m;
        } else next = stream;
      }
      expect(checked).toBeGreaterThan(1000);
    }
  });
});
