import { describe, expect, it } from 'vitest';
import { CHUNK_WORDS, decodeSession, encodeSession, Int32Arena } from './session-codec.ts';
import { newOp, newSession, type SessionState } from './state.ts';
import { Rng } from './synth.ts';

describe('Int32Arena', () => {
  it('keeps every record readable at its offset while the last chunk grows, is trimmed and grows again', () => {
    const rng = new Rng(11);
    const arena = new Int32Arena();
    // The model: each record's offset and the words written into it.
    const model: { offset: number; words: number[] }[] = [];
    for (let k = 0; k < 3000; k++) {
      const n = rng.int(1, 300);
      const { chunk, at, offset } = arena.alloc(n);
      const words = Array.from({ length: n }, () => rng.int(-1e9, 1e9));
      for (let j = 0; j < n; j++) chunk[at + j] = words[j]!;
      model.push({ offset, words });
      if (k % 700 === 0) arena.trim();
    }
    expect(arena.words).toBe(model.reduce((s, r) => s + r.words.length, 0));
    let wrong = 0;
    for (const r of model) {
      const c = arena.chunkOf(r.offset);
      const at = r.offset % CHUNK_WORDS;
      for (let j = 0; j < r.words.length; j++) if (c[at + j] !== r.words[j]) wrong++;
    }
    expect(wrong).toBe(0);
  });

  it('costs about what it holds: no fixed 16 MiB chunk for a small index, no slack after trim()', () => {
    const arena = new Int32Arena();
    for (let k = 0; k < 100; k++) arena.alloc(40);
    expect(arena.bytes).toBeLessThanOrEqual(2 * 4 * 4000 + 4 * 4096);
    arena.trim();
    expect(arena.bytes).toBe(4 * 4000);
  });

  it('gives a record larger than a chunk a chunk of its own', () => {
    const arena = new Int32Arena();
    arena.alloc(10);
    const big = arena.alloc(CHUNK_WORDS + 5);
    big.chunk[big.at + CHUNK_WORDS + 4] = 7;
    const after = arena.alloc(3);
    expect(Math.floor(big.offset / CHUNK_WORDS)).toBe(1);
    expect(Math.floor(after.offset / CHUNK_WORDS)).toBe(2);
    expect(arena.chunkOf(big.offset)[CHUNK_WORDS + 4]).toBe(7);
  });
});

describe('encodeSession / decodeSession', () => {
  it('round-trips sessions written across a growing arena', () => {
    const arena = new Int32Arena();
    const sessions: { s: SessionState; at: number }[] = [];
    for (let k = 0; k < 500; k++) {
      const s: SessionState = {
        ...newSession((BigInt(k + 1) << 32n) | BigInt(k)),
        ioCount: k % 5,
        slot: k,
        ops: Array.from({ length: k % 4 }, (_, j) => newOp(j + 1, 1)),
      };
      sessions.push({ s, at: encodeSession(arena, s) });
    }
    for (const { s, at } of sessions) {
      const d = decodeSession(arena, at, s.rev);
      expect(d.id).toBe(s.id);
      expect(d.ioCount).toBe(s.ioCount);
      expect(d.slot).toBe(s.slot);
      expect(d.ops.map((o) => o.ioId)).toEqual(s.ops.map((o) => o.ioId));
    }
  });
});
