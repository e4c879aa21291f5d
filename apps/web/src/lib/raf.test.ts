import { describe, expect, it } from 'vitest';
import { RafScheduler, type FrameSource } from './raf.ts';

function manualFrames(): FrameSource & { run(): void; pending: number } {
  let cbs: ((t: number) => void)[] = [];
  return {
    pending: 0,
    request(cb) {
      cbs.push(cb);
      this.pending = cbs.length;
      return cbs.length;
    },
    cancel() {
      cbs = [];
      this.pending = 0;
    },
    run() {
      const now = cbs;
      cbs = [];
      this.pending = 0;
      for (const cb of now) cb(16);
    },
  };
}

describe('RafScheduler', () => {
  it('coalesces many schedule calls into one frame that runs every callback once', () => {
    const src = manualFrames();
    const s = new RafScheduler(src);
    const calls: string[] = [];
    s.add(() => calls.push('a'));
    s.add(() => calls.push('b'));
    s.schedule();
    s.schedule();
    s.schedule();
    expect(src.pending).toBe(1);
    src.run();
    expect(calls).toEqual(['a', 'b']);
    expect(s.isScheduled).toBe(false);
  });

  it('lets a callback schedule the next frame and unregister itself', () => {
    const src = manualFrames();
    const s = new RafScheduler(src);
    let n = 0;
    const off = s.add(() => {
      n++;
      if (n < 3) s.schedule();
      else off();
    });
    s.schedule();
    src.run();
    src.run();
    src.run();
    src.run();
    expect(n).toBe(3);
  });

  it('requests nothing after dispose', () => {
    const src = manualFrames();
    const s = new RafScheduler(src);
    s.add(() => undefined);
    s.schedule();
    s.dispose();
    expect(src.pending).toBe(0);
    s.schedule();
    expect(src.pending).toBe(0);
  });
});
