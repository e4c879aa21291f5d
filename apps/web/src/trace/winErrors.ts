// Names of the Win32 / Winsock error codes a completion-port trace carries
// (GQCS errors, post results, packet statuses, disconnect errors), for display
// and for search by name ("ERROR_NETNAME_DELETED" or 64).

import { WinError } from '@iocpscope/protocol';

const NAMES: ReadonlyArray<readonly [number, string]> = [
  [WinError.Success, 'SUCCESS'],
  [WinError.InvalidHandle, 'ERROR_INVALID_HANDLE'],
  [WinError.NetnameDeleted, 'ERROR_NETNAME_DELETED'],
  [87, 'ERROR_INVALID_PARAMETER'],
  [WinError.WaitTimeout, 'WAIT_TIMEOUT'],
  [WinError.AbandonedWait0, 'ERROR_ABANDONED_WAIT_0'],
  [WinError.OperationAborted, 'ERROR_OPERATION_ABORTED'],
  [WinError.IoPending, 'WSA_IO_PENDING'],
  [1225, 'ERROR_CONNECTION_REFUSED'],
  [1236, 'ERROR_CONNECTION_ABORTED'],
  [WinError.NotSocket, 'WSAENOTSOCK'],
  [WinError.ConnectionAborted, 'WSAECONNABORTED'],
  [WinError.ConnectionReset, 'WSAECONNRESET'],
  [10055, 'WSAENOBUFS'],
  [10057, 'WSAENOTCONN'],
  [10058, 'WSAESHUTDOWN'],
];

const BY_CODE = new Map<number, string>(NAMES);
const BY_NAME = new Map<string, number>(NAMES.map(([c, n]) => [n, c]));

/** The symbolic name of a code, or undefined when it is not one of the model's. */
export function winErrorName(code: number): string | undefined {
  return BY_CODE.get(code);
}

/**
 * The code of a name, case-insensitive, with or without its ERROR_ / WSA
 * prefix ("netname_deleted", "ERROR_NETNAME_DELETED", "econnreset"); undefined
 * when unknown.
 */
export function winErrorCode(name: string): number | undefined {
  const n = name.trim().toUpperCase();
  const exact = BY_NAME.get(n);
  if (exact !== undefined) return exact;
  for (const [code, full] of NAMES) {
    if (full === `ERROR_${n}` || full === `WSA${n}` || full === `WSAE${n}`) return code;
  }
  return undefined;
}
