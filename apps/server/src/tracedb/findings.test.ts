import { readFile, readdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Rng,
  SYNTH_FAULTS,
  checkTrace,
  feedInWindows,
  findingKey,
  synthesize,
  type Finding,
} from '@iocpscope/analysis';
import {
  EventKind,
  NO_THREAD,
  RECORD_WORDS,
  TraceEndReason,
  TraceFileReader,
  encodeChunk,
  encodeFileHeader,
  readTraceFile,
  tsAt,
  writeRecord,
} from '@iocpscope/protocol';
import { DEFAULT_EXAMPLES_DIR } from '../record/catalogue.ts';
import { checkFile } from '../cli/check.ts';
import { FindingsPass } from './findings.ts';
import { FindingsJob } from './findings-job.ts';

const byRuleThenIndex = (a: Finding, b: Finding): number =>
  a.ruleNumber - b.ruleNumber || a.index - b.index || (a.check < b.check ? -1 : 1);

let dir: string;
let examples: string[];
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-findings-'));
  examples = (await readdir(DEFAULT_EXAMPLES_DIR))
    .filter((f) => f.endsWith('.iocptrace'))
    .map((f) => path.join(DEFAULT_EXAMPLES_DIR, f));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The server's pass over a file, chunk by chunk as the worker reads it. */
async function walk(file: string): Promise<{ findings: Finding[]; endOfRun: boolean }> {
  const pass = new FindingsPass();
  const reader = new TraceFileReader({
    retain: false,
    onChunk: (records, strings) => void pass.chunk(records, strings, pass.walked),
  });
  reader.push(await readFile(file));
  const damaged = reader.finish().error !== undefined;
  const end = pass.finish(damaged);
  return { findings: [...pass.findings], endOfRun: end.endOfRun };
}

describe('the findings pass', { timeout: 120_000 }, () => {
  it('finds in windows with a moving base what one whole feed finds, on every example', async () => {
    expect(examples.length).toBeGreaterThan(5);
    let fired = 0;
    for (const file of examples) {
      const t = readTraceFile(await readFile(file));
      const src = { words: t.records, length: t.records.length / RECORD_WORDS };
      const strings = (i: number): string | undefined => t.strings.text(i) || undefined;
      const whole = checkTrace(src, { strings });
      for (const [minSize, maxSize] of [
        [200, 900],
        [1000, 5000],
      ] as const) {
        const run = feedInWindows(src, new Rng(minSize + file.length), {
          minSize,
          maxSize,
          strings,
        });
        expect(run.findings.map(findingKey), path.basename(file)).toEqual(
          whole.findings.map(findingKey),
        );
      }
      fired += whole.findings.length;
    }
    expect(fired).toBeGreaterThan(0);
  });

  it('finds in windows what one whole feed finds on seeded synthetic traces with faults', () => {
    for (const seed of [31, 32]) {
      const t = synthesize({ seed, events: 20_000, sessions: 32, faults: SYNTH_FAULTS });
      const whole = checkTrace(t);
      expect(whole.findings.length).toBeGreaterThan(0);
      const run = feedInWindows(t, new Rng(seed), { minSize: 300, maxSize: 4000 });
      expect(run.findings.map(findingKey)).toEqual(whole.findings.map(findingKey));
    }
  });

  it('walks a file chunk by chunk to what `iocpscope check` reports, with its end-of-run rule', async () => {
    for (const file of examples) {
      const want = await checkFile(file);
      const got = await walk(file);
      const strip = (f: Finding): unknown => findingKey(f);
      expect([...got.findings].sort(byRuleThenIndex).map(strip), path.basename(file)).toEqual(
        want.findings.map((f) => strip(f)),
      );
      expect(got.endOfRun).toBe(
        want.damage === null && want.end?.reason === TraceEndReason.ServerExit,
      );
    }
  });

  it('runs the end-of-trace checks only for an undamaged trace that ends with the server exit', async () => {
    // Too few exit packets, the trace cut before the port's close woke the
    // worker left waiting: only the end-of-trace checks can conclude it never
    // got one, and only if the trace covers the server's exit.
    const full = synthesize({
      seed: 5,
      events: 4000,
      sessions: 8,
      faults: ['too-few-exit-packets'],
      faultRate: 1,
    });
    const woke = checkTrace(full).findings.find((f) => f.check === 'too-few-exit-packets')!;
    const t = { ...full, length: woke.index };
    const words = t.words.subarray(0, t.length * RECORD_WORDS);
    const header = encodeFileHeader({
      clock: 'monotonic-ns',
      host: 'h',
      backend: 'emulated',
      portConfig: { workers: 2, concurrency: 0 },
      startWallMs: 0,
    });
    const strings = [...t.strings.entries()].filter(([id]) => id !== 0);
    const exit = new Uint32Array(RECORD_WORDS);
    const lastTs = tsAt(words, t.length - 1);
    writeRecord(
      exit,
      0,
      EventKind.TraceEnd,
      TraceEndReason.ServerExit,
      NO_THREAD,
      t.length,
      lastTs,
      0,
      0,
      0,
      0,
    );
    const body = Buffer.concat([header, encodeChunk(words, strings)]);
    const ended = Buffer.concat([body, encodeChunk(exit)]);
    // Ends with the exit, then a chunk cut short: damaged after it.
    const cut = Buffer.concat([ended, encodeChunk(exit).subarray(0, 20)]);
    await writeFile(path.join(dir, 'ended.iocptrace'), ended);
    await writeFile(path.join(dir, 'cut.iocptrace'), cut);
    await writeFile(path.join(dir, 'open.iocptrace'), body);
    const a = await walk(path.join(dir, 'ended.iocptrace'));
    const b = await walk(path.join(dir, 'cut.iocptrace'));
    const c = await walk(path.join(dir, 'open.iocptrace'));
    expect(a.endOfRun).toBe(true);
    expect(b.endOfRun).toBe(false);
    expect(c.endOfRun).toBe(false);
    expect(b.findings).toEqual(c.findings);
    const extra = a.findings.slice(b.findings.length);
    expect(a.findings.slice(0, b.findings.length)).toEqual(b.findings);
    expect(extra.length).toBeGreaterThan(0);
    expect(extra.every((f) => f.rule === 'shutdown')).toBe(true);
  });

  it('runs in a worker thread and delivers the same findings progressively, then done', async () => {
    const file = examples.find((f) => f.includes('release-without-atomic-flag'))!;
    const want = await checkFile(file);
    const job = FindingsJob.file(file);
    await job.whenDone();
    expect(job.state).toBe('done');
    expect(job.walked).toBe(want.events);
    const v = job.view(0, 10_000);
    expect(v.total).toBe(want.findings.length);
    expect([...v.findings].sort(byRuleThenIndex).map(findingKey)).toEqual(
      want.findings.map(findingKey),
    );
    // Paged by what the browser already has.
    expect(job.view(2, 3).findings).toEqual(v.findings.slice(2, 5));
    expect(v.endOfRun).toBe(want.damage === null && want.end?.reason === TraceEndReason.ServerExit);
    await job.close();
  });

  it('yields to the file’s index build while it runs, and still finishes (the same findings)', async () => {
    const file = examples.find((f) => f.includes('release-without-atomic-flag'))!;
    const want = await checkFile(file);
    // An index build that never ends: the pass is slowed, never stopped.
    const forever = new Int32Array(new SharedArrayBuffer(4));
    forever[0] = 1;
    const slow = FindingsJob.file(file, forever);
    await slow.whenDone();
    expect(slow.state).toBe('done');
    expect(slow.walked).toBe(want.events);
    expect(slow.view(0, 10_000).total).toBe(want.findings.length);
    await slow.close();
    // A build that ends meanwhile: the pass goes on at full speed.
    const indexing = new Int32Array(new SharedArrayBuffer(4));
    indexing[0] = 1;
    const job = FindingsJob.file(file, indexing);
    setTimeout(() => {
      Atomics.store(indexing, 0, 0);
      Atomics.notify(indexing, 0);
    }, 20);
    await job.whenDone();
    expect(job.walked).toBe(want.events);
    expect(job.view(0, 10_000).total).toBe(want.findings.length);
    await job.close();
  });
});
