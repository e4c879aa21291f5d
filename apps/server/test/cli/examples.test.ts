// The committed example recordings (examples/ at the repository root) against
// `iocpscope check` and `iocpscope export`: each fault's recording is caught by
// the rule that belongs to its fault switch, the clean one by none. These are
// real traces of the reference server, so this is also a regression test of the
// detectors: a detector change that stops catching a real bug, or starts
// flagging the clean run, fails here.

import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FAULT_CO_FINDINGS } from '@iocpscope/analysis';
import {
  RECORD_WORDS,
  TraceEndReason,
  encodeChunk,
  encodeFileHeader,
  readTraceFile,
} from '@iocpscope/protocol';
import { CHECK_EXIT, runCheckCli } from '../../src/cli/check.ts';
import { runExportCli } from '../../src/cli/export.ts';
import { concatBytes, tempDir } from '../../src/cli/trace-file.test-util.ts';
import { RecordingCatalogue } from '../../src/record/catalogue.ts';
import { EXAMPLES_DIR, SCENARIOS, expectedRule } from '../../../../scripts/make-examples.ts';

const tmp = tempDir('iocpscope-examples-');
afterAll(() => tmp.remove());

function sink(): { write(t: string): boolean; text: string } {
  return {
    text: '',
    write(t: string) {
      this.text += t;
      return true;
    },
  };
}

async function check(file: string): Promise<{ code: number; json: CheckJson; err: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await runCheckCli(file, { json: true, progress: false }, { stdout, stderr });
  return { code, json: JSON.parse(stdout.text) as CheckJson, err: stderr.text };
}

interface CheckJson {
  verdict: string;
  events: number;
  damage: { code: string } | null;
  incomplete: unknown;
  end: { reason: number; event: number } | null;
  findings: { rule: string; index: number; subject: { kind: string; session?: string } }[];
}

const exampleFile = (name: string): string => path.join(EXAMPLES_DIR, `${name}.iocptrace`);
const committed = SCENARIOS;

describe('the committed example recordings', () => {
  it('are all there, under 300 KiB each, and described in examples/README.md', () => {
    const readme = readFileSync(path.join(EXAMPLES_DIR, 'README.md'), 'utf8');
    for (const s of committed) {
      const file = exampleFile(s.name);
      expect(existsSync(file), file).toBe(true);
      expect(statSync(file).size).toBeLessThan(300 * 1024);
      expect(readme).toContain(`### ${s.name}.iocptrace`);
    }
  });

  for (const s of committed) {
    const rule = expectedRule(s.name);
    it(
      rule === null
        ? 'clean.iocptrace: check finds nothing and exits 0'
        : `${s.name}.iocptrace: check finds ${rule} and exits 1`,
      async () => {
        const r = await check(exampleFile(s.name));
        expect(r.err).toBe('');
        expect(r.json.damage).toBeNull();
        // Recorded from the server's start to its exit: complete, judged to the end.
        expect(r.json.incomplete).toBeNull();
        expect(r.json.end).toMatchObject({ reason: TraceEndReason.ServerExit });
        if (rule === null) {
          expect(r.json.findings).toEqual([]);
          expect(r.code).toBe(CHECK_EXIT.clean);
        } else {
          expect(r.code).toBe(CHECK_EXIT.findings);
          const rules = [...new Set(r.json.findings.map((f) => f.rule))];
          expect(rules).toContain(rule);
          // Nothing but the fault's rule and its documented co-findings.
          const co = FAULT_CO_FINDINGS[s.name as keyof typeof FAULT_CO_FINDINGS];
          const allowed = new Set<string>([rule, ...co.map((c) => c.rule)]);
          expect(rules.filter((x) => !allowed.has(x))).toEqual([]);
        }
      },
    );
  }

  it('are offered on the start screen: the recordings catalogue lists each as example.NAME', async () => {
    const cat = new RecordingCatalogue({ dir: tmp.file('recordings'), examplesDir: EXAMPLES_DIR });
    const ids = (await cat.list()).filter((e) => e.example).map((e) => e.id);
    for (const s of committed) expect(ids).toContain(`example.${s.name}`);
  });

  it('a copy with one flipped byte: check exits 2 and prints CHECKSUM_MISMATCH', async () => {
    const bytes = new Uint8Array(readFileSync(exampleFile('clean')));
    const { validBytes } = readTraceFile(bytes);
    expect(validBytes).toBe(bytes.length);
    // A byte of the last chunk: the chunks before it still read.
    bytes[bytes.length - 16] ^= 0x5a;
    const file = tmp.file('flipped.iocptrace', bytes);
    const stdout = sink();
    const stderr = sink();
    const code = await runCheckCli(file, {}, { stdout, stderr });
    expect(code).toBe(CHECK_EXIT.unreadable);
    expect(stderr.text).toMatch(
      /^iocpscope check: error CHECKSUM_MISMATCH at byte \d+: chunk \d+ .*CRC32.*\n/,
    );
    expect(stdout.text).toMatch(/not clean: the file is damaged \(CHECKSUM_MISMATCH\)/);
  });

  it('a fault recording cut short by a crash still shows its bug, with a warning (exit 1)', async () => {
    // Re-chunk the example into 50-event chunks and cut the file in the middle of
    // the chunk after the first finding, as a crash while writing would.
    const src = readTraceFile(new Uint8Array(readFileSync(exampleFile('two-sends-in-flight'))));
    const first = (await check(exampleFile('two-sends-in-flight'))).json.findings.find(
      (f) => f.rule === 'one-send-in-flight',
    )!.index;
    const keep = (Math.floor(first / 50) + 1) * 50;
    expect(keep + 50).toBeLessThan(src.store.length);
    const chunk = (from: number, to: number, withStrings: boolean): Uint8Array =>
      encodeChunk(
        src.records.subarray(from * RECORD_WORDS, to * RECORD_WORDS),
        withStrings ? [...src.strings.entries()] : [],
      );
    const parts = [encodeFileHeader(src.header!)];
    for (let at = 0; at < keep; at += 50) parts.push(chunk(at, at + 50, at === 0));
    const torn = chunk(keep, keep + 50, false);
    parts.push(torn.subarray(0, torn.length >> 1));
    const file = tmp.file('cut.iocptrace', concatBytes(parts));
    const r = await check(file);
    expect(r.json.damage).toMatchObject({ code: 'TRUNCATED' });
    expect(r.json.events).toBe(keep);
    expect(r.err).toMatch(/^iocpscope check: warning TRUNCATED at byte \d+/);
    expect(r.code).toBe(CHECK_EXIT.findings);
    expect(r.json.findings.map((f) => f.rule)).toContain('one-send-in-flight');
  });

  it('a file that is not a recording: check exits 2 with BAD_MAGIC', async () => {
    const file = tmp.file('readme.iocptrace');
    copyFileSync(path.join(EXAMPLES_DIR, 'README.md'), file);
    const stderr = sink();
    const code = await runCheckCli(file, {}, { stdout: sink(), stderr });
    expect(code).toBe(2);
    expect(stderr.text).toContain('error BAD_MAGIC');
  });

  it('clean.iocptrace exports to Chrome JSON with thread names, slices, flows and counters', async () => {
    const out = tmp.file('clean.json');
    const code = await runExportCli(
      exampleFile('clean'),
      { format: 'chrome', output: out, progress: false },
      { stdout: sink(), stderr: sink() },
    );
    expect(code).toBe(0);
    const events = (
      JSON.parse(readFileSync(out, 'utf8')) as {
        traceEvents: { ph: string; name: string; args?: { name?: string }; flow_in?: boolean }[];
      }
    ).traceEvents;
    const threads = events.filter((e) => e.ph === 'M' && e.name === 'thread_name');
    expect(threads.map((e) => e.args!.name)).toEqual(
      expect.arrayContaining([
        'kernel [kernel]',
        'accept [accept]',
        'worker 1 [worker]',
        'worker 2 [worker]',
      ]),
    );
    const slices = events.filter((e) => e.ph === 'X').map((e) => e.name);
    for (const name of ['GQCS wait', 'WSARecv', 'WSASend', 'recv completion', 'send completion']) {
      expect(slices).toContain(name);
    }
    expect(events.some((e) => e.ph === 'X' && e.flow_in === true)).toBe(true);
    const counters = events.filter((e) => e.ph === 'C').map((e) => e.name);
    expect(counters).toContain('port queue depth');
    expect(counters.some((n) => n.startsWith('IOCount session '))).toBe(true);
    writeFileSync(out, ''); // keep the temp dir small
  });
});
