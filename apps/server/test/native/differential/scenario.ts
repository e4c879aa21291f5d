// The differential scenario: a fixed set of sessions, each running a scripted
// sequence of recv/send/PQCS/close steps against a loopback client, on
// whichever backend the conformance harness selects (IOCPSCOPE_BACKEND). It
// returns, per session, what the scripts observed: the result class of every
// post and every completion dequeued for that session, in dequeue order.
//
// Determinism: a session issues its next step only after the completions its
// previous step owes have been dequeued, and all completions are dequeued by
// one collector thread, so a session's sequence follows from the contract
// alone (FIFO, one packet per post, the GQCS result cases). Sessions run
// concurrently; how they interleave is free and not recorded. Post results
// are recorded as classes ('queued' for 0 and 997 alike: whether data was
// already there is timing, not contract), errors by code.
//
// Each session owns the arena range [slot * 1024, slot * 1024 + 1024).

import { Op } from '@iocpscope/protocol';
import { ERROR_IO_PENDING, type CompletionEntry } from '../../../src/port/index.ts';
import type { Client } from '../../conformance/harness/index.ts';
import {
  BACKEND,
  connectedPair,
  createTestPort,
  startThreads,
  stopThreads,
  type PortThread,
  type TestPort,
} from '../../conformance/harness/index.ts';

export type Observation =
  | { step: number; kind: 'post'; what: string; result: string }
  | {
      step: number;
      kind: 'completion';
      op: string;
      ok: boolean;
      bytes: number;
      error: number;
      overlapped: number;
      data?: string;
    }
  | { step: number; kind: 'client'; what: string; data: string }
  | { step: number; kind: 'timeout'; waitingFor: string };

export interface ScenarioResult {
  backend: string;
  sessions: Record<string, Observation[]>;
  ms: number;
}

const SLOT_BYTES = 1024;
const WAIT_MS = 5000;
const OP_NAMES: Record<number, string> = { 0: 'none', 1: 'recv', 2: 'send', 3: 'post' };

/** Completions routed to one session (by its completion key), awaited in order. */
class Mailbox {
  private readonly queue: CompletionEntry[] = [];
  private waiter: ((e: CompletionEntry | null) => void) | null = null;

  push(e: CompletionEntry): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(e);
    } else {
      this.queue.push(e);
    }
  }

  next(ms: number): Promise<CompletionEntry | null> {
    const e = this.queue.shift();
    if (e) return Promise.resolve(e);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, ms);
      this.waiter = (x) => {
        clearTimeout(t);
        resolve(x);
      };
    });
  }
}

/** What a session script can do; every call records its observation. */
class Session {
  readonly log: Observation[] = [];
  readonly box = new Mailbox();
  step = 0;
  constructor(
    readonly name: string,
    readonly key: number,
    readonly base: number,
    readonly tp: TestPort,
    readonly driver: PortThread,
    readonly socket: number,
    readonly client: Client,
  ) {}

  private ov(): number {
    return this.key * 1000 + this.step;
  }

  private post(what: string, value: number): void {
    const result = value === 0 || value === ERROR_IO_PENDING ? 'queued' : `error ${value}`;
    this.log.push({ step: this.step, kind: 'post', what, result });
  }

  async recv(len0: number, len1 = 0): Promise<void> {
    this.step++;
    const bufs: [number, number][] = [[this.base, len0]];
    if (len1 > 0) bufs.push([this.base + 512, len1]);
    const r = await this.driver.recv(this.socket, this.ov(), bufs);
    this.post(len1 > 0 ? `recv ${len0}+${len1}` : `recv ${len0}`, r.value as number);
    this.bufs.set(this.ov(), bufs);
  }
  private readonly bufs = new Map<number, [number, number][]>();

  async send(text: string, split = 0): Promise<void> {
    this.step++;
    const arena = this.tp.host.arena;
    const bytes = Buffer.from(text);
    const bufs: [number, number][] = [];
    if (split > 0) {
      arena.set(bytes.subarray(0, split), this.base + 256);
      arena.set(bytes.subarray(split), this.base + 128);
      bufs.push([this.base + 256, split], [this.base + 128, bytes.length - split]);
    } else {
      arena.set(bytes, this.base + 256);
      bufs.push([this.base + 256, bytes.length]);
    }
    const r = await this.driver.send(this.socket, this.ov(), bufs);
    this.post(`send ${bytes.length}`, r.value as number);
  }

  async pqcs(bytes: number): Promise<void> {
    this.step++;
    const r = await this.driver.pqcs(bytes, this.key, 0, this.ov());
    this.log.push({
      step: this.step,
      kind: 'post',
      what: `pqcs ${bytes}`,
      result: String(r.value),
    });
  }

  async closesocket(): Promise<void> {
    this.step++;
    const r = await this.driver.closesocket(this.socket);
    this.log.push({ step: this.step, kind: 'post', what: 'closesocket', result: String(r.value) });
  }

  /** Wait for the next completion of this session and record it (with the bytes a recv got). */
  async completion(): Promise<CompletionEntry | null> {
    const e = await this.box.next(WAIT_MS);
    if (!e) {
      this.log.push({ step: this.step, kind: 'timeout', waitingFor: 'completion' });
      return null;
    }
    const obs: Observation = {
      step: e.overlapped % 1000,
      kind: 'completion',
      op: OP_NAMES[e.op] ?? String(e.op),
      ok: e.error === 0,
      bytes: e.bytes,
      error: e.error,
      overlapped: e.overlapped,
    };
    const bufs = this.bufs.get(e.overlapped);
    if (e.op === Op.Recv && bufs && e.error === 0) {
      const arena = this.tp.host.arena;
      let left = e.bytes;
      let data = '';
      for (const [off, len] of bufs) {
        const n = Math.min(left, len);
        data += Buffer.from(arena.subarray(off, off + n)).toString('latin1');
        left -= n;
      }
      obs.data = data;
    }
    this.log.push(obs);
    return e;
  }

  async clientReceives(bytes: number): Promise<void> {
    const got = await Promise.race([
      this.client.receivedAtLeast(bytes).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), WAIT_MS)),
    ]);
    if (!got)
      this.log.push({ step: this.step, kind: 'timeout', waitingFor: `client ${bytes} bytes` });
    else
      this.log.push({
        step: this.step,
        kind: 'client',
        what: 'received',
        data: this.client.received.toString('latin1'),
      });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The scripts, by session name. Keys are 1..n in this order. */
const SCRIPTS: Record<string, (s: Session) => Promise<void>> = {
  async echo(s) {
    await s.recv(64);
    await s.client.write('hello');
    await s.completion();
    await s.send('world!');
    await s.completion();
    await s.clientReceives(6);
    s.client.sock.end();
    await s.recv(64);
    await s.completion();
    await s.closesocket();
  },
  async abortPendingRecv(s) {
    await s.recv(32);
    await s.closesocket();
    await s.completion();
  },
  async pqcsFifo(s) {
    await s.pqcs(1);
    await s.pqcs(2);
    await s.pqcs(3);
    for (let k = 0; k < 3; k++) await s.completion();
    await s.closesocket();
  },
  async peerReset(s) {
    await s.recv(16);
    s.client.reset();
    await s.completion();
    await s.closesocket();
  },
  async twoBuffers(s) {
    await s.client.write('0123456789');
    await sleep(50);
    await s.recv(4, 32);
    await s.completion();
    await s.send('wrapped around', 8);
    await s.completion();
    await s.clientReceives(14);
    await s.closesocket();
  },
  async dataBeforeClose(s) {
    s.client.sock.end('last words');
    await sleep(50);
    for (let k = 0; k < 6; k++) {
      await s.recv(4);
      const e = await s.completion();
      if (!e || e.bytes === 0) break;
    }
    await s.closesocket();
  },
  async pqcsBetweenIo(s) {
    await s.pqcs(7);
    await s.send('x');
    await s.completion();
    await s.completion();
    await s.pqcs(8);
    await s.completion();
    await s.clientReceives(1);
    await s.closesocket();
  },
  async recvAfterEof(s) {
    s.client.sock.end();
    await s.recv(8);
    await s.completion();
    await s.recv(8);
    await s.completion();
    await s.closesocket();
  },
};

export const SESSION_NAMES = Object.keys(SCRIPTS);

/** Runs every session script once on the harness's backend. */
export async function runScenario(): Promise<ScenarioResult> {
  const t0 = Date.now();
  const threads = await startThreads(2);
  const [driver, collector] = threads as [PortThread, PortThread];
  const tp = await createTestPort({
    concurrency: 2,
    arenaBytes: SESSION_NAMES.length * SLOT_BYTES,
  });
  await driver.attach(tp.host);
  await collector.attach(tp.host);
  const sessions: Session[] = [];
  // Connections are made one at a time: one acceptor, so accepts cannot cross.
  for (const [i, name] of SESSION_NAMES.entries()) {
    const key = i + 1;
    const { socket, client } = await connectedPair(tp.host, driver, key);
    sessions.push(new Session(name, key, i * SLOT_BYTES, tp, driver, socket, client));
  }
  let collecting = true;
  const collected = (async () => {
    while (collecting) {
      const r = await collector.gqcsEx(16, 100);
      for (const e of r.entries) sessions[e.keyLo - 1]?.box.push(e);
    }
  })();
  await Promise.all(sessions.map((s) => SCRIPTS[s.name]!(s)));
  collecting = false;
  await collected;
  for (const s of sessions) s.client.destroy();
  await driver.detach();
  await collector.detach();
  await tp.host.close();
  await stopThreads(threads);
  const out: Record<string, Observation[]> = {};
  for (const s of sessions) out[s.name] = s.log;
  return { backend: BACKEND, sessions: out, ms: Date.now() - t0 };
}
