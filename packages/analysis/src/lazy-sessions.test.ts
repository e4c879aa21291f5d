import { describe, expect, it } from 'vitest';
import { LazySessionMap } from './lazy-sessions.ts';
import { encodeSession, Int32Arena } from './session-codec.ts';
import { newSession, type SessionState } from './state.ts';
import { Rng } from './synth.ts';

const session = (id: bigint, ioCount: number): SessionState => ({
  ...newSession(id),
  ioCount,
  slot: Number(id & 0xffn),
});
const plain = (m: Map<bigint, SessionState>) => [...m].map(([k, v]) => [k, v.id, v.ioCount]);

describe('LazySessionMap', () => {
  it('behaves like a Map filled with the decoded sessions, under a seeded mix of operations', () => {
    const rng = new Rng(77);
    const arena = new Int32Arena();
    const ids = Array.from(
      { length: 300 },
      (_, k) => (BigInt(0x5eed0000 + (k % 7)) << 32n) | BigInt(k),
    );
    const base = ids.slice(0, 200).map((id, k) => session(id, k));
    const lazy = new LazySessionMap(
      arena,
      Int32Array.from(base.map((s) => encodeSession(arena, s))),
    );
    const model = new Map(base.map((s) => [s.id, s]));
    expect(plain(lazy)).toEqual(plain(model));
    for (let step = 0; step < 3000; step++) {
      const id = ids[rng.int(0, ids.length - 1)]!;
      const r = rng.next();
      if (r < 0.3) expect(lazy.get(id)?.ioCount).toBe(model.get(id)?.ioCount);
      else if (r < 0.5) expect(lazy.has(id)).toBe(model.has(id));
      else if (r < 0.75) {
        const v = session(id, step);
        lazy.set(id, v);
        model.set(id, v);
      } else expect(lazy.delete(id)).toBe(model.delete(id));
      expect(lazy.size).toBe(model.size);
      if (step % 250 === 0) {
        expect(plain(lazy)).toEqual(plain(model));
        expect([...lazy.keys()]).toEqual([...model.keys()]);
        const seen: bigint[] = [];
        lazy.forEach((_v, k) => seen.push(k));
        expect(seen).toEqual([...model.keys()]);
      }
    }
    lazy.clear();
    expect(lazy.size).toBe(0);
    expect([...lazy]).toEqual([]);
    expect(lazy.get(ids[0]!)).toBeUndefined();
  });

  it('decodes an entry only when it is read, and keeps the decoded object', () => {
    const arena = new Int32Arena();
    const a = session(10n, 1);
    const lazy = new LazySessionMap(arena, Int32Array.from([encodeSession(arena, a)]));
    const first = lazy.get(10n)!;
    expect(first).not.toBe(a);
    expect(first).toEqual({ ...a, rev: 0 });
    expect(lazy.get(10n)).toBe(first);
    first.ioCount = 5;
    expect(lazy.get(10n)!.ioCount).toBe(5);
  });
});
