// Word layout of the emulated port's control block (one SharedArrayBuffer seen
// as Int32Array/Uint32Array by every thread). Hot words that different threads
// write are kept on separate 64-byte lines.
//
//   header     HEADER_WORDS
//   threads    maxThreads × T_WORDS   per-thread wait cell, mailbox, accept reply
//   idle stack maxThreads             LIFO of waiting thread indices
//   sockets    (maxSockets+1) × S_WORDS  slot 0 unused
//   packets    packetCapacity × P_WORDS  FIFO ring (guarded by H_LOCK)
//   commands   commandCapacity × C_WORDS MPSC ring, workers -> kernel (lock-free)

// ---- header -------------------------------------------------------------
export const H_LOCK = 0;
export const H_CLOSED = 1;
/** NT's CurrentCount: port threads running (not waiting in GQCS, not blocked). */
export const H_RUNNING = 2;
export const H_CONCURRENCY = 3;
export const H_PKT_HEAD = 4;
export const H_PKT_COUNT = 5;
export const H_IDLE_TOP = 6;
/** 0 = kernel awake (a drain is scheduled), 1 = kernel sleeping in waitAsync. */
export const H_DOORBELL = 16;
export const H_CMD_ENQ = 32;
/** Futex word bumped by the kernel when it frees command slots and producers wait. */
export const H_CMD_SPACE = 48;
export const H_CMD_SPACE_WAITERS = 49;
export const H_IO_SEQ = 64;
export const HEADER_WORDS = 80;

// ---- per thread -----------------------------------------------------------
export const T_WORDS = 48;
/** 0 = free slot, 1 = attached. */
export const T_STATE = 0;
/** GQCS wait cell: CELL_* values. */
export const T_CELL = 1;
/** 1 once the thread has called GQCS (it is then one of the port's threads). */
export const T_PORT_THREAD = 2;
/** 1 while the thread is included in H_RUNNING. */
export const T_COUNTED = 3;
export const T_BLOCKED = 4;
/** Whether the thread was counted when its current block began. */
export const T_WAS_COUNTED = 5;
/** Accept reply handshake: ACC_* values (its own futex word). */
export const T_ACC_STATE = 6;
export const T_ACC_SOCKET = 7;
export const T_ACC_ERROR = 8;
export const T_ACC_PEER_PORT = 9;
export const T_ACC_PEER_LEN = 10;
/** The packet handed to a waiter (P_WORDS words). */
export const T_MAILBOX = 16;
/** Peer address bytes of an accepted connection (ASCII). */
export const T_ACC_PEER = 32;
export const T_ACC_PEER_BYTES = 64;

export const CELL_WAITING = 0;
export const CELL_HANDED = 1;
export const CELL_ABANDONED = 2;

export const ACC_IDLE = 0;
export const ACC_PENDING = 1;
export const ACC_CLAIMED = 2;
export const ACC_DONE = 3;
export const ACC_CANCELLED = 4;

// ---- per socket -----------------------------------------------------------
export const S_WORDS = 8;
/** (generation << 8) | SOCK_* state, changed only by compare-exchange. */
export const S_GS = 0;
/** SF_* flags published by the kernel. */
export const S_FLAGS = 1;
/** Bytes received and not yet consumed by a recv (the kernel's receive buffer). */
export const S_READABLE = 2;
/** Sends handed to the kernel and not yet completed. */
export const S_SEND_PENDING = 3;
/** 0 = not associated, 2 = being associated, 1 = associated (key valid). */
export const S_ASSOC = 4;
export const S_KEY_LO = 5;
export const S_KEY_HI = 6;
/**
 * Free room in the socket's send buffer (SO_SNDBUF), bytes: SEND_BUFFER_BYTES
 * minus what sits in node's write queue minus what immediate sends reserved
 * and the kernel has not written yet. A WSASend returns 0 only when it can
 * reserve all its bytes here (the socket takes them at the call).
 */
export const S_SEND_ROOM = 7;
/** The send buffer the emulation gives each socket (Windows' default SO_SNDBUF). */
export const SEND_BUFFER_BYTES = 64 * 1024;

export const SOCK_FREE = 0;
export const SOCK_OPEN = 1;
export const SOCK_LISTENING = 2;
export const SOCK_CLOSED = 3;

export const SF_EOF = 1;
export const SF_RESET = 2;

export const MAX_SOCKETS_LIMIT = 0xffff;
export const GEN_MASK = 0xffff;

export const socketId = (gen: number, slot: number): number => ((gen << 16) | slot) >>> 0;
export const socketSlot = (id: number): number => id & 0xffff;
export const socketGen = (id: number): number => (id >>> 16) & GEN_MASK;

// ---- packets ----------------------------------------------------------------
export const P_WORDS = 8;
export const P_BYTES = 0;
export const P_KEY_LO = 1;
export const P_KEY_HI = 2;
export const P_OVERLAPPED = 3;
export const P_ERROR = 4;
export const P_OP = 5;
export const P_IO_ID = 6;

// ---- commands ---------------------------------------------------------------
export const C_WORDS = 16;
/** Vyukov sequence word of the cell. */
export const C_SEQ = 0;
export const C_TYPE = 1;
export const C_THREAD = 2;
export const C_SOCKET = 3;
export const C_OVERLAPPED = 4;
export const C_OFF0 = 5;
export const C_LEN0 = 6;
export const C_OFF1 = 7;
export const C_LEN1 = 8;
export const C_IO_ID = 9;
export const C_RESULT = 10;
export const C_KEY_LO = 11;
export const C_KEY_HI = 12;
/** Words a command carries (everything but C_SEQ). */
export const C_DATA_WORDS = 12;

export const CMD_RECV = 1;
export const CMD_SEND = 2;
export const CMD_CLOSE = 3;
export const CMD_ACCEPT = 4;

export interface Layout {
  maxThreads: number;
  maxSockets: number;
  packetCapacity: number;
  commandCapacity: number;
  threadsBase: number;
  idleBase: number;
  socketsBase: number;
  packetsBase: number;
  commandsBase: number;
  totalWords: number;
}

export function computeLayout(
  maxThreads: number,
  maxSockets: number,
  packetCapacity: number,
  commandCapacity: number,
): Layout {
  const threadsBase = HEADER_WORDS;
  const idleBase = threadsBase + maxThreads * T_WORDS;
  const socketsBase = align16(idleBase + maxThreads);
  const packetsBase = align16(socketsBase + (maxSockets + 1) * S_WORDS);
  const commandsBase = align16(packetsBase + packetCapacity * P_WORDS);
  const totalWords = commandsBase + commandCapacity * C_WORDS;
  return {
    maxThreads,
    maxSockets,
    packetCapacity,
    commandCapacity,
    threadsBase,
    idleBase,
    socketsBase,
    packetsBase,
    commandsBase,
    totalWords,
  };
}

const align16 = (w: number): number => (w + 15) & ~15;
