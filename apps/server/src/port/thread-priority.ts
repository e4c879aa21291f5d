// Lowering the OS priority of the calling worker thread (Linux only).
//
// Why: the emulated port's kernel is the main thread, and on a small machine
// it is the bottleneck. When it wakes a worker with Atomics.notify, Linux's
// scheduler may run the woken worker on the kernel's own core at once and
// preempt the kernel: measured here, a wake-up then cost the kernel 25-150 us
// of wall time instead of ~15 us. A real kernel is not preempted by the threads
// its completions release, so port threads (and the trace drainer, which is
// never latency-critical) run at a lower priority: nice 10 by default,
// IOCPSCOPE_THREAD_NICE=0..19 to change it (0 leaves threads as they are).
// The main thread is never touched, and raising priority is never attempted
// (that needs privileges).
//
// setpriority(PRIO_PROCESS, tid) applies to one thread on Linux; the thread id
// comes from /proc/thread-self. Elsewhere this is a no-op.

import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { isMainThread } from 'node:worker_threads';

export const DEFAULT_THREAD_NICE = 10;

/** The nice value port threads use: IOCPSCOPE_THREAD_NICE when valid, else the default. */
export function threadNice(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.IOCPSCOPE_THREAD_NICE;
  if (raw === undefined || !/^\d{1,2}$/.test(raw)) return DEFAULT_THREAD_NICE;
  const n = Number(raw);
  return n <= 19 ? n : DEFAULT_THREAD_NICE;
}

/**
 * Give the calling worker thread the nice value `nice` (never below what it
 * has). Returns whether the priority was changed.
 */
export function lowerThreadPriority(nice = threadNice()): boolean {
  if (isMainThread || nice <= 0 || process.platform !== 'linux') return false;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    // Only ever lower the priority (a thread already niced further keeps it).
    if (nice <= getPriority(tid)) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
