// Growable typed-array columns. `data` may be longer than `length` (spare
// capacity); readers loop to `length`, never to `data.length`. Growth is 1.5x so
// a live trace wastes at most a third; `trim()` drops the spare capacity once a
// recording has been loaded completely.

type TypedCtor<T> = { new (n: number): T; BYTES_PER_ELEMENT: number };
type Typed = Uint32Array | Uint8Array | Int32Array | Float64Array;

abstract class Column<T extends Typed> {
  data: T;
  length = 0;
  protected abstract readonly ctor: TypedCtor<T>;

  constructor(data: T) {
    this.data = data;
  }

  /** Make room for `n` elements in total. */
  reserve(n: number): void {
    if (n <= this.data.length) return;
    const next = new this.ctor(n);
    (next as Typed).set(this.data.subarray(0, this.length) as never);
    this.data = next;
  }

  protected grow(): void {
    this.reserve(Math.max(16, Math.ceil(this.data.length * 1.5)));
  }

  push(v: number): void {
    if (this.length === this.data.length) this.grow();
    this.data[this.length++] = v;
  }

  /** A view of the valid prefix (no copy; invalid after the next push). */
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }

  trim(): void {
    if (this.data.length === this.length) return;
    const next = new this.ctor(this.length);
    (next as Typed).set(this.data.subarray(0, this.length) as never);
    this.data = next;
  }

  get bytes(): number {
    return this.data.length * this.ctor.BYTES_PER_ELEMENT;
  }
}

export class U32Column extends Column<Uint32Array> {
  protected readonly ctor = Uint32Array;
  constructor(capacity = 0) {
    super(new Uint32Array(capacity));
  }
}

export class I32Column extends Column<Int32Array> {
  protected readonly ctor = Int32Array;
  constructor(capacity = 0) {
    super(new Int32Array(capacity));
  }
}

export class U8Column extends Column<Uint8Array> {
  protected readonly ctor = Uint8Array;
  constructor(capacity = 0) {
    super(new Uint8Array(capacity));
  }
}

export class F64Column extends Column<Float64Array> {
  protected readonly ctor = Float64Array;
  constructor(capacity = 0) {
    super(new Float64Array(capacity));
  }
}
