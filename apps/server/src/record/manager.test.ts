import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EventKind,
  RECORD_WORDS,
  SnapshotReason,
  TraceEndReason,
  aAt,
  kindAt,
  readTraceFile,
  TraceFileReader,
  xAt,
  type SnapshotReason as Reason,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { StateTracker, setSnapshotReason } from '../trace/state-tracker.ts';
import { Hub } from '../hub/hub.ts';
import { syntheticTrace } from '../hub/synthetic.ts';
import type {
  EventBatchListener,
  EventSource,
  StringEntries,
  TraceSnapshot,
} from '../hub/types.ts';
import { RecordingCatalogue } from './catalogue.ts';
import { RecordingManager } from './manager.ts';

const W = RECORD_WORDS;
const header = (): TraceFileHeader => ({
  clock: 'monotonic-ns',
  host: 'test',
  backend: 'emulated',
  portConfig: { workers: 2, concurrency: 0 },
  startWallMs: 0,
});

/** A source driven by hand, like the drainer's feed. */
class ManualSource implements EventSource {
  readonly listeners = new Set<EventBatchListener>();
  subscribe(l: EventBatchListener, _options?: { fromStart?: boolean }): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  emit(records: Uint32Array, strings: StringEntries = []): void {
    for (const l of this.listeners) l(records, strings);
  }
}

/** A source that tracks its state like the drainer: snapshot requests are answered between two batches. */
class TrackingSource extends ManualSource {
  readonly tracker = new StateTracker();
  readonly requests: Array<[Reason, (s: TraceSnapshot) => void]> = [];
  requestSnapshot(reason: Reason, deliver: (s: TraceSnapshot) => void): void {
    this.requests.push([reason, deliver]);
  }
  override emit(records: Uint32Array, strings: StringEntries = []): void {
    this.tracker.observeStrings(strings);
    this.tracker.observe(records);
    super.emit(records, strings);
  }
  /** Answer the pending requests now (the cut is here). */
  answer(): void {
    for (const [reason, deliver] of this.requests.splice(0)) {
      const snap = this.tracker.snapshot(reason);
      setSnapshotReason(snap.records, reason);
      deliver(snap);
    }
  }
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-mgr-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function setup(sink?: ConstructorParameters<typeof RecordingManager>[0]['sink']): {
  source: ManualSource;
  hub: Hub;
  mgr: RecordingManager;
  changes: number[];
} {
  const source = new ManualSource();
  const hub = new Hub();
  hub.attach(source);
  const changes: number[] = [];
  // Wired as serve wires it: the catalogue asks the manager which files are being written.
  const ref: { mgr?: RecordingManager } = {};
  const catalogue = new RecordingCatalogue({
    dir,
    examplesDir: path.join(dir, 'none'),
    isActive: (f) => ref.mgr?.isActive(f) ?? false,
  });
  const mgr = new RecordingManager({
    dir,
    source,
    snapshot: () => hub.snapshot(),
    header,
    catalogue,
    onChange: () => changes.push(Date.now()),
    ...(sink ? { sink } : {}),
  });
  ref.mgr = mgr;
  return { source, hub, mgr, changes };
}

describe('RecordingManager', () => {
  it('records from mid-run a file that starts with the snapshot and has every later event', async () => {
    const { source, hub, mgr, changes } = setup();
    const t = syntheticTrace({ events: 5000, workers: 2 });
    const n = t.records.length / W;
    source.emit(t.records.subarray(0, 2000 * W), t.strings);
    const snapshot = hub.snapshot();
    const status = await mgr.start({ name: 'mid run' });
    expect(status).toMatchObject({ active: true, name: 'mid run', id: 'mid_run' });
    source.emit(t.records.subarray(2000 * W));
    const { summary, saved } = await mgr.stop();
    expect(summary.events).toBe(n - 2000);
    expect(saved[0]).toMatchObject({
      id: 'mid_run',
      name: 'mid run',
      // The snapshot, every later event, and the TraceEnd.
      events: snapshot.records.length / W + n - 2000 + 1,
      // Saved and closed: no longer being written.
      active: false,
    });
    const r = readTraceFile(await readFile(path.join(dir, 'mid run.iocptrace')));
    expect(r.error).toBeUndefined();
    expect(sameWords(r.records.subarray(0, snapshot.records.length), snapshot.records)).toBe(true);
    const last = r.records.length / W - 1;
    expect(
      sameWords(
        r.records.subarray(snapshot.records.length, last * W),
        t.records.subarray(2000 * W),
      ),
    ).toBe(true);
    expect(kindAt(r.records, last)).toBe(EventKind.TraceEnd);
    expect(aAt(r.records, last)).toBe(TraceEndReason.Stopped);
    expect(r.strings.get(2)).toBe('worker-1');
    expect(mgr.status()).toEqual({ active: false });
    expect(changes.length).toBe(2);
  });

  it('stops by itself at its total size limit, says why, and loses nothing it took', async () => {
    const { source, mgr } = setup({
      maxTotalBytes: 3 * 2 ** 20,
      maxFileBytes: 2 ** 20,
      chunkRecords: 4096,
      flushMs: 5,
    });
    await mgr.start({ name: 'capped' });
    const t = syntheticTrace({ events: 400_000, workers: 2 });
    const n = t.records.length / W;
    let fed = 0;
    // Feed as a server would, batch by batch, until the recording stops itself.
    while (mgr.recording && fed < n) {
      const k = Math.min(n - fed, 2048);
      source.emit(t.records.subarray(fed * W, (fed + k) * W), fed === 0 ? t.strings : []);
      fed += k;
      await new Promise((r) => setTimeout(r, 1));
    }
    for (let k = 0; k < 100 && mgr.recording; k++) await new Promise((r) => setTimeout(r, 10));
    expect(mgr.recording).toBe(false);
    expect(fed).toBeLessThan(n);
    const st = mgr.status();
    expect(st.active).toBe(false);
    expect(st.ended?.reason).toBe('size-cap');
    expect(st.ended?.message).toContain('--record-limit');
    // Every part reads whole; together they hold every record taken, in order.
    const files = (await import('node:fs/promises')).readdir(dir);
    const parts = (await files).filter((f) => f.startsWith('capped')).sort();
    expect(parts.length).toBeGreaterThanOrEqual(3);
    let total = 0;
    const seen: Uint32Array[] = [];
    let lastEnd = -1;
    for (const f of parts) {
      const bytes = await readFile(path.join(dir, f));
      total += bytes.length;
      const r = readTraceFile(bytes);
      expect(r.error).toBeUndefined();
      const m = r.records.length / W;
      expect(kindAt(r.records, m - 1)).toBe(EventKind.TraceEnd);
      lastEnd = aAt(r.records, m - 1);
      seen.push(r.records);
    }
    expect(lastEnd).toBe(TraceEndReason.SizeCap);
    // The limit plus at most a chunk or two still queued when it was reached.
    expect(total).toBeLessThan(3 * 2 ** 20 + 2 * 4096 * 32 + 64 * 1024);
    // Nothing lost: each part is its snapshot chunk, then the stream, then its TraceEnd; the
    // streams of the parts, end to end, are exactly the records fed before the stop.
    const stream: Uint32Array[] = [];
    for (const f of parts) {
      let firstChunk = -1;
      const rd = new TraceFileReader({
        onChunk: (records) => {
          if (firstChunk < 0) firstChunk = records.length;
        },
      });
      rd.push(await readFile(path.join(dir, f)));
      const r = rd.finish();
      const words = r.store.words.subarray(0, r.store.length * W);
      stream.push(words.subarray(firstChunk, words.length - W));
    }
    const got = new Uint32Array(stream.reduce((a, x) => a + x.length, 0));
    let o = 0;
    for (const x of stream) {
      got.set(x, o);
      o += x.length;
    }
    expect(got.length / W).toBeGreaterThan(50_000);
    expect(got.length / W).toBeLessThanOrEqual(fed);
    expect(sameWords(got, t.records.subarray(0, got.length))).toBe(true);
    // Restarting clears it.
    await mgr.start({ name: 'again' });
    expect(mgr.status().ended).toBeUndefined();
    await mgr.stop();
  });

  it('refuses a second start, a stop without a recording, and bad names, with codes', async () => {
    const { mgr } = setup();
    await expect(mgr.stop()).rejects.toMatchObject({ code: 'NOT_RECORDING' });
    await expect(mgr.start({ name: '../escape' })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    await mgr.start({ name: 'one' });
    await expect(mgr.start({ name: 'two' })).rejects.toMatchObject({ code: 'ALREADY_RECORDING' });
    await mgr.stop();
  });

  it('never overwrites a named recording: a taken name gets a suffix', async () => {
    const { mgr } = setup();
    await writeFile(path.join(dir, 'run.iocptrace'), 'old');
    const s = await mgr.start({ name: 'run' });
    expect(s.name).toBe('run-2');
    await mgr.stop();
    expect(await readFile(path.join(dir, 'run.iocptrace'), 'utf8')).toBe('old');
  });

  it('records to an explicit file for --record, replacing it', async () => {
    const { source, mgr } = setup();
    const file = path.join(dir, 'sub', 'cli.iocptrace');
    await mgr.start({ file });
    const t = syntheticTrace({ events: 100 });
    source.emit(t.records, t.strings);
    const { saved, summary } = await mgr.stop();
    expect(saved).toEqual([]); // outside the recordings directory listing
    expect(summary.files[0]!.path).toBe(file);
    expect(readTraceFile(await readFile(file)).records.length / W).toBe(t.records.length / W + 1);
  });

  it('opens a recording with a Snapshot bracket taken at the exact cut where its events begin', async () => {
    const source = new TrackingSource();
    const mgr = new RecordingManager({ dir, source, header });
    const t = syntheticTrace({ events: 3000, workers: 2 });
    source.emit(t.records.subarray(0, 1000 * W), t.strings);
    const started = mgr.start({ name: 'tracked' });
    while (source.requests.length === 0) await new Promise((r) => setTimeout(r, 1));
    // Batches before the answer are state the bracket holds, not events of the file.
    source.emit(t.records.subarray(1000 * W, 1500 * W));
    source.answer();
    source.emit(t.records.subarray(1500 * W));
    await started;
    const { summary } = await mgr.stop(TraceEndReason.ServerExit);
    expect(summary.events).toBe(t.records.length / W - 1500);
    const r = readTraceFile(await readFile(path.join(dir, 'tracked.iocptrace')));
    expect(r.error).toBeUndefined();
    expect(kindAt(r.records, 0)).toBe(EventKind.Snapshot);
    expect(xAt(r.records, 0)).toBe(SnapshotReason.RecordingStart);
    let end = 1;
    while (kindAt(r.records, end) !== EventKind.Snapshot) end++;
    const last = r.records.length / W - 1;
    expect(
      sameWords(r.records.subarray((end + 1) * W, last * W), t.records.subarray(1500 * W)),
    ).toBe(true);
    expect(aAt(r.records, last)).toBe(TraceEndReason.ServerExit);
    expect(r.strings.get(2)).toBe('worker-1');
  });

  it('records from the first held batch with fromStart, with no snapshot', async () => {
    const source = new ManualSource();
    const held: Array<[Uint32Array, StringEntries]> = [];
    const t = syntheticTrace({ events: 200 });
    held.push([t.records.subarray(0, 50 * W), t.strings]);
    source.subscribe = (l, o) => {
      if (o?.fromStart) for (const [rec, str] of held) l(rec, str);
      return ManualSource.prototype.subscribe.call(source, l);
    };
    const mgr = new RecordingManager({
      dir,
      source,
      header,
      snapshot: () => ({ records: new Uint32Array(0), strings: [] }),
    });
    await mgr.start({ name: 'from-start', fromStart: true });
    source.emit(t.records.subarray(50 * W));
    await mgr.stop();
    const r = readTraceFile(await readFile(path.join(dir, 'from-start.iocptrace')));
    expect(sameWords(r.records.subarray(0, t.records.length), t.records)).toBe(true);
  });
});
