import { describe, expect, it } from 'vitest';
import { ProtocolError } from './errors.ts';
import { MAX_STRING_BYTES, StringTable, encodeUtf8, truncateUtf8 } from './strings.ts';

describe('StringTable', () => {
  it('interns each string once with ascending ids and 0 for the empty string', () => {
    const t = new StringTable();
    expect(t.intern('')).toBe(0);
    expect(t.intern('a')).toBe(1);
    expect(t.intern('b')).toBe(2);
    expect(t.intern('a')).toBe(1);
    expect(t.size).toBe(2);
    expect(t.get(0)).toBe('');
    expect(t.get(2)).toBe('b');
    expect(t.get(3)).toBeUndefined();
    expect([...t.entries()]).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
  });

  it('lists what was added since a mark', () => {
    const t = new StringTable();
    t.intern('x');
    const mark = t.size;
    t.intern('y');
    t.intern('x');
    expect(t.entriesFrom(mark)).toEqual([[2, 'y']]);
  });

  it('truncates long strings on a code point boundary', () => {
    const long = 'é'.repeat(MAX_STRING_BYTES);
    const cut = truncateUtf8(long);
    expect(encodeUtf8(cut).length).toBeLessThanOrEqual(MAX_STRING_BYTES);
    expect(cut).toBe('é'.repeat(MAX_STRING_BYTES / 2));
    const t = new StringTable();
    expect(t.get(t.intern(long))).toBe(cut);
  });

  it('accepts a redefinition with the same value and rejects another value', () => {
    const t = new StringTable();
    t.set(7, 'seven');
    t.set(7, 'seven');
    expect(() => t.set(7, 'other')).toThrow(ProtocolError);
    expect(() => t.set(0, 'zero')).toThrow(ProtocolError);
    expect(t.intern('new')).toBe(8);
  });
});

describe('StringTable.checkBatch', () => {
  it('refuses a batch whose new ids together overflow the table, before any is kept', () => {
    const t = new StringTable(3);
    t.set(1, 'a');
    t.checkBatch([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
    expect(() =>
      t.checkBatch([
        [2, 'b'],
        [3, 'c'],
        [4, 'd'],
      ]),
    ).toThrow(expect.objectContaining({ code: 'OVERSIZED' }));
    expect(t.size).toBe(1);
  });

  it('refuses one id defined twice with other values in the same batch', () => {
    const t = new StringTable();
    expect(() =>
      t.checkBatch([
        [5, 'x'],
        [5, 'y'],
      ]),
    ).toThrow(expect.objectContaining({ code: 'BAD_STRING' }));
    t.checkBatch([
      [5, 'x'],
      [5, 'x'],
    ]);
  });
});
