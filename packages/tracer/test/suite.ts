// The tracer's tests (issue 13): iocpscope.h compiled as C and C++ by
// mingw-w64, then native programs and the example C++ echo server run under
// Wine and judged from the outside: by `iocpscope load` (every echoed byte),
// by the naive model in trace-model.ts over the recording, and by
// `iocpscope check`. Called by scripts/native/test.mjs (its "tracer" stage);
// standalone: `pnpm exec tsx packages/tracer/test/suite.ts [--only substring]`.

import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAULT_RULES } from '../../analysis/src/findings.ts';
import { viewerTests } from './viewer.ts';
import {
  BUILD,
  CC,
  CXX,
  INCLUDE,
  NM,
  Suite,
  TRACER_DIR,
  WARNINGS,
  buildEchoServer,
  buildExe,
  check,
  expect,
  freePort,
  idleResetClients,
  load,
  run,
  runExe,
  runIfMain,
  startEchoServer,
  winPath,
  workDir,
  type EchoStats,
  type LoadReport,
} from './harness.ts';
import { checkEchoTrace, checkGaps, decodeFile, type EchoTraceSummary } from './trace-model.ts';

const NATIVE = join(TRACER_DIR, 'test', 'native');

// ---- compilation -------------------------------------------------------------------

function compileTests(suite: Suite): (() => Promise<boolean>)[] {
  const src = join(NATIVE, 'compile_all.c');
  const out: (() => Promise<boolean>)[] = [];
  const langs = [
    { name: 'C99', cmd: CC, args: ['-std=c99', '-x', 'c'] },
    { name: 'C++11', cmd: CXX, args: ['-std=c++11', '-x', 'c++'] },
  ];
  for (const lang of langs) {
    for (const enabled of [true, false]) {
      for (const wrapAll of [false, true]) {
        const label = `${lang.name}, ${enabled ? 'IOCPSCOPE_ENABLE' : 'disabled'}${wrapAll ? ', IOCPSCOPE_WRAP_ALL' : ''}`;
        const obj = join(
          BUILD,
          'compile',
          `${lang.name}-${enabled ? 'on' : 'off'}-${wrapAll ? 'wrap' : 'plain'}.o`,
        );
        out.push(() =>
          suite.test(`compiles cleanly as ${label} with -Wall -Wextra -Wpedantic -Werror`, () => {
            run('mkdir', ['-p', join(BUILD, 'compile')]);
            const r = run(lang.cmd, [
              ...lang.args,
              ...WARNINGS,
              '-Wpedantic',
              '-O2',
              `-I${INCLUDE}`,
              ...(enabled ? ['-DIOCPSCOPE_ENABLE'] : []),
              ...(wrapAll ? ['-DIOCPSCOPE_WRAP_ALL'] : []),
              '-c',
              src,
              '-o',
              obj,
            ]);
            expect(r.ok, `the compiler said:\n${r.output}`);
            const syms = run(NM, [obj]);
            expect(syms.ok, `nm failed: ${syms.output}`);
            const ours = syms.output.split('\n').filter((l) => /iocpscope/i.test(l));
            if (enabled) {
              // The positive control: nm does see the tracer when it is there.
              expect(
                ours.some((l) => / T iocpscope_init$/.test(l)),
                `the enabled object should define iocpscope_init; nm found:\n${ours.slice(0, 5).join('\n')}`,
              );
            } else {
              expect(
                ours.length === 0,
                `with IOCPSCOPE_ENABLE undefined the object holds iocpscope symbols:\n${ours.slice(0, 10).join('\n')}`,
              );
            }
          }),
        );
      }
    }
  }
  return out;
}

async function cmakeTest(suite: Suite): Promise<void> {
  const name =
    'the CMake INTERFACE target builds the example with mingw-w64 (traced, and untraced with no iocpscope symbol)';
  if (!run('cmake', ['--version']).ok) {
    suite.skip(name, 'cmake is not installed');
    return;
  }
  await suite.test(name, () => {
    for (const enabled of ['ON', 'OFF']) {
      // Outside the repository: CMake writes files named *.ts into its tree.
      const dir = join(tmpdir(), `iocpscope-tracer-cmake-${process.pid}-${enabled}`);
      run('rm', ['-rf', dir]);
      const configure = run('cmake', [
        '-S',
        TRACER_DIR,
        '-B',
        dir,
        `-DIOCPSCOPE_ENABLE=${enabled}`,
        '-DCMAKE_SYSTEM_NAME=Windows',
        `-DCMAKE_C_COMPILER=${CC}`,
        `-DCMAKE_CXX_COMPILER=${CXX}`,
      ]);
      expect(
        configure.ok,
        `cmake configure (IOCPSCOPE_ENABLE=${enabled}) failed:\n${configure.output}`,
      );
      const build = run('cmake', ['--build', dir], 300_000);
      expect(build.ok, `cmake --build (IOCPSCOPE_ENABLE=${enabled}) failed:\n${build.output}`);
      const syms = run(NM, [join(dir, 'echo_server.exe')]);
      const ours = syms.output.split('\n').filter((l) => / T iocpscope_/.test(l)).length;
      run('rm', ['-rf', dir]);
      expect(
        enabled === 'ON' ? ours > 10 : ours === 0,
        `IOCPSCOPE_ENABLE=${enabled}: the exe defines ${ours} iocpscope_ functions`,
      );
    }
  });
}

// ---- wrappers and overflow (native test programs) ---------------------------------------

async function wrapperTests(suite: Suite): Promise<void> {
  await suite.test(
    'wrappers keep return values, GetLastError and WSAGetLastError as the plain calls leave them',
    async () => {
      const dir = workDir('wrappers');
      const exe = buildExe(join(BUILD, 'wrappers.exe'), [join(NATIVE, 'wrappers.c')], {
        defines: ['IOCPSCOPE_ENABLE'],
      });
      const results = join(dir, 'results.jsonl');
      const trace = join(dir, 'wrappers.iocptrace');
      const r = await runExe(exe, [winPath(results)], {
        env: { IOCPSCOPE_OUTPUT: winPath(trace) },
        timeoutMs: 60_000,
        logFile: join(dir, 'log.txt'),
      });
      expect(
        r.status === 0,
        `wrappers.exe exited ${r.status}${r.timedOut ? ' (timeout)' : ''}: ${r.log}`,
      );
      const lines = readFileSync(results, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const cases = lines.filter((l) => typeof l.case === 'string');
      expect(cases.length >= 13, `only ${cases.length} cases ran`);
      const differ = cases.filter((c) => c.same !== true);
      expect(
        differ.length === 0,
        `the wrapper differs from the plain call:\n${differ.map((c) => JSON.stringify(c)).join('\n')}`,
      );
      // Matching, from the recording.
      const info = Object.assign({}, ...lines.filter((l) => l.case === undefined)) as Record<
        string,
        unknown
      >;
      expect(
        info.pqcsDequeued === 3,
        `3 PQCS packets should have been dequeued, got ${String(info.pqcsDequeued)}`,
      );
      expect(
        info.gotRecv === true && info.gotSend === true,
        `the recv/send completions did not come back: ${JSON.stringify(info)}`,
      );
      const t = decodeFile(new Uint8Array(readFileSync(trace)));
      expect(!t.error, `the recording is damaged: ${t.error}`);
      const pqcs = t.records.filter((x) => x.kind === 8 && (x.a & 0x20) !== 0);
      const pqcsBack = t.records.filter(
        (x) => x.kind === 6 && (x.a & 0x0f) === 3 && (x.a & 0x20) !== 0,
      );
      expect(
        pqcs.length === 3 && pqcsBack.length === 3,
        `3 PQCS with OVERLAPPEDs and 3 dequeues expected, got ${pqcs.length}/${pqcsBack.length}`,
      );
      for (const q of pqcs) {
        const d = pqcsBack.find((x) => x.z === q.z);
        expect(
          d && d.session === q.session && d.x === q.x,
          `PQCS io #${q.z} (key ${q.session}) was not dequeued with its key, bytes and ioId`,
        );
      }
      const ex = t.records.filter((x) => x.kind === 5 && x.y === 8);
      expect(ex.length >= 2, 'GQCS-Ex calls should record GqcsEnter with maxEntries 8');
      for (const [op, ovKey] of [
        [1, 'recvOv'],
        [2, 'sendOv'],
      ] as const) {
        const post = t.records.find(
          (x) => x.kind === 9 && (x.a & 0x0f) === op && x.session === 0x500000001n,
        );
        expect(post, `no IoPosted for op ${op} of session 0x500000001`);
        const detail = t.records.find((x) => x.kind === 21 && x.z === post.z);
        const ov = BigInt(String(info[ovKey]));
        expect(
          detail && BigInt(detail.x) + (BigInt(detail.y) << 32n) === ov,
          `IoDetail of io #${post.z} should hold the OVERLAPPED ${ov}`,
        );
        const back = t.records.find((x) => x.kind === 6 && x.z === post.z);
        expect(
          back && back.session === 0x500000001n && (back.a & 0x0f) === op,
          `the completion of io #${post.z} should carry session 0x500000001 and its ioId`,
        );
        const inc = t.records.find((x) => x.kind === 10 && (x.y | 0) === 1 && x.z === post.z);
        const dec = t.records.find((x) => x.kind === 10 && (x.y | 0) === -1 && x.z === post.z);
        expect(inc && inc.i < post.i, `the +1 before io #${post.z} should carry its ioId`);
        expect(
          dec && dec.i > back.i,
          `the -1 after the completion of io #${post.z} should carry its ioId`,
        );
      }
    },
  );

  await suite.test(
    'a deliberately tiny ring loses records, and Gap records count exactly how many',
    async () => {
      const dir = workDir('overflow');
      const exe = buildExe(join(BUILD, 'overflow.exe'), [join(NATIVE, 'overflow.c')], {
        defines: ['IOCPSCOPE_ENABLE'],
      });
      const results = join(dir, 'results.json');
      const trace = join(dir, 'overflow.iocptrace');
      const r = await runExe(exe, [winPath(results)], {
        env: { IOCPSCOPE_OUTPUT: winPath(trace), IOCPSCOPE_RING_KB: '1' },
        timeoutMs: 90_000,
        logFile: join(dir, 'log.txt'),
      });
      expect(r.status === 0, `overflow.exe exited ${r.status}: ${r.log}`);
      const res = JSON.parse(readFileSync(results, 'utf8')) as {
        perThread: number;
        records: number;
        lost: number;
      };
      const t = decodeFile(new Uint8Array(readFileSync(trace)));
      expect(!t.error, `the recording is damaged: ${t.error}`);
      const g = checkGaps(t, res.perThread);
      expect(
        g.perThread.size === 2,
        `2 recording threads expected in the trace, found ${g.perThread.size}`,
      );
      expect(g.problems.length === 0, g.problems.join('\n'));
      let inGaps = 0;
      let kept = 0;
      for (const v of g.perThread.values()) {
        inGaps += v.lostInGaps;
        kept += v.kept;
      }
      expect(
        inGaps > 0 && kept > 0,
        `the ring should both keep and lose records (kept ${kept}, lost ${inGaps})`,
      );
      expect(
        inGaps === res.lost,
        `Gap records count ${inGaps} lost records, the tracer counted ${res.lost}`,
      );
      const gaps = t.records.filter((x) => x.kind === 20);
      expect(
        gaps.every((x) => x.a === 0),
        'ring overflow Gap records must have source 0 (RingOverflow)',
      );
    },
  );
}

async function pausedRun(mode: 'late' | 'aba' | 'reuse') {
  const dir = workDir(`ordering-${mode}`);
  const exe = buildExe(join(BUILD, 'ordering_paused.exe'), [join(NATIVE, 'ordering_paused.c')], {
    defines: ['IOCPSCOPE_ENABLE'],
  });
  const trace = join(dir, `${mode}.iocptrace`);
  const r = await runExe(exe, [mode], {
    env: { IOCPSCOPE_OUTPUT: winPath(trace) },
    timeoutMs: 60_000,
    logFile: join(dir, 'log.txt'),
  });
  expect(r.status === 0, `ordering_paused.exe ${mode} exited ${r.status}: ${r.log}`);
  const t = decodeFile(new Uint8Array(readFileSync(trace)));
  expect(!t.error, `the recording is damaged: ${t.error}`);
  return t;
}

async function orderingTest(suite: Suite): Promise<void> {
  await suite.test(
    'a record published 300 ms after its stamp (thread preempted) still lands in time order',
    async () => {
      const t = await pausedRun('late');
      const marks = t.records
        .filter((x) => x.kind === 19)
        .map((x) => ({ i: x.i, tsNs: x.tsNs, label: t.strings.get(x.x) }));
      const late = marks.find((m) => m.label === 'late');
      expect(late, "the paused thread's marker is missing");
      const overtaken = marks.filter(
        (m) => m.label === 'other' && m.i < late.i && m.tsNs > late.tsNs,
      );
      expect(marks.length === 41, `41 markers expected, found ${marks.length}`);
      expect(
        overtaken.length === 0,
        `${overtaken.length} markers stamped after the paused one were written before it`,
      );
    },
  );

  await suite.test(
    "a socket handle reused while its old session's release is paused names the new session (the old release does not remove the new entry)",
    async () => {
      await pausedRun('reuse');
    },
  );

  await suite.test(
    'IoCount records form a chain when a CAS succeeds after its count went away and came back (ABA)',
    async () => {
      const t = await pausedRun('aba');
      const r = t.records.filter((x) => x.kind === 10 && x.session === 0x800000001n);
      let prev = 0;
      const breaks: string[] = [];
      for (const x of r) {
        if (((x.x - x.y) | 0) !== prev)
          breaks.push(`event ${x.i}: ${x.y | 0} to ${x.x | 0} after ${prev}`);
        prev = x.x | 0;
      }
      expect(r.length === 23, `23 IoCount records expected, found ${r.length}`);
      expect(breaks.length === 0, `the chain breaks:\n${breaks.join('\n')}`);
    },
  );

  const latejoin = {
    gone: 'a viewer attaching while a WSASend is inside the tracer, its completion already dequeued unrecorded: the LateJoin snapshot does not hold the send, and the stream checks clean',
    seeded:
      'a viewer attaching while a WSASend is inside the tracer, its completion dequeued after: the send completes once in the stream, nothing stays outstanding, and it checks clean',
    undecided:
      'a viewer attaching while a WSASend decided (recording off) but is not in the tracer’s table yet: the LateJoin snapshot holds the send, it completes after, and the stream checks clean',
    late: 'a viewer attaching while a recorded WSASend has not pushed its record yet, its completion dequeued first: the LateJoin snapshot does not hold the send as well, its completion and IoPosted follow, and the stream checks clean',
  };
  for (const mode of ['gone', 'seeded', 'undecided', 'late'] as const) {
    await suite.test(latejoin[mode], async () => {
      const dir = workDir(`latejoin-${mode}`);
      const exe = buildExe(
        join(BUILD, 'latejoin_paused.exe'),
        [join(NATIVE, 'latejoin_paused.c')],
        { defines: ['IOCPSCOPE_ENABLE'] },
      );
      const port = await freePort();
      const trace = join(dir, `${mode}.iocptrace`);
      const r = await runExe(exe, [mode, String(port), winPath(trace)], {
        env: { IOCPSCOPE_CONNECT: `127.0.0.1:${port}` },
        timeoutMs: 60_000,
        logFile: join(dir, 'log.txt'),
      });
      expect(r.status === 0, `latejoin_paused.exe ${mode} exited ${r.status}: ${r.log}`);
      const t = decodeFile(new Uint8Array(readFileSync(trace)));
      expect(!t.error, `the stream is damaged: ${t.error}`);
      const S = 0x800000001n;
      const end = t.records.findIndex((x) => x.kind === 24 && x.a === 1);
      expect(t.records[0]?.kind === 24 && end > 0, 'the stream does not start with a snapshot');
      const inSnapshot = t.records.slice(1, end).filter((x) => x.kind === 9 && x.session === S);
      const posts = t.records.slice(end).filter((x) => x.kind === 9 && x.session === S);
      const done = t.records.filter((x) => x.kind === 6 && x.session === S && (x.a & 0x0f) === 2);
      const says = `snapshot posts ${inSnapshot.length}, posts after ${posts.length}, send completions ${done.length}`;
      if (mode === 'late') {
        expect(
          inSnapshot.length === 0 && posts.length === 1 && done.length === 1,
          `the send must be posted after the snapshot and complete once (${says})`,
        );
      } else if (mode === 'undecided') {
        expect(
          inSnapshot.length === 1 && posts.length === 0 && done.length === 1,
          `the send must be outstanding in the snapshot and complete after (${says})`,
        );
      } else if (mode === 'gone') {
        expect(
          inSnapshot.length === 0,
          `the completed send is outstanding in the snapshot (${says})`,
        );
        expect(posts.length === 0 && done.length === 0, `nothing of the send follows (${says})`);
      } else {
        // Outstanding in the snapshot and completed after, or all of it before the stream.
        expect(
          inSnapshot.length + posts.length === done.length && done.length <= 1,
          `the send must be posted once per completion (${says})`,
        );
      }
      const c = await check(trace);
      expect(
        c.report !== null && c.report.findings.length === 0,
        `check finds something in a correct program (${says}): ${c.output}`,
      );
    });
  }

  await suite.test(
    'a viewer attaching while three workers wait in GQCS, entered in another order than they were created in: the LateJoin snapshot lists them in the order they started waiting',
    async () => {
      const dir = workDir('latejoin-waiting');
      const exe = buildExe(
        join(BUILD, 'latejoin_paused.exe'),
        [join(NATIVE, 'latejoin_paused.c')],
        { defines: ['IOCPSCOPE_ENABLE'] },
      );
      const port = await freePort();
      const trace = join(dir, 'waiting.iocptrace');
      const r = await runExe(exe, ['waiting', String(port), winPath(trace)], {
        env: { IOCPSCOPE_CONNECT: `127.0.0.1:${port}` },
        timeoutMs: 60_000,
        logFile: join(dir, 'log.txt'),
      });
      expect(r.status === 0, `latejoin_paused.exe waiting exited ${r.status}: ${r.log}`);
      const t = decodeFile(new Uint8Array(readFileSync(trace)));
      expect(!t.error, `the stream is damaged: ${t.error}`);
      const end = t.records.findIndex((x) => x.kind === 24 && x.a === 1);
      expect(t.records[0]?.kind === 24 && end > 0, 'the stream does not start with a snapshot');
      const snap = t.records.slice(1, end);
      const names = new Map(
        snap.filter((x) => x.kind === 1).map((x) => [x.tid, t.strings.get(x.x) ?? '?']),
      );
      const order = snap.filter((x) => x.kind === 5).map((x) => names.get(x.tid) ?? `${x.tid}`);
      expect(
        order.join(' ') === 'w2 w0 w1',
        `the snapshot has them waiting as ${order.join(' ')}; they entered GQCS as w2 w0 w1`,
      );
    },
  );

  await suite.test(
    'IoCount records follow the order the count changed: 4 threads hammering one counter, at most 1 in 10,000 out of order',
    async () => {
      // Extreme on purpose: the count swings 0..3 millions of times, and every CAS
      // retry races with another thread's change. A thread preempted between its
      // clock read and its CAS can still succeed (the count came back to the value
      // it read: ABA), so its stamp is early; the collector puts such records back
      // in chain order (iocpscope_stats.reordered). Where several orders fit the
      // values, a few may stay out of order; the load tests check every record
      // strictly at a server's realistic contention.
      const dir = workDir('ordering');
      const exe = buildExe(join(BUILD, 'ordering.exe'), [join(NATIVE, 'ordering.c')], {
        defines: ['IOCPSCOPE_ENABLE'],
      });
      const trace = join(dir, 'ordering.iocptrace');
      const r = await runExe(exe, ['4', '60000'], {
        env: {
          IOCPSCOPE_OUTPUT: winPath(trace),
          IOCPSCOPE_RING_KB: '16384',
          IOCPSCOPE_BUDGET_MB: '256',
        },
        timeoutMs: 120_000,
        logFile: join(dir, 'log.txt'),
      });
      expect(r.status === 0, `ordering.exe exited ${r.status}: ${r.log}`);
      const stats = JSON.parse(r.log.split('\n').find((l) => l.startsWith('{')) ?? '{}') as {
        reordered?: number;
        unordered?: number;
      };
      const t = decodeFile(new Uint8Array(readFileSync(trace)));
      expect(!t.error, `the recording is damaged: ${t.error}`);
      expect(
        !t.records.some((x) => x.kind === 20),
        'records were lost: the check needs all of them',
      );
      let sum = 0;
      let n = 0;
      const bad: string[] = [];
      for (const x of t.records) {
        if (x.kind !== 10 || x.session !== 0x700000001n) continue;
        n++;
        if (((x.x - x.y) | 0) !== sum)
          bad.push(`event ${x.i}: ${x.y | 0} to ${x.x | 0} after ${sum}`);
        sum = x.x | 0; // take the chain up again from each record: count each break once
      }
      expect(n === 4 * 60000 * 2, `${n} IoCount records, want ${4 * 60000 * 2}`);
      console.log(
        `      ${n} records, ${stats.reordered ?? '?'} put back in order by the collector, ` +
          `${bad.length} out of order`,
      );
      expect(
        bad.length <= n / 10_000,
        `${bad.length} records out of count order:\n${bad.slice(0, 5).join('\n')}`,
      );
    },
  );
}

// ---- the echo server under load ------------------------------------------------------------

interface ServerRun {
  status: number | null;
  loads: { status: number | null; report: LoadReport | null; output: string }[];
  stats: EchoStats | null;
  trace: EchoTraceSummary;
  traceFile: string;
  log: string;
}

async function runServer(
  name: string,
  opts: { faults?: string[]; workers?: number; joinMs?: number; env?: Record<string, string> },
  loads: string[][],
  before?: (port: number) => Promise<void>,
): Promise<ServerRun> {
  const dir = workDir(name);
  const traceFile = join(dir, `${name}.iocptrace`);
  const server = await startEchoServer(name, {
    traced: true,
    output: traceFile,
    env: { IOCPSCOPE_RING_KB: '4096', IOCPSCOPE_BUDGET_MB: '128', ...(opts.env ?? {}) },
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.workers ? { workers: opts.workers } : {}),
    ...(opts.joinMs ? { joinMs: opts.joinMs } : {}),
  });
  const results = [];
  let stopped;
  try {
    if (before) await before(server.port);
    for (const args of loads) results.push(await load(server.port, args));
  } finally {
    stopped = await server.stop();
  }
  const t = decodeFile(new Uint8Array(readFileSync(traceFile)));
  return {
    status: stopped.status,
    loads: results,
    stats: stopped.stats,
    trace: checkEchoTrace(t),
    traceFile,
    log: stopped.log,
  };
}

function loadOk(l: { status: number | null; report: LoadReport | null; output: string }): void {
  expect(
    l.status === 0 &&
      l.report !== null &&
      l.report.mismatches.count === 0 &&
      l.report.failures.count === 0,
    `iocpscope load failed (exit ${l.status}): ${l.output.slice(-1500)}`,
  );
}

function countsMatch(r: ServerRun): void {
  const s = r.stats;
  expect(s !== null, `the server wrote no stats: ${r.log}`);
  const t = r.trace;
  const want = (what: string, inTrace: number, inServer: number): void =>
    expect(
      inTrace === inServer,
      `${what}: ${inTrace} in the recording, the server counted ${inServer}`,
    );
  want('recv posts', t.recvPosts, s.recvPosts);
  want('send posts', t.sendPosts, s.sendPosts);
  want('failed posts', t.failedPosts, s.failedPosts);
  want(
    'completions',
    t.completions,
    s.recvCompletions + s.sendCompletions + s.failedCompletions + s.zeroRecvs,
  );
  want('failed completions', t.failedCompletions, s.failedCompletions);
  want('bytes received', t.recvBytes, s.recvBytes);
  want('bytes sent', t.sendBytes, s.sendBytes);
  want('sessions created', t.sessionsCreated, s.accepted);
  want('sessions released', t.sessionsReleased, s.released);
  expect(
    s.live === 0 && s.drained && s.joined,
    `the server did not shut down cleanly: ${JSON.stringify(s)}`,
  );
}

/** GQCS's error for an I/O pending when the peer reset (on Windows and under Wine). */
const ERROR_NETNAME_DELETED = 64;
/** A resets run whose traffic failed no completion is run again, at most this often in all. */
const RESET_ATTEMPTS = 3;

async function loadTests(suite: Suite): Promise<void> {
  await suite.test(
    'the untraced build of the example server echoes every byte under iocpscope load',
    async () => {
      const server = await startEchoServer('plain', { traced: false });
      let l;
      try {
        l = await load(server.port, [
          '-c',
          '8',
          '-s',
          '100',
          '-p',
          '2',
          '-d',
          '2s',
          '--resets',
          '5',
        ]);
      } finally {
        const s = await server.stop();
        expect(s.status === 0, `the server exited ${s.status}: ${s.log}`);
      }
      loadOk(l);
    },
  );

  await suite.test(
    'traced, under load: every post and completion is recorded, counted against what the load sent',
    async () => {
      const r = await runServer('load-exact', {}, [
        ['-c', '16', '-s', '200', '-p', '4', '-d', '3s', '--seed', '7'],
      ]);
      loadOk(r.loads[0]!);
      const rep = r.loads[0]!.report!;
      expect(r.trace.lost === 0, `${r.trace.lost} records were lost to full rings`);
      expect(
        r.trace.problems.length === 0,
        `the recording breaks the model:\n${r.trace.problems.join('\n')}`,
      );
      countsMatch(r);
      // What the load sent arrived in recv completions, and went back in send completions.
      expect(
        r.trace.recvBytes === rep.sentBytes,
        `the recording's recvs carry ${r.trace.recvBytes} bytes, the load sent ${rep.sentBytes}`,
      );
      expect(
        r.trace.sendBytes === rep.receivedBytes,
        `the recording's sends carry ${r.trace.sendBytes} bytes, the load received ${rep.receivedBytes}`,
      );
      expect(
        r.trace.sessionsCreated === rep.connections.opened,
        `${r.trace.sessionsCreated} sessions in the recording, the load opened ${rep.connections.opened}`,
      );
      const c = await check(r.traceFile);
      expect(
        c.report && c.report.summary.total === 0,
        `iocpscope check should report nothing: ${c.report?.summary.line ?? c.output}\n${(
          c.report?.findings ?? []
        )
          .slice(0, 5)
          .map((f) => `[${f.rule}/${f.check}] ${f.message}`)
          .join('\n')}`,
      );
    },
  );

  await suite.test(
    'traced, under load with resets: 0 mismatches, every session released exactly once, check clean',
    async () => {
      // A reset under load mostly lands between a recv's completion and the next post (the
      // post fails, or under Wine a new WSARecv completes TRUE/0): a completion that fails
      // (GQCS FALSE with an OVERLAPPED, 64) is luck there. Idle clients reset with their
      // WSARecv pending first, so the failed-completion path is taken every run; every run,
      // kept or not, must be clean.
      for (let attempt = 1; ; attempt++) {
        const r = await runServer(
          'load-resets',
          { workers: 4 },
          [['-c', '24', '-s', '64', '-p', '2', '-d', '4s', '--resets', '30', '--seed', '11']],
          (port) => idleResetClients(port, 4),
        );
        loadOk(r.loads[0]!);
        expect(r.loads[0]!.report!.connections.resets > 0, 'the load made no reset');
        expect(r.trace.lost === 0, `${r.trace.lost} records were lost to full rings`);
        expect(
          r.trace.problems.length === 0,
          `the recording breaks the model:\n${r.trace.problems.join('\n')}`,
        );
        countsMatch(r);
        const c = await check(r.traceFile);
        expect(
          c.report && c.report.summary.total === 0,
          `iocpscope check should report nothing: ${c.report?.summary.line ?? c.output}\n${(
            c.report?.findings ?? []
          )
            .slice(0, 5)
            .map((f) => `[${f.rule}/${f.check}] ${f.message}`)
            .join('\n')}`,
        );
        const resetUnderRecv = r.trace.failedByError.get(ERROR_NETNAME_DELETED) ?? 0;
        if (resetUnderRecv > 0) break;
        const missed =
          'the recording holds no completion failed by a reset (GQCS FALSE with an OVERLAPPED, ' +
          `error ${ERROR_NETNAME_DELETED}; failed completions by error: ` +
          `${JSON.stringify(Object.fromEntries(r.trace.failedByError))}): no reset landed on a ` +
          'pending WSARecv, so the failed-completion path went untested';
        expect(attempt < RESET_ATTEMPTS, `in ${attempt} runs ${missed}`);
        suite.say(
          `    under load with resets, run ${attempt}: ${missed}; running the traffic again`,
        );
      }
    },
  );
}

// ---- faults ---------------------------------------------------------------------------------

/**
 * Each fault flag, the traffic that reaches its broken path, and the rule that must fire.
 * `clients` run before the loads; `reached` says what the recording lacks when the traffic
 * did not reach the broken path (null: it did), so a clean check means the rule missed it.
 */
const FAULTS: {
  fault: keyof typeof FAULT_RULES;
  loads: string[][];
  workers?: number;
  joinMs?: number;
  clients?: (port: number) => Promise<void>;
  reached?: (r: ServerRun) => string | null;
}[] = [
  { fault: 'iocount-double-decrement', loads: [['-c', '4', '-n', '5', '--drain-timeout', '1s']] },
  {
    fault: 'release-with-io-pending',
    loads: [
      ['-c', '8', '-s', '64', '-p', '2', '-d', '1s', '--resets', '10', '--drain-timeout', '1s'],
    ],
  },
  {
    fault: 'two-sends-in-flight',
    loads: [['-c', '20', '-s', '512', '-p', '16', '-d', '1500ms', '--drain-timeout', '1s']],
  },
  {
    // The fault bites only on GQCS FALSE with an OVERLAPPED. A reset under load mostly
    // lands between a recv's completion and the next post (the post fails, or under Wine a
    // new WSARecv completes TRUE/0): only a reset while a WSARecv is pending fails a
    // completion, and under load that is luck. Idle clients reset with their recv pending.
    fault: 'no-decrement-on-failure',
    loads: [
      ['-c', '8', '-s', '64', '-p', '2', '-d', '1500ms', '--resets', '20', '--drain-timeout', '1s'],
    ],
    clients: (port) => idleResetClients(port, 4),
    reached: (r) =>
      r.trace.failedCompletions > 0
        ? null
        : 'the recording holds no failed completion (GQCS FALSE with an OVERLAPPED): ' +
          'no reset landed on a pending WSARecv, so the fault had nothing to skip',
  },
  { fault: 'recv-not-reposted', loads: [['-c', '6', '-n', '3', '--drain-timeout', '1s']] },
  { fault: 'too-few-exit-packets', loads: [['-c', '4', '-n', '20']], workers: 3 },
  {
    fault: 'lock-across-send',
    loads: [['-c', '24', '-s', '256', '-p', '8', '-d', '2s']],
    workers: 4,
  },
  { fault: 'no-accept-hold', loads: [], joinMs: 5, clients: (port) => quickClients(port, 30) },
];

/** A run whose traffic missed the broken path is run again, at most this often in all. */
const FAULT_ATTEMPTS = 3;

/** n clients that connect and close at once (FIN), one after another. */
async function quickClients(port: number, n: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < n; i++) {
    await new Promise<void>((done) => {
      const c = connect(port, '127.0.0.1', () => c.end());
      const t = setTimeout(() => {
        c.destroy();
        done();
      }, 2000);
      c.on('close', () => {
        clearTimeout(t);
        done();
      });
      c.on('error', () => undefined);
      c.resume();
    });
  }
}

async function faultTests(suite: Suite): Promise<void> {
  for (const f of FAULTS) {
    const rule = FAULT_RULES[f.fault];
    await suite.test(`--fault ${f.fault}: iocpscope check reports ${rule}`, async () => {
      let r: ServerRun;
      for (let attempt = 1; ; attempt++) {
        r = await runServer(
          `fault-${f.fault}`,
          {
            faults: [f.fault],
            ...(f.workers ? { workers: f.workers } : {}),
            ...(f.joinMs ? { joinMs: f.joinMs } : {}),
          },
          f.loads,
          f.clients,
        );
        // A bug in the session logic, not in memory: the server still shuts down by itself
        // (exit 3 = a worker left in GQCS by too-few-exit-packets).
        const want = f.fault === 'too-few-exit-packets' ? 3 : 0;
        expect(
          r.status === want,
          `the server exited ${r.status} (want ${want}):\n${r.log.slice(-1500)}`,
        );
        const missed = f.reached?.(r) ?? null;
        if (missed === null) break;
        expect(
          attempt < FAULT_ATTEMPTS,
          `the traffic did not reach the fault's broken path in ${attempt} runs: ${missed}`,
        );
        suite.say(`    --fault ${f.fault}, run ${attempt}: ${missed}; running the traffic again`);
      }
      const c = await check(r.traceFile);
      expect(c.report, `iocpscope check failed: ${c.output}`);
      const rules = c.report.summary.byRule.map((x) => x.rule);
      expect(
        rules.includes(rule),
        `expected a ${rule} finding; check said: ${c.report.summary.line} (${rules.join(', ') || 'none'})`,
      );
    });
  }
}

// ---- entry ------------------------------------------------------------------------------------

export async function runTracerSuite(
  opts: { only?: string | null } = {},
): Promise<{ passed: number; failed: number }> {
  const suite = new Suite(opts.only ?? null);
  suite.say('building the example server (traced and plain) and the test programs with mingw-w64');
  try {
    buildEchoServer(true);
    buildEchoServer(false);
  } catch (e) {
    await suite.test('the example echo server builds with mingw-w64 -Wall -Wextra -Werror', () => {
      throw e;
    });
  }
  for (const t of compileTests(suite)) await t();
  await cmakeTest(suite);
  await wrapperTests(suite);
  await orderingTest(suite);
  await loadTests(suite);
  await faultTests(suite);
  await viewerTests(suite);
  const passed = suite.outcomes.filter((o) => o.ok).length;
  const failed = suite.outcomes.length - passed;
  suite.say(`${passed} passed, ${failed} failed`);
  writeFileSync(join(BUILD, 'last-run.json'), JSON.stringify(suite.outcomes, null, 2));
  return { passed, failed };
}

runIfMain(import.meta.url, runTracerSuite);
