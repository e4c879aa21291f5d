// Where each fault switch lives in the session table (a word index), handed
// to every server core. Thread code receives it in its input rather than
// importing the protocol's FAULT_NAMES: that module (control.ts) carries the
// zod schemas, which would triple a thread's bundle and its start time.
// faults.ts builds the one instance (FAULT_WORDS) from FAULT_NAMES.

export interface FaultWords {
  // ---- the session layer and the echo server's send path ----
  readonly iocountDoubleDecrement: number;
  readonly releaseWithIoPending: number;
  readonly recvNotReposted: number;
  readonly twoSendsInFlight: number;
  readonly noDecrementOnFailure: number;
  readonly tooFewExitPackets: number;
  readonly noAcceptHold: number;
  readonly zeroByteRecvReposted: number;
  readonly lockAcrossSend: number;
  readonly releaseWithoutAtomicFlag: number;
  readonly ringWrapOffByOne: number;
  readonly shortSendIgnored: number;
  readonly sendOverflowIgnored: number;
  // ---- the chat server ----
  readonly jobQueueTwoFlushers: number;
  readonly sendBufferEarlyRelease: number;
  readonly broadcastUnderRoomLock: number;
  readonly lockOrderInversion: number;
}
