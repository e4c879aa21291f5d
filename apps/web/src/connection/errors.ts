// Errors of the connection layer that are not the protocol's. Protocol damage
// (a corrupt file, a bad frame) stays a ProtocolError with its own code; these
// codes cover the ways bytes fail to arrive at all.
//
// - ABORTED: the user started another load, or closed the source.
// - HTTP: the server answered a recording request with a non-2xx status.
// - NETWORK: fetch failed (server down, connection reset).
// - READ: the browser could not read a local file.
// - TOO_LARGE: a file or download above the dashboard's size limit.
// - NOT_FOUND: the server has no recording with that id (deleted, renamed, or a
//   link from another server).
// - NOT_AVAILABLE: the events asked for are no longer kept (beyond the live
//   spool's limit).
// - OVER_BUDGET: a file too big for the browser's memory budget (the server
//   serves it instead: `iocpscope open FILE`).
// - NO_SPOOL: the server keeps no live spool (`serve --spool-bytes 0`, or no
//   live source): a live view cannot scroll back beyond what it holds.

export type LoadErrorCode =
  | 'ABORTED'
  | 'HTTP'
  | 'NETWORK'
  | 'READ'
  | 'TOO_LARGE'
  | 'NOT_FOUND'
  | 'NOT_AVAILABLE'
  | 'OVER_BUDGET'
  | 'NO_SPOOL';

export class LoadError extends Error {
  override readonly name = 'LoadError';
  readonly code: LoadErrorCode;
  constructor(code: LoadErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
