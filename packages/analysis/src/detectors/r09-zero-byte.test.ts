import { IoCountCause } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { checksOf, findingsOf, openSession, server } from '../testing/scenarios.ts';

/** A session with two recvs out (another rule's bug): the first completes with 72 bytes, the second with 0. */
function twoRecvsOut() {
  const sv = server();
  const w = sv.w[0]!;
  const { s, recv } = openSession(sv);
  const zero = w.recv(s);
  sv.b.complete(recv, { bytes: 72 });
  sv.b.complete(zero, { bytes: 0 });
  return { sv, w, s, data: recv, zero };
}

describe('rule 9: 0-byte completions', () => {
  it('reports a recv posted again after a 0-byte recv completion', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 0 });
    const d = w.dequeue(recv);
    const again = w.recv(s);
    w.completed(recv);
    w.gqcs();
    const fs = findingsOf(sv.b, { rules: ['zero-byte'] });
    expect(checksOf(fs)).toEqual(['zero-byte/recv-after-close']);
    expect(fs[0]!.evidence).toEqual([d, again.incIndex]);
  });

  // Seen on a real run of --fault iocount-double-decrement: a late completion
  // handled on the slot's next session posted it a second recv; one GQCS-Ex
  // call then returned the first recv (data) and the second (0 bytes), and the
  // worker reposted for the data before it handled the close.
  it('accepts the repost for a data recv handled before the 0-byte recv of its GQCS-Ex batch', () => {
    const { sv, w, s, data, zero } = twoRecvsOut();
    w.dequeue(data);
    w.dequeue(zero);
    const repost = w.recv(s);
    w.completed(data);
    w.disconnect(s);
    w.closeSocket(s);
    w.completed(zero);
    sv.b.complete(repost, { status: 64 });
    w.gqcs();
    expect(findingsOf(sv.b, { rules: ['zero-byte'] })).toEqual([]);
  });

  it('still reports a second recv posted in that batch: the 0-byte one reposted', () => {
    const a = twoRecvsOut();
    const z = a.w.dequeue(a.zero);
    a.w.dequeue(a.data);
    // The data recv came after the 0-byte one: its repost is after the close.
    const again = a.w.recv(a.s);
    a.w.completed(a.data);
    a.w.completed(a.zero);
    a.w.gqcs();
    const fs = findingsOf(a.sv.b, { rules: ['zero-byte'] });
    expect(checksOf(fs)).toEqual(['zero-byte/recv-after-close']);
    expect(fs[0]!.evidence).toEqual([z, again.incIndex]);
    // Data first, then 0 bytes, and two reposts: the second is the spin.
    const b = twoRecvsOut();
    b.w.dequeue(b.data);
    const z2 = b.w.dequeue(b.zero);
    b.w.recv(b.s);
    const spin = b.w.recv(b.s);
    b.w.gqcs();
    const fs2 = findingsOf(b.sv.b, { rules: ['zero-byte'] });
    expect(checksOf(fs2)).toEqual(['zero-byte/recv-after-close']);
    expect(fs2[0]!.evidence).toEqual([z2, spin.incIndex]);
  });

  it('reports a worker that keeps going after an exit packet', () => {
    const sv = server();
    const w = sv.w[0]!;
    sv.main.pqcsExit();
    const d = w.dequeueExit();
    const back = w.gqcs();
    const fs = findingsOf(sv.b, { rules: ['zero-byte'] });
    expect(checksOf(fs)).toEqual(['zero-byte/exit-ignored']);
    expect(fs[0]!.evidence).toEqual([d, back]);
  });

  it('reports an exit packet handled as an I/O completion', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s } = openSession(sv);
    sv.main.pqcsExit();
    w.dequeueExit();
    w.dec(s, IoCountCause.Completion);
    expect(checksOf(findingsOf(sv.b, { rules: ['zero-byte'] }))).toEqual([
      'zero-byte/exit-as-completion',
    ]);
  });

  it('accepts a worker that exits on its exit packet', () => {
    const sv = server();
    const w = sv.w[0]!;
    sv.main.pqcsExit();
    w.dequeueExit();
    w.exit();
    expect(findingsOf(sv.b, { rules: ['zero-byte'] })).toEqual([]);
  });

  it('accepts a GQCS-Ex batch with an exit packet and a completion, the completion handled first', () => {
    const sv = server();
    const w = sv.w[0]!;
    const { s, recv } = openSession(sv);
    sv.b.complete(recv, { bytes: 0 });
    sv.main.pqcsExit();
    // One GQCS-Ex call returns both: the 0-byte recv, then the exit packet.
    w.dequeue(recv);
    w.dequeueExit();
    w.disconnect(s);
    w.closeSocket(s);
    w.completed(recv);
    w.release(s);
    w.exit();
    expect(findingsOf(sv.b, { rules: ['zero-byte'] })).toEqual([]);
  });

  it('reports a decrement after an exit packet for a session the batch did not hold', () => {
    const sv = server();
    const w = sv.w[0]!;
    const a = openSession(sv, 1);
    const b2 = openSession(sv, 2);
    sv.b.complete(a.recv, { bytes: 0 });
    sv.main.pqcsExit();
    w.dequeue(a.recv);
    w.dequeueExit();
    w.completed(a.recv); // right: a completion of this batch
    w.dec(b2.s, IoCountCause.Completion); // wrong: nothing of b2 was dequeued
    expect(checksOf(findingsOf(sv.b, { rules: ['zero-byte'] }))).toEqual([
      'zero-byte/exit-as-completion',
    ]);
  });
});
