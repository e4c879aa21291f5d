// Runs the differential scenario once on the backend IOCPSCOPE_BACKEND names
// and writes the result (JSON) to $IOCPSCOPE_RESULTS. Bundled by
// scripts/native/bundle.mjs and run by scripts/native/test.mjs: on Linux node
// for the emulated backend, in node.exe under Wine for the native one.

import { writeFileSync } from 'node:fs';
import { runScenario } from './scenario.ts';

const out = process.env.IOCPSCOPE_RESULTS;
if (!out) throw new Error('IOCPSCOPE_RESULTS is not set');
try {
  writeFileSync(out, JSON.stringify(await runScenario()));
} catch (e) {
  writeFileSync(
    out,
    JSON.stringify({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
  );
}
// A thread left blocked in the kernel would make a normal exit wait forever.
process.kill(process.pid, 'SIGKILL');
