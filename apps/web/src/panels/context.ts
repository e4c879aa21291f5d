// Naming context for describe.ts and ledger.ts, backed by the loaded trace.

import type { WebTrace } from '../trace/index.ts';
import type { DescribeContext } from './describe.ts';

export function traceContext(trace: WebTrace): DescribeContext {
  return {
    threadName: (tid) => trace.laneOfTid(tid)?.name ?? `thread ${tid}`,
    text: (id) => (id === 0 ? '' : (trace.string(id) ?? `string #${id}`)),
    callSite: (i) => trace.callSiteOf(i),
  };
}
