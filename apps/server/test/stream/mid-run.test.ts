// Issue 14 §2, as it was reproduced: a correct server under 20 echoing
// clients; `start-recording` on the control channel, `stop-recording` a while
// later; `check` on the file used to say "0 sessions" and "rule 3
// session-identity: 20 findings". A recording (or a dashboard) that starts
// mid-run now opens with a Snapshot bracket of the state, so the file is judged
// as it should be: no findings, the live sessions with their peers, and a
// dashboard that joins late sees what is live.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DetectorRunner } from '@iocpscope/analysis';
import {
  EventKind,
  RECORD_WORDS,
  SnapshotReason,
  decodeFrame,
  kindAt,
  readTraceFile,
  xAt,
} from '@iocpscope/protocol';
import { checkFile } from '../../src/cli/check.ts';
import { tempDir } from '../../src/cli/trace-file.test-util.ts';
import { startServer, type RunningServer } from '../../src/echo/server.ts';
import { runLoad } from '../../src/load/run.ts';
import { dashboardAttach, type AttachedDashboard } from '../../src/transport/attach.ts';
import { TestClient, waitFor } from './helpers.ts';

const tmp = tempDir('iocpscope-midrun-');
let running: RunningServer | undefined;
let dashboard: AttachedDashboard | undefined;
afterEach(async () => {
  await dashboard?.close();
  await running?.stop();
  dashboard = undefined;
  running = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a recording and a dashboard that start while 20 clients echo', () => {
  it('open with a snapshot of the live state, so a correct server is judged correct', async () => {
    running = await startServer({ echoPort: 0, workers: 2, shutdownTimeoutMs: 1000 });
    dashboard = await dashboardAttach({
      examplesDir: path.join(tmp.dir, 'none'),
      recordingsDir: tmp.dir,
    })(running, { host: '127.0.0.1', port: 0 });
    const load = runLoad({
      target: { host: '127.0.0.1', port: running.echoPort },
      connections: 20,
      durationMs: 3500,
      inFlight: 2,
      messageSize: 64,
      rampMs: 200,
    });
    await sleep(700);
    // Record pressed while the load runs, and a dashboard that joins late.
    const control = await TestClient.open(dashboard.server.wsUrl);
    control.send({ type: 'start-recording', id: 1, name: 'mid-run' });
    expect((await control.reply(1)).type).toBe('ack');
    await sleep(1500);
    control.send({ type: 'stop-recording', id: 2 });
    expect((await control.reply(2)).type).toBe('recording-saved');
    const report = await load;
    expect(report.ok).toBe(true);
    await sleep(100);

    // The file: a RecordingStart bracket with the 20 sessions and their peers, then events.
    const file = path.join(tmp.dir, 'mid-run.iocptrace');
    const r = readTraceFile(new Uint8Array(await readFile(file)));
    expect(r.error).toBeUndefined();
    expect(kindAt(r.records, 0)).toBe(EventKind.Snapshot);
    expect(xAt(r.records, 0)).toBe(SnapshotReason.RecordingStart);
    let end = 1;
    const peers: string[] = [];
    while (kindAt(r.records, end) !== EventKind.Snapshot) {
      if (kindAt(r.records, end) === EventKind.SessionCreated) {
        peers.push(r.strings.get(xAt(r.records, end)) ?? '');
      }
      end++;
    }
    expect(peers.length).toBe(20);
    expect(peers.every((p) => /^127\.0\.0\.1:\d+$/.test(p))).toBe(true);
    const checked = await checkFile(file);
    expect(checked.findings.map((f) => `${f.rule}/${f.check}: ${f.message}`)).toEqual([]);
    expect(checked.startsMidRun).toBe(true);
    expect(checked.end).toMatchObject({ reason: 0 });
    expect(checked.exitCode).toBe(0);

    // The late dashboard: its first frame is a LateJoin bracket, and the
    // detectors run over its stream find nothing either.
    const first = decodeFrame(control.frames[0]!);
    expect(kindAt(first.records, 0)).toBe(EventKind.Snapshot);
    expect(xAt(first.records, 0)).toBe(SnapshotReason.LateJoin);
    await waitFor('frames', () => control.frames.length > 5);
    const words: Uint32Array[] = control.frames.map((f) => decodeFrame(f).records);
    const all = new Uint32Array(words.reduce((n, w) => n + w.length, 0));
    let at = 0;
    for (const w of words) {
      all.set(w, at);
      at += w.length;
    }
    const runner = new DetectorRunner();
    runner.feed({ words: all, length: all.length / RECORD_WORDS });
    expect(runner.findings.map((f) => `${f.rule}/${f.check}`)).toEqual([]);
    await control.close();
  }, 60_000);
});
