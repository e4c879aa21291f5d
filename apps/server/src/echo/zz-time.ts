import { startServer } from './server.ts';
import { runLoad } from '../load/run.ts';
let t = performance.now();
const lap = (s: string) => {
  const n = performance.now();
  console.log(s, (n - t).toFixed(0), 'ms');
  t = n;
};
const server = await startServer({
  echoPort: 0,
  workers: 2,
  maxSessions: 2048,
  ringRecords: 1 << 18,
});
lap('start');
const load = await runLoad({
  target: { host: '127.0.0.1', port: server.echoPort },
  connections: 1000,
  messages: 3,
  inFlight: 2,
  messageSize: 100,
  rampMs: 200,
});
lap('load');
console.log(load.ok, load.elapsedMs, load.messagesPerSec);
const rep = await server.stop();
lap('stop');
console.log(rep.trace);
