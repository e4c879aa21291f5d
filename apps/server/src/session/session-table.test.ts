import { describe, expect, it } from 'vitest';
import { seededRandom } from '../trace/testing.ts';
import { HEADER_WORDS, SLOT_WORDS, S_REUSE_HI, S_REUSE_LO, SessionTable } from './session-table.ts';

const limits = { maxSessions: 8, recvBytes: 16384, sendBytes: 16384 };

describe('SessionTable', () => {
  it('gives every allocation a never-reused 64-bit id: slot in the low 16 bits, reuse counter above', () => {
    const t = SessionTable.create(limits);
    const rand = seededRandom(9);
    const reuse = new Map<number, bigint>();
    const live: number[] = [];
    const seen = new Set<bigint>();
    for (let step = 0; step < 5000; step++) {
      if (live.length > 0 && (live.length === limits.maxSessions || rand() < 0.5)) {
        const k = Math.floor(rand() * live.length);
        const slot = live.splice(k, 1)[0]!;
        expect(t.tryMarkReleased(slot)).toBe(true);
        expect(t.freeSlot(slot)).toBe(true);
      } else {
        const slot = t.allocate();
        expect(slot).toBeGreaterThanOrEqual(0);
        expect(live).not.toContain(slot);
        live.push(slot);
        const r = (reuse.get(slot) ?? 0n) + 1n;
        reuse.set(slot, r);
        const id = t.sessionId(slot);
        expect(id).toBe((r << 16n) | BigInt(slot));
        expect(seen.has(id)).toBe(false);
        seen.add(id);
        expect(t.idLo(slot)).toBe(Number(id & 0xffffffffn));
        expect(t.idHi(slot)).toBe(Number(id >> 32n));
      }
    }
    expect(t.active).toBe(live.length);
  });

  it('carries the reuse counter past 2^32 exactly, without float rounding', () => {
    const t = SessionTable.create(limits);
    const slot = t.allocate();
    t.tryMarkReleased(slot);
    t.freeSlot(slot);
    const b = HEADER_WORDS + slot * SLOT_WORDS;
    t.i32[b + S_REUSE_LO] = -1; // 0xffffffff
    t.i32[b + S_REUSE_HI] = 0x1234;
    expect(t.allocate()).toBe(slot);
    const reuse = (0x1234n << 32n) + 0xffffffffn + 1n;
    expect(t.sessionId(slot)).toBe((reuse << 16n) | BigInt(slot));
    expect(t.sessionId(slot)).toBeGreaterThan(2n ** 53n);
  });

  it('releases exactly once: the combined CAS needs IOCount 0 and the flag clear together', () => {
    const t = SessionTable.create(limits);
    const s = t.allocate();
    expect(t.addIoCount(s, 1)).toBe(1);
    expect(t.tryMarkReleased(s)).toBe(false);
    expect(t.addIoCount(s, -1)).toBe(0);
    expect(t.tryMarkReleased(s)).toBe(true);
    expect(t.tryMarkReleased(s)).toBe(false);
    expect(t.isReleased(s)).toBe(true);
    // A late hold from outside sees the flag and backs off; the count returns to 0.
    t.addIoCount(s, 1);
    expect(t.isReleased(s)).toBe(true);
    t.addIoCount(s, -1);
    expect(t.ioCount(s)).toBe(0);
    // IOCount below 0 (a fault) leaves the flag alone.
    const u = t.allocate();
    t.addIoCount(u, -1);
    expect(t.isReleased(u)).toBe(false);
    expect(t.tryMarkReleased(u)).toBe(false);
  });

  it('never hands out a slot twice, even when a faulty path frees it twice', () => {
    const t = SessionTable.create(limits);
    const a = t.allocate();
    t.tryMarkReleased(a);
    expect(t.freeSlot(a)).toBe(true);
    expect(t.freeSlot(a)).toBe(false);
    const got = new Set<number>();
    for (let i = 0; i < limits.maxSessions; i++) got.add(t.allocate());
    expect(got.size).toBe(limits.maxSessions);
    expect(t.allocate()).toBe(-1);
    expect(t.liveSlots().length).toBe(limits.maxSessions);
  });

  it('lays RecvQ and SendQ of each slot side by side in the arena', () => {
    const t = SessionTable.create({ maxSessions: 3, recvBytes: 16384, sendBytes: 32768 });
    expect(t.recvBase(1)).toBe(49152);
    expect(t.sendBase(1)).toBe(49152 + 16384);
    expect(t.arenaBytes).toBe(3 * 49152);
  });

  it('rejects bad limits with a coded error', () => {
    expect(() => SessionTable.create({ ...limits, maxSessions: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_SESSION_TABLE' }),
    );
    expect(() => SessionTable.create({ ...limits, recvBytes: 20000 })).toThrow(
      expect.objectContaining({ code: 'ERR_SESSION_TABLE' }),
    );
    expect(() => SessionTable.create({ ...limits, maxSessions: 70000 })).toThrow(
      expect.objectContaining({ code: 'ERR_SESSION_TABLE' }),
    );
  });
});
