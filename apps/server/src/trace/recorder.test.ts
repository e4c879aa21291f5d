import { describe, expect, it } from 'vitest';
import { EventKind, RECORD_WORDS, ThreadRole, kindAt, tsAt } from '@iocpscope/protocol';
import { ManualClock } from './clock.ts';
import { Drainer } from './drainer.ts';
import { attachRecorder } from './recorder.ts';
import { C_IDLE, TraceShared } from './shared.ts';

describe('RingRecorder', () => {
  it('stamps recordAt() with a now() reading taken after the idle mark was cleared', () => {
    const shared = TraceShared.create({ maxThreads: 1, ringRecords: 16, stringSlots: 4 });
    const clock = new ManualClock();
    const rec = attachRecorder(shared, { role: ThreadRole.Worker, name: 'w', clock });
    rec.idle();
    expect(Atomics.load(shared.ctrl(rec.tid), C_IDLE)).toBe(1);
    clock.ns = 500;
    const stamp = rec.now();
    expect(stamp).toBe(500);
    expect(Atomics.load(shared.ctrl(rec.tid), C_IDLE)).toBe(0);
    clock.ns = 900; // the event happened at the stamp, it is published later
    rec.recordAt(stamp, EventKind.IoCount, 0, 1, 0, 0, 1, 0);
    rec.record(EventKind.Marker, 0, 0, 0, 0, 0, 0);
    const b = new Drainer(shared, { clock }).pump(true)!;
    const kinds = [];
    const stamps = [];
    for (let i = 0; i < b.records.length / RECORD_WORDS; i++) {
      kinds.push(kindAt(b.records, i));
      stamps.push(tsAt(b.records, i));
    }
    expect(kinds).toEqual([EventKind.ThreadStart, EventKind.IoCount, EventKind.Marker]);
    expect(stamps).toEqual([0, 500, 900]);
  });

  it('marks an event-loop thread idle at the end of every turn in which it recorded', async () => {
    const shared = TraceShared.create({ maxThreads: 1, ringRecords: 16, stringSlots: 4 });
    const rec = attachRecorder(shared, { role: ThreadRole.Kernel, name: 'k', eventLoop: true });
    const idle = (): number => Atomics.load(shared.ctrl(rec.tid), C_IDLE);
    const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
    await turn();
    expect(idle()).toBe(1);
    rec.record(EventKind.Marker, 0, 0, 0, 0, 0, 0);
    expect(idle()).toBe(0);
    await turn();
    expect(idle()).toBe(1);
    // A turn without records leaves it idle; the next record clears it again.
    await turn();
    expect(idle()).toBe(1);
    rec.now();
    expect(idle()).toBe(0);
    await turn();
    expect(idle()).toBe(1);
  });
});
