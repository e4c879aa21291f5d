// A FIFO of immutable items: O(1) push and shift, removal from the middle when a
// dequeue does not match the head (rare: see replay.ts), and a cheap clone that
// shares the items (they are never mutated once queued).

export class Fifo<T> {
  private items: T[];
  private head: number;

  constructor(items: T[] = []) {
    this.items = items;
    this.head = 0;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  /** Item i from the head (0 = next to be dequeued). */
  at(i: number): T | undefined {
    return i >= 0 && i < this.size ? this.items[this.head + i] : undefined;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.head++;
    // Compact once the dead prefix dominates, keeping shift amortised O(1).
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Index from the head of the first item satisfying `pred`, or -1. */
  findIndex(pred: (item: T) => boolean): number {
    for (let i = this.head; i < this.items.length; i++)
      if (pred(this.items[i]!)) return i - this.head;
    return -1;
  }

  /** Remove and return item i from the head. */
  removeAt(i: number): T | undefined {
    const n = this.size;
    if (i < 0 || i >= n) return undefined;
    if (i === 0) return this.shift();
    const items = this.items;
    const h = this.head;
    const item = items[h + i]!;
    if (i < n - i) {
      // Closer to the head: slide the items before it one step back, then drop the head.
      for (let k = h + i; k > h; k--) items[k] = items[k - 1]!;
      this.shift();
    } else {
      items.splice(h + i, 1);
    }
    return item;
  }

  clone(): Fifo<T> {
    return new Fifo(this.items.slice(this.head));
  }

  toArray(): T[] {
    return this.items.slice(this.head);
  }

  [Symbol.iterator](): Iterator<T> {
    return this.toArray()[Symbol.iterator]();
  }
}
