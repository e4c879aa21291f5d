// Local copies of the @iocpscope/protocol values the hot loops use. Some module
// loaders (tsx, for a workspace package) reach another package's exports through
// a getter on every access — about 50 ns each, 20 times a plain read — which
// dominated the replay. These are ordinary bindings of this module; the objects
// are the same enums, copied once.

import * as P from '@iocpscope/protocol';

export const EventKind: typeof P.EventKind = { ...P.EventKind };
export type EventKind = P.EventKind;
export const IoCountCause: typeof P.IoCountCause = { ...P.IoCountCause };
export type IoCountCause = P.IoCountCause;
export const Op: typeof P.Op = { ...P.Op };
export type Op = P.Op;
export const ThreadStateValue: typeof P.ThreadStateValue = { ...P.ThreadStateValue };
export type ThreadStateValue = P.ThreadStateValue;
export const BlockReason: typeof P.BlockReason = { ...P.BlockReason };
export type BlockReason = P.BlockReason;
export const ThreadRole: typeof P.ThreadRole = { ...P.ThreadRole };
export type ThreadRole = P.ThreadRole;
export const DisconnectReason: typeof P.DisconnectReason = { ...P.DisconnectReason };
export const WinError: typeof P.WinError = { ...P.WinError };
export const Backend: typeof P.Backend = { ...P.Backend };
export const SendBufferOp: typeof P.SendBufferOp = { ...P.SendBufferOp };
export const NO_THREAD: number = P.NO_THREAD;
export const RECORD_WORDS: number = P.RECORD_WORDS;
export const TS_HI_MASK: number = P.TS_HI_MASK;
export const INFINITE: number = P.INFINITE;
export const writeRecord: typeof P.writeRecord = P.writeRecord;
export const tsAt: typeof P.tsAt = P.tsAt;
