// Fail-fast checks for programmer errors (style.md §8). Bad *input* never goes
// through these: it gets an Error subclass with a stable code instead.

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

/** Throw if `cond` is false. Use for invariants the code itself guarantees. */
export function assert(cond: unknown, message = 'assertion failed'): asserts cond {
  if (!cond) throw new AssertionError(message);
}

/** Exhaustiveness check for switch statements over closed unions. */
export function assertNever(value: never, message = 'unexpected value'): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
