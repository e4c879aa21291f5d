// The echo server as a ServerApp: no state beyond the session table.

import type { ServerApp } from '../session/app.ts';
import { FAULT_WORDS } from '../session/faults.ts';
import { EchoCore } from './core.ts';

export const ECHO_APP: ServerApp = {
  name: 'echo',
  workerEntry: new URL('./worker-thread.ts', import.meta.url),
  acceptEntry: new URL('./accept-thread.ts', import.meta.url),
  create: () => ({
    extraArenaBytes: 0,
    threadInput: null,
    mainCore: (table, host, rec) => new EchoCore(table, host.arena, rec, null, host, FAULT_WORDS),
  }),
};
