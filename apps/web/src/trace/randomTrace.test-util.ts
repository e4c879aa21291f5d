// A seeded generator of random but well-formed record streams for the trace
// index tests: every kind the indexes look at, several threads (and NO_THREAD),
// sessions with small and huge 64-bit ids, ioIds shared between sessions,
// failed and immediate posts, Post packets, timeouts, equal timestamps, and
// (optionally) timestamps that go back. Not product code.

import {
  EventKind,
  NO_THREAD,
  Op,
  RECORD_WORDS,
  ThreadRole,
  WinError,
  writeRecord,
} from '@iocpscope/protocol';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SESSIONS: [number, number][] = [
  [1, 0],
  [2, 0],
  [0x10003, 1],
  [7, 0x00300000], // hi >= 2^21: the bigint-keyed path
  [0xffffffff, 0xffffffff],
];

export function randomRecords(seed: number, n: number, backwards = false): Uint32Array {
  const r = rng(seed);
  const w = new Uint32Array(n * RECORD_WORDS);
  let t = 1000;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const tids = [0, 1, 2, 3, 4, NO_THREAD];
  for (let i = 0; i < n; i++) {
    const step = r() < 0.2 ? 0 : Math.floor(r() * 500);
    t = backwards && r() < 0.02 ? Math.max(0, t - 300) : t + step;
    const tid = i < 5 ? i : pick(tids);
    const [lo, hi] = pick(SESSIONS);
    const ioId = 1 + Math.floor(r() * 6);
    const op = pick([Op.Recv, Op.Send, Op.Post]);
    if (i < 5) {
      const role = [
        ThreadRole.Main,
        ThreadRole.Accept,
        ThreadRole.Worker,
        ThreadRole.Worker,
        ThreadRole.Kernel,
      ][i]!;
      writeRecord(w, i, EventKind.ThreadStart, role, tid, 0, t, 0, 0, 100 + i, 0);
      continue;
    }
    const k = Math.floor(r() * 13);
    switch (k) {
      case 0:
        writeRecord(w, i, EventKind.GqcsEnter, 0, tid, 0, t, 0, 0, 1, 0);
        break;
      case 1:
      case 2: {
        const ok = r() < 0.8;
        const ov = r() < 0.85;
        const a = op | (ok ? 0x10 : 0) | (ov ? 0x20 : 0);
        writeRecord(
          w,
          i,
          EventKind.GqcsReturn,
          a,
          tid,
          10,
          t,
          ov ? lo : 0,
          ov ? hi : 0,
          ok ? 0 : 995,
          ioId,
        );
        break;
      }
      case 3:
      case 4:
        writeRecord(w, i, EventKind.PacketQueued, op, tid, 10, t, lo, hi, r() < 0.1 ? 64 : 0, ioId);
        break;
      case 5:
      case 6:
        writeRecord(
          w,
          i,
          EventKind.IoPosted,
          op,
          tid,
          10,
          t,
          lo,
          hi,
          pick([WinError.IoPending, 0, 10054]),
          ioId,
        );
        break;
      case 7:
        writeRecord(
          w,
          i,
          EventKind.Pqcs,
          Op.Post | (r() < 0.5 ? 0x20 : 0),
          tid,
          0,
          t,
          lo,
          hi,
          0,
          ioId,
        );
        break;
      case 8:
        writeRecord(
          w,
          i,
          EventKind.ThreadState,
          pick([0, 1, 2, 3]) as number,
          tid,
          // Lock, Sleep, or Accept (which the timeline draws as waiting).
          pick([1, 2, 5]) as number,
          t,
          0,
          0,
          0,
          0,
        );
        break;
      case 9:
        writeRecord(
          w,
          i,
          pick([EventKind.LockWait, EventKind.LockAcquire, EventKind.LockRelease]),
          0,
          tid,
          1,
          t,
          lo,
          hi,
          0,
          0,
        );
        break;
      case 10:
        writeRecord(w, i, EventKind.IoCount, 3, tid, Math.floor(r() * 4), t, lo, hi, 1, ioId);
        break;
      case 11:
        writeRecord(
          w,
          i,
          pick([
            EventKind.SessionCreated,
            EventKind.SessionReleased,
            EventKind.Disconnect,
            EventKind.Accept,
          ]),
          0,
          tid,
          5,
          t,
          lo,
          hi,
          0,
          0,
        );
        break;
      default:
        {
          const u = r();
          if (u < 0.33) writeRecord(w, i, EventKind.Gap, 0, NO_THREAD, 3, t, 0, 0, 0, 0);
          else if (u < 0.66) writeRecord(w, i, EventKind.ThreadExit, 0, tid, 0, t, 0, 0, 0, 0);
          else writeRecord(w, i, EventKind.Marker, 0, tid, 1, t, lo, hi, 0, 0);
        }
        break;
    }
  }
  return w;
}
