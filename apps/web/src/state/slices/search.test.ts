import { describe, expect, it } from 'vitest';
import { EventKind, RECORD_WORDS } from '@iocpscope/protocol';
import { FILE, harness, liveFrames, openLive } from '../storeHarness.test-util.ts';

describe('event search (issue 19 §4)', () => {
  it('finds an io id, counts the matches, and Enter / Shift+Enter walk them with wrap-around', async () => {
    const h = harness();
    await h.a().loadBytes(FILE);
    const t = h.store.getState().trace!;
    // An io id the trace holds: the first GQCS return's.
    let io = -1;
    for (let i = 0; i < t.count && io < 0; i++) {
      if (t.kindAt(i) === EventKind.GqcsReturn && (t.words[i * RECORD_WORDS]! >>> 8) & 0x20) {
        io = t.words[i * RECORD_WORDS + 7]!;
      }
    }
    h.a().setSearch(`io:${io}`);
    let s = h.store.getState();
    expect(s.searchError).toBeNull();
    expect(s.searchDescription).toBe(`io ${io}`);
    const m = [...s.searchMatches!];
    expect(m.length).toBeGreaterThan(1);
    for (const i of m) expect(t.words[i * RECORD_WORDS + 7]).toBe(io);
    h.a().setCursor(0);
    h.a().searchStep(1);
    expect(h.store.getState().cursor).toBe(m[0]);
    h.a().searchStep(1);
    expect(h.store.getState().cursor).toBe(m[1]);
    h.a().searchStep(-1);
    expect(h.store.getState().cursor).toBe(m[0]);
    h.a().searchStep(-1);
    expect(h.store.getState().cursor).toBe(m.at(-1));
    h.a().setSearch('op:fly');
    s = h.store.getState();
    expect(s.searchError).toBe('not an op: "op:fly"');
    expect(s.searchMatches).toBeNull();
    h.a().setSearch('');
    expect(h.store.getState().searchText).toBe('');
  });

  it('keeps the matches current while a live trace grows', () => {
    const h = harness();
    const sock = openLive(h);
    sock.serverBinary(liveFrames()[0]!);
    h.flush();
    h.a().setSearch('recv');
    const first = h.store.getState().searchMatches!.length;
    sock.serverBinary(liveFrames()[1]!);
    h.flush();
    const t = h.store.getState().trace!;
    const want = [];
    for (let i = 0; i < t.count; i++) {
      const k = t.kindAt(i);
      const hasOp = [6, 7, 8, 9, 21, 22].includes(k);
      if (hasOp && ((t.words[i * RECORD_WORDS]! >>> 8) & 0x0f) === 1) want.push(i);
    }
    expect([...h.store.getState().searchMatches!]).toEqual(want);
    expect(want.length).toBeGreaterThan(first);
  });
});
