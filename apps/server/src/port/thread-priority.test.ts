import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { spawnThread } from './threads.ts';
import { DEFAULT_THREAD_NICE, lowerThreadPriority, threadNice } from './thread-priority.ts';

describe('threadNice', () => {
  it('defaults to 10 and accepts 0..19 from IOCPSCOPE_THREAD_NICE', () => {
    expect(threadNice({})).toBe(DEFAULT_THREAD_NICE);
    expect(threadNice({ IOCPSCOPE_THREAD_NICE: '0' })).toBe(0);
    expect(threadNice({ IOCPSCOPE_THREAD_NICE: '19' })).toBe(19);
  });

  it('ignores values that are not a nice level a thread may lower itself to', () => {
    for (const v of ['-5', '20', '3.5', 'high', ' ']) {
      expect(threadNice({ IOCPSCOPE_THREAD_NICE: v })).toBe(DEFAULT_THREAD_NICE);
    }
  });
});

describe('lowerThreadPriority', () => {
  it('never touches the main thread', () => {
    expect(lowerThreadPriority(10)).toBe(false);
  });

  it.runIf(process.platform === 'linux')(
    'lowers only the calling worker thread, and never raises it again',
    async () => {
      const w = await spawnThread(new URL('./thread-priority.test-worker.ts', import.meta.url), {
        workerData: { nice: 9 },
      });
      // Listen for both before yielding: the worker may exit right after it posts.
      const exited = new Promise((r) => w.once('exit', r));
      const msg = await new Promise<{
        tid: number;
        before: number;
        first: boolean;
        second: boolean;
        after: number;
      }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      await exited;
      expect(msg.before).toBe(getPriority());
      expect(msg.first).toBe(true);
      expect(msg.second).toBe(false);
      expect(msg.after).toBe(9);
      // The process (its main thread) keeps its priority.
      expect(getPriority()).toBe(msg.before);
    },
    // The first use bundles the worker's entry with esbuild: slow on a busy machine.
    30_000,
  );
});
