#!/usr/bin/env node
// The installed `iocpscope` command: runs the TypeScript CLI from source
// through tsx (registered here, in this process only; worker threads register
// it themselves).
import { register } from 'tsx/esm/api';

register();
const { buildProgram } = await import('../src/cli/main.ts');
await buildProgram().parseAsync(process.argv);
