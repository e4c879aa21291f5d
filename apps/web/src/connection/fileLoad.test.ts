import { describe, expect, it } from 'vitest';
import {
  EventKind,
  RECORD_WORDS,
  encodeChunk,
  encodeFileHeader,
  writeRecord,
} from '@iocpscope/protocol';
import { LoadError } from './errors.ts';
import { blobSource, bytesSource, fetchSource, loadTrace, recordingUrl } from './fileLoad.ts';

function markers(first: number, n: number): Uint32Array {
  const w = new Uint32Array(n * RECORD_WORDS);
  for (let i = 0; i < n; i++)
    writeRecord(w, i, EventKind.Marker, 0, 0, 1, (first + i) * 10, 0, 0, 0, 0);
  return w;
}

/** A file of `chunks` chunks of `per` marker events each; returns the bytes and chunk offsets. */
function makeFile(chunks: number, per: number): { bytes: Uint8Array; chunkStarts: number[] } {
  const parts: Uint8Array[] = [
    encodeFileHeader({
      clock: 'monotonic-ns',
      host: 'test',
      backend: 'emulated',
      portConfig: { workers: 2, concurrency: 1 },
      startWallMs: 0,
    }),
  ];
  const chunkStarts: number[] = [];
  let off = parts[0]!.length;
  for (let c = 0; c < chunks; c++) {
    const chunk = encodeChunk(markers(c * per, per), c === 0 ? [[1, 'tick']] : []);
    chunkStarts.push(off);
    off += chunk.length;
    parts.push(chunk);
  }
  const bytes = new Uint8Array(off);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, chunkStarts };
}

describe('loadTrace', () => {
  it('reads a valid file fed in small pieces and reports growing progress', async () => {
    const { bytes } = makeFile(5, 100);
    const seen: number[] = [];
    const r = await loadTrace(bytesSource(bytes, 'ok.iocptrace'), {
      chunkBytes: 777,
      onProgress: (p) => seen.push(p.loadedBytes),
    });
    expect(r.error).toBeUndefined();
    expect(r.store.length).toBe(500);
    expect(r.strings.get(1)).toBe('tick');
    expect(r.header?.portConfig.workers).toBe(2);
    expect(seen.at(-1)).toBe(bytes.length);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
  });

  it('keeps the valid prefix of a corrupt file and reports the checksum error', async () => {
    const { bytes, chunkStarts } = makeFile(4, 50);
    const bad = bytes.slice();
    bad[chunkStarts[2]! + 40]! ^= 0xff;
    const r = await loadTrace(blobSource(new Blob([bad]), 'bad.iocptrace'), { chunkBytes: 1000 });
    expect(r.error?.code).toBe('CHECKSUM_MISMATCH');
    expect(r.store.length).toBe(100);
    expect(r.validBytes).toBe(chunkStarts[2]);
  });

  it('reports a file cut inside a chunk as TRUNCATED with the complete chunks kept', async () => {
    const { bytes, chunkStarts } = makeFile(3, 20);
    const cut = bytes.subarray(0, chunkStarts[2]! + 10);
    const r = await loadTrace(bytesSource(cut, 'cut.iocptrace'));
    expect(r.error?.code).toBe('TRUNCATED');
    expect(r.store.length).toBe(40);
  });

  it('reports a file that is not a trace as BAD_MAGIC with nothing recovered', async () => {
    const r = await loadTrace(bytesSource(new TextEncoder().encode('hello, not a trace'), 'x.txt'));
    expect(r.error?.code).toBe('BAD_MAGIC');
    expect(r.store.length).toBe(0);
  });

  it('rejects with ABORTED when the signal fires during the load', async () => {
    const { bytes } = makeFile(4, 50);
    const ctl = new AbortController();
    const p = loadTrace(bytesSource(bytes, 'a'), {
      chunkBytes: 64,
      signal: ctl.signal,
      onProgress: (pr) => {
        if (pr.loadedBytes > 200) ctl.abort();
      },
    });
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('refuses a source above the size limit before reading it', async () => {
    const { bytes } = makeFile(1, 10);
    await expect(loadTrace(bytesSource(bytes, 'big'), { maxBytes: 100 })).rejects.toBeInstanceOf(
      LoadError,
    );
  });
});

describe('fetchSource', () => {
  it('turns an HTTP error into a LoadError with code HTTP', async () => {
    const fake = (async () => new Response('busy', { status: 503 })) as typeof fetch;
    await expect(fetchSource('/api/recordings/x', 'x', undefined, fake)).rejects.toMatchObject({
      code: 'HTTP',
    });
  });

  it('says a recording that is gone is not on this server (NOT_FOUND)', async () => {
    const fake = (async () => new Response('no such recording', { status: 404 })) as typeof fetch;
    await expect(fetchSource('/api/recordings/x', 'x', undefined, fake)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/x is not on this server/),
    });
  });

  it('streams a served recording into the reader', async () => {
    const { bytes } = makeFile(3, 30);
    const fake = (async () =>
      new Response(bytes.slice().buffer, {
        headers: { 'content-length': String(bytes.length) },
      })) as typeof fetch;
    const src = await fetchSource('/api/recordings/r1', 'r1', undefined, fake);
    expect(src.size).toBe(bytes.length);
    const r = await loadTrace(src);
    expect(r.store.length).toBe(90);
  });

  it('builds recording URLs from ids only, carrying the token', () => {
    expect(recordingUrl('../etc/passwd')).toBe('/api/recordings/..%2Fetc%2Fpasswd');
    expect(recordingUrl('r1', '?token=t')).toBe('/api/recordings/r1?token=t');
  });
});
