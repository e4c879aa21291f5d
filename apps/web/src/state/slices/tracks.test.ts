import { describe, expect, it } from 'vitest';
import { FILE, harness } from '../storeHarness.test-util.ts';
import { MAX_PINNED } from './tracks.ts';

describe('pinned session tracks (issue 19 §3)', () => {
  it('pins several sessions in order, unpins, toggles, and caps the count', async () => {
    const h = harness();
    await h.a().loadBytes(FILE);
    const ids = Array.from({ length: MAX_PINNED + 1 }, (_, k) =>
      h.store.getState().trace!.sessions.id(k),
    );
    h.a().pinSession(ids[2]!);
    h.a().pinSession(ids[0]!);
    h.a().pinSession(ids[2]!);
    expect(h.store.getState().pinnedSessions).toEqual([ids[2], ids[0]]);
    h.a().togglePin(ids[2]!);
    expect(h.store.getState().pinnedSessions).toEqual([ids[0]]);
    for (const id of ids) h.a().pinSession(id);
    expect(h.store.getState().pinnedSessions.length).toBe(MAX_PINNED);
    expect(h.store.getState().toasts.at(-1)!.title).toMatch(/At most/);
    h.a().unpinSession(ids[0]!);
    expect(h.store.getState().pinnedSessions).not.toContain(ids[0]);
  });

  it('forgets the pins when another trace opens', async () => {
    const h = harness();
    await h.a().loadBytes(FILE);
    h.a().pinSession(h.store.getState().trace!.sessions.id(1));
    await h.a().loadBytes(FILE, 'again.iocptrace');
    expect(h.store.getState().pinnedSessions).toEqual([]);
  });
});
