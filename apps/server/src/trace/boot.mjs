// Worker bootstrap: lets a worker thread run a TypeScript module whatever the
// parent runs under (tsx, vitest, plain node). spawnTsWorker() starts workers
// with no inherited loader flags, so tsx is registered here exactly once.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
