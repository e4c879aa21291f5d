// Whether a process still runs: files a process owns by its PID (a live
// spool's directory, a temporary index file) are another process's to delete
// only once that PID is gone.

/** Whether process `pid` still runs (EPERM: it does, as someone else's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
