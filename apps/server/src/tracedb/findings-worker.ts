// Worker-thread entry: the findings pass (findings.ts) off the server's main
// thread, which is the emulated kernel and the dashboard's network loop.
//
// Two modes:
// - file: walk a trace file from its first chunk to its end (or its first
//   damage), posting findings as they appear and progress every 200 ms, then
//   the end-of-trace findings and 'done'.
// - follow: a trace being written (the live spool, a recording in progress).
//   The main thread posts each chunk's records as the sink writes them; the
//   worker feeds the detectors and also folds each part's state
//   (StateTracker, reset at every part: each part opens on its own) into a
//   checkpoint bracket every `interval` events of the part, posted back for
//   "the state at event N" near the head. 'resume' starts over at a later
//   event (the main thread skipped chunks it could not queue); 'end' finishes.

import { parentPort, workerData } from 'node:worker_threads';
import { open } from 'node:fs/promises';
import type { Finding, RuleId } from '@iocpscope/analysis';
import { PROTOCOL_VERSION, SnapshotReason, TraceFileReader } from '@iocpscope/protocol';
import { StateTracker } from '../trace/state-tracker.ts';
import { fastCrc32, fastFindInvalidRecord } from './crc.ts';
import { ChunkLocator, FindingsPass } from './findings.ts';

export type FindingsWorkerInput =
  | {
      mode: 'file';
      file: string;
      /** 1 while the same file's index is being built (Int32Array over a SharedArrayBuffer), else 0. */
      indexing?: Int32Array;
    }
  | { mode: 'follow'; interval: number };

/** Main thread -> worker, follow mode. */
export type FollowMessage =
  | {
      type: 'chunk';
      /** Part number (parts in order), the part's file and the chunk's place in it. */
      part: number;
      path: string;
      offset: number;
      bytes: number;
      /** Global index of the chunk's first event, and its index within the part. */
      first: number;
      local: number;
      records: Uint32Array;
      strings: Array<[number, string]>;
    }
  | { type: 'resume'; first: number }
  | { type: 'end'; damaged: boolean };

export type FindingsWorkerMessage =
  | {
      type: 'findings';
      findings: Finding[];
      walked: number;
      suppressed: Array<[RuleId, number]>;
    }
  | { type: 'progress'; walked: number; bytesRead: number; totalBytes: number }
  | { type: 'checkpoint'; part: number; k: number; records: Uint32Array }
  | {
      type: 'done';
      walked: number;
      endOfRun: boolean;
      damaged: boolean;
      suppressed: Array<[RuleId, number]>;
    }
  | { type: 'error'; code: string; message: string };

const BLOCK = 8 * 1024 * 1024;

const input = workerData as FindingsWorkerInput;
const port = parentPort!;
const post = (m: FindingsWorkerMessage, transfer: ArrayBuffer[] = []): void =>
  port.postMessage(m, transfer);

function postFound(pass: FindingsPass, found: Finding[]): void {
  if (found.length === 0) return;
  post({
    type: 'findings',
    findings: found,
    walked: pass.walked,
    suppressed: [...pass.suppressed],
  });
}

/**
 * While the file's index is being built beside this pass, take a third of a
 * core at most: after each chunk, wait twice as long as it took (or until the
 * build ends). The index is what the first paint waits for (bench:big: the
 * pass at full speed took 800 ms of a 4.5 s build on 2 cores); the findings
 * still start at once, and run at full speed once the index is there.
 */
function yieldToIndex(indexing: Int32Array | undefined, workMs: number): void {
  if (indexing === undefined || Atomics.load(indexing, 0) === 0) return;
  Atomics.wait(indexing, 0, 1, Math.min(50, workMs * 2));
}

async function walkFile(file: string, indexing?: Int32Array): Promise<void> {
  const chunks = new ChunkLocator();
  const pass = new FindingsPass({ timeOf: chunks.timeOf });
  const reader: TraceFileReader = new TraceFileReader({
    retain: false,
    crc32: fastCrc32,
    findInvalid: fastFindInvalidRecord,
    onChunk: (records, strings, at) => {
      const t0 = performance.now();
      const first = pass.walked;
      chunks.add(first, records.length / 8, file, at.offset, at.bytes, reader.version);
      postFound(pass, pass.chunk(records, strings, first));
      yieldToIndex(indexing, performance.now() - t0);
    },
  });
  const fh = await open(file, 'r');
  let read = 0;
  try {
    const total = (await fh.stat()).size;
    const buf = new Uint8Array(BLOCK);
    let last = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, BLOCK, read);
      if (bytesRead === 0) break;
      read += bytesRead;
      reader.push(buf.subarray(0, bytesRead));
      if (reader.error !== undefined) break;
      if (performance.now() - last > 200) {
        last = performance.now();
        post({ type: 'progress', walked: pass.walked, bytesRead: read, totalBytes: total });
      }
    }
  } finally {
    await fh.close();
  }
  const damaged = reader.finish().error !== undefined;
  const end = pass.finish(damaged);
  postFound(pass, end.findings);
  post({
    type: 'done',
    walked: pass.walked,
    endOfRun: end.endOfRun,
    damaged,
    suppressed: [...pass.suppressed],
  });
}

function follow(interval: number): void {
  let chunks = new ChunkLocator();
  let pass: FindingsPass | null = null;
  let part = -1;
  let tracker = new StateTracker();
  let partEvents = 0;
  /** The part was followed from its first event (its checkpoints are exact). */
  let whole = false;
  let ended = false;
  port.on('message', (m: FollowMessage) => {
    try {
      onMessage(m);
    } catch (e) {
      ended = true;
      const err = e as Error & { code?: string };
      post({ type: 'error', code: err.code ?? 'FINDINGS_FAILED', message: err.message });
    }
  });
  const onMessage = (m: FollowMessage): void => {
    if (ended) return;
    if (m.type === 'resume') {
      pass = null;
      part = -1;
      return;
    }
    if (m.type === 'end') {
      ended = true;
      const p = pass ?? new FindingsPass();
      const end = p.finish(m.damaged);
      postFound(p, end.findings);
      post({
        type: 'done',
        walked: p.walked,
        endOfRun: end.endOfRun,
        damaged: m.damaged,
        suppressed: [...p.suppressed],
      });
      return;
    }
    if (pass === null) {
      chunks = new ChunkLocator();
      pass = new FindingsPass({ startAt: m.first, timeOf: chunks.timeOf });
    }
    if (m.part !== part) {
      part = m.part;
      tracker = new StateTracker();
      partEvents = m.local;
      whole = m.local === 0;
    }
    chunks.add(m.first, m.records.length / 8, m.path, m.offset, m.bytes, PROTOCOL_VERSION);
    postFound(pass, pass.chunk(m.records, m.strings, m.first));
    post({ type: 'progress', walked: pass.walked, bytesRead: 0, totalBytes: 0 });
    if (!whole) return;
    // The part's checkpoints: the state after every `interval` events of it.
    tracker.observeStrings(m.strings);
    const n = m.records.length / 8;
    let at = 0;
    while (at < n) {
      const next = (Math.floor(partEvents / interval) + 1) * interval;
      const take = Math.min(n - at, next - partEvents);
      tracker.observe(m.records.subarray(at * 8, (at + take) * 8));
      at += take;
      partEvents += take;
      if (partEvents === next) {
        const b = tracker.snapshot(SnapshotReason.LateJoin).records;
        post({ type: 'checkpoint', part, k: next / interval - 1, records: b }, [
          b.buffer as ArrayBuffer,
        ]);
      }
    }
  };
}

try {
  if (input.mode === 'file') await walkFile(input.file, input.indexing);
  else follow(input.interval);
} catch (e) {
  const err = e as Error & { code?: string };
  post({ type: 'error', code: err.code ?? 'FINDINGS_FAILED', message: err.message });
}
