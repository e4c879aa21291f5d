import { StringTable } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { freezeStrings } from './frozenStrings.ts';

describe('freezeStrings', () => {
  it('answers every id like the table it froze, dense or sparse, known or not', () => {
    for (const ids of [
      Array.from({ length: 300 }, (_, k) => k + 1),
      [1, 2, 70_000, 4_000_000_000],
    ]) {
      const t = new StringTable();
      for (const id of ids) t.set(id, `s${id}`);
      const f = freezeStrings(t);
      for (const id of [0, ...ids, 3, 301, 69_999, 4_000_000_001]) {
        expect(f.get(id)).toBe(t.get(id));
      }
    }
  });

  it('keeps a lookup that cannot list its strings', () => {
    const s = { get: (id: number) => (id === 1 ? 'a' : undefined) };
    expect(freezeStrings(s)).toBe(s);
  });
});
