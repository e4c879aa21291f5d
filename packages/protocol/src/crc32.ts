// CRC-32 as in zlib, PNG and Ethernet (IEEE 802.3): reflected polynomial
// 0xEDB88320, initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF; crc32("123456789")
// = 0xCBF43926. Table-driven "slicing": 16 bytes per step read as four u32
// words when the range is 4-byte aligned in memory (every unit of a trace file
// is, when the file's bytes start aligned), 8 bytes per step read byte by byte
// otherwise. Both give the same result; the word path is 2-3x faster.

const TABLES = new Int32Array(256 * 16);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLES[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = TABLES[n]!;
  for (let t = 1; t < 16; t++) {
    c = TABLES[c & 0xff]! ^ (c >>> 8);
    TABLES[t * 256 + n] = c;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** CRC-32 of bytes[start, end). Pass a previous result as `crc` to continue it. */
export function crc32(
  bytes: Uint8Array,
  start: number = 0,
  end: number = bytes.length,
  crc: number = 0,
): number {
  let c = ~crc;
  let i = start;
  const at = bytes.byteOffset + start;
  if (LITTLE_ENDIAN && (at & 3) === 0 && end - start >= 64) {
    const words = ((end - start) >>> 4) << 2;
    c = crcWords(new Int32Array(bytes.buffer, at, words), c);
    i += words * 4;
  }
  return ~crcBytes(bytes, i, end, c) >>> 0;
}

/** 16 bytes per step; `w.length` is a multiple of 4. */
function crcWords(w: Int32Array, c: number): number {
  const t = TABLES;
  const n = w.length;
  for (let i = 0; i < n; i += 4) {
    const a = w[i]! ^ c;
    const b = w[i + 1]!;
    const d = w[i + 2]!;
    const e = w[i + 3]!;
    c =
      t[3840 + (a & 0xff)]! ^
      t[3584 + ((a >>> 8) & 0xff)]! ^
      t[3328 + ((a >>> 16) & 0xff)]! ^
      t[3072 + (a >>> 24)]! ^
      t[2816 + (b & 0xff)]! ^
      t[2560 + ((b >>> 8) & 0xff)]! ^
      t[2304 + ((b >>> 16) & 0xff)]! ^
      t[2048 + (b >>> 24)]! ^
      t[1792 + (d & 0xff)]! ^
      t[1536 + ((d >>> 8) & 0xff)]! ^
      t[1280 + ((d >>> 16) & 0xff)]! ^
      t[1024 + (d >>> 24)]! ^
      t[768 + (e & 0xff)]! ^
      t[512 + ((e >>> 8) & 0xff)]! ^
      t[256 + ((e >>> 16) & 0xff)]! ^
      t[e >>> 24]!;
  }
  return c;
}

/** 8 bytes per step from any alignment, then byte by byte. */
function crcBytes(bytes: Uint8Array, i: number, end: number, c: number): number {
  const t = TABLES;
  const end8 = end - 8;
  while (i <= end8) {
    const a =
      (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) ^ c;
    const b = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24);
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + (b & 0xff)]! ^
      t[512 + ((b >>> 8) & 0xff)]! ^
      t[256 + ((b >>> 16) & 0xff)]! ^
      t[b >>> 24]!;
    i += 8;
  }
  while (i < end) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return c;
}
