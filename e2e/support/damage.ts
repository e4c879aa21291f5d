// Damaged copies of a good .iocptrace file for the corrupt-file journey, made
// at test time from the committed fixture, with the reference reader
// (packages/protocol readTraceFile) saying what a correct reader must report
// for each: the error code and how many events the valid prefix holds.
//
// Layout (packages/protocol FORMAT.md): a header of 16 fixed bytes + the
// metadata JSON padded to 4 + a CRC32, then chunks of "IOCK" + u32 body length
// + body + CRC32.

import { readFileSync } from 'node:fs';
import {
  CHUNK_HEADER_BYTES,
  CHUNK_TRAILER_BYTES,
  FILE_HEADER_FIXED_BYTES,
  RECORD_WORDS,
  readTraceFile,
} from '@iocpscope/protocol';

export interface Span {
  start: number;
  end: number;
}

export interface Layout {
  header: Span;
  chunks: Span[];
}

export function layoutOf(bytes: Uint8Array): Layout {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const metaLen = view.getUint32(12, true);
  const headerEnd = FILE_HEADER_FIXED_BYTES + Math.ceil(metaLen / 4) * 4 + 4;
  const chunks: Span[] = [];
  let at = headerEnd;
  while (at + CHUNK_HEADER_BYTES <= bytes.length) {
    const body = view.getUint32(at + 4, true);
    const end = at + CHUNK_HEADER_BYTES + body + CHUNK_TRAILER_BYTES;
    if (end > bytes.length) break;
    chunks.push({ start: at, end });
    at = end;
  }
  if (at !== bytes.length) throw new Error(`fixture does not end on a chunk boundary (${at})`);
  return { header: { start: 0, end: headerEnd }, chunks };
}

export interface Damaged {
  name: string;
  bytes: Buffer;
  /** What the reference reader reports. */
  code: string;
  recoveredEvents: number;
}

function judge(name: string, bytes: Buffer): Damaged {
  const r = readTraceFile(new Uint8Array(bytes));
  if (!r.error) throw new Error(`${name} is not damaged after all`);
  return { name, bytes, code: r.error.code, recoveredEvents: r.records.length / RECORD_WORDS };
}

export function damagedCopies(file: string): {
  good: Buffer;
  layout: Layout;
  truncatedMidChunk: Damaged;
  bitFlipLaterChunk: Damaged;
  bitFlipFirstChunk: Damaged;
  notATrace: Damaged;
} {
  const good = readFileSync(file);
  const layout = layoutOf(new Uint8Array(good));
  const { chunks } = layout;
  if (chunks.length < 4) throw new Error('the fixture needs at least 4 chunks');
  const last = chunks.at(-1)!;
  const mid = chunks[Math.floor(chunks.length / 2)]!;
  const first = chunks[0]!;

  // A crash mid-write: the last chunk is cut in half.
  const truncated = good.subarray(0, last.start + Math.floor((last.end - last.start) / 2));
  // Bit rot in the middle of a chunk's records: its CRC no longer matches.
  const flip = (span: Span): Buffer => {
    const b = Buffer.from(good);
    const at = span.start + CHUNK_HEADER_BYTES + Math.floor((span.end - span.start) / 3);
    b[at] = b[at]! ^ 0x24;
    return b;
  };
  const text = Buffer.from('iocpscope e2e: this is a text file, not a trace.\n'.repeat(40), 'utf8');
  return {
    good,
    layout,
    truncatedMidChunk: judge('truncated.iocptrace', Buffer.from(truncated)),
    bitFlipLaterChunk: judge('bitrot-later.iocptrace', flip(mid)),
    bitFlipFirstChunk: judge('bitrot-first.iocptrace', flip(first)),
    notATrace: judge('notes.iocptrace', text),
  };
}
