// Where Wine 8's completion ports depart from Microsoft's documentation, by
// conformance test. scripts/native/test.mjs still runs each of these tests on
// the native backend under Wine: a failure is reported as a known Wine
// difference (not hidden, not weakened: the test is the documented rule), and
// a pass is reported loudly, since it means Wine changed and this list is out
// of date. The emulated backend must pass all of them.
//
// Each entry was observed on this machine (Wine 8.0, Debian 8.0~repack-4) with
// a direct experiment besides the failing test; `wine` says what Wine does.

export interface WineDifference {
  /** Conformance test file name. */
  file: string;
  /** Full test name: describe names and the test name joined by ' > '. */
  test: string;
  /** The documented rule the test checks (iocp-model.md §1). */
  rule: string;
  /** What Wine does instead. */
  wine: string;
}

const LIFO = {
  rule: 'waiting threads are released LIFO',
  wine: 'Wine wakes waiting threads in the order they started waiting (FIFO)',
};
const CONCURRENCY = {
  rule: 'the concurrency value caps running port threads',
  wine: 'Wine ignores the concurrency value: every waiter is released while packets are queued',
};
const ABANDON = {
  rule: 'closing the port wakes its waiters with ERROR_ABANDONED_WAIT_0',
  wine: 'Wine leaves threads in GQCS asleep when the port handle is closed (a finite wait ends with WAIT_TIMEOUT)',
};

const RESET_RECV = {
  rule: 'I/O on a reset connection fails at once with WSAECONNRESET and queues no packet',
  wine: 'after a reset Wine completes a new WSARecv TRUE with 0 bytes (as for a graceful close); WSASend does fail with WSAECONNRESET',
};

const SEND_BUFFER = {
  rule: 'an overlapped WSASend returns 0 only when the socket took every byte at the call; a send it cannot take at once pends (ERROR_IO_PENDING)',
  wine: 'Wine takes a first 1 MiB overlapped WSASend to a peer that is not reading whole at the call (0, a packet queued at once): its socket buffers at least 1 MiB of sends at the call; later sends to that peer do pend (seen by this test under Wine 8.0 on this machine, issue 14: the aborts test beside it passes)',
};

export const WINE_DIFFERENCES: readonly WineDifference[] = [
  {
    file: 'closesocket-aborts-pending.test.ts',
    test: 'closesocket aborts pending I/O with FALSE/995 > gives a send larger than the socket can take at once ERROR_IO_PENDING, not 0',
    ...SEND_BUFFER,
  },
  {
    file: 'error-queues-no-packet.test.ts',
    test: 'an error other than pending queues no packet > fails I/O on a reset connection with WSAECONNRESET',
    ...RESET_RECV,
  },
  {
    file: 'lifo-release.test.ts',
    test: 'waiting threads are released LIFO > hands each packet to the thread that started waiting most recently',
    ...LIFO,
  },
  {
    file: 'lifo-release.test.ts',
    test: 'waiting threads are released LIFO > puts a thread that waits again on top of the stack',
    ...LIFO,
  },
  {
    file: 'pqcs-passes-values.test.ts',
    test: 'PQCS passes its values through > wakes one waiter per packet, so stopping N workers takes N exit packets',
    ...LIFO,
  },
  {
    file: 'concurrency-caps-running.test.ts',
    test: 'the concurrency value caps running threads > releases one waiter for two packets when the value is 1',
    ...CONCURRENCY,
  },
  {
    file: 'concurrency-caps-running.test.ts',
    test: 'the concurrency value caps running threads > releases exactly two of three waiters for three packets when the value is 2',
    ...CONCURRENCY,
  },
  {
    file: 'blocked-thread-frees-slot.test.ts',
    test: 'a blocked thread frees its concurrency slot > releases a waiter when the running thread blocks, then overcommits when it wakes',
    ...CONCURRENCY,
  },
  {
    file: 'running-thread-takes-without-sleeping.test.ts',
    test: 'a running thread calling GQCS with packets queued takes one without sleeping > serves the running thread before a sleeping waiter when the concurrency value is reached',
    ...CONCURRENCY,
  },
  {
    file: 'close-port-abandons-waiters.test.ts',
    test: 'closing the port wakes waiters with ERROR_ABANDONED_WAIT_0 > wakes every GQCS and GQCS-Ex waiter with FALSE/NULL/735',
    ...ABANDON,
  },
];

/** The listed difference for a test id (`file :: full name`), if any. */
export function differenceOf(id: string): WineDifference | undefined {
  return WINE_DIFFERENCES.find((d) => `${d.file} :: ${d.test}` === id);
}
