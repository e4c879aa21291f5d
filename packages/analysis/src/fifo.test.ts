import { describe, expect, it } from 'vitest';
import { Fifo } from './fifo.ts';
import { Rng } from './synth.ts';

describe('Fifo', () => {
  it('behaves like a plain array under a seeded mix of push, shift, removeAt and clone', () => {
    const rng = new Rng(7);
    const f = new Fifo<number>();
    let model: number[] = [];
    let clones: [Fifo<number>, number[]][] = [];
    let next = 0;
    for (let step = 0; step < 6_000; step++) {
      const r = rng.next();
      if (r < 0.5) {
        f.push(next);
        model.push(next++);
      } else if (r < 0.8) {
        expect(f.shift()).toBe(model.shift());
      } else if (r < 0.97) {
        const i = rng.int(-1, model.length);
        const want = i >= 0 && i < model.length ? model.splice(i, 1)[0] : undefined;
        expect(f.removeAt(i)).toBe(want);
      } else {
        clones.push([f.clone(), model.slice()]);
        if (clones.length > 5) clones = clones.slice(1);
      }
      expect(f.size).toBe(model.length);
      if (step % 97 === 0) {
        expect(f.toArray()).toEqual(model);
        expect(f.findIndex((x) => x % 3 === 0)).toBe(model.findIndex((x) => x % 3 === 0));
        expect([f.at(0), f.at(model.length - 1), f.at(model.length)]).toEqual([
          model[0],
          model.at(-1),
          undefined,
        ]);
      }
    }
    // Clones are independent of later changes.
    for (const [c, m] of clones) expect(c.toArray()).toEqual(m);
    model = [...f];
    expect(model).toEqual(f.toArray());
  });
});
