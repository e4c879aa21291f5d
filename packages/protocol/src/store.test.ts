import { describe, expect, it } from 'vitest';
import { rng } from '../test/samples.ts';
import { RECORD_WORDS } from './events.ts';
import { EventStore } from './store.ts';

describe('EventStore', () => {
  it('matches a plain array model under random appends', () => {
    const next = rng(1);
    const store = new EventStore(0);
    const model: number[] = [];
    for (let step = 0; step < 200; step++) {
      const n = Math.floor(next() * 20);
      const batch = new Uint32Array(n * RECORD_WORDS);
      for (let i = 0; i < batch.length; i++) batch[i] = Math.floor(next() * 2 ** 32);
      if (next() < 0.5) store.append(batch);
      else store.appendBytes(new Uint8Array(batch.buffer), 0, n);
      model.push(...batch);
      expect(store.length).toBe(model.length / RECORD_WORDS);
    }
    expect([...store.words]).toEqual(model);
    store.trimToSize();
    expect(store.capacity).toBe(store.length);
    expect([...store.words]).toEqual(model);
  });

  it('copies from unaligned bytes', () => {
    const src = new Uint32Array(RECORD_WORDS * 2).map((_, i) => i * 0x01010101);
    const bytes = new Uint8Array(src.byteLength + 3);
    bytes.set(new Uint8Array(src.buffer), 3);
    const store = new EventStore();
    store.appendBytes(bytes, 3, 2);
    expect(store.words).toEqual(src);
  });

  it('rejects a partial record', () => {
    expect(() => new EventStore().append(new Uint32Array(5))).toThrow(RangeError);
  });

  it('truncates and clears without reallocating', () => {
    const store = new EventStore(4);
    store.append(new Uint32Array(3 * RECORD_WORDS).fill(1));
    const cap = store.capacity;
    store.truncate(1);
    expect(store.length).toBe(1);
    store.clear();
    expect(store.length).toBe(0);
    expect(store.capacity).toBe(cap);
  });
});
