import { describe, expect, it } from 'vitest';
import { FILE, harness, openLive } from '../storeHarness.test-util.ts';

function clipboard() {
  const written: string[] = [];
  return { written, writeText: async (t: string) => void written.push(t) };
}

describe('deep links (issue 19 §5)', () => {
  it('copies a link that reopens the same recording, cursor, view and session', async () => {
    const clip = clipboard();
    const h = harness({ recordings: { 'rec-1': FILE }, clipboard: clip });
    await h.a().openRecording({ id: 'rec-1', name: 'rec one', bytes: 0, createdAt: 0 });
    const t = h.store.getState().trace!;
    h.a().setView(t.startNs + 1000, t.startNs + 50_000);
    h.a().setCursor(37, { reveal: false });
    h.a().selectSession(t.sessions.id(2));
    expect(await h.a().copyLink()).toBe(true);
    const url = clip.written[0]!;
    expect(url).toMatch(
      /^http:\/\/test:1\/\?recording=rec-1&cursor=37&from=-?\d+&to=\d+&session=0x[0-9a-f]+$/,
    );
    expect(h.store.getState().toasts.at(-1)!.title).toBe('Link copied');

    const b = harness({ recordings: { 'rec-1': FILE } });
    expect(b.a().openLink(new URL(url).search)).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    await waitFor(() => b.store.getState().trace !== null);
    const s = b.store.getState();
    const was = h.store.getState();
    expect(s.source).toMatchObject({ kind: 'recording', id: 'rec-1' });
    expect(s.cursor).toBe(37);
    expect(s.selectedSession).toBe(was.selectedSession);
    expect(Math.abs(s.viewStartNs - was.viewStartNs)).toBeLessThanOrEqual(1);
    expect(Math.abs(s.viewEndNs - was.viewEndNs)).toBeLessThanOrEqual(1);
  });

  it('says a linked recording that is gone is not there, and opens nothing', async () => {
    const h = harness({ recordings: {} });
    h.a().openLink('?recording=gone&cursor=3');
    await waitFor(() => h.store.getState().loadFailure !== null);
    expect(h.store.getState().loadFailure!.code).toMatch(/NOT_FOUND|HTTP/);
    expect(h.store.getState().trace).toBeNull();
  });

  it('links the live stream with the selected session, and has no link for a local file', async () => {
    const clip = clipboard();
    const h = harness({ clipboard: clip });
    openLive(h);
    h.a().selectSession(0x10001n);
    expect(h.a().linkUrl()).toBe('http://test:1/?live=1&session=0x10001');
    const b = harness();
    expect(b.a().openLink('?live=1&session=0x10001')).toBe(true);
    expect(b.store.getState().source.kind).toBe('live');
    expect(b.store.getState().selectedSession).toBe(0x10001n);
    await h.a().loadBytes(FILE, 'local.iocptrace');
    expect(h.a().linkUrl()).toBeNull();
    expect(await h.a().copyLink()).toBe(false);
    expect(clip.written).toEqual([]);
    expect(harness().a().openLink('?live=0')).toBe(false);
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let k = 0; k < 200 && !cond(); k++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}
