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

export type LoadErrorCode = 'ABORTED' | 'HTTP' | 'NETWORK' | 'READ' | 'TOO_LARGE' | 'NOT_FOUND';

export class LoadError extends Error {
  override readonly name = 'LoadError';
  readonly code: LoadErrorCode;
  constructor(code: LoadErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
