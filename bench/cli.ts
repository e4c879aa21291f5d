// `pnpm bench:cli`: start-up of the installed package (pnpm pack:cli, npm
// install into an empty directory), against plain `node -e 0` in the same run.
//
//   check   `iocpscope check examples/clean.iocptrace`: wall time as a ratio
//           to `node -e 0` (target <= 2x) and peak RSS (target < 60 MB)
//   serve   `iocpscope serve` until it prints the dashboard URL (target < 1 s)
//
// Runs are interleaved (baseline, check, baseline, check, ...) so load on the
// machine affects both alike; medians are reported. Peak RSS is the process's
// own maxRSS, read at exit by a one-line --import hook given to every run
// (the baseline included).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
// @ts-expect-error: a plain .mjs helper shared with the tests of the package
import { installPackage } from '../scripts/installed.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const inst = installPackage() as { dir: string; pkg: string; bin: string; cleanup(): void };
const hookDir = mkdtempSync(path.join(tmpdir(), 'iocpscope-bench-cli-'));
const hook = path.join(hookDir, 'rss.mjs');
writeFileSync(
  hook,
  "import { writeSync } from 'node:fs';\n" +
    "process.on('exit', () => writeSync(2, `\\nmaxRSS ${process.resourceUsage().maxRSS}\\n`));\n",
);

function timed(args: string[]): { ms: number; rssKb: number; ok: boolean } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', `file://${hook}`, ...args], {
    cwd: inst.dir,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const ms = performance.now() - t0;
  const m = /maxRSS (\d+)/.exec(r.stderr);
  return { ms, rssKb: m ? Number(m[1]) : NaN, ok: r.status === 0 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const example = path.join(inst.pkg, 'examples', 'clean.iocptrace');
const base: number[] = [];
const baseRss: number[] = [];
const check: number[] = [];
const checkRss: number[] = [];
timed(['-e', '0']);
timed([inst.bin, 'check', example]); // warm the file cache
for (let i = 0; i < ROUNDS; i++) {
  const b = timed(['-e', '0']);
  const c = timed([inst.bin, 'check', example]);
  if (!c.ok) throw new Error('iocpscope check failed on the clean example');
  base.push(b.ms);
  baseRss.push(b.rssKb);
  check.push(c.ms);
  checkRss.push(c.rssKb);
}

async function serveReadyMs(): Promise<number> {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [inst.bin, 'serve', '--port', '0', '--echo-port', '0', '--duration', '10m'],
    { cwd: inst.dir, env: { ...process.env, NODE_OPTIONS: '' } },
  );
  let out = '';
  const ms = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (/iocpscope dashboard: http/.test(out)) resolve(performance.now() - t0);
    });
    child.on('exit', (c) => reject(new Error(`serve exited (${c}): ${out}`)));
  });
  child.removeAllListeners('exit');
  await new Promise<void>((r) => {
    child.on('exit', () => r());
    child.kill('SIGTERM');
  });
  return ms;
}
const serve: number[] = [];
for (let i = 0; i < 5; i++) serve.push(await serveReadyMs());

const b = median(base);
const c = median(check);
const rss = Math.max(...checkRss) / 1024;
const ready = median(serve);
const line = (s: string): void => console.log(s);
line(`installed from ${path.basename(inst.pkg)} (${ROUNDS} interleaved rounds, medians)`);
line(
  `  node -e 0                           ${b.toFixed(0)} ms, peak ${(median(baseRss) / 1024).toFixed(1)} MB`,
);
line(
  `  iocpscope check clean.iocptrace     ${c.toFixed(0)} ms, peak ${rss.toFixed(1)} MB (largest of ${ROUNDS})`,
);
line(
  `  ratio check / node -e 0             ${(c / b).toFixed(2)}x   target <= 2x: ${c / b <= 2 ? 'met' : 'NOT met'}`,
);
line(
  `  peak RSS                            ${rss.toFixed(1)} MB   target < 60 MB: ${rss < 60 ? 'met' : 'NOT met'}`,
);
line(
  `  serve ready (dashboard URL printed) ${ready.toFixed(0)} ms (median of 5)   target < 1 s: ${ready < 1000 ? 'met' : 'NOT met'}`,
);
rmSync(hookDir, { recursive: true, force: true });
inst.cleanup();
