// Load for bench/port.ts, run as a child process so its CPU is not the
// kernel's: `conns` connections keep `inflight` messages of `size` bytes
// outstanding each, for `ms` milliseconds after a warm-up; prints messages/s.
import net from 'node:net';

const [portArg, connsArg, inflightArg, sizeArg, msArg, warmArg] = process.argv.slice(2).map(Number);
const port = portArg!;
const conns = connsArg!;
const inflight = inflightArg!;
const size = sizeArg!;
const message = Buffer.alloc(size, 0x61);
let echoed = 0;
let measuring = false;

function open(): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => {
      let pending = 0;
      s.on('data', (d: Buffer) => {
        pending += d.length;
        let n = 0;
        while (pending >= size) {
          pending -= size;
          n++;
        }
        if (measuring) echoed += n;
        for (let k = 0; k < n; k++) s.write(message);
      });
      for (let k = 0; k < inflight; k++) s.write(message);
      resolve();
    });
    s.on('error', reject);
  });
}

await Promise.all(Array.from({ length: conns }, open));
await new Promise((r) => setTimeout(r, warmArg));
measuring = true;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, msArg));
const rate = echoed / ((performance.now() - t0) / 1000);
process.stdout.write(`${JSON.stringify({ rate })}\n`);
process.exit(0);
