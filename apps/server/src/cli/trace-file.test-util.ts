// Test helpers: hand-built traces (the analysis package's TraceBuilder and
// server scenarios) written as real .iocptrace bytes, and small files on disk.
// TraceBuilder numbers strings from 0, but string id 0 is reserved in files, so
// every string reference (thread names, peers, lock names, marker labels) is
// shifted by one on the way out.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  EventKind,
  TraceEndReason,
  RECORD_WORDS,
  encodeChunk,
  encodeFileHeader,
  writeRecord,
} from '@iocpscope/protocol';
import {
  echoRound,
  openSession,
  peerResets,
  server,
  shutdownAll,
  type Server,
} from '@iocpscope/analysis';
import { stringWords } from '../tracedb/trace.ts';

export interface BuiltTrace {
  words: Uint32Array;
  length: number;
  strings: string[];
}

function shifted(t: BuiltTrace): Uint32Array {
  const w = t.words.slice(0, t.length * RECORD_WORDS);
  for (let i = 0; i < t.length; i++) {
    const o = i * RECORD_WORDS;
    for (const k of stringWords(w[o]! & 0xff)) w[o + k] = w[o + k]! + 1;
  }
  return w;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The file header plus one chunk per `perChunk` events (strings in the first chunk). */
export function traceFileParts(
  t: BuiltTrace,
  o: { perChunk?: number; workers?: number } = {},
): Uint8Array[] {
  const w = shifted(t);
  const per = o.perChunk ?? 64;
  const parts = [
    encodeFileHeader({
      clock: 'monotonic-ns',
      host: 'test',
      backend: 'emulated',
      portConfig: { workers: o.workers ?? 2, concurrency: 2 },
      startWallMs: 1_700_000_000_000,
      name: 'hand-built trace',
    }),
  ];
  const strings = t.strings.map((s, k) => [k + 1, s] as const);
  for (let first = 0; first < t.length; first += per) {
    const end = Math.min(t.length, first + per);
    parts.push(
      encodeChunk(w.subarray(first * RECORD_WORDS, end * RECORD_WORDS), first === 0 ? strings : []),
    );
  }
  return parts;
}

export const traceFileBytes = (t: BuiltTrace, o: { perChunk?: number } = {}): Uint8Array =>
  concatBytes(traceFileParts(t, o));

/** A trace with one extra Gap record (lost events) at its end, before its TraceEnd if it has one. */
export function withGap(t: BuiltTrace, lost: number): BuiltTrace {
  const w = new Uint32Array((t.length + 1) * RECORD_WORDS);
  const ended =
    t.length > 0 && (t.words[(t.length - 1) * RECORD_WORDS]! & 0xff) === EventKind.TraceEnd;
  const at = ended ? t.length - 1 : t.length;
  w.set(t.words.subarray(0, at * RECORD_WORDS));
  const lastTs = at > 0 ? w[(at - 1) * RECORD_WORDS + 2]! : 0;
  writeRecord(w, at, EventKind.Gap, 0, 0xffff, lost, lastTs + 1, 0, 0, 0, 0);
  if (ended)
    w.set(t.words.subarray(at * RECORD_WORDS, t.length * RECORD_WORDS), (at + 1) * RECORD_WORDS);
  return { words: w, length: t.length + 1, strings: t.strings };
}

/** A correct run: sessions that echo, one that is reset, and a clean shutdown. */
export function cleanTrace(sessions = 3, rounds = 4): BuiltTrace {
  const sv = server();
  for (let k = 0; k < sessions; k++) {
    const { s, recv } = openSession(sv, k + 1);
    let r = recv;
    for (let j = 0; j < rounds; j++) r = echoRound(sv, sv.w[j % 2]!, s, r);
    peerResets(sv, sv.w[0]!, s, r);
  }
  shutdownAll(sv);
  sv.b.traceEnd(TraceEndReason.ServerExit);
  return sv.b.build();
}

/** Like cleanTrace, but `bug` runs on one live session before the shutdown. */
export function buggyTrace(bug: (sv: Server) => void): BuiltTrace {
  const sv = server();
  const { s, recv } = openSession(sv, 1);
  const r = echoRound(sv, sv.w[0]!, s, recv);
  bug(sv);
  peerResets(sv, sv.w[0]!, s, r);
  shutdownAll(sv);
  sv.b.traceEnd(TraceEndReason.ServerExit);
  return sv.b.build();
}

/** A temporary directory, removed by the returned function. */
export function tempDir(prefix = 'iocpscope-cli-'): {
  dir: string;
  file(name: string, bytes?: Uint8Array | string): string;
  remove(): void;
} {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return {
    dir,
    file(name, bytes) {
      const p = path.join(dir, name);
      if (bytes !== undefined) writeFileSync(p, bytes);
      return p;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
