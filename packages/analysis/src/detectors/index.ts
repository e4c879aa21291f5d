// One detector per classic bug of iocp-model.md §3, in rule order, then the
// chat server's (17-19: its JobQueue, SendBuffer pool and locks).

import type { Detector } from './common.ts';
import { iocountBalance } from './r01-iocount-balance.ts';
import { useAfterRelease } from './r02-use-after-release.ts';
import { sessionIdentity } from './r03-session-identity.ts';
import { oneSendInFlight } from './r04-one-send-in-flight.ts';
import { recvReposted } from './r05-recv-reposted.ts';
import { bufferInUse } from './r06-buffer-in-use.ts';
import { ringBuffer } from './r07-ring-buffer.ts';
import { gqcsFalse } from './r08-gqcs-false.ts';
import { zeroByte } from './r09-zero-byte.ts';
import { shutdown } from './r10-shutdown.ts';
import { acceptHold } from './r11-accept-hold.ts';
import { disconnectRace } from './r12-disconnect-race.ts';
import { releaseOnce } from './r13-release-once.ts';
import { portStarvation } from './r14-port-starvation.ts';
import { sendLostBytes } from './r15-send-lost-bytes.ts';
import { lockAcrossSend } from './r16-lock-across-send.ts';
import { jobQueueFlushers } from './r17-job-queue-flushers.ts';
import { sendBufferReuse } from './r18-send-buffer-reuse.ts';
import { lockOrder } from './r19-lock-order.ts';

/** Fresh detector instances (each keeps per-trace memory). */
export function createDetectors(): Detector[] {
  return [
    iocountBalance(),
    useAfterRelease(),
    sessionIdentity(),
    oneSendInFlight(),
    recvReposted(),
    bufferInUse(),
    ringBuffer(),
    gqcsFalse(),
    zeroByte(),
    shutdown(),
    acceptHold(),
    disconnectRace(),
    releaseOnce(),
    portStarvation(),
    sendLostBytes(),
    lockAcrossSend(),
    jobQueueFlushers(),
    sendBufferReuse(),
    lockOrder(),
  ];
}
