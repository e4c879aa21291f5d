import { describe, expect, it } from 'vitest';
import { FILE, harness, liveFrames, openLive } from '../storeHarness.test-util.ts';

const TEXT = new TextEncoder().encode('just some notes, not a trace\n');

describe('opening bad input over open work (issue 19 §9)', () => {
  it('keeps the open trace when a text file is opened over it, and says why in a toast with the code', async () => {
    const h = harness();
    await h.a().loadBytes(FILE, 'good.iocptrace');
    const before = h.store.getState();
    h.a().setCursor(40);
    await h.a().loadBytes(TEXT, 'notes.txt');
    const s = h.store.getState();
    expect(s.trace).toBe(before.trace);
    expect(s.source).toEqual(before.source);
    expect(s.cursor).toBe(40);
    expect(s.loading).toBeNull();
    // The failure is not the open trace's: no partial badge for it.
    expect(s.loadFailure).toBeNull();
    const t = s.toasts.at(-1)!;
    expect(t.tone).toBe('error');
    expect(t.title).toBe('Could not open notes.txt: BAD_MAGIC');
    expect(t.detail).toMatch(/What was open stays open\.$/);
  });

  it('keeps the live stream when a bad file is opened from the live view', async () => {
    const h = harness();
    const sock = openLive(h);
    sock.serverBinary(liveFrames()[0]!);
    h.flush();
    const n = h.store.getState().trace!.count;
    await h.a().loadBytes(TEXT, 'notes.txt');
    const s = h.store.getState();
    expect(s.source.kind).toBe('live');
    expect(sock.closedWith).toBeNull();
    expect(s.trace!.count).toBe(n);
    expect(s.toasts.at(-1)!.title).toBe('Could not open notes.txt: BAD_MAGIC');
    // And the stream goes on.
    sock.serverBinary(liveFrames()[1]!);
    h.flush();
    expect(h.store.getState().trace!.count).toBeGreaterThan(n);
  });

  it('keeps the open trace when a recording turns out to be gone (NOT_FOUND)', async () => {
    const h = harness();
    await h.a().loadBytes(FILE, 'good.iocptrace');
    const trace = h.store.getState().trace;
    await h.a().openRecording({ id: 'gone', name: 'gone', bytes: 0, createdAt: 0 });
    const s = h.store.getState();
    expect(s.trace).toBe(trace);
    expect(s.toasts.at(-1)!.title).toMatch(/^Could not open gone: (NOT_FOUND|HTTP)$/);
  });

  it('replaces the open trace with a damaged file that still holds events, marked partial', async () => {
    const h = harness();
    await h.a().loadBytes(FILE, 'good.iocptrace');
    const bad = FILE.slice();
    bad[Math.floor(bad.length * 0.6)]! ^= 0x5a;
    await h.a().loadBytes(bad, 'bad.iocptrace');
    const s = h.store.getState();
    expect(s.source).toMatchObject({ kind: 'file', name: 'bad.iocptrace' });
    expect(s.loadFailure?.code).toBe('CHECKSUM_MISMATCH');
  });

  it('shows the failure on the start screen when nothing was open', async () => {
    const h = harness();
    await h.a().loadBytes(TEXT, 'notes.txt');
    const s = h.store.getState();
    expect(s.trace).toBeNull();
    expect(s.loadFailure).toMatchObject({ name: 'notes.txt', code: 'BAD_MAGIC' });
  });
});
