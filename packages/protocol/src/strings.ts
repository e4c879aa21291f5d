// The string table: thread names, peer addresses, lock names and marker labels
// travel once as (id, string) pairs; records refer to them by id.
// Invariants: id 0 is the empty string ("none") and is never stored; a stored id
// never changes its value; at most MAX_STRINGS entries of at most
// MAX_STRING_BYTES UTF-8 bytes each. intern() hands out ascending ids, so a
// writer can send "what is new since the last frame" with entriesFrom(mark).

import { ProtocolError } from './errors.ts';

/** Longest string, in UTF-8 bytes. intern() truncates longer strings; decoders reject them. */
export const MAX_STRING_BYTES = 1024;
/** Most strings one table holds (one trace, one stream). */
export const MAX_STRINGS = 1 << 20;

// TextEncoder/TextDecoder are globals in browsers and Node, but neither the DOM
// nor the Node typings are in this package's lib, so type just what is used.
interface Utf8Codec {
  TextEncoder: new () => { encode(s: string): Uint8Array };
  TextDecoder: new (
    label: 'utf-8',
    options: { fatal: boolean; ignoreBOM: boolean },
  ) => { decode(bytes: Uint8Array): string };
}
const codec = globalThis as unknown as Utf8Codec;
const encoder = new codec.TextEncoder();
const decoder = new codec.TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Cut `s` to at most `maxBytes` UTF-8 bytes, on a code point boundary. */
export function truncateUtf8(s: string, maxBytes: number = MAX_STRING_BYTES): string {
  if (s.length * 3 <= maxBytes) return s;
  const bytes = encoder.encode(s);
  if (bytes.length <= maxBytes) return s;
  let n = maxBytes;
  while (n > 0 && (bytes[n]! & 0xc0) === 0x80) n--;
  return decoder.decode(bytes.subarray(0, n));
}

/** Decode UTF-8 strictly; invalid input is a BAD_STRING error. */
export function decodeUtf8(bytes: Uint8Array, offset?: number): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new ProtocolError('BAD_STRING', 'invalid UTF-8', offset);
  }
}

export function encodeUtf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export class StringTable {
  readonly #byId = new Map<number, string>();
  readonly #byValue = new Map<string, number>();
  readonly #order: number[] = [];
  readonly #max: number;
  #nextId = 1;

  /** `maxStrings`: the table's capacity (MAX_STRINGS; smaller only in tests). */
  constructor(maxStrings: number = MAX_STRINGS) {
    this.#max = maxStrings;
  }

  /** Number of stored strings (id 0 not counted). */
  get size(): number {
    return this.#order.length;
  }

  /**
   * The id of `s`, adding it if new. '' is 0. Strings longer than
   * MAX_STRING_BYTES are truncated first. Throws OVERSIZED when the table is full.
   */
  intern(s: string): number {
    if (s === '') return 0;
    const known = this.#byValue.get(s);
    if (known !== undefined) return known;
    const cut = truncateUtf8(s);
    if (cut !== s) return this.intern(cut);
    while (this.#byId.has(this.#nextId)) this.#nextId++;
    const id = this.#nextId++;
    this.#add(id, s);
    return id;
  }

  /** The string for `id`: '' for 0, undefined when unknown. */
  get(id: number): string | undefined {
    return id === 0 ? '' : this.#byId.get(id);
  }

  /** Like get(), but '' for unknown ids (for display). */
  text(id: number): string {
    return this.#byId.get(id) ?? '';
  }

  has(id: number): boolean {
    return id === 0 || this.#byId.has(id);
  }

  /**
   * Define `id` as `s` (decoders). Redefining an id with the same value is a
   * no-op; with another value it is BAD_STRING, as is id 0 or an id outside u32.
   */
  set(id: number, s: string, offset?: number): void {
    const old = this.#byId.get(id);
    if (old !== undefined) {
      if (old !== s) throw new ProtocolError('BAD_STRING', `string ${id} redefined`, offset);
      return;
    }
    this.check(id, s, offset);
    this.#add(id, s);
  }

  /** Throw what set(id, s) would throw, without changing the table. */
  check(id: number, s: string, offset?: number): void {
    if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) {
      throw new ProtocolError('BAD_STRING', `bad string id ${id}`, offset);
    }
    const old = this.#byId.get(id);
    if (old !== undefined && old !== s) {
      throw new ProtocolError('BAD_STRING', `string ${id} redefined`, offset);
    }
    if (s.length * 3 > MAX_STRING_BYTES && encoder.encode(s).length > MAX_STRING_BYTES) {
      throw new ProtocolError('OVERSIZED', `string ${id} longer than ${MAX_STRING_BYTES} bytes`);
    }
    if (old === undefined && this.#order.length >= this.#max) {
      throw new ProtocolError('OVERSIZED', `more than ${this.#max} strings`, offset);
    }
  }

  /**
   * Throw what defining every entry would throw, as one unit: each entry as
   * check() sees it, two values for one id within the batch (BAD_STRING), and
   * the new ids together exceeding the table's capacity (OVERSIZED). A chunk
   * or frame checked this way is then committed with set() without failing
   * half way, so a unit that fails keeps none of its strings (FORMAT.md §6.3).
   */
  checkBatch(entries: ReadonlyArray<readonly [number, string]>, offset?: number): void {
    const seen = new Map<number, string>();
    for (const [id, v] of entries) {
      this.check(id, v, offset);
      const before = seen.get(id);
      if (before !== undefined && before !== v) {
        throw new ProtocolError(
          'BAD_STRING',
          `string ${id} defined twice with other values`,
          offset,
        );
      }
      if (before === undefined && !this.#byId.has(id)) seen.set(id, v);
    }
    if (this.#order.length + seen.size > this.#max) {
      throw new ProtocolError('OVERSIZED', `more than ${this.#max} strings`, offset);
    }
  }

  /** Every (id, string) in insertion order. */
  *entries(): IterableIterator<[number, string]> {
    for (const id of this.#order) yield [id, this.#byId.get(id)!];
  }

  /**
   * The entries added at insertion positions >= `mark` (a previous `size`):
   * what a writer has not sent yet.
   */
  entriesFrom(mark: number): Array<[number, string]> {
    const out: Array<[number, string]> = [];
    for (let i = Math.max(0, mark); i < this.#order.length; i++) {
      const id = this.#order[i]!;
      out.push([id, this.#byId.get(id)!]);
    }
    return out;
  }

  #add(id: number, s: string): void {
    if (this.#order.length >= this.#max) {
      throw new ProtocolError('OVERSIZED', `more than ${this.#max} strings`);
    }
    this.#byId.set(id, s);
    if (!this.#byValue.has(s)) this.#byValue.set(s, id);
    this.#order.push(id);
    if (id >= this.#nextId) this.#nextId = id + 1;
  }
}
