// A synthesized trace (@iocpscope/analysis synthesize) as the bytes of an
// .iocptrace file, for the tests that index, serve or walk one.

import { encodeChunk, encodeFileHeader } from '@iocpscope/protocol';

/**
 * The test header, then the first `n` records of `words` in chunks of `per`
 * records (or of the size `per(at)` gives for a chunk starting at record `at`),
 * every string (id = index; 0 is the empty string, not written) in the first chunk.
 */
export function synthFileBytes(
  words: Uint32Array,
  n: number,
  strings: readonly string[],
  per: number | ((at: number) => number),
): Buffer {
  const parts: Uint8Array[] = [
    encodeFileHeader({
      clock: 'monotonic-ns',
      host: 'h',
      backend: 'emulated',
      portConfig: { workers: 2, concurrency: 0 },
      startWallMs: 0,
    }),
  ];
  const strs = [...strings.entries()].filter(([id]) => id !== 0);
  for (let i = 0; i < n;) {
    const k = Math.min(n - i, typeof per === 'number' ? per : per(i));
    parts.push(encodeChunk(words.subarray(i * 8, (i + k) * 8), i === 0 ? strs : []));
    i += k;
  }
  return Buffer.concat(parts);
}
