import { mkdtemp, rm, writeFile, appendFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKind, RECORD_WORDS } from '@iocpscope/protocol';
import { synthesize } from '@iocpscope/analysis';
import { SESSION_KINDS } from './builder.ts';
import { IndexedTrace } from './trace.ts';
import { synthFileBytes } from './synth-file.test-util.ts';

let dir: string;
let file: string;
let words: Uint32Array;
let n: number;
const opened: IndexedTrace[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-tracedb-'));
  const t = synthesize({ events: 40_000, seed: 21, maxEntries: 4 });
  words = t.words.subarray(0, t.length * RECORD_WORDS);
  n = t.length;
  file = path.join(dir, 'synth.iocptrace');
  // Chunks of uneven sizes; all strings in the first chunk.
  await writeFile(
    file,
    synthFileBytes(words, n, t.strings, (i) => 1000 + ((i * 7919) % 2500)),
  );
});
afterAll(async () => {
  for (const t of opened) await t.close();
  await rm(dir, { recursive: true, force: true });
});

async function openTrace(p = file, o = {}): Promise<IndexedTrace> {
  const t = await IndexedTrace.open(p, { cacheDir: path.join(dir, 'cache'), ...o });
  opened.push(t);
  return t;
}

const sessionOf = (i: number): bigint =>
  (BigInt(words[i * 8 + 5]!) << 32n) | BigInt(words[i * 8 + 4]!);

describe('an indexed trace on disk', { timeout: 60_000 }, () => {
  it('builds its index once and opens from it the next time', async () => {
    const a = await openTrace();
    expect(a.fromCache).toBe(false);
    expect(a.indexPath).toBe(`${file}.idx`);
    expect(a.index.events).toBe(n);
    const b = await openTrace();
    expect(b.fromCache).toBe(true);
    expect(b.index.events).toBe(n);
    expect(b.index.sessions.length).toBe(a.index.sessions.length);
    expect(Array.from(b.index.levels[2]!.queueMax)).toEqual(
      Array.from(a.index.levels[2]!.queueMax),
    );
    expect(b.strings.get(1)).toBe(a.strings.get(1));
    expect(b.strings.size).toBe(a.strings.size);
  });

  it('reads any window of records exactly as they are in the file', async () => {
    const t = await openTrace();
    for (const [from, count] of [
      [0, 10],
      [999, 3],
      [12_345, 7_000],
      [n - 5, 100],
    ] as const) {
      const got = await t.records(from, count);
      const want = words.subarray(from * 8, Math.min(n, from + count) * 8);
      expect(Array.from(got)).toEqual(Array.from(want));
    }
  });

  it('finds the first event at a time', async () => {
    const t = await openTrace();
    for (const i of [0, 1, 5000, 20_000, n - 1]) {
      const ns = words[i * 8 + 2]! + words[i * 8 + 3]! * 4294967296;
      const j = await t.eventAtNs(ns);
      expect(j).toBeLessThanOrEqual(i);
      const nsJ = words[j * 8 + 2]! + words[j * 8 + 3]! * 4294967296;
      expect(nsJ).toBe(ns);
    }
  });

  it('steps to the next and previous event of a kind, a thread or a session like a naive scan', async () => {
    const t = await openTrace();
    const naive = (from: number, dir: 1 | -1, pred: (i: number) => boolean): number => {
      for (let i = from + dir; i >= 0 && i < n; i += dir) if (pred(i)) return i;
      return -1;
    };
    const sid = sessionOf(
      words.findIndex((_, k) => k % 8 === 0 && (words[k]! & 0xff) === EventKind.SessionCreated) / 8,
    );
    const tid = words[8]! >>> 16;
    for (const from of [0, 777, 15_000, 33_333, n - 2]) {
      for (const dir of [1, -1] as const) {
        expect(await t.nextEvent(from, dir, { kind: EventKind.Disconnect })).toBe(
          naive(from, dir, (i) => (words[i * 8]! & 0xff) === EventKind.Disconnect),
        );
        expect(await t.nextEvent(from, dir, { tid })).toBe(
          naive(from, dir, (i) => words[i * 8]! >>> 16 === tid),
        );
        expect(await t.nextEvent(from, dir, { session: sid })).toBe(
          naive(
            from,
            dir,
            (i) => SESSION_KINDS[words[i * 8]! & 0xff] === 1 && sessionOf(i) === sid,
          ),
        );
      }
    }
  });

  it('lists a session’s events like a naive scan', async () => {
    const t = await openTrace();
    const ids = t.index.sessions.slice(0, 40).map((s) => s.id);
    for (const id of ids) {
      const want: number[] = [];
      for (let i = 0; i < n; i++) {
        if (SESSION_KINDS[words[i * 8]! & 0xff] === 1 && sessionOf(i) === id) want.push(i);
      }
      expect(await t.sessionEvents(id)).toEqual(want);
    }
  });

  it('rebuilds an index that no longer matches its trace, and indexes a damaged one up to the damage', async () => {
    const copy = path.join(dir, 'growing.iocptrace');
    const { readFile } = await import('node:fs/promises');
    const whole = await readFile(file);
    await writeFile(copy, whole);
    const a = await openTrace(copy);
    expect(a.index.events).toBe(n);
    await appendFile(copy, Uint8Array.of(0x49, 0x4f, 0x43, 0x4b, 0xff, 0xff, 0xff, 0xff));
    const b = await openTrace(copy);
    expect(b.fromCache).toBe(false);
    expect(b.index.events).toBe(n);
    expect(b.facts.error?.code).toBe('OVERSIZED');
    expect(b.facts.validBytes).toBe((await stat(file)).size);
  });
});
