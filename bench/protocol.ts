// pnpm bench:protocol — throughput of the protocol codec on 10 M events.
// Encodes the events as stream frames and as .iocptrace chunks, decodes them
// back (frame by frame, as a chunked frame stream, and as a whole file), and
// prints events/s and bytes/event for each, with ratios against baselines
// measured in the same run on the same bytes:
//   memcpy: Uint8Array.set of the encoded bytes into a reused buffer, and into
//           freshly allocated memory (the floor any decoder that returns new
//           memory pays: the page faults are part of it);
//   JSON:   JSON.stringify/parse of the object form, on a 200 k event sample.
// Target (issue 3): >= 20 M events/s decode. Options: --events N, --runs N.

import { availableParallelism, loadavg } from 'node:os';
import {
  EventStore,
  FrameStreamDecoder,
  RECORD_WORDS,
  StringTable,
  crc32,
  decodeEvent,
  decodeFrame,
  decodeFrameInto,
  encodeChunk,
  encodeFileHeader,
  encodeFrame,
  readTraceFile,
  writeRecord,
} from '../packages/protocol/src/index.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const EVENTS = arg('events', 10_000_000);
const RUNS = arg('runs', 3);
const FRAME_EVENTS = 4096; // what a live hub batches per WebSocket message
const CHUNK_EVENTS = 32_768; // 1 MiB chunks, what a file sink writes
const JSON_SAMPLE = 200_000;

/** A plausible event mix: GQCS pairs, posts, IOCount changes, a few others. */
function makeEvents(n: number): Uint32Array {
  const w = new Uint32Array(n * RECORD_WORDS);
  let seed = 12345;
  const next = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  const kinds = [5, 6, 6, 7, 9, 10, 10, 3, 17, 18];
  let ts = 0;
  for (let i = 0; i < n; i++) {
    ts += next() % 2000;
    const r = next();
    const session = (r % 4096) + 1;
    writeRecord(
      w,
      i,
      kinds[r % kinds.length]!,
      r & 0x3f,
      r % 8,
      r % 65536,
      ts,
      session,
      r % 7,
      997,
      i,
    );
  }
  return w;
}

/** Best of RUNS timings of fn, in seconds. */
function time(fn: () => void): number {
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

const fmt = (x: number): string =>
  x >= 1e6 ? `${(x / 1e6).toFixed(1)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(1);

interface Row {
  name: string;
  events: number;
  seconds: number;
  bytes: number;
}
const rows: Row[] = [];
function report(name: string, events: number, seconds: number, bytes: number): void {
  rows.push({ name, events, seconds, bytes });
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
console.log(
  `iocpscope protocol bench: ${fmt(EVENTS)} events, best of ${RUNS} runs, node ${process.version}, ` +
    `${availableParallelism()} CPUs, load average ${load()}`,
);
const records = makeEvents(EVENTS);
const strings = new StringTable();
for (let i = 0; i < 256; i++) strings.intern(`127.0.0.1:${50000 + i}`);
const stringEntries = [...strings.entries()];

// ---- encode -------------------------------------------------------------------
let frames: Uint8Array[] = [];
const encodeFramesS = time(() => {
  frames = [];
  for (let i = 0, seq = 0; i < EVENTS; i += FRAME_EVENTS, seq++) {
    const end = Math.min(EVENTS, i + FRAME_EVENTS);
    frames.push(
      encodeFrame({
        seq,
        records: records.subarray(i * RECORD_WORDS, end * RECORD_WORDS),
        strings: seq === 0 ? stringEntries : undefined,
      }),
    );
  }
});
const frameBytes = frames.reduce((n, f) => n + f.length, 0);
report('encode frames', EVENTS, encodeFramesS, frameBytes);

let fileParts: Uint8Array[] = [];
const encodeFileS = time(() => {
  fileParts = [
    encodeFileHeader({
      clock: 'monotonic-ns',
      host: 'bench',
      backend: 'emulated',
      portConfig: { workers: 4, concurrency: 0 },
      startWallMs: Date.now(),
    }),
  ];
  for (let i = 0; i < EVENTS; i += CHUNK_EVENTS) {
    const end = Math.min(EVENTS, i + CHUNK_EVENTS);
    fileParts.push(
      encodeChunk(
        records.subarray(i * RECORD_WORDS, end * RECORD_WORDS),
        i === 0 ? stringEntries : undefined,
      ),
    );
  }
});
const fileBytes = fileParts.reduce((n, f) => n + f.length, 0);
const file = new Uint8Array(fileBytes);
{
  let o = 0;
  for (const p of fileParts) {
    file.set(p, o);
    o += p.length;
  }
}
fileParts = [];
report('encode file chunks (+CRC32)', EVENTS, encodeFileS, fileBytes);

// ---- decode -------------------------------------------------------------------
let check = 0;
const decodeFramesS = time(() => {
  for (const f of frames) check += decodeFrame(f).records.length;
});
report('decodeFrame (new array per frame)', EVENTS, decodeFramesS, frameBytes);

// The live path: a dashboard's store that has already grown (first-touch page
// faults of a fresh store are what the 'fresh memory' baseline measures).
const liveStore = new EventStore(EVENTS);
const decodeIntoS = time(() => {
  liveStore.clear();
  const table = new StringTable();
  for (const f of frames) decodeFrameInto(f, liveStore, table);
  check += liveStore.length;
});
report('decodeFrameInto (into a grown store)', EVENTS, decodeIntoS, frameBytes);

const stream = new Uint8Array(frameBytes);
{
  let o = 0;
  for (const f of frames) {
    stream.set(f, o);
    o += f.length;
  }
}
const PIECE = 64 * 1024;
const streamS = time(() => {
  const d = new FrameStreamDecoder();
  for (let o = 0; o < stream.length; o += PIECE)
    check += d.push(stream.subarray(o, o + PIECE)).length;
  d.finish();
});
report('FrameStreamDecoder (64 KiB pieces)', EVENTS, streamS, frameBytes);

let storeBytesPerEvent = 0;
const readFileS = time(() => {
  const r = readTraceFile(file);
  if (r.error !== undefined || r.store.length !== EVENTS)
    throw new Error(`read failed: ${r.error}`);
  storeBytesPerEvent = r.store.byteLength / r.store.length;
  check += r.records.length;
});
report('readTraceFile (CRC32 + copy + validate)', EVENTS, readFileS, fileBytes);

// ---- baselines ------------------------------------------------------------------
const dest = new Uint8Array(fileBytes);
const memcpyS = time(() => {
  dest.set(file);
  check += dest[dest.length - 1]!;
});
report('baseline: memcpy of the file bytes', EVENTS, memcpyS, fileBytes);
const allocCopyS = time(() => {
  const fresh = new Uint8Array(fileBytes);
  fresh.set(file);
  check += fresh[fresh.length - 1]!;
});
report('baseline: memcpy into fresh memory', EVENTS, allocCopyS, fileBytes);

const crcS = time(() => {
  check += crc32(file);
});
report('component: crc32 of the file bytes', EVENTS, crcS, fileBytes);

const sample = records.subarray(0, JSON_SAMPLE * RECORD_WORDS);
const objects = Array.from({ length: JSON_SAMPLE }, (_, i) => decodeEvent(sample, i)!);
const replacer = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);
let jsonText = '';
const jsonEncodeS = time(() => {
  jsonText = JSON.stringify(objects, replacer);
});
report('baseline: JSON.stringify (sample)', JSON_SAMPLE, jsonEncodeS, jsonText.length);
const jsonDecodeS = time(() => {
  check += (JSON.parse(jsonText) as unknown[]).length;
});
report('baseline: JSON.parse (sample)', JSON_SAMPLE, jsonDecodeS, jsonText.length);

// ---- report ---------------------------------------------------------------------
const rate = (r: Row): number => r.events / r.seconds;
const memcpyRate = rate(rows.find((r) => r.name === 'baseline: memcpy of the file bytes')!);
const freshRate = rate(rows.find((r) => r.name === 'baseline: memcpy into fresh memory')!);
const jsonParseRate = rate(rows.find((r) => r.name === 'baseline: JSON.parse (sample)')!);
console.log('');
console.log(
  'step'.padEnd(42) +
    'events/s'.padStart(10) +
    'bytes/ev'.padStart(10) +
    'vs memcpy'.padStart(11) +
    'vs fresh'.padStart(10) +
    'vs JSON.parse'.padStart(15),
);
const ratio = (x: number, width: number): string =>
  `${x < 0.1 ? x.toFixed(3) : x.toFixed(2)}x`.padStart(width);
for (const r of rows) {
  console.log(
    r.name.padEnd(42) +
      fmt(rate(r)).padStart(10) +
      (r.bytes / r.events).toFixed(2).padStart(10) +
      ratio(rate(r) / memcpyRate, 11) +
      ratio(rate(r) / freshRate, 10) +
      ratio(rate(r) / jsonParseRate, 15),
  );
}
const decodeRates = rows
  .filter((r) => /^(decodeFrame|FrameStream|readTraceFile)/.test(r.name))
  .map(rate);
const worst = Math.min(...decodeRates);
console.log('');
console.log(`event store after readTraceFile: ${storeBytesPerEvent.toFixed(2)} bytes/event`);
console.log(
  `slowest decode path: ${fmt(worst)} events/s; target >= 20 M events/s: ${worst >= 20e6 ? 'met' : 'NOT met'}`,
);
console.log(`load average at the end: ${load()} (other work on the machine skews every row alike)`);
if (check === 0) console.log('(unreachable: keeps results live)');
