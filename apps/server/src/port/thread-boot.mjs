// Worker bootstrap for TypeScript entries (see threads.ts): register tsx in this
// thread, drop our argv item, import the entry.
import { register } from 'tsx/esm/api';

const entry = process.argv[2];
process.argv.splice(2, 1);
register();
await import(entry);
