// The end of every generated Wine test bundle: run the registered tests, write
// one JSON line per result to $IOCPSCOPE_RESULTS (stdout to a pipe does not
// work for node.exe under Wine, so results travel through a file), then exit
// the process even if a failed test left a thread blocked in the kernel
// (the exit code is then that of a killed process: read the file, not the code).
//
// Lines: {"type":"result",file,name,status,ms,error?} ... {"type":"done",ms}
// plus {"type":"unhandled",error} for errors no test caught.

import { appendFileSync, writeFileSync } from 'node:fs';

export async function runMain(runRegistered) {
  const out = process.env.IOCPSCOPE_RESULTS;
  if (!out) throw new Error('IOCPSCOPE_RESULTS is not set');
  writeFileSync(out, '');
  const line = (o) => appendFileSync(out, JSON.stringify(o) + '\n');
  const t0 = Date.now();
  process.on('uncaughtException', (e) => line({ type: 'unhandled', error: String(e?.stack ?? e) }));
  process.on('unhandledRejection', (e) =>
    line({ type: 'unhandled', error: String(e?.stack ?? e) }),
  );
  try {
    await runRegistered((r) => line({ type: 'result', ...r }));
  } catch (e) {
    line({ type: 'unhandled', error: String(e?.stack ?? e) });
  }
  line({ type: 'done', ms: Date.now() - t0 });
  // process.exit() would join every worker thread, and a thread a failed test
  // left blocked in GetQueuedCompletionStatus never returns: end the process hard.
  process.kill(process.pid, 'SIGKILL');
}
