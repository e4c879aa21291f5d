// A large synthetic recording, written in constant memory: a seeded
// synthetic echo server trace (packages/analysis synth) of `tile` events is
// written again and again, each copy shifted in time and given fresh session
// ids, io ids and socket numbers, until `events` records are written. Every
// copy is a real trace of the reference server's behaviour (posts, packets,
// completions, IOCount, resets, releases); the threads start once. A copy ends
// where the synthetic server's shutdown has closed and released every session
// and is about to post its exit packets: the next copy starts from there, so
// no session is left open at a seam (a copy cut mid-run left its 256 open
// sessions, 25,638 over 100 M events, alive for ever, and the state at an
// event grew with the trace).
//
// Used by `pnpm bench:big` (100 M events, about 3.2 GB) and the e2e journey
// of paging through a 5 M-event recording.

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import {
  EventKind,
  RECORD_WORDS,
  encodeChunk,
  encodeFileHeader,
  type TraceFileHeader,
} from '../packages/protocol/src/index.ts';
import { synthesize } from '../packages/analysis/src/synth.ts';

const TWO_32 = 4294967296;

export interface BigTraceOptions {
  events: number;
  /** Events per synthesized tile (default 1 M). */
  tile?: number;
  seed?: number;
  /** Records per chunk (default 32,768: about 1 MiB). */
  chunkRecords?: number;
  /** Faults of the synthetic server (packages/analysis synth), in every tile: findings to find. */
  faults?: string[];
  onProgress?: (written: number) => void;
}

/** Kinds that exist once per trace (thread and port set-up and teardown). */
const ONCE = new Set<number>([EventKind.ThreadStart, EventKind.PortCreated, EventKind.ThreadExit]);

export async function writeBigTrace(path: string, o: BigTraceOptions): Promise<number> {
  const tileEvents = o.tile ?? 1_000_000;
  const chunk = o.chunkRecords ?? 32_768;
  const base = synthesize({
    events: tileEvents,
    seed: o.seed ?? 1,
    sessions: 256,
    workers: 4,
    maxEntries: 16,
    shutdown: true,
    ...(o.faults ? { faults: o.faults as never } : {}),
  });
  const w = base.words;
  // Up to the first exit packet: every session released, the threads not yet told to stop.
  let n = base.length;
  for (let i = Math.max(0, base.shutdownIndex); i < base.length; i++) {
    if ((w[i * 8]! & 0xff) === EventKind.Pqcs) {
      n = i;
      break;
    }
  }
  let spanNs = 0;
  for (let i = 0; i < n; i++) {
    spanNs = Math.max(spanNs, w[i * 8 + 2]! + (w[i * 8 + 3]! & 0x1fffff) * TWO_32);
  }
  spanNs += 1000;
  let maxIo = 0;
  for (let i = 0; i < n; i++) {
    const k = w[i * 8]! & 0xff;
    if (k === EventKind.IoPosted || k === EventKind.GqcsReturn || k === EventKind.IoCount) {
      maxIo = Math.max(maxIo, w[i * 8 + 7]!);
    }
  }
  const header: TraceFileHeader = {
    clock: 'monotonic-ns',
    host: 'bench',
    backend: 'emulated',
    portConfig: { workers: 4, concurrency: 0 },
    startWallMs: 1_760_000_000_000,
    name: `synthetic ${o.events} events`,
  };
  const out = createWriteStream(path);
  const write = async (b: Uint8Array): Promise<void> => {
    if (!out.write(b)) await once(out, 'drain');
  };
  await write(encodeFileHeader(header));
  const strings = [...base.strings.entries()].filter(([id]) => id !== 0);
  const buf = new Uint32Array(chunk * RECORD_WORDS);
  let fill = 0;
  let written = 0;
  let first = true;
  const flush = async (): Promise<void> => {
    if (fill === 0) return;
    await write(encodeChunk(buf.subarray(0, fill * RECORD_WORDS), first ? strings : undefined));
    first = false;
    written += fill;
    fill = 0;
    o.onProgress?.(written);
  };
  for (let tile = 0; written + fill < o.events; tile++) {
    const dt = tile * spanNs;
    for (let i = 0; i < n && written + fill < o.events; i++) {
      const s = i * RECORD_WORDS;
      const kind = w[s]! & 0xff;
      if (tile > 0 && ONCE.has(kind)) continue;
      // The shutdown's marker, and the acceptor's exit (it accepts again in the next copy).
      if (i === base.shutdownIndex || kind === EventKind.ThreadExit) continue;
      const d = fill * RECORD_WORDS;
      for (let k = 0; k < 8; k++) buf[d + k] = w[s + k]!;
      const t = w[s + 2]! + (w[s + 3]! & 0x1fffff) * TWO_32 + dt;
      buf[d + 2] = t % TWO_32;
      buf[d + 3] = ((w[s + 3]! & ~0x1fffff) | Math.floor(t / TWO_32)) >>> 0;
      if (tile > 0) {
        // Fresh sessions (generation bits), io ids and sockets per copy.
        if ((buf[d + 4]! | buf[d + 5]!) !== 0) buf[d + 5] = (buf[d + 5]! + tile * 0x100) >>> 0;
        if (buf[d + 7]! !== 0 && kind !== EventKind.SessionCreated) {
          buf[d + 7] = (buf[d + 7]! + tile * (maxIo + 1)) >>> 0;
        }
      }
      if (++fill === chunk) await flush();
    }
  }
  await flush();
  out.end();
  await once(out, 'finish');
  return written;
}

// CLI: tsx bench/big-gen.ts OUT EVENTS [--faults a,b] [--seed N]
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [out, events, ...rest] = process.argv.slice(2);
  const n = Number(events);
  if (!out || !Number.isInteger(n) || n <= 0) {
    process.stderr.write('usage: tsx bench/big-gen.ts OUT EVENTS [--faults a,b] [--seed N]\n');
    process.exit(2);
  }
  const opt = (name: string): string | undefined => {
    const k = rest.indexOf(name);
    return k >= 0 ? rest[k + 1] : undefined;
  };
  const faults = opt('--faults');
  const seed = opt('--seed');
  const tmp = `${out}.tmp`;
  const wrote = await writeBigTrace(tmp, {
    events: n,
    ...(faults ? { faults: faults.split(',') } : {}),
    ...(seed ? { seed: Number(seed) } : {}),
  });
  const { rename } = await import('node:fs/promises');
  await rename(tmp, out);
  process.stdout.write(`${out}: ${wrote} events\n`);
}
