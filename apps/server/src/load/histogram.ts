// A bounded-memory latency histogram in the HDR style: values (non-negative
// integers, nanoseconds here) below 2^PRECISION_BITS get one exact bucket
// each; above that, every power-of-two octave [2^e, 2^(e+1)) is split into
// 2^(PRECISION_BITS-1) equal buckets, so a bucket is at most 1/64 of its
// value wide (quantiles are within 1.6%, reported at the bucket midpoint).
// Values at or above 2^MAX_EXPONENT are clamped into the last bucket.
//
// Invariants: the count array has a fixed size (BUCKET_COUNT) whatever is
// recorded; count/min/max/sum are exact; valueAtQuantile(q) returns a value in
// the same bucket as the exact q-quantile (the rank-ceil(q*count) sample of the
// sorted samples), clamped to [min, max].

const PRECISION_BITS = 7;
const EXACT = 1 << PRECISION_BITS; // 128 exact buckets for 0..127
const HALF = EXACT >> 1; // 64 buckets per octave above
const MAX_EXPONENT = 40; // 2^40 ns is about 18 minutes
const MAX_VALUE = 2 ** MAX_EXPONENT - 1;
const TWO_32 = 4294967296;

export const BUCKET_COUNT = EXACT + (MAX_EXPONENT - PRECISION_BITS) * HALF;

/** floor(log2(v)) for an integer 1 <= v < 2^53, exact at powers of two. */
function log2Floor(v: number): number {
  if (v < TWO_32) return 31 - Math.clz32(v);
  return 63 - Math.clz32(Math.floor(v / TWO_32));
}

/** The bucket index of an integer value 0..MAX_VALUE. */
export function bucketOf(value: number): number {
  if (value < EXACT) return value;
  const e = log2Floor(value);
  const sub = Math.floor(value / 2 ** (e - PRECISION_BITS + 1)) - HALF;
  return EXACT + (e - PRECISION_BITS) * HALF + sub;
}

/** Lowest value in a bucket. */
export function bucketLow(index: number): number {
  if (index < EXACT) return index;
  const octave = Math.floor((index - EXACT) / HALF);
  const sub = (index - EXACT) % HALF;
  return (HALF + sub) * 2 ** (octave + 1);
}

/** Number of integer values in a bucket. */
export function bucketWidth(index: number): number {
  return index < EXACT ? 1 : 2 ** (Math.floor((index - EXACT) / HALF) + 1);
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  private total = 0;
  private sum = 0;
  private lo = Infinity;
  private hi = -Infinity;

  /** Records one sample; fractions are floored, negatives count as 0, huge values clamp. */
  record(value: number): void {
    let v = value > 0 ? Math.floor(value) : 0;
    if (v > MAX_VALUE) v = MAX_VALUE;
    this.counts[bucketOf(v)]! += 1;
    this.total++;
    this.sum += v;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
  }

  get count(): number {
    return this.total;
  }
  /** Smallest recorded value (after flooring/clamping), or 0 when empty. */
  get min(): number {
    return this.total === 0 ? 0 : this.lo;
  }
  /** Largest recorded value (after flooring/clamping), or 0 when empty. */
  get max(): number {
    return this.total === 0 ? 0 : this.hi;
  }
  get mean(): number {
    return this.total === 0 ? 0 : this.sum / this.total;
  }

  /**
   * The q-quantile (0 <= q <= 1): the value of rank max(1, ceil(q * count)) in
   * sorted order, to bucket precision. 0 when empty.
   */
  valueAtQuantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const mid = bucketLow(i) + Math.floor(bucketWidth(i) / 2);
        return Math.min(this.hi, Math.max(this.lo, mid));
      }
    }
    return this.hi;
  }

  /** Adds every sample of `other` into this histogram. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKET_COUNT; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    this.sum += other.sum;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sum = 0;
    this.lo = Infinity;
    this.hi = -Infinity;
  }
}
