// The iocpscope command line: one file per command under cli/ registers itself
// on the program built here. Run as `pnpm iocpscope ...` (tsx) or through
// bin/iocpscope.mjs.

import { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { registerCheckCommand } from './check.ts';
import { registerExportCommand } from './export.ts';
import { registerLoadCommand } from './load.ts';
import { registerOpenCommand } from './open.ts';
import { registerRunCommand } from './run.ts';
import { registerServeCommand, type DashboardAttach } from './serve.ts';

export interface ProgramOptions {
  /** Replaces the dashboard `serve` starts on --port (default: transport's dashboardAttach()). */
  attachDashboard?: DashboardAttach;
}

export function buildProgram(opts: ProgramOptions = {}): Command {
  const program = new Command();
  program
    .name('iocpscope')
    .description('a visual debugger for IOCP (Windows I/O completion port) servers')
    .showHelpAfterError();
  registerServeCommand(program, opts.attachDashboard);
  registerLoadCommand(program);
  registerCheckCommand(program);
  registerExportCommand(program);
  registerOpenCommand(program);
  registerRunCommand(program);
  return program;
}

const isEntry = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isEntry) {
  await buildProgram().parseAsync(process.argv);
}
