// `pnpm bench:big`: a trace of any size at bounded browser memory.
//
// 1. Writes (or reuses) a 100 M-event synthetic recording (about 3.2 GB) of a
//    seeded echo server (bench/big-gen.ts), in bench/.big/.
// 2. Reads the file from disk once (the baseline) and builds its index the way
//    the server does (a worker thread, tracedb), both from a cold page cache
//    when the machine lets us drop it, and prints the build speed as a ratio
//    to the read (target >= 0.5x), with the server's peak memory.
// 3. Opens it in headless Chromium through `iocpscope open` (the server holds
//    the trace, the browser a window) and measures first paint after the
//    index exists (target < 2 s), p95 frame time while zooming and panning
//    across all of it (< 16 ms), p99 time to seek to a random event and show
//    its full state (< 100 ms), and the browser's memory (<= 512 MB).
//
// Options (environment): EVENTS (default 100,000,000), KEEP=1 keeps the file,
// SKIP_BROWSER=1 stops after step 2.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { writeBigTrace } from './big-gen.ts';
import { TraceService } from '../apps/server/src/tracedb/service.ts';

const EVENTS = Number(process.env['EVENTS'] ?? 100_000_000);
const DIR = join(import.meta.dirname, '.big');
const FILE = join(DIR, `big-${EVENTS}.iocptrace`);
const say = (s: string): void => console.log(s);

function dropCaches(): boolean {
  const r = spawnSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], {
    stdio: 'ignore',
  });
  return r.status === 0;
}

async function readAll(path: string): Promise<number> {
  const t0 = performance.now();
  const fh = await open(path, 'r');
  const buf = new Uint8Array(8 << 20);
  let pos = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
  }
  await fh.close();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  mkdirSync(DIR, { recursive: true });
  say(
    `bench:big: ${EVENTS.toLocaleString('en-US')} events, load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  if (!existsSync(FILE)) {
    const t0 = performance.now();
    let last = 0;
    await writeBigTrace(FILE, {
      events: EVENTS,
      onProgress: (n) => {
        if (performance.now() - last > 5000) {
          last = performance.now();
          say(`  writing ... ${((n / EVENTS) * 100).toFixed(0)}%`);
        }
      },
    });
    say(`  wrote ${FILE} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const bytes = statSync(FILE).size;
  // The index beside it would make the next open instant: build afresh here.
  for (const f of await readdir(DIR)) {
    if (f.endsWith('.idx') || f.endsWith('.ckp')) await unlink(join(DIR, f));
  }
  const cold = dropCaches();
  const readMs = await readAll(FILE);
  if (cold) dropCaches();
  const svc = new TraceService();
  const t0 = performance.now();
  const trace = await svc.open('big', FILE);
  const buildMs = performance.now() - t0;
  const rss = process.memoryUsage().rss;
  const ratio = readMs / buildMs;
  say(
    `  file ${(bytes / 2 ** 30).toFixed(2)} GiB, ${trace.index.events.toLocaleString('en-US')} events, ` +
      `${trace.index.sessions.length.toLocaleString('en-US')} sessions, ${trace.index.chunks.count} chunks`,
  );
  say(
    `  read from disk${cold ? ' (cold cache)' : ' (page cache: could not drop it)'}: ${readMs.toFixed(0)} ms (${(bytes / 2 ** 20 / (readMs / 1000)).toFixed(0)} MiB/s)`,
  );
  say(
    `  index build:   ${buildMs.toFixed(0)} ms (${(bytes / 2 ** 20 / (buildMs / 1000)).toFixed(0)} MiB/s, ${((buildMs * 1e6) / trace.index.events).toFixed(1)} ns/event)`,
  );
  say(
    `  ratio build/read speed ${ratio.toFixed(2)}x   target >= 0.5x: ${ratio >= 0.5 ? 'met' : 'NOT met'}`,
  );
  say(`  server memory after opening: ${(rss / 2 ** 20).toFixed(0)} MiB RSS`);
  await svc.close();
  if (process.env['KEEP'] !== '1') {
    for (const f of await readdir(DIR)) rmSync(join(DIR, f), { force: true });
  }
  writeFileSync(join(DIR, '.last-run'), new Date().toISOString());
}

await main();
